package directives

import (
	"errors"
	"regexp"
	"regexp/syntax"

	"github.com/zonesync/zonesync/grammar"
)

// location blocks: their modifiers, the nesting rules nginx checks when a
// location is read, and the duplicates it finds when the http block ends.

func init() {
	Register("location", HTTPServer, Def{Set: setLocation, Opens: HTTPLocation, Multi: true,
		Doc: "Configuration by request URI: prefix, = exact, ^~ prefix without regex, ~ and ~* regex, @named."})
}

// Location is what a location level keeps in its Ext.
type Location struct {
	Name     string // the URI, regex or @name, without the modifier
	Exact    bool   // =
	NoRegex  bool   // ^~
	Regex    bool   // ~ or ~*
	Caseless bool   // ~*
	Named    bool   // @name
	D        *grammar.Directive
}

// Modifier writes the location's modifier as in the configuration.
func (l *Location) Modifier() string {
	switch {
	case l.Exact:
		return "="
	case l.NoRegex:
		return "^~"
	case l.Caseless:
		return "~*"
	case l.Regex:
		return "~"
	}
	return ""
}

// setLocation is ngx_http_core_location.
func setLocation(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	loc, err := parseLocation(d)
	if err != nil {
		return nil, err
	}
	if parent, ok := l.Ext.(*Location); ok && l.Ctx == HTTPLocation {
		if err := nestedLocation(d, parent, loc); err != nil {
			return nil, err
		}
	}
	inner := newLevel(HTTPLocation, d, l)
	inner.Ext = loc
	return inner, nil
}

// parseLocation reads the modifier and the name, in one word or two.
func parseLocation(d *grammar.Directive) (*Location, error) {
	loc := &Location{D: d}
	if len(d.Args) == 2 {
		loc.Name = d.Args[1]
		switch mod := d.Args[0]; mod {
		case "=":
			loc.Exact = true
		case "^~":
			loc.NoRegex = true
		case "~":
			loc.Regex = true
		case "~*":
			loc.Regex, loc.Caseless = true, true
		default:
			return nil, d.Errorf(`invalid location modifier "%s"`, mod)
		}
	} else {
		name := d.Args[0]
		switch {
		case len(name) > 0 && name[0] == '=':
			loc.Name, loc.Exact = name[1:], true
		case len(name) > 1 && name[0] == '^' && name[1] == '~':
			loc.Name, loc.NoRegex = name[2:], true
		case len(name) > 1 && name[0] == '~' && name[1] == '*':
			loc.Name, loc.Regex, loc.Caseless = name[2:], true, true
		case len(name) > 0 && name[0] == '~':
			loc.Name, loc.Regex = name[1:], true
		default:
			loc.Name = name
			loc.Named = len(name) > 0 && name[0] == '@'
		}
	}
	if loc.Regex {
		if err := checkRegex(d, loc.Name); err != nil {
			return nil, err
		}
	}
	return loc, nil
}

// nestedLocation checks a location inside another one.
func nestedLocation(d *grammar.Directive, parent, loc *Location) error {
	switch {
	case parent.Exact:
		return d.Errorf(`location "%s" cannot be inside the exact location "%s"`, loc.Name, parent.Name)
	case parent.Named:
		return d.Errorf(`location "%s" cannot be inside the named location "%s"`, loc.Name, parent.Name)
	case loc.Named:
		return d.Errorf(`named location "%s" can be on the server level only`, loc.Name)
	case !loc.Regex && !hasPrefix(loc.Name, parent.Name):
		return d.Errorf(`location "%s" is outside location "%s"`, loc.Name, parent.Name)
	}
	return nil
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// checkLocationTrees is the duplicate check of ngx_http_init_locations and
// ngx_http_join_exact_locations: two exact locations, or two prefix
// locations (with or without ^~), of the same name at one level.
func checkLocationTrees(st *httpState) error {
	for _, srv := range st.servers {
		if err := checkLocationLevel(srv); err != nil {
			return err
		}
	}
	return nil
}

func checkLocationLevel(l *Level) error {
	exact, prefix := map[string]bool{}, map[string]bool{}
	var locs []*Level
	for _, c := range l.Children {
		loc, ok := c.Ext.(*Location)
		if !ok || c.Ctx != HTTPLocation {
			continue
		}
		locs = append(locs, c)
		if loc.Regex || loc.Named {
			continue
		}
		seen := prefix
		if loc.Exact {
			seen = exact
		}
		if seen[loc.Name] {
			return loc.D.Errorf(`duplicate location "%s"`, loc.Name)
		}
		seen[loc.Name] = true
	}
	for _, c := range locs {
		if err := checkLocationLevel(c); err != nil {
			return err
		}
	}
	return nil
}

// checkRegex compiles a regular expression as far as Go's syntax and
// PCRE's agree, and reports the failures both find with PCRE2's wording.
// Patterns that only PCRE accepts (lookarounds, possessive quantifiers...)
// pass: nginx would compile them.
func checkRegex(d *grammar.Directive, pattern string) error {
	_, err := regexp.Compile(pattern)
	var se *syntax.Error
	if err == nil || !errors.As(err, &se) {
		return nil
	}
	switch se.Code {
	case syntax.ErrMissingParen:
		return d.Errorf(`pcre2_compile() failed: missing closing parenthesis in "%s"`, pattern)
	case syntax.ErrUnexpectedParen:
		return d.Errorf(`pcre2_compile() failed: unmatched closing parenthesis in "%s" at "%s"`, pattern, pattern[unmatchedParen(pattern):])
	case syntax.ErrMissingBracket:
		return d.Errorf(`pcre2_compile() failed: missing terminating ] for character class in "%s"`, pattern)
	}
	return nil
}

// unmatchedParen returns the offset of the first ")" that closes nothing,
// skipping escapes and character classes.
func unmatchedParen(p string) int {
	depth, inClass := 0, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case inClass:
			inClass = c != ']'
		case c == '[':
			inClass = true
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return len(p)
}
