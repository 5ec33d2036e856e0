package directives

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The http core: ngx_http_core_module's directives, with those of the
// access, headers and log modules and the ssl certificate pair. Listen,
// location, rewrite, upstream, proxy and limit_req have their own files.

// httpAny is every level inside http.
const httpAny = HTTP | HTTPServer | HTTPLocation | HTTPServerIf | HTTPLocationIf | HTTPLimitExcept | HTTPUpstream

func init() {
	Register("http", Main, Def{Opens: HTTP, Done: httpDone, Doc: "Holds the HTTP server settings."})
	Register("server", HTTP, Def{Opens: HTTPServer, Multi: true, Set: setHTTPServer, Done: httpServerDone,
		Doc: "Defines a virtual server; one with no listen listens on *:80 (*:8000 when not run as root)."})
	table := []struct {
		name string
		def  Def
	}{
		{"server_name", Def{Set: setServerName, Multi: true, DefaultDoc: `""`, Doc: "Names of the virtual server: exact, *.wildcard, .domain or ~regex."}},
		{"root", Def{Set: setRoot, Inherit: true, Default: "html", DefaultDoc: "html", Doc: "Document root of requests."}},
		{"alias", Def{Set: setAlias, Inherit: true, Doc: "Replaces the location's prefix by a path."}},
		{"index", Def{Set: setIndex, Inherit: true, Default: []string{"index.html"}, DefaultDoc: "index.html"}},
		{"try_files", Def{Set: setTryFiles}},
		{"error_page", Def{Set: setErrorPage, Multi: true, Inherit: true}},
		{"keepalive_timeout", Def{Set: setKeepaliveTimeout, Inherit: true, Default: KeepaliveTimeout{Timeout: 75 * time.Second}, DefaultDoc: "75s"}},
		{"add_header", Def{Set: setAddHeader, Multi: true, Inherit: true}},
		{"allow", Def{Set: setAccess, Multi: true, Inherit: true}},
		{"deny", Def{Set: setAccess, Multi: true, Inherit: true}},
		{"access_log", Def{Set: setAccessLog, Multi: true, Inherit: true, DefaultDoc: "logs/access.log combined"}},
		{"log_format", Def{Set: setLogFormat, Multi: true, DefaultDoc: `combined "..."`}},
		{"resolver", Def{Set: setResolver, Inherit: true}},
		{"status_zone", Def{Set: setString, Doc: "Collects the server's or location's statistics in a zone of the API."}},
	}
	for _, e := range table {
		registerHTTP(e.name, e.def)
	}
}

// registerHTTP registers the http row of name (the row whose contexts are
// inside http), keyed by its first context.
func registerHTTP(name string, def Def) {
	for _, s := range table[name] {
		if c := s.Contexts & httpAny; c != 0 {
			Register(name, c&(^c+1), def)
			return
		}
	}
	panic("directives: no http row for " + name)
}

// setHTTPServer records the server in the http state, in config order.
func setHTTPServer(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	srv := newLevel(HTTPServer, d, l)
	st := httpStateOf(ld)
	st.servers = append(st.servers, srv)
	srv.Ext = &serverExt{}
	return srv, nil
}

// serverExt is what a server level keeps beside its values.
type serverExt struct {
	listens []*Listen
	names   []ServerName
}

func extOf(l *Level) *serverExt {
	if e, ok := l.Ext.(*serverExt); ok {
		return e
	}
	e := &serverExt{}
	l.Ext = e
	return e
}

// httpServerDone applies the default listen to a server that has none, as
// nginx does when the server block ends, and the default name "".
func httpServerDone(ld *Loader, l *Level) error {
	e := extOf(l)
	if len(e.names) == 0 {
		e.names = append(e.names, ServerName{Name: ""})
	}
	if len(e.listens) > 0 {
		return nil
	}
	ln := defaultListen(l.Directive)
	e.listens = append(e.listens, ln)
	return httpStateOf(ld).addListen(l, ln)
}

// KeepaliveTimeout is keepalive_timeout: the timeout and the optional
// "Keep-Alive: timeout=" header value.
type KeepaliveTimeout struct {
	Timeout time.Duration
	Header  time.Duration
}

func setKeepaliveTimeout(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	t, err := value.Msec(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	k := KeepaliveTimeout{Timeout: t}
	if len(d.Args) == 2 {
		if k.Header, err = value.Sec(d.Args[1]); err != nil {
			return nil, Msg("invalid value")
		}
	}
	return k, nil
}

// setRoot and setAlias are ngx_http_core_root: one of the two per location.
func setRoot(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	return setRootAlias(l, d, "alias")
}

func setAlias(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	return setRootAlias(l, d, "root")
}

func setRootAlias(l *Level, d *grammar.Directive, other string) (any, error) {
	if l.Has(other) {
		return nil, d.Errorf(`"%s" directive is duplicate, "%s" directive was specified earlier`, d.Name, other)
	}
	if loc, ok := l.Ext.(*Location); ok && loc.Named && d.Name == "alias" {
		return nil, d.Errorf(`the "alias" directive cannot be used inside the named location`)
	}
	if strings.Contains(d.Args[0], "$document_root") || strings.Contains(d.Args[0], "$realpath_root") {
		return nil, d.Errorf(`the $document_root variable cannot be used in the "%s" directive`, d.Name)
	}
	return d.Args[0], nil
}

// setIndex is ngx_http_index_set_index.
func setIndex(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	for i, name := range d.Args {
		if name == "" {
			return nil, d.Errorf(`index "" in "index" directive is invalid`)
		}
		if name[0] == '/' && i != len(d.Args)-1 {
			ld.Warn(d, `only the last index in "index" directive should be absolute`)
		}
	}
	return d.Args, nil
}

// TryFiles is try_files: files tried in order, then the last one, which is
// a URI, a named location or "=CODE".
type TryFiles struct {
	Files []string
	Last  string
	Code  int // the =CODE form
}

func setTryFiles(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	t := TryFiles{Files: d.Args[:len(d.Args)-1], Last: d.Args[len(d.Args)-1]}
	if c, ok := strings.CutPrefix(t.Last, "="); ok {
		n, err := value.Number(c)
		if err != nil || n > 999 {
			return nil, d.Errorf(`invalid code "%s"`, t.Last)
		}
		t.Code = n
	}
	return t, nil
}

// ErrorPage is one error_page directive.
type ErrorPage struct {
	Codes []int
	// Overwrite is the response code to answer with: -1 keeps the error's
	// code, 0 ("=") takes the code of the redirected request.
	Overwrite int
	URI       string
}

// setErrorPage is ngx_http_core_error_page.
func setErrorPage(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	e := ErrorPage{Overwrite: -1, URI: d.Args[len(d.Args)-1]}
	codes := d.Args[:len(d.Args)-1]
	if last := codes[len(codes)-1]; last[0] == '=' {
		if len(codes) == 1 {
			return nil, d.Errorf(`invalid value "%s"`, last)
		}
		e.Overwrite = 0
		if len(last) > 1 {
			n, err := value.Number(last[1:])
			if err != nil {
				return nil, d.Errorf(`invalid value "%s"`, last)
			}
			e.Overwrite = n
		}
		codes = codes[:len(codes)-1]
	}
	for _, c := range codes {
		n, err := value.Number(c)
		switch {
		case err != nil || n == 499:
			return nil, d.Errorf(`invalid value "%s"`, c)
		case n < 300 || n > 599:
			return nil, d.Errorf(`value "%s" must be between 300 and 599`, c)
		}
		e.Codes = append(e.Codes, n)
	}
	return e, nil
}

// Header is one add_header.
type Header struct {
	Name, Value string
	Always      bool
}

func setAddHeader(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	h := Header{Name: d.Args[0], Value: d.Args[1]}
	if len(d.Args) == 3 {
		if d.Args[2] != "always" {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[2])
		}
		h.Always = true
	}
	return h, nil
}

// AccessRule is one allow or deny. Seq orders allow and deny rules of a
// level among themselves.
type AccessRule struct {
	Deny bool
	All  bool
	Unix bool
	Net  netip.Prefix
	Seq  int
}

// setAccess is ngx_http_access_rule.
func setAccess(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	st := httpStateOf(ld)
	st.seq++
	r := AccessRule{Deny: d.Name == "deny", Seq: st.seq}
	switch arg := d.Args[0]; arg {
	case "all":
		r.All = true
	case "unix:":
		r.Unix = true
	default:
		p, low, err := value.ParseCIDR(arg)
		if err != nil {
			return nil, d.Errorf(`invalid parameter "%s"`, arg)
		}
		if low {
			ld.Warn(d, `low address bits of %s are meaningless`, arg)
		}
		r.Net = p
	}
	return r, nil
}

// HTTPResolver is the http resolver directive.
type HTTPResolver struct {
	Addrs      []value.Addr
	Valid      time.Duration // 0: the answers' TTL
	IPv4, IPv6 bool
	StatusZone string
}

// setResolver is ngx_resolver_create's reading of the arguments.
func setResolver(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	r := HTTPResolver{IPv4: true, IPv6: true}
	for _, a := range d.Args {
		name, v, _ := strings.Cut(a, "=")
		var ok bool
		switch name + "=" {
		case "valid=":
			t, err := value.Sec(v)
			r.Valid, ok = t, err == nil
		case "ipv4=", "ipv6=":
			on, err := value.Flag(v)
			ok = err == nil && strings.ToLower(v) == v
			if name == "ipv4" {
				r.IPv4 = on
			} else {
				r.IPv6 = on
			}
		case "status_zone=":
			r.StatusZone, ok = v, v != ""
		default:
			addr, err := value.ParseURL(a, value.URLOptions{DefaultPort: 53})
			if err != nil {
				return nil, d.Errorf(`%s in resolver "%s"`, err, a)
			}
			r.Addrs = append(r.Addrs, addr)
			continue
		}
		if !ok {
			return nil, d.Errorf("invalid parameter: %s", a)
		}
	}
	return r, nil
}

// AccessLog is one access_log directive.
type AccessLog struct {
	Off    bool
	Path   string // as written; relative paths are relative to the prefix
	Format string
	Buffer int64
	Flush  time.Duration
	Gzip   int // compression level, 0 without gzip
	If     string
}

// setAccessLog is ngx_http_log_set_log.
func setAccessLog(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	a := AccessLog{Path: d.Args[0], Format: "combined"}
	if a.Path == "off" {
		if len(d.Args) > 1 {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[1])
		}
		return AccessLog{Off: true}, nil
	}
	if len(d.Args) > 1 {
		a.Format = d.Args[1]
		if !httpStateOf(ld).hasFormat(a.Format) {
			return nil, d.Errorf(`unknown log format "%s"`, a.Format)
		}
	}
	for _, p := range d.Args[min(2, len(d.Args)):] {
		if err := a.param(d, p); err != nil {
			return nil, err
		}
	}
	if a.Flush != 0 && a.Buffer == 0 {
		return nil, d.Errorf(`no buffer is defined for access_log "%s"`, a.Path)
	}
	if a.opensFile() {
		path := a.Path
		ld.OnCheck(PhaseFiles, func(ld *Loader) error { return openLogFile(ld, path) })
	}
	return a, nil
}

// param reads one of the access_log parameters after the format.
func (a *AccessLog) param(d *grammar.Directive, p string) error {
	switch {
	case strings.HasPrefix(p, "buffer="):
		n, err := value.Size(p[7:])
		if err != nil {
			return d.Errorf(`invalid buffer size "%s"`, p[7:])
		}
		a.Buffer = n
	case strings.HasPrefix(p, "flush="):
		t, err := value.Msec(p[6:])
		if err != nil {
			return d.Errorf(`invalid flush time "%s"`, p[6:])
		}
		a.Flush = t
	case p == "gzip":
		a.Gzip = 1
		if a.Buffer == 0 {
			a.Buffer = 64 * 1024
		}
	case strings.HasPrefix(p, "gzip="):
		n, err := value.Number(p[5:])
		if err != nil || n < 1 || n > 9 {
			return d.Errorf(`invalid compression level "%s"`, p[5:])
		}
		a.Gzip = n
		if a.Buffer == 0 {
			a.Buffer = 64 * 1024
		}
	case strings.HasPrefix(p, "if="):
		a.If = p[3:]
	default:
		return d.Errorf(`invalid parameter "%s"`, p)
	}
	return nil
}

// opensFile reports whether the log is a file nginx opens when it starts:
// not syslog, and no variables in the path.
func (a AccessLog) opensFile() bool {
	return !a.Off && !strings.HasPrefix(a.Path, "syslog:") && !strings.Contains(a.Path, "$")
}

// openLogFile opens (and creates) a log file as nginx does at start, and
// reports the failure with nginx's text and no location.
func openLogFile(ld *Loader, path string) error {
	if !strings.HasPrefix(path, "/") {
		path = ld.Prefix + path
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return &grammar.Error{Msg: fmt.Sprintf(`open() "%s" failed (%s)`, path, errnoText(err))}
	}
	return f.Close()
}

// LogFormat is a log_format.
type LogFormat struct {
	Name   string
	Escape string // default, json or none
	Format string // the strings joined
}

// combinedFormat is nginx's predefined format.
const combinedFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`

// setLogFormat is ngx_http_log_set_format.
func setLogFormat(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	st := httpStateOf(ld)
	f := LogFormat{Name: d.Args[0], Escape: "default"}
	if st.hasFormat(f.Name) {
		return nil, d.Errorf(`duplicate "log_format" name "%s"`, f.Name)
	}
	parts := d.Args[1:]
	if e, ok := strings.CutPrefix(parts[0], "escape="); ok {
		switch e {
		case "default", "json", "none":
			f.Escape = e
		default:
			return nil, d.Errorf(`unknown log format escaping "%s"`, e)
		}
		parts = parts[1:]
	}
	f.Format = strings.Join(parts, "")
	st.formats[f.Name] = &f
	return f, nil
}

var sprintf = fmt.Sprintf

// httpState is what the http family keeps across the whole configuration.
type httpState struct {
	servers   []*Level
	addrs     map[string]*listenAddr
	addrOrder []*listenAddr
	formats   map[string]*LogFormat
	upstreams upstreamRegistry
	seq       int
}

type httpKey struct{}

func httpStateOf(ld *Loader) *httpState {
	return State(ld, httpKey{}, func() *httpState {
		return &httpState{
			addrs:   map[string]*listenAddr{},
			formats: map[string]*LogFormat{"combined": {Name: "combined", Escape: "default", Format: combinedFormat}},
		}
	})
}

func (st *httpState) hasFormat(name string) bool { return st.formats[name] != nil }

// httpDone makes the checks nginx makes when the http block ends, in
// ngx_http_block's order: the upstreams' init (implicit upstreams are
// resolved), the servers' merge (certificates are loaded), the location
// trees, the ssl module's init and the server name hashes.
func httpDone(ld *Loader, l *Level) error {
	st := httpStateOf(ld)
	steps := []func() error{
		func() error { return st.upstreams.initHTTP(ld) },
		func() error { return loadServerCertificates(ld, st) },
		func() error { return varHTTPMerge(ld, l) },
		func() error { return checkLocationTrees(st) },
		st.checkListenSSL,
		func() error { return varHTTPUnknown(ld, l) },
		func() error { return st.checkServerNames(ld) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
