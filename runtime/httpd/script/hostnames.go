package script

import "strings"

// Hostnames is a table of names as nginx hashes server names and the keys
// of a "map ... { hostnames; }": exact names, leading wildcards
// ("*.example.com", and ".example.com" which is also the exact name
// "example.com") and trailing wildcards ("mail.*"). A name added twice
// keeps its first value, as nginx keeps the first of conflicting names.
type Hostnames[T any] struct {
	exact map[string]T
	head  map[string]T // "example.com" for "*.example.com" and ".example.com"
	tail  map[string]T // "mail" for "mail.*"
}

// Add files a lower-case name; wildcard says whether "*." ".x" and ".*"
// forms are wildcards (for a map without hostnames they are plain keys).
func (h *Hostnames[T]) Add(name string, v T, wildcard bool) {
	if h.exact == nil {
		h.exact, h.head, h.tail = map[string]T{}, map[string]T{}, map[string]T{}
	}
	add := func(m map[string]T, k string) {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	switch {
	case !wildcard:
		add(h.exact, name)
	case len(name) > 2 && strings.HasPrefix(name, "*."):
		add(h.head, name[2:])
	case len(name) > 1 && name[0] == '.':
		add(h.exact, name[1:])
		add(h.head, name[1:])
	case len(name) > 2 && strings.HasSuffix(name, ".*"):
		add(h.tail, name[:len(name)-2])
	default:
		add(h.exact, name)
	}
}

// Empty reports whether nothing was added.
func (h *Hostnames[T]) Empty() bool { return h.exact == nil }

// Find looks a lower-case name up as ngx_hash_find_combined does: the
// exact name, then the longest leading wildcard, then the longest
// trailing wildcard.
func (h *Hostnames[T]) Find(name string) (v T, ok bool) {
	if h.exact == nil {
		return v, false
	}
	if v, ok = h.exact[name]; ok {
		return v, true
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		if v, ok = h.head[name[i+1:]]; ok {
			return v, true
		}
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] != '.' {
			continue
		}
		if v, ok = h.tail[name[:i]]; ok {
			return v, true
		}
	}
	return v, false
}
