package directives

import (
	"time"
)

// Typed views of the http configuration for the runtime: every server and
// location with its effective (merged) values, nginx's defaults filled in.

// HTTPServerConf is one http server block.
type HTTPServerConf struct {
	Level     *Level
	Listen    []*Listen
	Names     []ServerName
	Locations []*HTTPLocationConf
	Settings
}

// HTTPLocationConf is one location block, with the locations nested in it.
type HTTPLocationConf struct {
	Level *Level
	*Location
	Locations []*HTTPLocationConf
	Settings
}

// Settings are the effective values of the http directives zonesync reads
// at one level.
type Settings struct {
	Root        string // "" when Alias is set
	Alias       string
	Index       []string
	DefaultType string

	ClientMaxBodySize    int64
	ClientBodyBufferSize int64
	KeepaliveTimeout     KeepaliveTimeout

	ErrorPages []ErrorPage
	AddHeaders []Header
	Access     []AccessRule
	AccessLogs []AccessLog
	TryFiles   *TryFiles
	Return     *Return
	StatusZone string

	ProxyPass           *ProxyPass
	ProxyConnectTimeout time.Duration
	ProxyReadTimeout    time.Duration
	ProxySendTimeout    time.Duration

	LimitReqs      []LimitReq
	LimitReqStatus int

	API *API
}

// HTTPServers returns the http servers of a configuration, in order.
func HTTPServers(main *Level) []*HTTPServerConf {
	var out []*HTTPServerConf
	main.Each(HTTPServer, func(l *Level) {
		e := extOf(l)
		s := &HTTPServerConf{Level: l, Listen: e.listens, Names: e.names, Settings: settingsAt(l)}
		s.Locations = locationsIn(l)
		out = append(out, s)
	})
	return out
}

// HTTPUpstreams returns the upstream blocks of http, in order.
func HTTPUpstreams(main *Level) []*Upstream {
	var out []*Upstream
	main.Each(HTTPUpstream, func(l *Level) {
		if u, ok := l.Ext.(*Upstream); ok {
			out = append(out, u)
		}
	})
	return out
}

// StickyOf returns the sticky directive of an upstream, or nil.
func StickyOf(u *Upstream) *Sticky {
	if u.Level == nil {
		return nil
	}
	s, _ := u.Level.Get("sticky").(*Sticky)
	return s
}

func locationsIn(l *Level) []*HTTPLocationConf {
	var out []*HTTPLocationConf
	for _, c := range l.Children {
		loc, ok := c.Ext.(*Location)
		if !ok || c.Ctx != HTTPLocation {
			continue
		}
		out = append(out, &HTTPLocationConf{Level: c, Location: loc, Locations: locationsIn(c), Settings: settingsAt(c)})
	}
	return out
}

// settingsAt merges the values at l as nginx's merge_loc_conf does.
func settingsAt(l *Level) Settings {
	s := Settings{
		Index:                valueOr(l, "index", []string{"index.html"}),
		DefaultType:          valueOr(l, "default_type", "text/plain"),
		ClientMaxBodySize:    valueOr(l, "client_max_body_size", int64(1<<20)),
		ClientBodyBufferSize: valueOr(l, "client_body_buffer_size", int64(16384)),
		KeepaliveTimeout:     valueOr(l, "keepalive_timeout", KeepaliveTimeout{Timeout: 75 * time.Second}),
		ErrorPages:           valuesOf[ErrorPage](l, "error_page"),
		AddHeaders:           valuesOf[Header](l, "add_header"),
		Access:               accessRules(l),
		AccessLogs:           valuesOf[AccessLog](l, "access_log"),
		StatusZone:           ownOr(l, "status_zone", ""),
		ProxyConnectTimeout:  valueOr(l, "proxy_connect_timeout", 60*time.Second),
		ProxyReadTimeout:     valueOr(l, "proxy_read_timeout", 60*time.Second),
		ProxySendTimeout:     valueOr(l, "proxy_send_timeout", 60*time.Second),
		LimitReqs:            valuesOf[LimitReq](l, "limit_req"),
		LimitReqStatus:       valueOr(l, "limit_req_status", 503),
	}
	s.Root, s.Alias = rootOf(l)
	if len(s.AccessLogs) == 0 {
		s.AccessLogs = []AccessLog{{Path: "logs/access.log", Format: "combined"}}
	}
	if v, ok := l.Get("try_files").(TryFiles); ok && l.Has("try_files") {
		s.TryFiles = &v
	}
	if vs := l.Own("return"); len(vs) > 0 {
		r := vs[0].V.(Return)
		s.Return = &r
	}
	if v, ok := l.Get("proxy_pass").(ProxyPass); ok {
		s.ProxyPass = &v
	}
	if v, ok := l.Get("api").(API); ok {
		s.API = &v
	}
	return s
}

// valueOr returns the effective single value of name, or def when it is
// set nowhere (or holds another type, as an untyped directive does).
func valueOr[T any](l *Level, name string, def T) T {
	if v, ok := l.Get(name).(T); ok {
		return v
	}
	return def
}

// ownOr is valueOr for a directive that is not inherited.
func ownOr[T any](l *Level, name string, def T) T {
	if vs := l.Own(name); len(vs) > 0 {
		if v, ok := vs[len(vs)-1].V.(T); ok {
			return v
		}
	}
	return def
}

// valuesOf returns an array directive's effective values: the level's
// own, else the nearest enclosing level's.
func valuesOf[T any](l *Level, name string) []T {
	var out []T
	for _, v := range l.Lookup(name) {
		if t, ok := v.V.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// rootOf finds the nearest root or alias: nginx merges the two as one.
func rootOf(l *Level) (root, alias string) {
	for cur := l; cur != nil; cur = cur.Parent {
		if v, ok := ownOr(cur, "alias", ""), cur.Has("alias"); ok {
			return "", v
		}
		if cur.Has("root") {
			return ownOr(cur, "root", ""), ""
		}
	}
	return "html", ""
}

// accessRules merges allow and deny: they form one list, inherited only
// by a level that has neither.
func accessRules(l *Level) []AccessRule {
	for cur := l; cur != nil; cur = cur.Parent {
		if !cur.Has("allow") && !cur.Has("deny") {
			continue
		}
		var rules []AccessRule
		for _, name := range []string{"allow", "deny"} {
			for _, v := range cur.Own(name) {
				rules = append(rules, v.V.(AccessRule))
			}
		}
		sortRules(rules)
		return rules
	}
	return nil
}

func sortRules(r []AccessRule) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Seq < r[j-1].Seq; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}
