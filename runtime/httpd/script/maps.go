package script

import (
	"strings"

	"github.com/zonesync/zonesync/directives"
)

// Map is a compiled map block (http or stream).
type Map struct {
	Var      string // the variable it defines, lower case
	Source   Value
	Volatile bool

	hostnames bool
	keys      Hostnames[Value]
	regex     []mapRegex
	def       Value
}

type mapRegex struct {
	re  *Regex
	val Value
}

// NewMap compiles a map block.
func NewMap(m *directives.Map) (*Map, error) {
	out := &Map{Var: strings.ToLower(m.Var), Source: Compile(m.Source), Volatile: m.Volatile,
		hostnames: m.Hostnames, def: Compile(m.Default)}
	for _, e := range m.Entries {
		if e.Regex {
			re, err := NewRegex(e.Key, e.Caseless)
			if err != nil {
				return nil, err
			}
			out.regex = append(out.regex, mapRegex{re: re, val: Compile(e.Value)})
			continue
		}
		out.keys.Add(e.Key, Compile(e.Value), m.Hostnames)
	}
	return out, nil
}

// Find returns the value the map gives a key, as ngx_http_map_find looks
// it up: the exact key and the wildcards (case-insensitive), then the
// regexes in order (on the key as is), then the default. re and m are set
// when a regex matched, for the caller to install its captures.
func (m *Map) Find(key string) (v Value, re *Regex, match Match) {
	if m.hostnames && strings.HasSuffix(key, ".") {
		key = key[:len(key)-1]
	}
	if v, ok := m.keys.Find(strings.ToLower(key)); ok {
		return v, nil, Match{}
	}
	for _, r := range m.regex {
		if mt, ok := r.re.Exec(key); ok {
			return r.val, r.re, mt
		}
	}
	return m.def, nil, Match{}
}
