package httpd

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// The configuration as the request phases read it: every server with its
// location tree, and for each level (a server's own level, a location, an
// if block in a location) its effective settings and its rewrite
// statements, compiled once in New.

// vserver is one http server block.
type vserver struct {
	conf  *directives.HTTPServerConf
	name  string // $server_name: the first name, as nginx keeps it
	own   *lconf // the server level: server rewrite statements, and the conf of requests no location matches
	tree  locTree
	named map[string]*lconf
	// Connection settings, read from the default server of an address.
	headerTimeout  time.Duration
	largeHeader    int64
	largeHeaderNum int
	mergeSlashes   bool
	underscores    bool
	ignoreInvalid  bool
}

// lconf is the effective configuration of one level: a server's own level,
// a location, or an if block inside a location.
type lconf struct {
	srv      *vserver
	level    *directives.Level
	parent   *lconf
	loc      *directives.Location // nil for a server level and an if block
	re       *script.Regex        // a regex location
	internal bool
	tree     locTree // nested locations
	rewrite  []stmt
	st       directives.Settings

	types       map[string]string
	defaultType string
	addHeaders  []addHeader
	errorPages  []directives.ErrorPage
	api         http.Handler
	limitReq    *limitReqConf // nil without limit_req
	proxy       *proxyConf    // nil without proxy_pass
	root        script.Value
	alias       script.Value
	index       []script.Value

	absoluteRedirect     bool
	portInRedirect       bool
	serverNameInRedirect bool
	recursiveErrorPages  bool
	keepaliveRequests    int
	keepaliveTime        time.Duration
	bodyTimeout          time.Duration
	sendTimeout          time.Duration
	etag                 bool
	logNotFound          bool
}

type addHeader struct {
	name   string
	value  script.Value
	always bool
}

// defaultTypes are nginx's types when no types block applies.
var defaultTypes = map[string]string{"html": "text/html", "gif": "image/gif", "jpg": "image/jpeg"}

// getOr returns the effective single value of a directive, or def.
func getOr[T any](l *directives.Level, name string, def T) T {
	if v, ok := l.Get(name).(T); ok {
		return v
	}
	return def
}

func listOf[T any](l *directives.Level, name string) []T {
	var out []T
	for _, v := range l.Lookup(name) {
		if t, ok := v.V.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// builder compiles the configuration.
type builder struct {
	s      *Server
	groups map[*directives.Upstream]*proxyGroup     // shared by every proxy_pass naming one
	keep   map[*directives.Upstream]*keepaliveCache // each upstream's idle connections; nil without keepalive
}

// server compiles one server block.
func (b *builder) server(sc *directives.HTTPServerConf) (*vserver, error) {
	l := sc.Level
	v := &vserver{conf: sc, name: serverName(l), named: map[string]*lconf{},
		headerTimeout:  getOr(l, "client_header_timeout", 60*time.Second),
		mergeSlashes:   getOr(l, "merge_slashes", true),
		underscores:    getOr(l, "underscores_in_headers", false),
		ignoreInvalid:  getOr(l, "ignore_invalid_headers", true),
		largeHeader:    8192,
		largeHeaderNum: 4,
	}
	if bufs, ok := l.Get("large_client_header_buffers").(directives.SlotBufs); ok {
		v.largeHeader, v.largeHeaderNum = bufs.Size, bufs.Num
	}
	own, err := b.conf(v, l, nil, nil, sc.Settings)
	if err != nil {
		return nil, err
	}
	v.own = own
	if v.tree, err = b.tree(v, own, sc.Locations); err != nil {
		return nil, err
	}
	return v, nil
}

// serverName is $server_name: the first name of the first server_name,
// lower-cased, without the dot of ".example.com"; a regex keeps its "~".
func serverName(l *directives.Level) string {
	vs := l.Own("server_name")
	if len(vs) == 0 || len(vs[0].D.Args) == 0 {
		return ""
	}
	n := vs[0].D.Args[0]
	switch {
	case strings.HasPrefix(n, "~"):
		return n
	case strings.EqualFold(n, "$hostname"):
		h, _ := os.Hostname()
		return strings.ToLower(h)
	case strings.HasPrefix(n, ".") && len(n) > 1:
		n = n[1:]
	}
	return strings.ToLower(n)
}

// tree compiles the locations of one level.
func (b *builder) tree(v *vserver, parent *lconf, locs []*directives.HTTPLocationConf) (locTree, error) {
	t := locTree{exact: map[string]*lconf{}}
	for _, lc := range locs {
		c, err := b.conf(v, lc.Level, parent, lc.Location, lc.Settings)
		if err != nil {
			return t, err
		}
		if c.tree, err = b.tree(v, c, lc.Locations); err != nil {
			return t, err
		}
		if lc.API != nil {
			if b.s.deps.API == nil {
				return t, fmt.Errorf(`the "api" location in %s:%d has no API handler`, lc.Location.D.File(), lc.Location.D.Line)
			}
			c.api = b.s.deps.API(lc)
		}
		loc := lc.Location
		switch {
		case loc.Named:
			v.named[loc.Name] = c
		case loc.Regex:
			if c.re, err = script.NewRegex(loc.Name, loc.Caseless); err != nil {
				return t, fmt.Errorf("%w in %s:%d", err, loc.D.File(), loc.D.Line)
			}
			t.regex = append(t.regex, c)
		case loc.Exact:
			t.exact[loc.Name] = c
		default:
			t.prefix = append(t.prefix, c)
		}
	}
	sort.SliceStable(t.prefix, func(i, j int) bool { return len(t.prefix[i].loc.Name) > len(t.prefix[j].loc.Name) })
	return t, nil
}

// conf compiles one level. loc is nil for a server level and an if block.
func (b *builder) conf(v *vserver, l *directives.Level, parent *lconf, loc *directives.Location, st directives.Settings) (*lconf, error) {
	c := &lconf{srv: v, level: l, parent: parent, loc: loc, st: st,
		defaultType:          st.DefaultType,
		errorPages:           st.ErrorPages,
		absoluteRedirect:     getOr(l, "absolute_redirect", true),
		portInRedirect:       getOr(l, "port_in_redirect", true),
		serverNameInRedirect: getOr(l, "server_name_in_redirect", false),
		recursiveErrorPages:  getOr(l, "recursive_error_pages", false),
		keepaliveRequests:    getOr(l, "keepalive_requests", 1000),
		keepaliveTime:        getOr(l, "keepalive_time", time.Hour),
		bodyTimeout:          getOr(l, "client_body_timeout", 60*time.Second),
		sendTimeout:          getOr(l, "send_timeout", 60*time.Second),
		etag:                 getOr(l, "etag", true),
		logNotFound:          getOr(l, "log_not_found", true),
		internal:             l.Has("internal"),
		types:                defaultTypes,
	}
	if tl, ok := l.Get("types").(*directives.Level); ok {
		if t, ok := tl.Ext.(directives.Types); ok {
			c.types = t
		}
	}
	for _, h := range st.AddHeaders {
		c.addHeaders = append(c.addHeaders, addHeader{name: h.Name, value: script.Compile(h.Value), always: h.Always})
	}
	c.root, c.alias = script.Compile(st.Root), script.Compile(st.Alias)
	for _, ix := range st.Index {
		c.index = append(c.index, script.Compile(ix))
	}
	var err error
	if c.limitReq, err = b.limitReqs(l, st); err != nil {
		return nil, err
	}
	if c.proxy, err = b.proxyFor(l, loc, st); err != nil {
		return nil, err
	}
	if c.rewrite, err = b.statements(c, l); err != nil {
		return nil, err
	}
	return c, nil
}

// ifConf compiles the level of an if block inside a location: the
// location's settings, with what the block sets itself.
func (b *builder) ifConf(parent *lconf, l *directives.Level) (*lconf, error) {
	st := parent.st
	if l.Has("add_header") {
		st.AddHeaders = listOf[directives.Header](l, "add_header")
	}
	if l.Has("error_page") {
		st.ErrorPages = listOf[directives.ErrorPage](l, "error_page")
	}
	if l.Has("root") {
		st.Root = getOr(l, "root", st.Root)
	}
	st.ProxyPass = nil
	if v, ok := l.Get("proxy_pass").(directives.ProxyPass); ok && l.Has("proxy_pass") {
		st.ProxyPass = &v
	}
	c, err := b.conf(parent.srv, l, parent, nil, st)
	if err != nil {
		return nil, err
	}
	c.tree = parent.tree
	c.api = parent.api
	if c.proxy == nil {
		c.proxy = parent.proxy
	}
	return c, nil
}
