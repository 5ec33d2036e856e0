package httpd

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// Variables of a request. The built-in ones are computed when read, as
// nginx's non-cacheable variables are; the ones the configuration defines
// (set, map, keyval) and regex named captures live in request.vars, where
// a map or keyval value is kept once computed (unless the map is
// volatile) and where set overrides them, as nginx's indexed variables
// behave.

// NginxVersion is what $nginx_version reports: the nginx release whose
// behaviour this core reproduces.
const NginxVersion = "1.22.1"

// userVar is a variable the configuration defines.
type userVar struct {
	m      *script.Map
	kvKey  script.Value
	kvZone KeyvalLookup
	kv     bool
}

// builtins are the built-in variables zonesync computes.
var builtins = map[string]func(r *request) string{
	"remote_addr":         func(r *request) string { return r.c.remoteAddr() },
	"binary_remote_addr":  func(r *request) string { return r.c.binaryRemoteAddr() },
	"remote_port":         func(r *request) string { return r.c.remotePort() },
	"server_addr":         func(r *request) string { return r.c.serverAddr() },
	"server_port":         func(r *request) string { return r.c.serverPort() },
	"proxy_protocol_addr": func(*request) string { return "" },
	"proxy_protocol_port": func(*request) string { return "" },
	"host":                (*request).varHost,
	"server_name":         func(r *request) string { return r.srv.name },
	"hostname":            func(r *request) string { return r.c.s.hostname },
	"request_method":      func(r *request) string { return r.method },
	"request":             func(r *request) string { return r.line },
	"request_uri":         func(r *request) string { return r.unparsed },
	"uri":                 func(r *request) string { return r.uri },
	"document_uri":        func(r *request) string { return r.uri },
	"args":                func(r *request) string { return r.args },
	"query_string":        func(r *request) string { return r.args },
	"is_args":             (*request).varIsArgs,
	"server_protocol":     func(r *request) string { return r.proto },
	"scheme":              (*request).varScheme,
	"https":               (*request).varHTTPS,
	"request_id":          (*request).varRequestID,
	"connection":          func(r *request) string { return strconv.FormatUint(r.c.number, 10) },
	"connection_requests": func(r *request) string { return strconv.Itoa(r.c.requests) },
	"pid":                 func(*request) string { return strconv.Itoa(os.Getpid()) },
	"nginx_version":       func(*request) string { return NginxVersion },
	"msec":                func(r *request) string { return msec(r.c.s.now()) },
	"time_local":          func(r *request) string { return r.c.s.now().Format(timeLocalLayout) },
	"time_iso8601":        func(r *request) string { return r.c.s.now().Format(time.RFC3339) },
	"request_time":        (*request).varRequestTime,
	"status":              (*request).varStatus,
	"request_length":      func(r *request) string { return strconv.FormatInt(r.length, 10) },
	"bytes_sent":          func(r *request) string { return strconv.FormatInt(r.sent, 10) },
	"body_bytes_sent":     func(r *request) string { return strconv.FormatInt(r.bodySent, 10) },
	"content_length":      func(r *request) string { v, _ := r.headerValue("content-length"); return v },
	"content_type":        func(r *request) string { v, _ := r.headerValue("content-type"); return v },
	"remote_user":         (*request).varRemoteUser,
	"document_root":       func(r *request) string { root, _ := r.docRoot(); return root },
	"realpath_root":       (*request).varRealpathRoot,
	"request_filename":    func(r *request) string { return r.filename(r.uri) },
	"ssl_protocol":        func(r *request) string { return r.c.tlsInfo(tlsProtocol) },
	"ssl_cipher":          func(r *request) string { return r.c.tlsInfo(tlsCipher) },
	"ssl_server_name":     func(r *request) string { return r.c.tlsInfo(tlsServerName) },
	"ssl_session_reused":  func(r *request) string { return r.c.tlsInfo(tlsReused) },
	"ssl_alpn_protocol":   func(r *request) string { return r.c.tlsInfo(tlsALPN) },
	"upstream_addr":       func(r *request) string { return r.upstreamAddr },
	"upstream_status":     func(r *request) string { return r.upstreamStatus },
}

// prefixVars are the variable families: $http_NAME and the like.
var prefixVars = []struct {
	prefix string
	get    func(r *request, name string) string
}{
	{"http_", (*request).varHTTP},
	{"cookie_", (*request).varCookie},
	{"arg_", (*request).varArg},
	{"sent_http_", (*request).varSentHTTP},
	{"upstream_http_", (*request).varUpstreamHTTP},
	{"upstream_cookie_", (*request).varUpstreamCookie},
}

const timeLocalLayout = "02/Jan/2006:15:04:05 -0700"

func msec(t time.Time) string {
	ms := t.UnixMilli()
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// Var is a variable's value; unknown names read as "".
func (r *request) Var(name string) string {
	if v, ok := r.vars[name]; ok {
		return v
	}
	if u, ok := r.c.s.userVars[name]; ok {
		return r.userVar(name, u)
	}
	if f := builtins[name]; f != nil {
		return f(r)
	}
	for _, p := range prefixVars {
		if rest, ok := strings.CutPrefix(name, p.prefix); ok {
			return p.get(r, rest)
		}
	}
	return ""
}

// Capture is capture n of the last regex that matched with groups.
func (r *request) Capture(n int) string { return r.captures.Capture(n) }

// setVar is the set directive; "args" is nginx's changeable $args.
func (r *request) setVar(name, v string) {
	if name == "args" {
		r.args = v
		return
	}
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	r.vars[name] = v
}

// setUpstreamVars records $upstream_addr and $upstream_status once a
// proxied request is done with its upstreams. They replace a value a
// regex's named capture may have given the same names earlier, as a
// later set does.
func (r *request) setUpstreamVars(addrs, statuses string) {
	r.upstreamAddr, r.upstreamStatus = addrs, statuses
	delete(r.vars, "upstream_addr")
	delete(r.vars, "upstream_status")
}

// userVar computes a map or keyval variable (a set-only variable that was
// not set yet reads as "").
func (r *request) userVar(name string, u *userVar) string {
	var v string
	switch {
	case u.m != nil:
		val, re, m := u.m.Find(u.m.Source.Eval(r))
		if re != nil && re.Captures() {
			r.captures = m
			for n, c := range m.Named {
				r.setVar(strings.ToLower(n), c)
			}
		}
		v = val.Eval(r)
		if u.m.Volatile {
			return v
		}
	case u.kv:
		if u.kvZone != nil {
			if b, ok := u.kvZone.Match(u.kvKey.Eval(r)); ok {
				v = string(b)
			}
		}
	default:
		return ""
	}
	r.setVar(name, v)
	return v
}

func (r *request) varHost() string {
	if r.host != "" {
		return r.host
	}
	return r.srv.name
}

// varStatus is $status: the status an error_page set, else the one being
// sent, else 000.
func (r *request) varStatus() string {
	if r.errStatus != 0 {
		return fmt.Sprintf("%03d", r.errStatus)
	}
	return fmt.Sprintf("%03d", r.status)
}

func (r *request) varIsArgs() string {
	if r.args != "" {
		return "?"
	}
	return ""
}

func (r *request) varScheme() string {
	if r.c.tls != nil {
		return "https"
	}
	return "http"
}

func (r *request) varHTTPS() string {
	if r.c.tls != nil {
		return "on"
	}
	return ""
}

func (r *request) varRequestID() string {
	if r.id == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		r.id = hex.EncodeToString(b[:])
	}
	return r.id
}

func (r *request) varRequestTime() string {
	d := r.c.s.now().Sub(r.start)
	if d < 0 {
		d = 0
	}
	ms := d.Milliseconds()
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// varHTTP is $http_NAME: the first header of that name ("_" matching "-"),
// except Cookie and X-Forwarded-For, whose headers are joined.
func (r *request) varHTTP(name string) string {
	sep := ""
	switch name {
	case "cookie":
		sep = "; "
	case "x_forwarded_for":
		sep = ", "
	}
	var vals []string
	for _, h := range r.headers {
		if headerNameIs(h.name, name) {
			if sep == "" {
				return h.value
			}
			vals = append(vals, h.value)
		}
	}
	return strings.Join(vals, sep)
}

// headerNameIs compares a header name with a variable suffix: case
// insensitive, "-" read as "_".
func headerNameIs(header, v string) bool {
	if len(header) != len(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := header[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c |= 0x20
		case c == '-':
			c = '_'
		}
		if c != v[i] {
			return false
		}
	}
	return true
}

// varCookie is $cookie_NAME as ngx_http_parse_multi_header_lines finds it:
// the name is matched ignoring case at the start of a cookie, spaces
// around "=" are skipped, the value runs to the next ";".
func (r *request) varCookie(name string) string {
	for _, h := range r.headers {
		if !strings.EqualFold(h.name, "cookie") {
			continue
		}
		s := h.value
		for len(s) > 0 {
			if len(s) >= len(name) && strings.EqualFold(s[:len(name)], name) {
				rest := strings.TrimLeft(s[len(name):], " ")
				if v, ok := strings.CutPrefix(rest, "="); ok {
					v = strings.TrimLeft(v, " ")
					if i := strings.IndexByte(v, ';'); i >= 0 {
						v = v[:i]
					}
					return v
				}
			}
			i := strings.IndexAny(s, ";,")
			if i < 0 {
				break
			}
			s = strings.TrimLeft(s[i+1:], " ")
		}
	}
	return ""
}

// varArg is $arg_NAME as ngx_http_arg finds it: the first "NAME=" (any
// case) at the start of the arguments or after "&"; the value is raw.
func (r *request) varArg(name string) string {
	args := r.args
	for i := 0; i+len(name) < len(args); i++ {
		if (i == 0 || args[i-1] == '&') && args[i+len(name)] == '=' && strings.EqualFold(args[i:i+len(name)], name) {
			v := args[i+len(name)+1:]
			if j := strings.IndexByte(v, '&'); j >= 0 {
				v = v[:j]
			}
			return v
		}
	}
	return ""
}

// varSentHTTP is $sent_http_NAME: a header of the response being sent.
func (r *request) varSentHTTP(name string) string {
	resp := r.c.resp
	if resp == nil {
		return ""
	}
	switch name {
	case "content_type":
		return resp.contentType
	case "content_length":
		if resp.length >= 0 {
			return strconv.FormatInt(resp.length, 10)
		}
		return ""
	case "location":
		return resp.location
	}
	for _, h := range resp.headers {
		if headerNameIs(h.name, name) {
			return h.value
		}
	}
	return ""
}

// varRemoteUser is the user of Basic authorization.
func (r *request) varRemoteUser() string {
	v, ok := r.headerValue("authorization")
	if !ok {
		return ""
	}
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return ""
	}
	user, _, _ := strings.Cut(string(b), ":")
	return user
}

// docRoot is $document_root (alias reports whether it is an alias).
func (r *request) docRoot() (root string, alias bool) {
	if r.conf.alias.Raw != "" {
		return r.conf.alias.Eval(r), true
	}
	root = r.conf.root.Eval(r)
	if !filepath.IsAbs(root) {
		root = r.c.s.prefix + root
	}
	return root, false
}

func (r *request) varRealpathRoot() string {
	root, _ := r.docRoot()
	if p, err := filepath.EvalSymlinks(root); err == nil {
		return p
	}
	return ""
}

// filename maps a URI to a file: root + URI, or the alias in place of the
// location's prefix.
func (r *request) filename(uri string) string {
	root, alias := r.docRoot()
	if alias {
		name := ""
		for c := r.conf; c != nil; c = c.parent {
			if c.loc != nil {
				name = c.loc.Name
				break
			}
		}
		if r.conf.re != nil || strings.Contains(r.conf.alias.Raw, "$") {
			return root
		}
		return root + strings.TrimPrefix(uri, name)
	}
	return root + uri
}

type tlsField int

const (
	tlsProtocol tlsField = iota
	tlsCipher
	tlsServerName
	tlsReused
	tlsALPN
)

var tlsVersionNames = map[uint16]string{
	tls.VersionTLS10: "TLSv1", tls.VersionTLS11: "TLSv1.1", tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3",
}

// tlsInfo is an $ssl_* variable of the connection.
func (c *conn) tlsInfo(f tlsField) string {
	if c.tls == nil {
		return ""
	}
	st := c.tls.ConnectionState()
	switch f {
	case tlsProtocol:
		return tlsVersionNames[st.Version]
	case tlsCipher:
		return tls.CipherSuiteName(st.CipherSuite)
	case tlsServerName:
		return st.ServerName
	case tlsReused:
		if st.DidResume {
			return "r"
		}
		return "."
	case tlsALPN:
		return st.NegotiatedProtocol
	}
	return ""
}

// userVariables compiles the variables the configuration defines: map
// blocks, keyval directives and set targets.
func (s *Server) userVariables(cfg *directives.Config, http *directives.Level) error {
	s.userVars = map[string]*userVar{}
	for _, v := range http.Statements() {
		inner, ok := v.V.(*directives.Level)
		if !ok {
			continue
		}
		if m, ok := inner.Ext.(*directives.Map); ok {
			cm, err := script.NewMap(m)
			if err != nil {
				return located(err, v.D)
			}
			s.userVars[cm.Var] = &userVar{m: cm}
		}
	}
	for _, kv := range directives.KeyvalVariables(cfg.Loader) {
		if kv.Stream {
			continue
		}
		u := &userVar{kv: true, kvKey: script.Compile(kv.Key)}
		if s.deps.Zone != nil {
			u.kvZone = s.deps.Zone(kv.Zone)
		}
		if u.kvZone == nil {
			return fmt.Errorf(`unknown keyval zone "%s" in %s:%d`, kv.Zone, kv.D.File(), kv.D.Line)
		}
		s.userVars[strings.ToLower(kv.Variable)] = u
	}
	http.Each(directives.HTTPServer|directives.HTTPLocation|directives.HTTPServerIf|directives.HTTPLocationIf, func(l *directives.Level) {
		for _, v := range l.Own("set") {
			name := strings.ToLower(strings.TrimPrefix(v.D.Args[0], "$"))
			if _, ok := s.userVars[name]; !ok && builtins[name] == nil {
				s.userVars[name] = &userVar{}
			}
		}
	})
	return nil
}
