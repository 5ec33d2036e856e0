package script

import (
	"fmt"
	"regexp"
)

// Regex is a regular expression of the configuration (a location, an if
// condition, a server name, a map key, a rewrite). nginx compiles them with
// PCRE; zonesync uses Go's RE2 syntax, which reads the common subset the
// same way. Patterns that only PCRE accepts (lookarounds, backreferences,
// possessive quantifiers) are refused by New with the pattern named.
type Regex struct {
	Pattern  string
	Caseless bool
	re       *regexp.Regexp
	names    []string // the named groups, by group number ("" for unnamed)
	hasNames bool
}

// NewRegex compiles a pattern; caseless is nginx's "~*".
func NewRegex(pattern string, caseless bool) (*Regex, error) {
	src := pattern
	if caseless {
		src = "(?i)" + pattern
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf(`regular expression "%s" is not supported: %v`, pattern, err)
	}
	r := &Regex{Pattern: pattern, Caseless: caseless, re: re, names: re.SubexpNames()}
	for _, n := range r.names {
		r.hasNames = r.hasNames || n != ""
	}
	return r, nil
}

// Match is a successful match: the groups by number (0 is the whole
// match) and the named groups.
type Match struct {
	Groups []string
	Named  map[string]string
}

// Captures reports whether the regex has groups: as ngx_http_regex_exec,
// only such a regex replaces the request's captures when it matches.
func (r *Regex) Captures() bool { return r.re.NumSubexp() > 0 }

// Exec matches s; ok is false when it does not match.
func (r *Regex) Exec(s string) (m Match, ok bool) {
	idx := r.re.FindStringSubmatchIndex(s)
	if idx == nil {
		return Match{}, false
	}
	m.Groups = make([]string, len(idx)/2)
	for i := range m.Groups {
		if idx[2*i] >= 0 {
			m.Groups[i] = s[idx[2*i]:idx[2*i+1]]
		}
	}
	if r.hasNames {
		m.Named = map[string]string{}
		for i, n := range r.names {
			if n != "" {
				m.Named[n] = m.Groups[i]
			}
		}
	}
	return m, true
}

// MatchString reports whether s matches, without captures.
func (r *Regex) MatchString(s string) bool { return r.re.MatchString(s) }

// Capture returns capture n of a match, "" past the last group.
func (m Match) Capture(n int) string {
	if n < len(m.Groups) {
		return m.Groups[n]
	}
	return ""
}
