// Package script evaluates nginx's run-time values: complex values with
// variables and regex captures ("$host", "${name}suffix", "$1"), regular
// expressions with nginx's capture rules, hostname tables (exact,
// "*.example.com", ".example.com", "mail.*") and map blocks. The http and
// stream cores share it; each supplies its own variables through Env.
package script

import "strings"

// Env gives a value its variables and captures while it is evaluated.
type Env interface {
	// Var returns the value of a variable; name is lower case, without "$".
	Var(name string) string
	// Capture returns capture n (1 to 9) of the last regex that matched
	// with captures, or "" when there is none.
	Capture(n int) string
}

// Value is a compiled complex value: literal text, variables ("$name",
// "${name}") and captures ("$1" to "$9"), as ngx_http_script_compile reads
// them. The configuration check has already refused malformed values, so
// compiling never fails.
type Value struct {
	Raw   string
	parts []part
}

type part struct {
	lit     string
	name    string // a variable, lower case
	capture int    // 1..9 for a capture
}

// Compile reads a value.
func Compile(s string) Value {
	v := Value{Raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			v.parts = append(v.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			lit.WriteByte(s[i])
			continue
		}
		j := i + 1
		if c := s[j]; c >= '1' && c <= '9' {
			flush()
			v.parts = append(v.parts, part{capture: int(c - '0')})
			i = j
			continue
		}
		bracket := s[j] == '{'
		if bracket {
			j++
		}
		start := j
		for j < len(s) && isNameByte(s[j]) {
			j++
		}
		if j == start {
			lit.WriteByte('$')
			continue
		}
		name := strings.ToLower(s[start:j])
		if bracket {
			if j < len(s) && s[j] == '}' {
				j++
			}
		}
		flush()
		v.parts = append(v.parts, part{name: name})
		i = j - 1
	}
	flush()
	return v
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// Static reports whether the value is plain text.
func (v Value) Static() bool {
	for _, p := range v.parts {
		if p.lit == "" {
			return false
		}
	}
	return true
}

// Names returns the variables the value uses, in order.
func (v Value) Names() []string {
	var out []string
	for _, p := range v.parts {
		if p.name != "" {
			out = append(out, p.name)
		}
	}
	return out
}

// Eval evaluates the value.
func (v Value) Eval(env Env) string {
	switch len(v.parts) {
	case 0:
		return ""
	case 1:
		return v.parts[0].eval(env)
	}
	var b strings.Builder
	for _, p := range v.parts {
		b.WriteString(p.eval(env))
	}
	return b.String()
}

func (p part) eval(env Env) string {
	switch {
	case p.name != "":
		return env.Var(p.name)
	case p.capture != 0:
		return env.Capture(p.capture)
	}
	return p.lit
}

// Truthy is the rewrite module's test of a lone variable: false for the
// empty string and "0".
func Truthy(s string) bool { return s != "" && s != "0" }

// Expand evaluates the value with each variable's value passed through
// fn (a log format's escaping); captures and text are kept as they are.
func (v Value) Expand(env Env, fn func(name, value string) string) string {
	var b strings.Builder
	for _, p := range v.parts {
		if p.name != "" {
			b.WriteString(fn(p.name, env.Var(p.name)))
			continue
		}
		b.WriteString(p.eval(env))
	}
	return b.String()
}
