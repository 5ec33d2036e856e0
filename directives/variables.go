package directives

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zonesync/zonesync/grammar"
)

// Variables in values, as nginx compiles them.
//
// nginx compiles the values that may hold variables while it reads the
// directive (ngx_http_script_compile, and log_format's own compiler), and
// refuses a "$" with no name ("invalid variable name") and a "${name" with
// no "}" ("the closing bracket in "name" variable is missing") at the
// directive's line. Every name a value uses is registered
// (ngx_http_get_variable_index); when the http or stream block ends, a name
// that no module and no directive defines is `unknown "name" variable`,
// logged without a location (ngx_http_variables_init_vars). The checks of
// this file are three tables: the built-in variables (variables.tsv), the
// arguments each directive compiles (varRules), and the directives that
// define variables (the varDefine rows of varRules).

//go:embed variables.tsv
var variablesTSV string

// BuiltinVariable is one row of variables.tsv.
type BuiltinVariable struct {
	Subsystem string // "http" or "stream"
	Name      string // lower case; a prefix ends with "_"
	Module    string
	// Prefix marks a family: $http_NAME, $arg_NAME...
	Prefix bool
	// Changeable marks a variable that set, map and the like may define
	// again; the others are nginx's "the duplicate" variable.
	Changeable bool
	// Plus marks an NGINX Plus variable that nginx 1.22.1 does not have,
	// Otel one of the OpenTelemetry module (nginx-otel).
	Plus, Otel bool
}

// builtinSet is the built-in variables of one subsystem.
type builtinSet struct {
	byName   map[string]*BuiltinVariable
	prefixes []*BuiltinVariable
	list     []*BuiltinVariable
}

var builtinVariables = loadVariables(variablesTSV)

func loadVariables(tsv string) map[string]*builtinSet {
	sets := map[string]*builtinSet{}
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "subsystem\t") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			panic(fmt.Sprintf("variables.tsv:%d: want 4 fields, have %d", i+1, len(f)))
		}
		v := &BuiltinVariable{Subsystem: f[0], Name: f[1], Module: f[2]}
		for _, flag := range strings.Split(f[3], ",") {
			switch flag {
			case "-":
			case "prefix":
				v.Prefix = true
			case "changeable":
				v.Changeable = true
			case "plus":
				v.Plus = true
			case "otel":
				v.Otel = true
			default:
				panic(fmt.Sprintf("variables.tsv:%d: unknown flag %q", i+1, flag))
			}
		}
		set := sets[v.Subsystem]
		if set == nil {
			set = &builtinSet{byName: map[string]*BuiltinVariable{}}
			sets[v.Subsystem] = set
		}
		if v.Prefix {
			set.prefixes = append(set.prefixes, v)
		} else {
			if set.byName[v.Name] != nil {
				panic(fmt.Sprintf("variables.tsv:%d: %s %s twice", i+1, v.Subsystem, v.Name))
			}
			set.byName[v.Name] = v
		}
		set.list = append(set.list, v)
	}
	return sets
}

// BuiltinVariables returns the built-in variables of "http" or "stream",
// in the order of variables.tsv.
func BuiltinVariables(subsystem string) []BuiltinVariable {
	set := builtinVariables[subsystem]
	if set == nil {
		return nil
	}
	out := make([]BuiltinVariable, len(set.list))
	for i, v := range set.list {
		out[i] = *v
	}
	return out
}

// known reports whether a module defines name (lower case): the variable
// itself, or a prefix it starts with (the prefix alone counts too).
func (b *builtinSet) known(name string) bool {
	if b == nil {
		return false
	}
	if b.byName[name] != nil {
		return true
	}
	for _, p := range b.prefixes {
		if strings.HasPrefix(name, p.Name) {
			return true
		}
	}
	return false
}

// fixed reports whether name is a built-in variable that no directive may
// define again (nginx's ngx_http_add_variable: the names compare without
// case; the prefixes are kept apart and never conflict).
func (b *builtinSet) fixed(name string) bool {
	if b == nil {
		return false
	}
	v := b.byName[varLower(name)]
	return v != nil && !v.Changeable
}

// fixedVariable reports whether set, map, geo, split_clients, a named
// capture and the like refuse name in that subsystem with `the duplicate
// "NAME" variable`.
func fixedVariable(subsystem, name string) bool {
	return builtinVariables[subsystem].fixed(name)
}

// varLower lower-cases ASCII letters only, as ngx_strlow does.
func varLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isVarNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// compileScript reads a value as ngx_http_script_compile (and the stream
// one) does and returns the variable names it uses, in order, or the
// compiler's message. "$1".."$9" are regex captures, not variables.
func compileScript(s string) (names []string, msg string) {
	for i := 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		i++
		if i == len(s) {
			return names, "invalid variable name"
		}
		if s[i] >= '1' && s[i] <= '9' {
			i++
			continue
		}
		name, next, msg := varName(s, i)
		if msg != "" {
			if msg == "invalid" {
				msg = "invalid variable name"
			}
			return names, msg
		}
		names = append(names, name)
		i = next
	}
	return names, ""
}

// varName reads the name after a "$" at s[i:]: a run of letters, digits
// and "_", or anything up to "}" after "{". It returns the name and the
// index after it, or "invalid" for an empty name, or the message of a
// missing "}".
func varName(s string, i int) (name string, next int, msg string) {
	bracket := s[i] == '{'
	if bracket {
		i++
		if i == len(s) {
			return "", i, "invalid"
		}
	}
	start := i
	for ; i < len(s); i++ {
		if s[i] == '}' && bracket {
			name = s[start:i]
			if name == "" {
				return "", i + 1, "invalid"
			}
			return name, i + 1, ""
		}
		if !isVarNameByte(s[i]) {
			break
		}
	}
	name = s[start:i]
	if bracket {
		return "", i, fmt.Sprintf(`the closing bracket in "%s" variable is missing`, name)
	}
	if name == "" {
		return "", i, "invalid"
	}
	return name, i, ""
}

// compileLogFormat reads log_format's format strings as the log modules'
// compilers do (an optional escape= first). Unlike the script compiler,
// a digit after "$" starts a name: "$1" is the variable "1". A "$" with no
// name is `invalid parameter` quoting the rest of the string.
func compileLogFormat(args []string) (names []string, msg string) {
	if len(args) > 0 {
		if e, ok := strings.CutPrefix(args[0], "escape="); ok {
			if e != "json" && e != "none" && e != "default" {
				return nil, fmt.Sprintf(`unknown log format escaping "%s"`, e)
			}
			args = args[1:]
		}
	}
	for _, s := range args {
		for i := 0; i < len(s); {
			if s[i] != '$' {
				i++
				continue
			}
			start := i
			i++
			if i == len(s) {
				return names, fmt.Sprintf(`invalid parameter "%s"`, s[start:])
			}
			name, next, m := varName(s, i)
			switch {
			case m == "invalid":
				return names, fmt.Sprintf(`invalid parameter "%s"`, s[start:])
			case m != "":
				return names, m
			}
			names = append(names, name)
			i = next
		}
	}
	return names, ""
}

// namedCaptures returns the names of a PCRE pattern's named groups,
// (?<name>...), (?'name'...) and (?P<name>...), which nginx's regex
// compiler turns into variables. Escaped bytes and character classes hold
// no groups.
func namedCaptures(re string) []string {
	var names []string
	for i := 0; i < len(re); i++ {
		switch re[i] {
		case '\\':
			i++
		case '[':
			i = classEnd(re, i)
		case '(':
			rest := re[i+1:]
			var open string
			switch {
			case strings.HasPrefix(rest, "?P<"):
				open = "?P<"
			case strings.HasPrefix(rest, "?<"):
				open = "?<"
			case strings.HasPrefix(rest, "?'"):
				open = "?'"
			default:
				continue
			}
			body := rest[len(open):]
			closer := byte('>')
			if open == "?'" {
				closer = '\''
			}
			n := 0
			for n < len(body) && isVarNameByte(body[n]) {
				n++
			}
			if n > 0 && n < len(body) && body[n] == closer && !(body[0] >= '0' && body[0] <= '9') {
				names = append(names, body[:n])
			}
		}
	}
	return names
}

// classEnd returns the index of the "]" that closes the class opening at
// re[i] ("[" then an optional "^", and a "]" right after them is a member).
func classEnd(re string, i int) int {
	j := i + 1
	if j < len(re) && re[j] == '^' {
		j++
	}
	if j < len(re) && re[j] == ']' {
		j++
	}
	for ; j < len(re); j++ {
		switch re[j] {
		case '\\':
			j++
		case ']':
			return j
		}
	}
	return len(re)
}

// varHow says how a directive's argument is read.
type varHow uint8

const (
	// varScript: a value compiled by the script compiler.
	varScript varHow = iota + 1
	// varRaw: "$name" taken whole as a name (if's operand, charset, geo's
	// source, sticky): no compiler, any byte may be part of the name.
	varRaw
	// varLog: log_format's format strings.
	varLog
	// varRegex: a regular expression; its named captures define variables.
	varRegex
	// varRegexOrScript: "~regex" (or "~*regex"), else a value
	// (proxy_redirect, proxy_cookie_domain...).
	varRegexOrScript
	// varRegexTilde: "~regex" is a regex, anything else is no value
	// (server_name).
	varRegexTilde
	// varDefine: "$name", a variable the directive defines.
	varDefine
	// varUses: the directive uses the variable named in args, whatever
	// its arguments (memcached_pass reads $memcached_key).
	varUses
)

// varRule is one row of the table of values: which arguments of a
// directive nginx compiles or defines.
type varRule struct {
	sub  string // "http" or "stream"
	name string
	// args picks the arguments: "1", "2" (nginx's value[1], value[2]),
	// "1+" (from the first on), "last", or a parameter prefix ("if=")
	// whose value follows it; for varUses, the variable name.
	args string
	how  varHow
	// merge is 0 for a value compiled as the directive is read. Values
	// compiled when the http block ends (the modules' merge) have the rank
	// of their module in nginx's module order: such values are compiled
	// for every server and location, from the level's own directives or
	// the nearest enclosing level's, and their errors name the line of the
	// "}" that ends the http block.
	merge int
	// srv marks a merged value of the server level only (ssl_certificate).
	srv bool
	// fn reads directives whose grammar decides which words are values.
	fn func(ld *Loader, sc *varScope, d *grammar.Directive) error
}

// The merge ranks, in nginx's module order (ngx_modules.c).
const (
	mergeSSL = iota + 1
	mergeProxy
	mergeFastCGI
	mergeUWSGI
	mergeSCGI
	mergeGRPC
)

// varRules is the table of the arguments nginx 1.22.1 compiles, each
// checked against it (a "$zz" there gives `unknown "zz" variable`, a
// "${zz" the missing-bracket message at the directive's line or at the
// http block's end), plus the NGINX Plus and njs directives that define or
// use variables. Rows of one directive apply in this order.
var varRules = []varRule{
	// ngx_http_core_module
	{sub: "http", name: "root", args: "1", how: varScript},
	{sub: "http", name: "alias", args: "1", how: varScript},
	{sub: "http", name: "error_page", args: "last", how: varScript},
	{sub: "http", name: "try_files", args: "1+", how: varScript},
	{sub: "http", name: "limit_rate", args: "1", how: varScript},
	{sub: "http", name: "limit_rate_after", args: "1", how: varScript},
	{sub: "http", name: "location", fn: varLocation},
	{sub: "http", name: "server_name", args: "1+", how: varRegexTilde},
	// ngx_http_log_module
	{sub: "http", name: "log_format", args: "2+", how: varLog},
	{sub: "http", name: "access_log", fn: varAccessLogPath},
	{sub: "http", name: "access_log", args: "if=", how: varScript},
	// ngx_http_index_module, ngx_http_auth_basic_module
	{sub: "http", name: "index", args: "1+", how: varScript},
	{sub: "http", name: "auth_basic", args: "1", how: varScript},
	{sub: "http", name: "auth_basic_user_file", args: "1", how: varScript},
	{sub: "http", name: "auth_request_set", args: "1", how: varDefine},
	{sub: "http", name: "auth_request_set", args: "2", how: varScript},
	// ngx_http_limit_conn_module, ngx_http_limit_req_module
	{sub: "http", name: "limit_conn_zone", args: "1", how: varScript},
	{sub: "http", name: "limit_req_zone", args: "1", how: varScript},
	// ngx_http_geo_module, ngx_http_map_module, ngx_http_split_clients_module
	{sub: "http", name: "geo", fn: varGeo},
	{sub: "http", name: "map", args: "1", how: varScript},
	{sub: "http", name: "map", args: "2", how: varDefine},
	{sub: "http", name: "map", fn: varMapBlock},
	{sub: "http", name: "split_clients", args: "1", how: varScript},
	{sub: "http", name: "split_clients", args: "2", how: varDefine},
	// ngx_http_rewrite_module
	{sub: "http", name: "set", args: "1", how: varDefine},
	{sub: "http", name: "set", args: "2", how: varScript},
	{sub: "http", name: "return", fn: varReturn},
	{sub: "http", name: "rewrite", args: "1", how: varRegex},
	{sub: "http", name: "rewrite", args: "2", how: varScript},
	{sub: "http", name: "if", fn: varIf},
	// ngx_http_ssl_module: the certificates are compiled by its merge
	{sub: "http", name: "ssl_certificate", args: "1", how: varScript, merge: mergeSSL, srv: true},
	{sub: "http", name: "ssl_certificate_key", args: "1", how: varScript, merge: mergeSSL, srv: true},
	// ngx_http_proxy_module
	{sub: "http", name: "proxy_pass", args: "1", how: varScript},
	{sub: "http", name: "proxy_redirect", args: "1", how: varRegexOrScript},
	{sub: "http", name: "proxy_redirect", args: "2", how: varScript},
	{sub: "http", name: "proxy_cookie_domain", args: "1", how: varRegexOrScript},
	{sub: "http", name: "proxy_cookie_domain", args: "2", how: varScript},
	{sub: "http", name: "proxy_cookie_path", args: "1", how: varRegexOrScript},
	{sub: "http", name: "proxy_cookie_path", args: "2", how: varScript},
	{sub: "http", name: "proxy_cookie_flags", args: "1", how: varRegexOrScript},
	{sub: "http", name: "proxy_cookie_flags", args: "2+", how: varScript},
	{sub: "http", name: "proxy_method", args: "1", how: varScript},
	{sub: "http", name: "proxy_set_body", args: "1", how: varScript, merge: mergeProxy},
	{sub: "http", name: "proxy_set_header", args: "2", how: varScript, merge: mergeProxy},
	// proxy, fastcgi, uwsgi, scgi, grpc, memcached: the shared upstream settings
	{sub: "http", name: "proxy_bind", args: "1", how: varScript},
	{sub: "http", name: "proxy_cache", args: "1", how: varScript},
	{sub: "http", name: "proxy_cache_key", args: "1", how: varScript},
	{sub: "http", name: "proxy_cache_bypass", args: "1+", how: varScript},
	{sub: "http", name: "proxy_no_cache", args: "1+", how: varScript},
	{sub: "http", name: "proxy_store", args: "1", how: varScript},
	{sub: "http", name: "proxy_ssl_name", args: "1", how: varScript},
	{sub: "http", name: "proxy_ssl_certificate", args: "1", how: varScript},
	{sub: "http", name: "proxy_ssl_certificate_key", args: "1", how: varScript},
	{sub: "http", name: "fastcgi_pass", args: "1", how: varScript},
	{sub: "http", name: "fastcgi_bind", args: "1", how: varScript},
	{sub: "http", name: "fastcgi_cache", args: "1", how: varScript},
	{sub: "http", name: "fastcgi_cache_key", args: "1", how: varScript},
	{sub: "http", name: "fastcgi_cache_bypass", args: "1+", how: varScript},
	{sub: "http", name: "fastcgi_no_cache", args: "1+", how: varScript},
	{sub: "http", name: "fastcgi_store", args: "1", how: varScript},
	{sub: "http", name: "fastcgi_param", args: "2", how: varScript, merge: mergeFastCGI},
	{sub: "http", name: "uwsgi_pass", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_bind", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_cache", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_cache_key", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_cache_bypass", args: "1+", how: varScript},
	{sub: "http", name: "uwsgi_no_cache", args: "1+", how: varScript},
	{sub: "http", name: "uwsgi_store", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_ssl_name", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_ssl_certificate", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_ssl_certificate_key", args: "1", how: varScript},
	{sub: "http", name: "uwsgi_param", args: "2", how: varScript, merge: mergeUWSGI},
	{sub: "http", name: "scgi_pass", args: "1", how: varScript},
	{sub: "http", name: "scgi_bind", args: "1", how: varScript},
	{sub: "http", name: "scgi_cache", args: "1", how: varScript},
	{sub: "http", name: "scgi_cache_key", args: "1", how: varScript},
	{sub: "http", name: "scgi_cache_bypass", args: "1+", how: varScript},
	{sub: "http", name: "scgi_no_cache", args: "1+", how: varScript},
	{sub: "http", name: "scgi_store", args: "1", how: varScript},
	{sub: "http", name: "scgi_param", args: "2", how: varScript, merge: mergeSCGI},
	{sub: "http", name: "grpc_pass", args: "1", how: varScript},
	{sub: "http", name: "grpc_bind", args: "1", how: varScript},
	{sub: "http", name: "grpc_ssl_name", args: "1", how: varScript},
	{sub: "http", name: "grpc_ssl_certificate", args: "1", how: varScript},
	{sub: "http", name: "grpc_ssl_certificate_key", args: "1", how: varScript},
	{sub: "http", name: "grpc_set_header", args: "2", how: varScript, merge: mergeGRPC},
	{sub: "http", name: "memcached_pass", args: "memcached_key", how: varUses},
	{sub: "http", name: "memcached_bind", args: "1", how: varScript},
	// ngx_http_headers_filter_module, ngx_http_charset_filter_module, ngx_http_sub_filter_module
	{sub: "http", name: "add_header", args: "2", how: varScript},
	{sub: "http", name: "add_trailer", args: "2", how: varScript},
	{sub: "http", name: "expires", args: "1+", how: varScript},
	{sub: "http", name: "charset", args: "1", how: varRaw},
	{sub: "http", name: "source_charset", args: "1", how: varRaw},
	{sub: "http", name: "sub_filter", args: "1", how: varScript},
	{sub: "http", name: "sub_filter", args: "2", how: varScript},
	// ngx_http_secure_link_module, ngx_http_v2_module
	{sub: "http", name: "secure_link", args: "1", how: varScript},
	{sub: "http", name: "secure_link_md5", args: "1", how: varScript},
	{sub: "http", name: "http2_push", args: "1", how: varScript},
	// ngx_http_upstream_hash_module; NGINX Plus's sticky
	{sub: "http", name: "hash", args: "1", how: varScript},
	{sub: "http", name: "sticky", fn: varSticky},
	// NGINX Plus keyval and auth_jwt, njs, perl
	{sub: "http", name: "keyval", args: "1", how: varScript},
	{sub: "http", name: "keyval", args: "2", how: varDefine},
	{sub: "http", name: "auth_jwt", args: "1", how: varScript},
	{sub: "http", name: "auth_jwt", args: "token=", how: varRaw},
	{sub: "http", name: "auth_jwt_claim_set", args: "1", how: varDefine},
	{sub: "http", name: "auth_jwt_header_set", args: "1", how: varDefine},
	{sub: "http", name: "js_set", args: "1", how: varDefine},
	{sub: "http", name: "js_var", args: "1", how: varDefine},
	{sub: "http", name: "js_var", args: "2", how: varScript},
	{sub: "http", name: "perl_set", args: "1", how: varDefine},
	// the OpenTelemetry module
	{sub: "http", name: "otel_trace", args: "1", how: varScript},
	{sub: "http", name: "otel_span_name", args: "1", how: varScript},
	{sub: "http", name: "otel_span_attr", args: "2", how: varScript},

	// stream
	{sub: "stream", name: "log_format", args: "2+", how: varLog},
	{sub: "stream", name: "access_log", fn: varAccessLogPath},
	{sub: "stream", name: "access_log", args: "if=", how: varScript},
	{sub: "stream", name: "set", args: "1", how: varDefine},
	{sub: "stream", name: "set", args: "2", how: varScript},
	{sub: "stream", name: "return", args: "1", how: varScript},
	{sub: "stream", name: "proxy_pass", args: "1", how: varScript},
	{sub: "stream", name: "proxy_bind", args: "1", how: varScript},
	{sub: "stream", name: "proxy_ssl_name", args: "1", how: varScript},
	{sub: "stream", name: "proxy_ssl_certificate", args: "1", how: varScript},
	{sub: "stream", name: "proxy_ssl_certificate_key", args: "1", how: varScript},
	{sub: "stream", name: "proxy_download_rate", args: "1", how: varScript},
	{sub: "stream", name: "proxy_upload_rate", args: "1", how: varScript},
	{sub: "stream", name: "limit_conn_zone", args: "1", how: varScript},
	{sub: "stream", name: "geo", fn: varGeo},
	{sub: "stream", name: "map", args: "1", how: varScript},
	{sub: "stream", name: "map", args: "2", how: varDefine},
	{sub: "stream", name: "map", fn: varMapBlock},
	{sub: "stream", name: "split_clients", args: "1", how: varScript},
	{sub: "stream", name: "split_clients", args: "2", how: varDefine},
	{sub: "stream", name: "hash", args: "1", how: varScript},
	{sub: "stream", name: "keyval", args: "1", how: varScript},
	{sub: "stream", name: "keyval", args: "2", how: varDefine},
	{sub: "stream", name: "js_set", args: "1", how: varDefine},
	{sub: "stream", name: "js_var", args: "1", how: varDefine},
	{sub: "stream", name: "js_var", args: "2", how: varScript},
}

// varRulesOf indexes varRules by "subsystem name".
var varRulesOf = map[string][]*varRule{}

func init() {
	for i := range varRules {
		r := &varRules[i]
		if _, ok := table[r.name]; !ok {
			panic(fmt.Sprintf("variables: %q is no directive", r.name))
		}
		key := r.sub + " " + r.name
		varRulesOf[key] = append(varRulesOf[key], r)
	}
	statementHooks = append(statementHooks, varStatement)
	AddFinisher("stream", Main, varStreamDone)
}

// pick returns the arguments the rule reads.
func (r *varRule) pick(args []string) []string {
	switch {
	case len(args) == 0:
		return nil
	case r.args == "last":
		return args[len(args)-1:]
	case strings.HasSuffix(r.args, "="):
		var out []string
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, r.args); ok {
				out = append(out, v)
			}
		}
		return out
	}
	n := int(r.args[0] - '0')
	if n > len(args) {
		return nil
	}
	if strings.HasSuffix(r.args, "+") {
		return args[n-1:]
	}
	return args[n-1 : n]
}

// varScope is what one http or stream block has registered: the names
// used, in nginx's order (the order of their first use), and the names
// directives define.
type varScope struct {
	sub      string
	builtins *builtinSet
	used     []string
	seen     map[string]bool
	defined  map[string]bool
}

type varStateKey struct{}

type varState struct{ scopes map[string]*varScope }

// varScopeOf returns the variables of the configuration's http or stream
// block.
func varScopeOf(ld *Loader, sub string) *varScope {
	st := State(ld, varStateKey{}, func() *varState { return &varState{scopes: map[string]*varScope{}} })
	sc := st.scopes[sub]
	if sc == nil {
		sc = &varScope{sub: sub, builtins: builtinVariables[sub], seen: map[string]bool{}, defined: map[string]bool{}}
		st.scopes[sub] = sc
	}
	return sc
}

// use registers a name, as ngx_http_get_variable_index does.
func (sc *varScope) use(name string) {
	name = varLower(name)
	if !sc.seen[name] {
		sc.seen[name] = true
		sc.used = append(sc.used, name)
	}
}

// useRaw registers "$name" taken whole; other words are no variables.
func (sc *varScope) useRaw(d *grammar.Directive, arg string) error {
	name, ok := strings.CutPrefix(arg, "$")
	if !ok {
		return nil
	}
	if name == "" {
		return d.Errorf(`invalid variable name "$"`)
	}
	sc.use(name)
	return nil
}

// define is ngx_http_add_variable for a changeable variable named by
// "$name".
func (sc *varScope) define(d *grammar.Directive, arg string) error {
	name, ok := strings.CutPrefix(arg, "$")
	if !ok {
		return d.Errorf(`invalid variable name "%s"`, arg)
	}
	return sc.defineName(d, name)
}

func (sc *varScope) defineName(d *grammar.Directive, name string) error {
	if name == "" {
		return d.Errorf(`invalid variable name "$"`)
	}
	if sc.builtins.fixed(name) {
		return d.Errorf(`the duplicate "%s" variable`, name)
	}
	sc.defined[varLower(name)] = true
	return nil
}

// script compiles a value: its names are registered, its errors are the
// directive's.
func (sc *varScope) script(d *grammar.Directive, s string) error {
	names, msg := compileScript(s)
	for _, n := range names {
		sc.use(n)
	}
	if msg != "" {
		return d.Errorf("%s", msg)
	}
	return nil
}

// regex defines the named captures of a pattern.
func (sc *varScope) regex(d *grammar.Directive, re string) error {
	for _, name := range namedCaptures(re) {
		if err := sc.defineName(d, name); err != nil {
			return err
		}
	}
	return nil
}

// known reports whether name (lower case) exists once the block is read.
func (sc *varScope) known(name string) bool {
	return sc.defined[name] || sc.builtins.known(name)
}

// read applies one parse-time rule to a directive.
func (r *varRule) read(ld *Loader, sc *varScope, d *grammar.Directive) error {
	if r.fn != nil {
		return r.fn(ld, sc, d)
	}
	switch r.how {
	case varUses:
		sc.use(r.args)
		return nil
	case varLog:
		names, msg := compileLogFormat(r.pick(d.Args))
		for _, n := range names {
			sc.use(n)
		}
		if msg != "" {
			return d.Errorf("%s", msg)
		}
		return nil
	}
	for _, a := range r.pick(d.Args) {
		if err := sc.word(d, r.how, a); err != nil {
			return err
		}
	}
	return nil
}

// word reads one argument.
func (sc *varScope) word(d *grammar.Directive, how varHow, a string) error {
	switch how {
	case varScript:
		return sc.script(d, a)
	case varRaw:
		return sc.useRaw(d, a)
	case varDefine:
		return sc.define(d, a)
	case varRegex:
		return sc.regex(d, a)
	case varRegexOrScript:
		if re, ok := strings.CutPrefix(a, "~"); ok {
			return sc.regex(d, strings.TrimPrefix(re, "*"))
		}
		return sc.script(d, a)
	case varRegexTilde:
		if re, ok := strings.CutPrefix(a, "~"); ok {
			return sc.regex(d, re)
		}
	}
	return nil
}

// varStatement is the statement hook: it compiles and defines what the
// directive's row says, as nginx does while it reads the directive.
func varStatement(ld *Loader, l *Level, d *grammar.Directive) error {
	sub := subsystemOf(l.Ctx)
	rules := varRulesOf[sub+" "+d.Name]
	if len(rules) == 0 {
		return nil
	}
	sc := varScopeOf(ld, sub)
	for _, r := range rules {
		if r.merge != 0 {
			continue
		}
		if err := r.read(ld, sc, d); err != nil {
			return err
		}
	}
	return nil
}

// varAccessLogPath compiles access_log's path, unless it is a syslog
// target.
func varAccessLogPath(_ *Loader, sc *varScope, d *grammar.Directive) error {
	if strings.HasPrefix(d.Args[0], "syslog:") {
		return nil
	}
	return sc.script(d, d.Args[0])
}

// varLocation defines the named captures of a regex location: "~ re",
// "~* re", or the pattern written right after "~".
func varLocation(_ *Loader, sc *varScope, d *grammar.Directive) error {
	switch len(d.Args) {
	case 1:
		if re, ok := strings.CutPrefix(d.Args[0], "~"); ok {
			return sc.regex(d, strings.TrimPrefix(re, "*"))
		}
	case 2:
		if d.Args[0] == "~" || d.Args[0] == "~*" {
			return sc.regex(d, d.Args[1])
		}
	}
	return nil
}

// varGeo reads "geo [$source] $variable": the source is a name taken
// whole and must start with "$".
func varGeo(_ *Loader, sc *varScope, d *grammar.Directive) error {
	target := d.Args[0]
	if len(d.Args) == 2 {
		src := d.Args[0]
		if !strings.HasPrefix(src, "$") {
			return d.Errorf(`invalid variable name "%s"`, src)
		}
		if err := sc.useRaw(d, src); err != nil {
			return err
		}
		target = d.Args[1]
	}
	return sc.define(d, target)
}

// varReturn compiles return's text or URL: the second argument, or the
// only one when it is a redirect ("http://", "https://", "$scheme").
func varReturn(_ *Loader, sc *varScope, d *grammar.Directive) error {
	if len(d.Args) == 2 {
		return sc.script(d, d.Args[1])
	}
	a := d.Args[0]
	if len(a) > 7 && strings.HasPrefix(a, "http://") || len(a) > 8 && strings.HasPrefix(a, "https://") ||
		strings.HasPrefix(a, "$scheme") {
		return sc.script(d, a)
	}
	return nil
}

// varIf reads an if condition as ngx_http_rewrite_if_condition does: a
// "$name" operand is taken whole; the right side of "=" and "!=" and the
// operand of -f, -d, -e, -x (and their "!" forms) are values; the right
// side of "~", "~*", "!~", "!~*" is a regex. A malformed condition is left
// to the if directive's own check.
func varIf(_ *Loader, sc *varScope, d *grammar.Directive) error {
	args := append([]string(nil), d.Args...)
	if len(args) == 0 || args[0] == "" || args[0][0] != '(' {
		return nil
	}
	cur, last := 0, len(args)-1
	if args[0] == "(" {
		cur = 1
	} else {
		args[0] = args[0][1:]
	}
	if args[last] == "" || args[last][len(args[last])-1] != ')' {
		return nil
	}
	if args[last] == ")" {
		last--
	} else {
		args[last] = args[last][:len(args[last])-1]
	}
	if cur > last {
		return nil
	}
	p := args[cur]
	switch {
	case len(p) > 1 && p[0] == '$':
		if cur != last && cur+2 != last {
			return nil
		}
		sc.use(p[1:])
		if cur == last {
			return nil
		}
		switch args[cur+1] {
		case "=", "!=":
			return sc.script(d, args[last])
		case "~", "~*", "!~", "!~*":
			return sc.regex(d, args[last])
		}
	case len(p) == 2 && p[0] == '-', len(p) == 3 && p[0] == '!' && p[1] == '-':
		if cur+1 == last {
			return sc.script(d, args[last])
		}
	}
	return nil
}

// varSticky reads NGINX Plus's sticky: route's variables and learn's
// create= and lookup= are names taken whole; cookie's domain= and
// samesite= are values.
func varSticky(_ *Loader, sc *varScope, d *grammar.Directive) error {
	for _, a := range d.Args[1:] {
		var err error
		switch d.Args[0] {
		case "route":
			err = sc.useRaw(d, a)
		case "learn":
			if v, ok := strings.CutPrefix(a, "create="); ok {
				err = sc.useRaw(d, v)
			} else if v, ok := strings.CutPrefix(a, "lookup="); ok {
				err = sc.useRaw(d, v)
			}
		case "cookie":
			if v, ok := strings.CutPrefix(a, "domain="); ok {
				err = sc.script(d, v)
			} else if v, ok := strings.CutPrefix(a, "samesite="); ok {
				err = sc.script(d, v)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// varMapBlock reads the entries of a map block before the map family's
// handler does: a "~regex" key defines its named captures, and a value is
// compiled. Files included in the block are read too.
func varMapBlock(ld *Loader, sc *varScope, d *grammar.Directive) error {
	if d.Block == nil {
		return nil
	}
	return varMapEntries(ld, sc, d.Block, 0)
}

func varMapEntries(ld *Loader, sc *varScope, b *grammar.Body, depth int) error {
	for _, e := range b.Directives {
		if e.Block != nil || len(e.Args) != 1 {
			continue
		}
		key, val := e.Name, e.Args[0]
		if key == "include" {
			if depth > 8 {
				continue
			}
			for _, f := range varIncludedFiles(ld, val) {
				if err := varMapEntries(ld, sc, &f.Body, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		if re, ok := strings.CutPrefix(key, "~"); ok {
			if err := sc.regex(e, strings.TrimPrefix(re, "*")); err != nil {
				return err
			}
		}
		if err := sc.script(e, val); err != nil {
			return err
		}
	}
	return nil
}

// varIncludedFiles parses the files an include names, as ld.include finds
// them; files that cannot be read are left for the loader to report.
func varIncludedFiles(ld *Loader, name string) []*grammar.File {
	if !filepath.IsAbs(name) {
		name = ld.ConfPrefix + name
	}
	paths := []string{name}
	if strings.ContainsAny(name, "*?[") {
		paths, _ = filepath.Glob(name)
		sort.Strings(paths)
	}
	var files []*grammar.File
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		files = append(files, grammar.Parse(p, src))
	}
	return files
}

// What ngx_http_block does with variables once the block is read: the
// modules' merge compiles the values they keep for it (varHTTPMerge), then
// every name used must exist (varHTTPUnknown). httpDone (http.go) runs both
// where nginx does: the merge beside the ssl module's, the check before
// the server names are hashed.

// varHTTPMerge compiles the values the http modules compile in their merge.
func varHTTPMerge(ld *Loader, http *Level) error { return varScopeOf(ld, "http").merge(http) }

// varHTTPUnknown is ngx_http_variables_init_vars's check.
func varHTTPUnknown(ld *Loader, _ *Level) error { return varScopeOf(ld, "http").unknown() }

// varStreamDone is the same for the stream block, whose modules compile
// everything as they read it.
func varStreamDone(ld *Loader, _ *Level) error {
	return varScopeOf(ld, "stream").unknown()
}

// unknown is ngx_http_variables_init_vars's check, in registration order.
func (sc *varScope) unknown() error {
	for _, name := range sc.used {
		if !sc.known(name) {
			return &grammar.Error{Msg: fmt.Sprintf(`unknown "%s" variable`, name)}
		}
	}
	return nil
}

// merge compiles the merged values module by module, as ngx_http_block
// merges every server and location for one module before the next: at
// each level, the level's own directives or, without any, the nearest
// enclosing level's (a value set only at the http level is compiled only
// if some server inherits it).
func (sc *varScope) merge(http *Level) error {
	var ranks []int
	byRank := map[int][]*varRule{}
	for i := range varRules {
		r := &varRules[i]
		if r.sub != sc.sub || r.merge == 0 {
			continue
		}
		if byRank[r.merge] == nil {
			ranks = append(ranks, r.merge)
		}
		byRank[r.merge] = append(byRank[r.merge], r)
	}
	sort.Ints(ranks)
	end := http.Directive
	for _, rank := range ranks {
		rules := byRank[rank]
		var levels []*Level
		for _, srv := range http.Children {
			if srv.Ctx != HTTPServer {
				continue
			}
			levels = append(levels, srv)
			if !rules[0].srv {
				srv.Each(HTTPLocation|HTTPServerIf|HTTPLocationIf|HTTPLimitExcept, func(l *Level) { levels = append(levels, l) })
			}
		}
		for _, l := range levels {
			for _, r := range rules {
				for _, v := range varEffective(l, r.name, http) {
					for _, a := range r.pick(v.D.Args) {
						names, msg := compileScript(a)
						for _, n := range names {
							sc.use(n)
						}
						if msg != "" {
							return &grammar.Error{Msg: msg, File: end.File(), Line: end.Block.EndLine}
						}
					}
				}
			}
		}
	}
	return nil
}

// varEffective returns the directives of name that apply at l: its own, or
// those of the nearest enclosing level up to top.
func varEffective(l *Level, name string, top *Level) []Value {
	for cur := l; cur != nil; cur = cur.Parent {
		if vs := cur.Own(name); len(vs) > 0 {
			return vs
		}
		if cur == top {
			break
		}
	}
	return nil
}
