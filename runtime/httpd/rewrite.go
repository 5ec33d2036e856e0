package httpd

import (
	"fmt"
	"os"
	"strings"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/grammar"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// The rewrite module: the if, set, return, rewrite and break statements of
// a server or a location, run in configuration order. As nginx compiles
// them into one code array per level, an if block's statements run inline
// when its condition holds, and the statements after the block run next
// unless one of them ended the phase.

type stmtKind uint8

const (
	stSet stmtKind = iota
	stReturn
	stBreak
	stIf
	stRewrite
)

type stmt struct {
	kind stmtKind
	d    *grammar.Directive
	// set
	name string
	val  script.Value
	// return
	code    int
	text    script.Value
	hasText bool
	// if
	cond cond
	body []stmt
	conf *lconf // the if block's level; nil for an if in a server
	// rewrite
	re   *script.Regex
	repl script.Value
	flag string
}

type condKind uint8

const (
	condVar condKind = iota
	condEqual
	condNotEqual
	condRegex
	condFile
)

// cond is an if condition.
type cond struct {
	kind condKind
	name string // the variable tested
	val  script.Value
	re   *script.Regex
	neg  bool // !~, !~*, !-f...
	op   byte // f, d, e or x
}

// statements compiles the rewrite statements of a level, in order.
func (b *builder) statements(c *lconf, l *directives.Level) ([]stmt, error) {
	var out []stmt
	for _, v := range l.Statements() {
		d := v.D
		var s stmt
		switch d.Name {
		case "set":
			s = stmt{kind: stSet, name: strings.ToLower(strings.TrimPrefix(d.Args[0], "$")), val: script.Compile(d.Args[1])}
		case "return":
			s = stmt{kind: stReturn}
			if r, ok := v.V.(directives.Return); ok {
				s.code = r.Code
				s.text = script.Compile(r.Text)
				s.hasText = r.Text != ""
			}
		case "break":
			s = stmt{kind: stBreak}
		case "rewrite":
			rw, ok := v.V.(directives.Rewrite)
			if !ok {
				continue
			}
			re, err := script.NewRegex(rw.Regex, false)
			if err != nil {
				return nil, located(err, d)
			}
			s = stmt{kind: stRewrite, re: re, repl: script.Compile(rw.Replacement), flag: rw.Flag}
		case "if":
			inner, ok := v.V.(*directives.Level)
			if !ok {
				continue
			}
			cd, err := parseCond(d)
			if err != nil {
				return nil, located(err, d)
			}
			s = stmt{kind: stIf, cond: cd}
			if c.loc != nil || c.parent != nil {
				ic, err := b.ifConf(c, inner)
				if err != nil {
					return nil, err
				}
				s.conf, s.body = ic, ic.rewrite
			} else if s.body, err = b.statements(c, inner); err != nil {
				return nil, err
			}
		default:
			continue
		}
		s.d = d
		out = append(out, s)
	}
	return out, nil
}

func located(err error, d *grammar.Directive) error {
	return fmt.Errorf("%w in %s:%d", err, d.File(), d.Line)
}

// parseCond reads an if condition as ngx_http_rewrite_if_condition does:
// "(" and ")" may be words of their own or stuck to the first and last.
func parseCond(d *grammar.Directive) (cond, error) {
	args := append([]string(nil), d.Args...)
	cur, last := 0, len(args)-1
	if args[0] == "(" {
		cur = 1
	} else {
		args[0] = strings.TrimPrefix(args[0], "(")
	}
	if args[last] == ")" {
		last--
	} else {
		args[last] = strings.TrimSuffix(args[last], ")")
	}
	if cur > last {
		return cond{}, fmt.Errorf("invalid condition")
	}
	p := args[cur]
	if strings.HasPrefix(p, "$") {
		c := cond{name: strings.ToLower(p[1:])}
		if cur == last {
			c.kind = condVar
			return c, nil
		}
		op, arg := args[cur+1], args[last]
		switch op {
		case "=":
			c.kind, c.val = condEqual, script.Compile(arg)
		case "!=":
			c.kind, c.val = condNotEqual, script.Compile(arg)
		case "~", "~*", "!~", "!~*":
			re, err := script.NewRegex(arg, strings.HasSuffix(op, "*"))
			if err != nil {
				return cond{}, err
			}
			c.kind, c.re, c.neg = condRegex, re, op[0] == '!'
		default:
			return cond{}, fmt.Errorf(`unexpected "%s" in condition`, op)
		}
		return c, nil
	}
	neg := strings.HasPrefix(p, "!")
	p = strings.TrimPrefix(p, "!")
	if len(p) != 2 || p[0] != '-' || !strings.ContainsRune("fdex", rune(p[1])) {
		return cond{}, fmt.Errorf(`invalid condition "%s"`, p)
	}
	return cond{kind: condFile, op: p[1], neg: neg, val: script.Compile(args[last])}, nil
}

// flow is how a list of statements ended.
type flow uint8

const (
	flowNext  flow = iota // ran to the end
	flowBreak             // break, or rewrite ... break
	flowLast              // rewrite ... last: search the location again
	flowDone              // a response was decided
)

// exec runs statements; with flowDone, out says what to answer.
func (r *request) exec(list []stmt) (flow, outcome) {
	for i := range list {
		s := &list[i]
		switch s.kind {
		case stSet:
			r.setVar(s.name, s.val.Eval(r))
		case stBreak:
			return flowBreak, outcome{}
		case stReturn:
			return flowDone, r.returnOutcome(s)
		case stIf:
			if !r.test(&s.cond) {
				continue
			}
			if s.conf != nil {
				r.conf = s.conf
			}
			if f, out := r.exec(s.body); f != flowNext {
				return f, out
			}
		case stRewrite:
			if f, out, matched := r.rewrite(s); matched && f != flowNext {
				return f, out
			}
		}
	}
	return flowNext, outcome{}
}

// returnOutcome is ngx_http_script_return_code: a code under 400, or any
// code with a text, is sent as is (a redirect code's text is the
// Location); an error code alone gets nginx's error page.
func (r *request) returnOutcome(s *stmt) outcome {
	if s.code == statusClose {
		return outcome{status: statusClose}
	}
	if s.code < 400 || s.hasText {
		r.status = s.code
		text := s.text.Eval(r)
		if isRedirect(s.code) {
			r.location = text
			return outcome{status: s.code}
		}
		return outcome{resp: r.textResponse(s.code, text)}
	}
	return outcome{status: s.code}
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// test evaluates an if condition.
func (r *request) test(c *cond) bool {
	switch c.kind {
	case condVar:
		return script.Truthy(r.Var(c.name))
	case condEqual:
		return r.Var(c.name) == c.val.Eval(r)
	case condNotEqual:
		return r.Var(c.name) != c.val.Eval(r)
	case condRegex:
		return r.match(c.re, r.Var(c.name)) != c.neg
	case condFile:
		fi, err := os.Stat(c.val.Eval(r))
		var ok bool
		switch c.op {
		case 'f':
			ok = err == nil && fi.Mode().IsRegular()
		case 'd':
			ok = err == nil && fi.IsDir()
		case 'e':
			ok = err == nil
		case 'x':
			ok = err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
		}
		return ok != c.neg
	}
	return false
}

// match runs a regex on s; a match with groups becomes the request's
// captures, and named groups become variables.
func (r *request) match(re *script.Regex, s string) bool {
	m, ok := re.Exec(s)
	if !ok {
		return false
	}
	if re.Captures() {
		r.captures = m
		for name, v := range m.Named {
			r.setVar(strings.ToLower(name), v)
		}
	}
	return true
}

// rewrite runs one rewrite directive; matched is false when its regex did
// not match the URI.
func (r *request) rewrite(s *stmt) (f flow, out outcome, matched bool) {
	if !r.match(s.re, r.uri) {
		return flowNext, outcome{}, false
	}
	repl := s.repl.Eval(r)
	redirect := s.flag == "redirect" || s.flag == "permanent" ||
		strings.HasPrefix(repl, "http://") || strings.HasPrefix(repl, "https://") || strings.HasPrefix(s.repl.Raw, "$scheme")
	if redirect {
		loc, keep := strings.CutSuffix(repl, "?")
		if !keep && r.args != "" {
			sep := "?"
			if strings.Contains(loc, "?") {
				sep = "&"
			}
			loc += sep + r.args
		}
		r.location = loc
		code := 302
		if s.flag == "permanent" {
			code = 301
		}
		return flowDone, outcome{status: code}, true
	}
	uri, args, hasArgs := strings.Cut(repl, "?")
	if hasArgs {
		if trimmed, ok := strings.CutSuffix(args, "?"); ok || strings.HasSuffix(repl, "?") {
			args = trimmed
		} else if r.args != "" {
			args += "&" + r.args
		}
		r.args = args
	}
	r.setURI(uri)
	r.uriChanged = true
	switch s.flag {
	case "last":
		return flowLast, outcome{}, true
	case "break":
		r.uriChanged = false
		return flowBreak, outcome{}, true
	}
	return flowNext, outcome{}, true
}
