package api

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The API writes JSON itself: objects keep the field order of the NGINX
// Plus swagger (and zones their configuration order), output is compact as
// nginx's, and "<", ">" and "&" are not escaped.

// member is one field of an object.
type member struct {
	name  string
	value any
}

// object is a JSON object whose fields keep their order.
type object []member

// only keeps the fields named in keep, in the object's own order.
func (o object) only(keep map[string]bool) object {
	out := object{}
	for _, m := range o {
		if keep[m.name] {
			out = append(out, m)
		}
	}
	return out
}

// fieldsMode says how ?fields= applies to an endpoint's reply.
type fieldsMode int

const (
	fieldsNone    fieldsMode = iota // ignored
	fieldsTop                       // filters the reply object's own fields
	fieldsMembers                   // filters the fields of each member (zone) of the reply; empty keeps only the names
)

// parseFields turns "a,b" into a set; empty entries are ignored.
func parseFields(v string) map[string]bool {
	keep := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		if f != "" {
			keep[f] = true
		}
	}
	return keep
}

// applyFields filters a reply as mode says.
func applyFields(v any, mode fieldsMode, keep map[string]bool) any {
	switch mode {
	case fieldsTop:
		if o, ok := v.(object); ok {
			return o.only(keep)
		}
	case fieldsMembers:
		switch t := v.(type) {
		case object:
			out := make(object, len(t))
			for i, m := range t {
				out[i] = member{m.name, applyFields(m.value, fieldsTop, keep)}
			}
			return out
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = applyFields(e, fieldsTop, keep)
			}
			return out
		}
	}
	return v
}

// appendJSON encodes v. It knows the types the API builds its replies from.
func appendJSON(dst []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...)
	case object:
		dst = append(dst, '{')
		for i, m := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.name)
			dst = append(dst, ':')
			dst = appendJSON(dst, m.value)
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	case []string:
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, e)
		}
		return append(dst, ']')
	case []int:
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(e), 10)
		}
		return append(dst, ']')
	case string:
		return appendString(dst, t)
	case []byte:
		return appendString(dst, string(t))
	case int:
		return strconv.AppendInt(dst, int64(t), 10)
	case int64:
		return strconv.AppendInt(dst, t, 10)
	case bool:
		return strconv.AppendBool(dst, t)
	}
	panic(fmt.Sprintf("api: cannot encode %T", v)) // a programming error: replies are built from the types above
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// JSON text must be UTF-8.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
