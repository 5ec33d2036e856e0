// Package directives holds the directive table and builds the typed
// configuration from a parsed tree, with nginx's checks, messages, defaults
// and inheritance.
//
// The table is data: directives.tsv (a copy of the project's reference list
// of every nginx, NGINX Plus, njs and otel directive) gives each directive's
// contexts and argument rule; the typed setters registered in the family
// files (core.go, http.go, stream.go, zonesync.go, ...) add a value parser, a
// default and a merge rule for the directives zonesync runs.
package directives

import (
	_ "embed"
	"fmt"
	"strings"
)

// Context is a set of configuration levels, as nginx's NGX_*_CONF bits.
type Context uint32

// The levels a directive can appear at. Names follow directives.tsv.
const (
	Main Context = 1 << iota
	MainDirect
	Events
	HTTP
	HTTPServer
	HTTPLocation
	HTTPServerIf
	HTTPLocationIf
	HTTPLimitExcept
	HTTPUpstream
	HTTPOIDCProvider
	Mail
	MailServer
	Stream
	StreamServer
	StreamUpstream
	Mgmt
)

var contextNames = map[string]Context{
	"main":                       Main,
	"main(direct)":               MainDirect,
	"events":                     Events,
	"http":                       HTTP,
	"http/server":                HTTPServer,
	"http/location":              HTTPLocation,
	"http/server/if":             HTTPServerIf,
	"http/location/if":           HTTPLocationIf,
	"http/location/limit_except": HTTPLimitExcept,
	"http/upstream":              HTTPUpstream,
	"http/oidc_provider":         HTTPOIDCProvider,
	"mail":                       Mail,
	"mail/server":                MailServer,
	"stream":                     Stream,
	"stream/server":              StreamServer,
	"stream/upstream":            StreamUpstream,
	"mgmt":                       Mgmt,
}

func (c Context) String() string {
	var names []string
	for name, bit := range contextNames {
		if c&bit != 0 {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// ArgRule is a directive's argument rule, with nginx's NGX_CONF_* bits.
type ArgRule uint32

// Argument rules. Take0..Take7 are exact counts and may be combined.
const (
	Take0 ArgRule = 1 << iota
	Take1
	Take2
	Take3
	Take4
	Take5
	Take6
	Take7
	Block   // takes a { } block
	Flag    // exactly one argument, "on" or "off"
	Any     // any number of arguments
	OneMore // at least one
	TwoMore // at least two

	Take12   = Take1 | Take2
	Take13   = Take1 | Take3
	Take23   = Take2 | Take3
	Take123  = Take1 | Take2 | Take3
	Take1234 = Take1 | Take2 | Take3 | Take4
)

// maxArgs is NGX_CONF_MAX_ARGS: words including the name.
const maxArgs = 8

// accepts reports whether n arguments (not counting the name) satisfy the
// rule, as ngx_conf_handler checks them.
func (r ArgRule) accepts(n int) bool {
	switch {
	case r&Any != 0:
		return true
	case r&Flag != 0:
		return n == 1
	case r&OneMore != 0:
		return n >= 1
	case r&TwoMore != 0:
		return n >= 2
	case n+1 > maxArgs:
		return false
	}
	return r&(Take0<<n) != 0
}

// parseArgRule reads the args column of directives.tsv: "0".."7", "1-2",
// "1+", "2+", "any", "flag", "block|...", "0|1", "expr" (if's condition).
func parseArgRule(s string) (ArgRule, error) {
	var r ArgRule
	for _, part := range strings.Split(s, "|") {
		switch {
		case part == "block":
			r |= Block
		case part == "flag":
			r |= Flag
		case part == "any":
			r |= Any
		case part == "expr":
			// if (...) is checked by its own handler; its words are 1+.
		case part == "1+":
			r |= OneMore
		case part == "2+":
			r |= TwoMore
		case len(part) == 1 && part[0] >= '0' && part[0] <= '7':
			r |= Take0 << (part[0] - '0')
		case len(part) == 3 && part[1] == '-' && part[0] <= part[2] && part[0] >= '0' && part[2] <= '7':
			for n := part[0]; n <= part[2]; n++ {
				r |= Take0 << (n - '0')
			}
		default:
			return 0, fmt.Errorf("unknown argument rule %q", part)
		}
	}
	return r, nil
}

// Spec is one row of the table: a directive in one group of contexts.
type Spec struct {
	Name     string
	Avail    string // oss, plus, njs, otel
	Contexts Context
	Args     ArgRule

	// Set is the typed setter; nil for directives that are only checked for
	// context and argument count (and on|off for flags).
	Set Setter
	// Multi marks a directive that may repeat at one level (an array);
	// a second occurrence of any other directive with a setter is
	// "is duplicate".
	Multi bool
	// Default is the typed value used when the directive is set at no
	// level; DefaultDoc is how the reference shows it ("" for none).
	Default    any
	DefaultDoc string
	// Inherit marks a directive whose value an inner level takes from the
	// outer one when it sets none (arrays: only when it sets none at all).
	Inherit bool
	// Opens is the context of the block this directive opens, for block
	// directives whose contents are directives; Custom blocks hand their
	// statements to a handler instead.
	Opens  Context
	Custom BlockHandler
	// Doc is a one-line description for the generated reference, and
	// Syntax its syntax line ("zone_sync_interval time;").
	Doc    string
	Syntax string

	// typed is set for rows that a family registered.
	typed bool
}

// Def is what a family registers for a directive: everything of a Spec
// beyond its contexts and argument rule.
type Def struct {
	Set        Setter
	Multi      bool
	Default    any
	DefaultDoc string
	Inherit    bool
	Opens      Context
	Custom     BlockHandler
	Done       Finisher
	Doc        string
	Syntax     string
}

// Register attaches a typed definition to the row of name that covers every
// context in ctx. Families call it from init functions.
func Register(name string, ctx Context, def Def) {
	s := spec(name, ctx)
	s.Set, s.Multi, s.Default, s.DefaultDoc = def.Set, def.Multi, def.Default, def.DefaultDoc
	s.Inherit, s.Custom = def.Inherit, def.Custom
	// The block structure (blocks.go) may be registered before a family
	// adds its setter; a family need not repeat it.
	if def.Opens != 0 {
		s.Opens = def.Opens
	}
	if def.Doc != "" {
		s.Doc = def.Doc
	}
	if def.Syntax != "" {
		s.Syntax = def.Syntax
	}
	s.typed = true
	if def.Done != nil {
		addFinisher(s, def.Done)
	}
}

// Typed reports whether a family registered the row.
func (s *Spec) Typed() bool { return s.typed }

//go:embed directives.tsv
var tableTSV string

// legacyTSV lists directives that nginx 1.22.1 accepts and mainline has
// removed (ssl on|off in an http server, for instance), so that the
// configs users still have keep working.
//
//go:embed legacy.tsv
var legacyTSV string

// table maps a directive name to its rows.
var table = loadTable(tableTSV + legacyTSV)

func loadTable(tsv string) map[string][]*Spec {
	t := make(map[string][]*Spec)
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "directive\t") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			panic(fmt.Sprintf("directives.tsv:%d: want 4 fields, have %d", i+1, len(f)))
		}
		if f[2] == "" {
			// Statements of a data block (a Plus match, an otel_exporter):
			// not directives outside it.
			continue
		}
		s := &Spec{Name: f[0], Avail: f[1]}
		for _, c := range strings.Split(f[2], ",") {
			bit, ok := contextNames[c]
			if !ok {
				panic(fmt.Sprintf("directives.tsv:%d: unknown context %q", i+1, c))
			}
			s.Contexts |= bit
		}
		r, err := parseArgRule(f[3])
		if err != nil {
			panic(fmt.Sprintf("directives.tsv:%d: %v", i+1, err))
		}
		s.Args = r
		t[s.Name] = append(t[s.Name], s)
	}
	return t
}

// Lookup returns the row for name that is allowed in ctx, or nil; known
// reports whether the name exists at all.
func Lookup(name string, ctx Context) (spec *Spec, known bool) {
	rows := table[name]
	for _, s := range rows {
		if s.Contexts&ctx != 0 {
			return s, true
		}
	}
	return nil, len(rows) > 0
}

// Specs returns every row of the table, for documentation and tests.
func Specs() map[string][]*Spec { return table }

// spec returns the row of name that covers ctx; registration of a setter
// for a row that does not exist is a programming error.
func spec(name string, ctx Context) *Spec {
	for _, s := range table[name] {
		if s.Contexts&ctx == ctx {
			return s
		}
	}
	panic(fmt.Sprintf("directives: no row for %q in %v", name, ctx))
}
