package directives

import (
	"strconv"
	"strings"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The rewrite module (if, set, return, rewrite, break) and the data blocks
// that define variables: map, geo and split_clients (http and stream), and
// types.

func init() {
	for _, e := range []struct {
		name string
		def  Def
	}{
		{"if", Def{Set: setIf, Multi: true, Doc: "Runs the block's directives when the condition holds."}},
		{"set", Def{Set: setSet, Multi: true, Doc: "Sets a variable."}},
		{"return", Def{Set: setReturn, Multi: true, Doc: "Stops processing and returns a code, a text or a redirect."}},
		{"rewrite", Def{Set: setRewrite, Multi: true, Doc: "Rewrites the URI by a regular expression."}},
		{"map", Def{Set: setMap, Custom: mapStatement, Multi: true, Doc: "Defines a variable by the value of another."}},
		{"geo", Def{Set: setGeo, Custom: geoStatement, Multi: true, Doc: "Defines a variable by the client address."}},
		{"split_clients", Def{Set: setSplitClients, Custom: splitStatement, Multi: true, Done: splitDone,
			Doc: "Defines a variable for A/B testing."}},
		{"types", Def{Set: setTypes, Custom: typesStatement, Inherit: true, Doc: "Maps file name extensions to MIME types."}},
	} {
		registerHTTP(e.name, e.def)
	}
	// map, geo and split_clients read the same way in stream.
	for _, name := range []string{"map", "geo", "split_clients"} {
		h := spec(name, HTTP)
		Register(name, Stream, Def{Set: h.Set, Custom: h.Custom, Multi: true, Done: finishers[h], Doc: h.Doc})
	}
}

// If is the condition of an if block, as written.
type If struct{ Condition []string }

// setIf is ngx_http_rewrite_if_condition's syntax check.
func setIf(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	if err := checkCondition(d); err != nil {
		return nil, err
	}
	return nil, nil
}

func checkCondition(d *grammar.Directive) error {
	args := append([]string(nil), d.Args...)
	if args[0] == "" || args[0][0] != '(' {
		return d.Errorf(`invalid condition "%s"`, args[0])
	}
	cur, last := 0, len(args)-1
	if args[0] == "(" {
		cur = 1
	} else {
		args[0] = args[0][1:]
	}
	if args[last] == "" || args[last][len(args[last])-1] != ')' {
		return d.Errorf(`invalid condition "%s"`, args[last])
	}
	if args[last] == ")" {
		last--
	} else {
		args[last] = args[last][:len(args[last])-1]
	}
	if cur > last {
		return d.Errorf(`invalid condition "%s"`, args[min(cur, len(args)-1)])
	}
	p := args[cur]
	switch {
	case len(p) > 1 && p[0] == '$':
		if cur != last && cur+2 != last {
			return d.Errorf(`invalid condition "%s"`, p)
		}
		if cur == last {
			return nil
		}
		switch op := args[cur+1]; op {
		case "=", "!=":
			return checkScript(d, args[last])
		case "~", "~*", "!~", "!~*":
			return checkRegex(d, args[last])
		default:
			return d.Errorf(`unexpected "%s" in condition`, op)
		}
	case p == "-f" || p == "-d" || p == "-e" || p == "-x" || p == "!-f" || p == "!-d" || p == "!-e" || p == "!-x":
		if cur+1 != last {
			return d.Errorf(`invalid condition "%s"`, p)
		}
		return checkScript(d, args[last])
	}
	return d.Errorf(`invalid condition "%s"`, p)
}

// Set is one set directive.
type Set struct{ Var, Value string }

// setSet is ngx_http_rewrite_set.
func setSet(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	name, ok := strings.CutPrefix(d.Args[0], "$")
	if !ok {
		return nil, d.Errorf(`invalid variable name "%s"`, d.Args[0])
	}
	if err := addVariable(l, d, name); err != nil {
		return nil, err
	}
	if err := checkScript(d, d.Args[1]); err != nil {
		return nil, err
	}
	return Set{Var: name, Value: d.Args[1]}, nil
}

// Return is one return directive.
type Return struct {
	Code int
	Text string // the body, or the redirect URL for 301, 302, 303, 307, 308
}

// setReturn is ngx_http_rewrite_return.
func setReturn(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	n, err := value.Number(d.Args[0])
	if err != nil {
		if len(d.Args) == 1 && isRedirectURL(d.Args[0]) {
			return Return{Code: 302, Text: d.Args[0]}, checkScript(d, d.Args[0])
		}
		return nil, d.Errorf(`invalid return code "%s"`, d.Args[0])
	}
	if n > 999 {
		return nil, d.Errorf(`invalid return code "%s"`, d.Args[0])
	}
	r := Return{Code: n}
	if len(d.Args) == 2 {
		r.Text = d.Args[1]
		return r, checkScript(d, r.Text)
	}
	return r, nil
}

func isRedirectURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "$scheme")
}

// Rewrite is one rewrite directive.
type Rewrite struct {
	Regex, Replacement, Flag string
}

// rewriteFlags are rewrite's last arguments.
var rewriteFlags = map[string]bool{"last": true, "break": true, "redirect": true, "permanent": true}

// setRewrite is ngx_http_rewrite.
func setRewrite(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	if err := checkRegex(d, d.Args[0]); err != nil {
		return nil, err
	}
	r := Rewrite{Regex: d.Args[0], Replacement: d.Args[1]}
	if len(d.Args) == 3 {
		if !rewriteFlags[d.Args[2]] {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[2])
		}
		r.Flag = d.Args[2]
	}
	return r, checkScript(d, r.Replacement)
}

// checkScript is the syntax check of ngx_http_script_compile: every "$"
// starts a variable name, a capture number or a "${name}".
func checkScript(d *grammar.Directive, s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		i++
		if i == len(s) {
			return d.Errorf("invalid variable name")
		}
		if s[i] >= '1' && s[i] <= '9' {
			continue
		}
		bracket := s[i] == '{'
		if bracket {
			i++
			if i == len(s) {
				return d.Errorf("invalid variable name")
			}
		}
		start := i
		for ; i < len(s); i++ {
			c := s[i]
			if c == '}' && bracket {
				bracket = false
				break
			}
			if !isVarChar(c) {
				break
			}
		}
		if bracket {
			return d.Errorf(`the closing bracket in "%s" variable is missing`, s[start:i])
		}
		if i == start {
			return d.Errorf("invalid variable name")
		}
		i-- // the byte that ended the name is looked at again
	}
	return nil
}

func isVarChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// addVariable checks a variable that set, map, geo or split_clients
// defines: nginx's built-in variables that cannot change are refused.
func addVariable(l *Level, d *grammar.Directive, name string) error {
	if fixedVariable(subsystemOf(l.Ctx), name) {
		return d.Errorf(`the duplicate "%s" variable`, name)
	}
	return nil
}

// targetVariable checks the "$name" a map, geo or split_clients defines.
func targetVariable(l *Level, d *grammar.Directive, arg string) (string, error) {
	name, ok := strings.CutPrefix(arg, "$")
	if !ok {
		return "", d.Errorf(`invalid variable name "%s"`, arg)
	}
	return name, addVariable(l, d, name)
}

// Map is a map block.
type Map struct {
	Source    string
	Var       string
	Default   string
	Hostnames bool
	Volatile  bool
	Entries   []MapEntry
	hasDef    bool
	keys      nameHash
}

// MapEntry is one line of a map.
type MapEntry struct {
	Key      string // lower-cased, without "~" or "\"
	Value    string
	Regex    bool
	Caseless bool
}

func setMap(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	name, err := targetVariable(l, d, d.Args[1])
	if err != nil {
		return nil, err
	}
	inner := newLevel(0, d, l)
	inner.Ext = &Map{Source: d.Args[0], Var: name,
		keys: nameHash{exact: map[string]bool{}, head: map[string]bool{}, tail: map[string]bool{}}}
	return inner, nil
}

// mapStatement is ngx_http_map: one line of a map block.
func mapStatement(ld *Loader, l *Level, d *grammar.Directive) error {
	m := l.Ext.(*Map)
	words := statementArgs(d)
	if len(words) == 1 && (words[0] == "hostnames" || words[0] == "volatile") {
		m.Hostnames = m.Hostnames || words[0] == "hostnames"
		m.Volatile = m.Volatile || words[0] == "volatile"
		return nil
	}
	if len(words) != 2 {
		return d.Errorf("invalid number of the map parameters")
	}
	if words[0] == "include" {
		return ld.IncludeInHandler(l, d, mapStatement)
	}
	key, val := words[0], words[1]
	if key == "default" {
		if m.hasDef {
			return d.Errorf("duplicate default map parameter")
		}
		m.Default, m.hasDef = val, true
		return nil
	}
	e := MapEntry{Key: key, Value: val}
	if strings.HasPrefix(key, "~") {
		e.Key, e.Regex = key[1:], true
		if strings.HasPrefix(e.Key, "*") {
			e.Key, e.Caseless = e.Key[1:], true
		}
		if err := checkRegex(d, e.Key); err != nil {
			return err
		}
		m.Entries = append(m.Entries, e)
		return nil
	}
	e.Key = strings.ToLower(strings.TrimPrefix(key, `\`))
	if err := m.addKey(d, e.Key); err != nil {
		return err
	}
	m.Entries = append(m.Entries, e)
	return nil
}

func (m *Map) addKey(d *grammar.Directive, key string) error {
	var r string
	if m.Hostnames {
		r = m.keys.add(key)
	} else {
		r = addOnce(m.keys.exact, key)
	}
	switch r {
	case "invalid":
		return d.Errorf(`invalid hostname or wildcard "%s"`, key)
	case "busy":
		return d.Errorf(`conflicting parameter "%s"`, key)
	}
	return nil
}

// Geo is a geo block.
type Geo struct {
	Source  string // "" for $remote_addr
	Var     string
	Ranges  bool
	Entries []GeoEntry
	nets    map[string]string
}

// GeoEntry is one network (or range) and its value.
type GeoEntry struct {
	Net, Value string
	Delete     bool
}

func setGeo(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	g := &Geo{nets: map[string]string{}}
	arg := d.Args[0]
	if len(d.Args) == 2 {
		g.Source, arg = d.Args[0], d.Args[1]
	}
	name, err := targetVariable(l, d, arg)
	if err != nil {
		return nil, err
	}
	g.Var = name
	inner := newLevel(0, d, l)
	inner.Ext = g
	return inner, nil
}

// geoStatement is ngx_http_geo: one line of a geo block.
func geoStatement(ld *Loader, l *Level, d *grammar.Directive) error {
	g := l.Ext.(*Geo)
	words := statementArgs(d)
	if len(words) == 1 && (words[0] == "ranges" || words[0] == "proxy_recursive") {
		g.Ranges = g.Ranges || words[0] == "ranges"
		return nil
	}
	if len(words) != 2 {
		return d.Errorf("invalid number of the geo parameters")
	}
	switch words[0] {
	case "include":
		return ld.IncludeInHandler(l, d, geoStatement)
	case "proxy":
		if _, _, err := value.ParseCIDR(words[1]); err != nil {
			return d.Errorf(`invalid parameter "%s"`, words[1])
		}
		return nil
	}
	if g.Ranges {
		return g.addRange(d, words)
	}
	return g.addNet(ld, d, words)
}

func (g *Geo) addNet(ld *Loader, d *grammar.Directive, words []string) error {
	del := words[0] == "delete"
	net := words[0]
	if del {
		net = words[1]
	}
	if net != "default" {
		p, low, err := value.ParseCIDR(net)
		if err != nil {
			return d.Errorf(`invalid network "%s"`, net)
		}
		if low {
			ld.Warn(d, `low address bits of %s are meaningless`, net)
		}
		net = p.String()
	}
	trees := 1
	if net == "default" {
		trees = 2 // nginx keeps an IPv4 and an IPv6 tree
	}
	if del {
		if _, ok := g.nets[net]; !ok {
			ld.Warn(d, `no network "%s" to delete`, words[1])
		}
		delete(g.nets, net)
		g.Entries = append(g.Entries, GeoEntry{Net: net, Delete: true})
		return nil
	}
	if old, ok := g.nets[net]; ok {
		for range trees {
			ld.Warn(d, `duplicate network "%s", value: "%s", old value: "%s"`, words[0], words[1], old)
		}
	}
	g.nets[net] = words[1]
	g.Entries = append(g.Entries, GeoEntry{Net: net, Value: words[1]})
	return nil
}

func (g *Geo) addRange(d *grammar.Directive, words []string) error {
	net := words[0]
	if net == "delete" {
		net = words[1]
	}
	if net != "default" {
		from, to, ok := strings.Cut(net, "-")
		a, okA := value.ParseIP(from)
		b, okB := value.ParseIP(to)
		if !ok || !okA || !okB || !a.Is4() || !b.Is4() || b.Less(a) {
			return d.Errorf(`invalid range "%s"`, net)
		}
	}
	g.Entries = append(g.Entries, GeoEntry{Net: net, Value: words[1], Delete: words[0] == "delete"})
	return nil
}

// SplitClients is a split_clients block.
type SplitClients struct {
	Source, Var string
	Parts       []SplitPart
	sum         int
}

// SplitPart is one line: a share in hundredths of a percent (0 for "*").
type SplitPart struct {
	Percent int
	Value   string
}

func setSplitClients(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	name, err := targetVariable(l, d, d.Args[1])
	if err != nil {
		return nil, err
	}
	inner := newLevel(0, d, l)
	inner.Ext = &SplitClients{Source: d.Args[0], Var: name}
	return inner, nil
}

// splitStatement is ngx_http_split_clients: one "PERCENT% value" line.
func splitStatement(_ *Loader, l *Level, d *grammar.Directive) error {
	s := l.Ext.(*SplitClients)
	words := statementArgs(d)
	p := SplitPart{}
	if len(words) > 1 {
		p.Value = words[1]
	}
	if words[0] != "*" {
		n, ok := parsePercent(words[0])
		if !ok {
			return d.Errorf(`invalid percent value "%s"`, words[0])
		}
		p.Percent = n
	}
	s.sum += p.Percent
	s.Parts = append(s.Parts, p)
	return nil
}

// parsePercent reads "12.5%" as hundredths (ngx_atofp with two places).
func parsePercent(w string) (int, bool) {
	num, ok := strings.CutSuffix(w, "%")
	if !ok || num == "" {
		return 0, false
	}
	whole, frac, _ := strings.Cut(num, ".")
	if len(frac) > 2 || whole == "" && frac == "" {
		return 0, false
	}
	frac += strings.Repeat("0", 2-len(frac))
	n, err := strconv.Atoi(whole + frac)
	if err != nil || n <= 0 || strings.ContainsAny(whole+frac, "+-") {
		return 0, false
	}
	return n, true
}

// splitDone is the check at the end of a split_clients block.
func splitDone(_ *Loader, l *Level) error {
	if s, ok := l.Ext.(*SplitClients); ok && s.sum > 10000 {
		return &grammar.Error{Msg: "percent total is greater than 100%", File: l.Directive.File(), Line: l.Directive.Block.EndLine}
	}
	return nil
}

// Types maps lower-cased extensions to MIME types.
type Types map[string]string

func setTypes(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	inner := newLevel(0, d, l)
	inner.Ext = Types{}
	return inner, nil
}

// typesStatement is ngx_http_core_type: "TYPE ext...".
func typesStatement(ld *Loader, l *Level, d *grammar.Directive) error {
	if d.Name == "include" {
		return ld.IncludeInHandler(l, d, typesStatement)
	}
	t := l.Ext.(Types)
	for _, ext := range d.Args {
		ext = strings.ToLower(ext)
		if old, ok := t[ext]; ok {
			ld.Warn(d, `duplicate extension "%s", content type: "%s", previous content type: "%s"`, ext, d.Name, old)
		}
		t[ext] = d.Name
	}
	return nil
}
