package directives

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// This file gives every directive that nginx handles with one of its
// standard slot handlers (ngx_conf_set_flag_slot, _str_slot, _num_slot,
// _size_slot, _msec_slot, _enum_slot, _bitmask_slot, the complex value
// slots...) that slot's checks, messages and duplicate rule. Which
// directive uses which slot, with its keywords and bounds, is data:
// slots.tsv. Rows a family registered with its own setter are left alone.

//go:embed slots.tsv
var slotsTSV string

// The typed values the slot setters store.

// SlotKeyVal is one occurrence of a keyval slot (ssl_conf_command name value).
type SlotKeyVal struct{ Key, Value string }

// SlotBufs is a bufs slot: number and size of buffers (proxy_buffers 8 4k).
type SlotBufs struct {
	Num  int
	Size int64
}

// SlotBitmask is a bitmask slot's value at one level: every keyword given
// so far at that level (nginx ORs repeated directives together), in
// nginx's spelling, and the bits they stand for.
type SlotBitmask struct {
	Words []string
	Mask  uint64
}

// SlotTypes is a MIME type list (gzip_types...): All for "*", else the
// lower-cased types given so far at the level, after the module's default.
type SlotTypes struct {
	All   bool
	Types []string
}

// SlotPath is a temporary files folder with its hashed levels
// (proxy_temp_path /spool 1 2). Name is the full path without a final "/".
type SlotPath struct {
	Name   string
	Levels []int
}

// SlotParam is one fastcgi_param/scgi_param/uwsgi_param.
type SlotParam struct {
	Key, Value string
	IfNotEmpty bool
}

// SlotBind is an upstream bind address: Off, or Addr (a literal
// address[:port] or a value with variables) and Transparent.
type SlotBind struct {
	Off         bool
	Addr        string
	Transparent bool
}

// SlotCacheValid is one *_cache_valid: the statuses (0 for "any") and the
// time in seconds.
type SlotCacheValid struct {
	Statuses []int
	Seconds  int64
}

// slotRow is one row of slots.tsv.
type slotRow struct {
	Name, Module, Kind string
	Extra              map[string]string
	Line               int
}

// slotKind is what a kind of slot does: its setter, whether it collects
// several occurrences at one level, and the argument rules it fits.
type slotKind struct {
	set   func(r *slotRow) Setter
	multi bool
	fits  func(ArgRule) bool
}

func slotExactly(rules ...ArgRule) func(ArgRule) bool {
	return func(a ArgRule) bool {
		for _, r := range rules {
			if a == r {
				return true
			}
		}
		return false
	}
}

// slotSomeArgs fits a rule that takes one or more words and no block: the
// slots that loop over their arguments.
func slotSomeArgs(a ArgRule) bool {
	return a != 0 && a&(Take0|Block|Flag|Any|TwoMore) == 0
}

var slotKinds = map[string]slotKind{
	"flag":         {set: slotFlag, fits: slotExactly(Flag, Take1)},
	"str":          {set: slotStr, fits: slotExactly(Take1)},
	"str_array":    {set: slotStrArray, multi: true, fits: slotExactly(Take1)},
	"keyval":       {set: slotKeyval, multi: true, fits: slotExactly(Take2)},
	"num":          {set: slotNum, fits: slotExactly(Take1)},
	"size":         {set: slotSize, fits: slotExactly(Take1)},
	"off":          {set: slotOff, fits: slotExactly(Take1)},
	"msec":         {set: slotMsec, fits: slotExactly(Take1)},
	"sec":          {set: slotSec, fits: slotExactly(Take1)},
	"bufs":         {set: slotBufs, fits: slotExactly(Take2)},
	"enum":         {set: slotEnum, fits: slotExactly(Take1, Flag)},
	"bitmask":      {set: slotBitmask, multi: true, fits: slotSomeArgs},
	"path":         {set: slotPath, fits: slotExactly(Take1234)},
	"access":       {set: slotAccess, fits: slotExactly(Take123)},
	"complex":      {set: slotComplex, fits: slotExactly(Take1)},
	"complex_zero": {set: slotComplex, fits: slotExactly(Take1)},
	"complex_size": {set: slotComplexSize, fits: slotExactly(Take1)},
	"predicate":    {set: slotPredicate, multi: true, fits: slotExactly(OneMore)},
	"types":        {set: slotTypes, multi: true, fits: slotExactly(OneMore)},
	"param":        {set: slotParam, multi: true, fits: slotExactly(Take23)},
	"bind":         {set: slotBind, fits: slotExactly(Take12)},
	"cache_valid":  {set: slotCacheValid, multi: true, fits: slotExactly(OneMore)},
	"obsolete":     {set: slotObsolete, multi: true, fits: slotExactly(Take1)},
}

// slotRows is slots.tsv, parsed.
var slotRows = parseSlots(slotsTSV)

func parseSlots(tsv string) []*slotRow {
	var rows []*slotRow
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "directive\t") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			panic(fmt.Sprintf("slots.tsv:%d: want 4 fields, have %d", i+1, len(f)))
		}
		r := &slotRow{Name: f[0], Module: f[1], Kind: f[2], Extra: map[string]string{}, Line: i + 1}
		for _, kv := range strings.Fields(f[3]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				panic(fmt.Sprintf("slots.tsv:%d: extra %q is not key=value", i+1, kv))
			}
			r.Extra[k] = v
		}
		if _, ok := slotKinds[r.Kind]; !ok {
			panic(fmt.Sprintf("slots.tsv:%d: unknown kind %q", i+1, r.Kind))
		}
		rows = append(rows, r)
	}
	return rows
}

// The contexts of each subsystem, for matching a module's directive to
// its directives.tsv rows.
const (
	slotHTTP = HTTP | HTTPServer | HTTPLocation | HTTPServerIf | HTTPLocationIf |
		HTTPLimitExcept | HTTPUpstream
	slotStream = Stream | StreamServer | StreamUpstream
	slotMail   = Mail | MailServer
)

// subsystem is the set of contexts a module's directives may appear in,
// by the module's name.
func (r *slotRow) subsystem() Context {
	switch {
	case strings.HasPrefix(r.Module, "ngx_http_"):
		return slotHTTP
	case strings.HasPrefix(r.Module, "ngx_stream_"):
		return slotStream
	case strings.HasPrefix(r.Module, "ngx_mail_"):
		return slotMail
	case strings.HasPrefix(r.Module, "ngx_event_"), strings.HasPrefix(r.Module, "ngx_epoll_"):
		return Events
	}
	return Main | MainDirect
}

// specs returns the open-source directives.tsv rows the slot row is for.
func (r *slotRow) specs() []*Spec {
	within := r.subsystem()
	var want Context
	if c := r.Extra["ctx"]; c != "" {
		want = contextNames[c]
	}
	var out []*Spec
	for _, s := range table[r.Name] {
		if s.Avail != "oss" || s.Contexts&^within != 0 {
			continue
		}
		if want != 0 && s.Contexts&want == 0 {
			continue
		}
		out = append(out, s)
	}
	return out
}

var applySlotsOnce sync.Once

// applySlots installs the slot setters on every row of slots.tsv that no
// family registered. It must run after every init function (the loader
// calls it); it does its work once.
func applySlots() {
	applySlotsOnce.Do(func() {
		for _, r := range slotRows {
			k := slotKinds[r.Kind]
			for _, s := range r.specs() {
				if s.Typed() {
					continue
				}
				s.Set, s.Multi, s.Inherit = k.set(r), k.multi, true
			}
		}
	})
}

// slotDuplicate is the "is duplicate" check every single-value slot makes:
// nginx finds its field already set at this level.
func slotDuplicate(l *Level, d *grammar.Directive) error {
	if l.Has(d.Name) {
		return Msg("is duplicate")
	}
	return nil
}

// slotSingle wraps a one-value slot parser with the duplicate check, which
// nginx makes before it looks at the value.
func slotSingle(parse func(ld *Loader, r *slotRow, d *grammar.Directive) (any, error)) func(r *slotRow) Setter {
	return func(r *slotRow) Setter {
		return func(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
			if err := slotDuplicate(l, d); err != nil {
				return nil, err
			}
			return parse(ld, r, d)
		}
	}
}

var slotFlag = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	return flagValue(d)
})

var slotStr = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	return d.Args[0], nil
})

func slotStrArray(*slotRow) Setter {
	return func(_ *Loader, _ *Level, d *grammar.Directive) (any, error) { return d.Args[0], nil }
}

func slotKeyval(*slotRow) Setter {
	return func(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
		return SlotKeyVal{Key: d.Args[0], Value: d.Args[1]}, nil
	}
}

var slotNum = slotSingle(func(_ *Loader, r *slotRow, d *grammar.Directive) (any, error) {
	n, err := value.Number(d.Args[0])
	if err != nil {
		return nil, Msg("invalid number")
	}
	if err := slotCheckBounds(r, d, n); err != nil {
		return nil, err
	}
	return n, nil
})

// slotCheckBounds is ngx_conf_check_num_bounds, with nginx 1.22's wording.
func slotCheckBounds(r *slotRow, d *grammar.Directive, n int) error {
	lo, ok := r.Extra["min"]
	if !ok {
		return nil
	}
	low, _ := strconv.Atoi(lo)
	hi, ok := r.Extra["max"]
	if !ok {
		if n < low {
			return d.Errorf("value must be equal to or greater than %d", low)
		}
		return nil
	}
	high, _ := strconv.Atoi(hi)
	if n < low || n > high {
		return d.Errorf("value must be between %d and %d", low, high)
	}
	return nil
}

// Sizes of nginx's memory pools on 64-bit Linux: NGX_MIN_POOL_SIZE and
// NGX_POOL_ALIGNMENT.
const (
	slotMinPoolSize   = 112
	slotPoolAlignment = 16
)

// Limits of the HTTP/2 module's post handlers (nginx 1.22).
const (
	slotH2StateBuffer = 16
	slotH2MaxWindow   = 1<<31 - 1
	slotH2MaxFrame    = 1<<24 - 1
)

var slotSize = slotSingle(func(ld *Loader, r *slotRow, d *grammar.Directive) (any, error) {
	n, err := value.Size(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	switch r.Extra["post"] {
	case "pool_size":
		if n < slotMinPoolSize {
			return nil, d.Errorf("the pool size must be no less than %d", slotMinPoolSize)
		}
		if n%slotPoolAlignment != 0 {
			return nil, d.Errorf("the pool size must be a multiple of %d", slotPoolAlignment)
		}
	case "lowat":
		// Linux has no SO_SNDLOWAT: nginx warns and keeps 0.
		ld.Warn(d, `"%s" is not supported, ignored`, d.Name)
		n = 0
	case "http2_recv_buffer_size":
		if n <= 2*slotH2StateBuffer {
			return nil, Msg("value is too small")
		}
	case "http2_preread_size":
		if n > slotH2MaxWindow {
			return nil, d.Errorf("the maximum body preread buffer size is %d", slotH2MaxWindow)
		}
	case "http2_chunk_size":
		if n == 0 {
			return nil, d.Errorf("the http2 chunk size cannot be zero")
		}
		n = min(n, slotH2MaxFrame)
	}
	return n, nil
})

var slotOff = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	n, err := value.Offset(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	return n, nil
})

var slotMsec = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	t, err := value.Msec(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	return t, nil
})

var slotSec = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	t, err := value.Sec(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	return t, nil
})

var slotBufs = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	num, err := value.Number(d.Args[0])
	if err != nil || num == 0 {
		return nil, Msg("invalid value")
	}
	size, err := value.Size(d.Args[1])
	if err != nil || size == 0 {
		return nil, Msg("invalid value")
	}
	return SlotBufs{Num: num, Size: size}, nil
})

// slotKeywords splits an enum's or a bitmask's values: "a|b" or "a:2|b:4".
func slotKeywords(r *slotRow) (words []string, masks []uint64) {
	for _, w := range strings.Split(r.Extra["values"], "|") {
		if i := strings.LastIndexByte(w, ':'); i >= 0 && r.Kind == "bitmask" {
			m, _ := strconv.ParseUint(w[i+1:], 10, 64)
			w = w[:i]
			masks = append(masks, m)
		}
		words = append(words, w)
	}
	return words, masks
}

func slotEnum(r *slotRow) Setter {
	words, _ := slotKeywords(r)
	return slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
		for _, w := range words {
			if strings.EqualFold(w, d.Args[0]) && slotASCII(d.Args[0]) {
				return w, nil
			}
		}
		return nil, d.Errorf(`invalid value "%s"`, d.Args[0])
	})(r)
}

// slotASCII keeps EqualFold to strcasecmp's ASCII-only folding: nginx's
// keywords are ASCII, so a word with other bytes never matches one.
func slotASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// slotBitmask ORs each keyword's bits into the level's mask; a keyword
// whose bits are already set is warned about, not refused. Repeating the
// directive at a level adds to the same mask.
func slotBitmask(r *slotRow) Setter {
	words, masks := slotKeywords(r)
	return func(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
		var v SlotBitmask
		if own := l.Own(d.Name); len(own) > 0 {
			prev := own[len(own)-1].V.(SlotBitmask)
			v.Words, v.Mask = append(v.Words, prev.Words...), prev.Mask
		}
	args:
		for _, a := range d.Args {
			for i, w := range words {
				if !strings.EqualFold(w, a) || !slotASCII(a) {
					continue
				}
				if v.Mask&masks[i] != 0 {
					ld.Warn(d, `duplicate value "%s"`, a)
				} else {
					v.Mask |= masks[i]
					v.Words = append(v.Words, w)
				}
				continue args
			}
			return nil, d.Errorf(`invalid value "%s"`, a)
		}
		return v, nil
	}
}

// slotPaths is the per-configuration list of temporary folders, for
// ngx_add_path's check that one folder is not given two level layouts.
type slotPaths struct{ list []slotPathAt }

type slotPathAt struct {
	key    string // the name as nginx compares it (see slotPath)
	levels []int
	file   string
	line   int
}

type slotPathsKey struct{}

// slotPath is ngx_conf_set_path_slot: a folder (relative to the prefix)
// and up to three hashed levels, each a positive number.
var slotPath = slotSingle(func(ld *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	arg := d.Args[0]
	name := strings.TrimSuffix(arg, "/")
	// nginx drops the final "/" from the length only; an absolute name
	// keeps its bytes, so "/a/" and "/a" are different folders to its
	// strcmp, while a relative one is copied at the shorter length.
	cmp := arg
	if !filepath.IsAbs(name) {
		name = ld.Prefix + name
		cmp = name
	}
	p := SlotPath{Name: name}
	for _, a := range d.Args[1:] {
		n, err := value.Number(a)
		if err != nil || n == 0 {
			return nil, Msg("invalid value")
		}
		p.Levels = append(p.Levels, n)
	}
	paths := State(ld, slotPathsKey{}, func() *slotPaths { return &slotPaths{} })
	key := name + "\x00" + cmp
	for _, q := range paths.list {
		if q.key != key {
			continue
		}
		if !slotSameLevels(q.levels, p.Levels) {
			return nil, d.Errorf(`the same path name "%s" in %s:%d has the different levels than`, name, q.file, q.line)
		}
		return p, nil
	}
	paths.list = append(paths.list, slotPathAt{key: key, levels: p.Levels, file: d.Pos.Filename, line: d.Line})
	return p, nil
})

func slotSameLevels(a, b []int) bool {
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return false
		}
	}
	return true
}

// slotAccess is ngx_conf_set_access_slot: user:rw group:r all:r, starting
// from 0600.
var slotAccess = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	mode := os.FileMode(0o600)
	for _, a := range d.Args {
		var shift uint
		rest := a
		switch {
		case strings.HasPrefix(a, "user:"):
			shift, rest = 6, a[len("user:"):]
		case strings.HasPrefix(a, "group:"):
			shift, rest = 3, a[len("group:"):]
		case strings.HasPrefix(a, "all:"):
			shift, rest = 0, a[len("all:"):]
		default:
			return nil, d.Errorf(`invalid value "%s"`, a)
		}
		switch rest {
		case "rw":
			mode |= 6 << shift
		case "r":
			mode |= 4 << shift
		default:
			return nil, d.Errorf(`invalid value "%s"`, a)
		}
	}
	return mode, nil
})

// slotCheckComplex makes the checks nginx's script compiler makes on a
// value with variables ($name, ${name}, $1..$9). Whether a variable
// exists is checked once the http or stream block is read, not here.
func slotCheckComplex(d *grammar.Directive, s string) error {
	for i := 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		i++
		if i == len(s) {
			return d.Errorf("invalid variable name")
		}
		if s[i] >= '1' && s[i] <= '9' {
			i++
			continue
		}
		bracket := false
		if s[i] == '{' {
			bracket = true
			i++
			if i == len(s) {
				return d.Errorf("invalid variable name")
			}
		}
		start, n := i, 0
		for ; i < len(s); i, n = i+1, n+1 {
			c := s[i]
			if c == '}' && bracket {
				i++
				bracket = false
				break
			}
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				break
			}
		}
		name := s[start : start+n]
		if bracket {
			return d.Errorf(`the closing bracket in "%s" variable is missing`, name)
		}
		if name == "" {
			return d.Errorf("invalid variable name")
		}
	}
	return nil
}

var slotComplex = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	if err := slotCheckComplex(d, d.Args[0]); err != nil {
		return nil, err
	}
	return d.Args[0], nil
})

// slotComplexSize is a complex value that, without variables, must be a
// size (limit_rate, proxy_upload_rate). The value stored is the text.
var slotComplexSize = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	if err := slotCheckComplex(d, d.Args[0]); err != nil {
		return nil, err
	}
	if !strings.Contains(d.Args[0], "$") {
		if _, err := value.Size(d.Args[0]); err != nil {
			return nil, Msg("invalid value")
		}
	}
	return d.Args[0], nil
})

// slotPredicate is ngx_http_set_predicate_slot (proxy_no_cache...): each
// argument is a complex value; repeated directives add to the list.
func slotPredicate(*slotRow) Setter {
	return func(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
		for _, a := range d.Args {
			if err := slotCheckComplex(d, a); err != nil {
				return nil, err
			}
		}
		return append([]string(nil), d.Args...), nil
	}
}

// slotTypes is ngx_http_types_slot: MIME types added to the module's
// default one; "*" means every type and ends the list for the level.
func slotTypes(r *slotRow) Setter {
	def := r.Extra["default"]
	return func(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
		var v SlotTypes
		if own := l.Own(d.Name); len(own) > 0 {
			prev := own[len(own)-1].V.(SlotTypes)
			if prev.All {
				return prev, nil
			}
			v.Types = append(v.Types, prev.Types...)
		} else if def != "" {
			v.Types = []string{def}
		}
	args:
		for _, a := range d.Args {
			if a == "*" {
				return SlotTypes{All: true}, nil
			}
			t := slotLower(a)
			for _, have := range v.Types {
				if have == t {
					ld.Warn(d, `duplicate MIME type "%s"`, t)
					continue args
				}
			}
			v.Types = append(v.Types, t)
		}
		return v, nil
	}
}

func slotLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// slotParam is ngx_http_upstream_param_set_slot: name, value and an
// optional if_not_empty.
func slotParam(*slotRow) Setter {
	return func(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
		p := SlotParam{Key: d.Args[0], Value: d.Args[1]}
		if len(d.Args) == 3 {
			if d.Args[2] != "if_not_empty" {
				return nil, d.Errorf(`invalid parameter "%s"`, d.Args[2])
			}
			p.IfNotEmpty = true
		}
		return p, nil
	}
}

// slotBind is ngx_http_upstream_bind_set_slot: "off", or an address with
// an optional port (a value with variables is resolved per request),
// optionally followed by "transparent".
var slotBind = slotSingle(func(_ *Loader, _ *slotRow, d *grammar.Directive) (any, error) {
	if len(d.Args) == 1 && d.Args[0] == "off" {
		return SlotBind{Off: true}, nil
	}
	if err := slotCheckComplex(d, d.Args[0]); err != nil {
		return nil, err
	}
	if !strings.Contains(d.Args[0], "$") && !slotAddrPort(d.Args[0]) {
		return nil, d.Errorf(`invalid address "%s"`, d.Args[0])
	}
	b := SlotBind{Addr: d.Args[0]}
	if len(d.Args) == 2 {
		if d.Args[1] != "transparent" {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[1])
		}
		b.Transparent = true
	}
	return b, nil
})

// slotAddrPort reports whether s is what ngx_parse_addr_port accepts: an IP
// address, or an address and a port 1-65535 after a colon, with an IPv6
// address in brackets then.
func slotAddrPort(s string) bool {
	if _, ok := value.ParseIP(s); ok {
		return true
	}
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end == len(s)-1 || s[end+1] != ':' {
			return false
		}
		host, port = s[1:end], s[end+2:]
	} else {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return false
		}
		host, port = s[:i], s[i+1:]
	}
	n, err := value.Number(port)
	if err != nil || n < 1 || n > 65535 {
		return false
	}
	_, ok := value.ParseIP(host)
	return ok
}

// slotCacheValid is ngx_http_file_cache_valid_set_slot: [status ...|any]
// time; a time alone is for 200, 301 and 302.
func slotCacheValid(*slotRow) Setter {
	return func(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
		last := d.Args[len(d.Args)-1]
		sec, err := value.SecCount(last)
		if err != nil {
			return nil, d.Errorf(`invalid time value "%s"`, last)
		}
		v := SlotCacheValid{Seconds: sec}
		if len(d.Args) == 1 {
			v.Statuses = []int{200, 301, 302}
			return v, nil
		}
		for _, a := range d.Args[:len(d.Args)-1] {
			if a == "any" {
				v.Statuses = append(v.Statuses, 0)
				continue
			}
			n, err := value.Number(a)
			if err != nil || n < 100 || n > 599 {
				return nil, d.Errorf(`invalid status "%s"`, a)
			}
			v.Statuses = append(v.Statuses, n)
		}
		return v, nil
	}
}

// slotObsolete is a directive nginx 1.22 still knows but ignores, with a
// warning naming the one to use.
func slotObsolete(r *slotRow) Setter {
	use := r.Extra["use"]
	return func(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
		ld.Warn(d, `the "%s" directive is obsolete, use the "%s" directive instead`, d.Name, use)
		return nil, nil
	}
}
