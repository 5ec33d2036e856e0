package httpd

import (
	"fmt"
	"strings"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/grammar"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// proxy_redirect as ngx_http_proxy_module runs it: the Location header of
// an upstream response, and the URL after "url=" in its Refresh header,
// go through the rules of the level in order, and the first that matches
// rewrites them:
//
//   - "proxy_redirect REDIRECT REPLACEMENT": when the value starts with
//     REDIRECT (compared as is, both may have variables), that part is
//     replaced;
//   - "proxy_redirect ~REGEX REPLACEMENT" ("~*" ignores case): when the
//     regex matches, the whole value is replaced, and the replacement may
//     use the captures;
//   - "proxy_redirect default" is "proxy_redirect URL LOCATION" with the
//     proxy_pass URL as written and the location's name when proxy_pass
//     has a URI part, else "proxy_redirect URL/ /";
//   - "proxy_redirect off" rewrites nothing.
//
// A level without proxy_redirect takes its parent's rules, after the
// parent got its own default: a level with proxy_pass whose parents set
// no rules (and did not turn rewriting off) gets the default rule, and a
// nested location or "if" block with its own proxy_pass inside a location
// with one keeps the outer default. A rewritten Location that is
// relative is then made absolute by the header filter, as a redirect of
// the server itself; one that no rule matched is passed as it came.

// redirectRule is one rewrite of proxy_redirect.
type redirectRule struct {
	re          *script.Regex // the "~" and "~*" forms
	prefix      script.Value  // the other forms
	replacement script.Value
	// fixed is the default rule: plain prefix and replacement texts.
	fixed              bool
	fixedFrom, fixedTo string
}

// redirectsFor returns the rules of a level that proxies; nil when
// rewriting is off or there is no rule.
func redirectsFor(l *directives.Level) ([]redirectRule, error) {
	_, rules, err := levelRedirects(l)
	return rules, err
}

// levelRedirects is the merged proxy_redirect of a level: whether
// rewriting is on and its rules.
func levelRedirects(l *directives.Level) (on bool, rules []redirectRule, err error) {
	if l == nil {
		return true, nil, nil
	}
	if own := l.Own("proxy_redirect"); len(own) > 0 {
		for _, v := range own {
			args, _ := v.V.([]string)
			if len(args) == 1 && args[0] == "off" {
				return false, nil, nil
			}
			rule, err := compileRedirect(l, v.D, args)
			if err != nil {
				return false, nil, err
			}
			rules = append(rules, rule)
		}
		return true, rules, nil
	}
	on, rules, err = levelRedirects(l.Parent)
	if err != nil || !on || rules != nil {
		return on, rules, err
	}
	if pp, ok := ownValue[directives.ProxyPass](l, "proxy_pass"); ok && pp.Upstream != nil {
		rules = []redirectRule{defaultRedirect(l, pp)}
	}
	return on, rules, nil
}

// compileRedirect reads one proxy_redirect of level l.
func compileRedirect(l *directives.Level, d *grammar.Directive, args []string) (redirectRule, error) {
	file, line := d.File(), d.Line
	switch {
	case len(args) == 1 && args[0] == "default":
		pp, ok := ownValue[directives.ProxyPass](l, "proxy_pass")
		if !ok || !proxyPassBefore(l, d) {
			return redirectRule{}, fmt.Errorf(`"proxy_redirect default" should be placed after the "proxy_pass" directive in %s:%d`, file, line)
		}
		if pp.Upstream == nil {
			return redirectRule{}, fmt.Errorf(`"proxy_redirect default" cannot be used with "proxy_pass" directive with variables in %s:%d`, file, line)
		}
		return defaultRedirect(l, pp), nil
	case len(args) == 1:
		return redirectRule{}, fmt.Errorf(`invalid parameter "%s" in %s:%d`, args[0], file, line)
	case len(args) != 2:
		return redirectRule{}, fmt.Errorf(`invalid number of arguments in "proxy_redirect" directive in %s:%d`, file, line)
	}
	rule := redirectRule{replacement: script.Compile(args[1])}
	pattern, isRegex := strings.CutPrefix(args[0], "~")
	if !isRegex {
		rule.prefix = script.Compile(args[0])
		return rule, nil
	}
	pattern, caseless := strings.CutPrefix(pattern, "*")
	re, err := script.NewRegex(pattern, caseless)
	if err != nil {
		return redirectRule{}, fmt.Errorf("%w in %s:%d", err, file, line)
	}
	rule.re = re
	return rule, nil
}

// proxyPassBefore reports whether the level's proxy_pass comes before
// the proxy_redirect d.
func proxyPassBefore(l *directives.Level, d *grammar.Directive) bool {
	for _, v := range l.Statements() {
		switch {
		case v.D == d:
			return false
		case v.D.Name == "proxy_pass":
			return true
		}
	}
	return false
}

// defaultRedirect is the rule of "proxy_redirect default" for the
// proxy_pass of level l.
func defaultRedirect(l *directives.Level, pp directives.ProxyPass) redirectRule {
	if pp.URI == "" {
		return redirectRule{fixed: true, fixedFrom: pp.URL + "/", fixedTo: "/"}
	}
	name := ""
	if loc, ok := l.Ext.(*directives.Location); ok && !loc.Regex && !loc.Named {
		name = loc.Name
	}
	return redirectRule{fixed: true, fixedFrom: pp.URL, fixedTo: name}
}

// rewriteRedirect rewrites value from prefix on with the first rule that
// matches; ok is false when none does.
func (r *request) rewriteRedirect(rules []redirectRule, value string, prefix int) (string, bool) {
	rest := value[prefix:]
	for _, rule := range rules {
		if rule.re != nil {
			if !r.match(rule.re, rest) {
				continue
			}
			return value[:prefix] + rule.replacement.Eval(r), true
		}
		from, to := rule.fixedFrom, rule.fixedTo
		if !rule.fixed {
			from = rule.prefix.Eval(r)
		}
		if !strings.HasPrefix(rest, from) {
			continue
		}
		if !rule.fixed {
			to = rule.replacement.Eval(r)
		}
		return value[:prefix] + to + rest[len(from):], true
	}
	return value, false
}

// refreshURL is where the URL of a Refresh header starts ("url=", in any
// case); -1 without one.
func refreshURL(v string) int {
	i := strings.Index(strings.ToLower(v), "url=")
	if i < 0 {
		return -1
	}
	return i + len("url=")
}
