package directives

import (
	"net/netip"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// upstream blocks of http and stream, their server lines, zone, keepalive
// and sticky, and the upstream registry nginx keeps: a name is one
// upstream, defined by a block or implicitly by a proxy_pass.

func init() {
	Register("upstream", HTTP, Def{Set: setUpstream, Opens: HTTPUpstream, Multi: true, Done: upstreamDone,
		Doc: "Defines a group of servers."})
	Register("upstream", Stream, Def{Set: setUpstream, Opens: StreamUpstream, Multi: true, Done: upstreamDone,
		Doc: "Defines a group of stream servers."})
	Register("server", HTTPUpstream, Def{Set: setUpstreamServer, Multi: true, Doc: "A server of the group and its parameters."})
	Register("server", StreamUpstream, Def{Set: setUpstreamServer, Multi: true, Doc: "A server of the group and its parameters."})
	Register("zone", HTTPUpstream, Def{Set: setUpstreamZone, Doc: "Shared memory zone of the group's state."})
	Register("zone", StreamUpstream, Def{Set: setUpstreamZone, Doc: "Shared memory zone of the group's state."})
	Register("keepalive", HTTPUpstream, Def{Set: setKeepalive, Doc: "Idle keepalive connections kept per worker."})
	Register("ip_hash", HTTPUpstream, Def{Set: setBalancer, Multi: true, Doc: "Balances by the client address."})
	Register("least_conn", HTTPUpstream, Def{Set: setBalancer, Multi: true, Doc: "Balances to the server with the fewest connections."})
	Register("hash", HTTPUpstream, Def{Set: setBalancer, Multi: true, Doc: "Balances by a key."})
	Register("random", HTTPUpstream, Def{Set: setBalancer, Multi: true, Doc: "Balances at random."})
	Register("least_conn", StreamUpstream, Def{Set: setBalancer, Multi: true})
	Register("hash", StreamUpstream, Def{Set: setBalancer, Multi: true})
	Register("random", StreamUpstream, Def{Set: setBalancer, Multi: true})
	Register("sticky", HTTPUpstream, Def{Set: setSticky, Doc: "Session affinity: cookie, route or learn (learn zones can be synced)."})
}

// Upstream is an upstream group.
type Upstream struct {
	Name   string
	Stream bool
	// D is the upstream block, or for an implicit upstream the directive
	// that named it (proxy_pass).
	D        *grammar.Directive
	Implicit bool
	Port     int  // the port of an implicit upstream
	NoPort   bool // an implicit upstream written without a port
	Level    *Level
	Servers  []*UpstreamServer
	// Balancer is ip_hash, least_conn, hash, random or "" (round robin);
	// BalancerArgs are the arguments of its directive (the last one: a
	// second balancing directive replaces the first, with a warning).
	Balancer     string
	BalancerArgs []string
}

// noBackup are the balancing methods without backup servers.
var noBackup = map[string]bool{"ip_hash": true, "hash": true, "random": true}

// setBalancer sets the upstream's load balancing method; nginx warns when
// one replaces another.
func setBalancer(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	u := l.Ext.(*Upstream)
	if u.Balancer != "" {
		ld.Warn(d, "load balancing method redefined")
	}
	u.Balancer, u.BalancerArgs = d.Name, d.Args
	switch d.Name {
	case "hash":
		if len(d.Args) == 2 && d.Args[1] != "consistent" {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[1])
		}
	case "random":
		if len(d.Args) > 0 && d.Args[0] != "two" {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[0])
		}
		if len(d.Args) > 1 && !randomTwoMethods(l.Ctx == StreamUpstream)[d.Args[1]] {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[1])
		}
	}
	return d.Args, nil
}

// randomTwoMethods are the ways "random two" picks one of its two servers:
// least_conn in nginx, and NGINX Plus's least_time modes.
func randomTwoMethods(stream bool) map[string]bool {
	if stream {
		return map[string]bool{"least_conn": true, "least_time=connect": true,
			"least_time=first_byte": true, "least_time=last_byte": true}
	}
	return map[string]bool{"least_conn": true, "least_time=header": true, "least_time=last_byte": true}
}

// checkPrimary is the round robin's init for an upstream block: it needs a
// server that is not a backup one.
func checkPrimary(u *Upstream) error {
	if u.Implicit {
		return nil
	}
	for _, s := range u.Servers {
		if !s.Backup {
			return nil
		}
	}
	return &grammar.Error{Msg: sprintf(`no servers in upstream "%s" in %s:%d`, u.Name, u.D.File(), u.D.Line)}
}

// UpstreamServer is one server line.
type UpstreamServer struct {
	D           *grammar.Directive
	Addr        value.Addr
	Addrs       []string // resolved socket addresses; empty for "resolve" and "service="
	Weight      int
	MaxConns    int
	MaxFails    int
	FailTimeout time.Duration
	Backup      bool
	Down        bool
	Drain       bool
	Resolve     bool
	Route       string
	Service     string
	SlowStart   time.Duration
}

// upstreamRegistry holds the upstreams of http and of stream.
type upstreamRegistry struct {
	http, stream []*Upstream
}

type streamUpstreamsKey struct{}

func registryOf(ld *Loader, stream bool) *[]*Upstream {
	if stream {
		return &State(ld, streamUpstreamsKey{}, func() *upstreamRegistry { return &upstreamRegistry{} }).stream
	}
	return &httpStateOf(ld).upstreams.http
}

// addUpstream is ngx_http_upstream_add: it finds or creates the upstream
// of name, with nginx's checks between blocks and implicit uses.
func addUpstream(ld *Loader, u *Upstream) (*Upstream, error) {
	list := registryOf(ld, u.Stream)
	for _, o := range *list {
		if !strings.EqualFold(o.Name, u.Name) {
			continue
		}
		switch {
		case !u.Implicit && !o.Implicit:
			return nil, u.D.Errorf(`duplicate upstream "%s"`, u.Name)
		case !o.Implicit && !u.NoPort:
			return nil, u.D.Errorf(`upstream "%s" may not have port %d`, u.Name, u.Port)
		case !u.Implicit && !o.NoPort:
			return nil, &grammar.Error{Msg: sprintf(`upstream "%s" may not have port %d in %s:%d`, u.Name, o.Port, o.D.File(), o.D.Line)}
		case o.Port != 0 && u.Port != 0 && o.Port != u.Port:
			continue
		}
		if !u.Implicit {
			o.Implicit, o.D, o.Level = false, u.D, u.Level
		}
		return o, nil
	}
	*list = append(*list, u)
	return u, nil
}

// setUpstream opens an upstream block.
func setUpstream(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	ctx := HTTPUpstream
	if l.Ctx == Stream {
		ctx = StreamUpstream
	}
	inner := newLevel(ctx, d, l)
	u := &Upstream{Name: d.Args[0], Stream: ctx == StreamUpstream, D: d, NoPort: true, Level: inner}
	got, err := addUpstream(ld, u)
	if err != nil {
		return nil, err
	}
	inner.Ext = got
	return inner, nil
}

// upstreamDone is the check when the block ends.
func upstreamDone(_ *Loader, l *Level) error {
	u := l.Ext.(*Upstream)
	if len(u.Servers) == 0 {
		return &grammar.Error{Msg: "no servers are inside upstream", File: l.Directive.File(), Line: l.Directive.Block.EndLine}
	}
	return nil
}

// upstreamServerFlags are the server parameters without a value.
var upstreamServerFlags = map[string]func(*UpstreamServer){
	"backup":  func(s *UpstreamServer) { s.Backup = true },
	"down":    func(s *UpstreamServer) { s.Down = true },
	"drain":   func(s *UpstreamServer) { s.Drain = true },
	"resolve": func(s *UpstreamServer) { s.Resolve = true },
}

// upstreamServerParams are the name=value parameters; set reports whether
// the value is valid.
var upstreamServerParams = map[string]func(*UpstreamServer, string) bool{
	"weight=": func(s *UpstreamServer, v string) bool {
		n, err := value.Number(v)
		s.Weight = n
		return err == nil && n != 0
	},
	"max_conns=": func(s *UpstreamServer, v string) bool {
		n, err := value.Number(v)
		s.MaxConns = n
		return err == nil
	},
	"max_fails=": func(s *UpstreamServer, v string) bool {
		n, err := value.Number(v)
		s.MaxFails = n
		return err == nil
	},
	"fail_timeout=": func(s *UpstreamServer, v string) bool {
		t, err := value.Sec(v)
		s.FailTimeout = t
		return err == nil
	},
	"slow_start=": func(s *UpstreamServer, v string) bool {
		t, err := value.Sec(v)
		s.SlowStart = t
		return err == nil
	},
	"route=": func(s *UpstreamServer, v string) bool {
		s.Route = v
		return len(v) <= 32
	},
	"service=": func(s *UpstreamServer, v string) bool {
		s.Service = v
		return v != ""
	},
}

// setUpstreamServer is ngx_http_upstream_server (and the stream one).
func setUpstreamServer(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	s := &UpstreamServer{D: d, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second}
	u := l.Ext.(*Upstream)
	for _, p := range d.Args[1:] {
		if !s.param(p) {
			return nil, d.Errorf(`invalid parameter "%s"`, p)
		}
		if p == "backup" && noBackup[u.Balancer] {
			return nil, d.Errorf(`balancing method does not support parameter "%s"`, p)
		}
	}
	stream := l.Ctx == StreamUpstream
	o := value.URLOptions{DefaultPort: 80}
	if stream {
		o = value.URLOptions{RequirePort: true}
	}
	a, err := value.ParseURL(d.Args[0], o)
	switch {
	case err == value.ErrNoPort:
		return nil, d.Errorf(`no port in upstream "%s"`, d.Args[0])
	case err != nil:
		return nil, d.Errorf(`%s in upstream "%s"`, err, d.Args[0])
	}
	s.Addr = a
	if !s.Resolve && s.Service == "" {
		if s.Addrs, err = upstreamAddrs(a); err != nil {
			return nil, d.Errorf(`%s in upstream "%s"`, err, d.Args[0])
		}
	}
	u.Servers = append(u.Servers, s)
	return s, nil
}

func (s *UpstreamServer) param(p string) bool {
	if set, ok := upstreamServerFlags[p]; ok {
		set(s)
		return true
	}
	name, v, ok := strings.Cut(p, "=")
	if set, known := upstreamServerParams[name+"="]; ok && known {
		return set(s, v)
	}
	return false
}

// upstreamAddrs resolves a server's address: literals as they are, names
// with the system resolver (as nginx does when it reads the line).
func upstreamAddrs(a value.Addr) ([]string, error) {
	if a.Unix {
		return []string{"unix:" + a.Path}, nil
	}
	if a.IP.IsValid() {
		return []string{netip.AddrPortFrom(a.IP, uint16(a.Port)).String()}, nil
	}
	ips, err := resolveHost(a.Host)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip, uint16(a.Port)).String())
	}
	return out, nil
}

// initHTTP is ngx_http_upstream_init_main_conf: in order, an upstream
// block needs a primary server, and an implicit upstream's name is resolved
// (when the http block ends).
func (r *upstreamRegistry) initHTTP(_ *Loader) error {
	for _, u := range r.http {
		if err := checkPrimary(u); err != nil {
			return err
		}
		if !u.Implicit {
			continue
		}
		if _, err := upstreamAddrs(value.Addr{Host: u.Name, IP: ipOf(u.Name), Port: u.Port}); err != nil {
			return &grammar.Error{Msg: sprintf(`host not found in upstream "%s" in %s:%d`, u.Name, u.D.File(), u.D.Line)}
		}
	}
	return nil
}

func ipOf(host string) netip.Addr {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, _ := value.ParseIP(h)
	return ip
}

// UpstreamZone is an upstream's zone directive.
type UpstreamZone struct {
	Name string
	Size int64
	Zone *Zone
}

// setUpstreamZone is ngx_http_upstream_zone.
func setUpstreamZone(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	z := UpstreamZone{Name: d.Args[0]}
	if len(d.Args) == 2 {
		n, err := value.Size(d.Args[1])
		if err != nil {
			return nil, d.Errorf(`invalid zone size "%s"`, d.Args[1])
		}
		if n < minZoneSize {
			return nil, d.Errorf(`zone "%s" is too small`, d.Args[0])
		}
		z.Size = n
	}
	tag := "http upstream"
	if l.Ctx == StreamUpstream {
		tag = "stream upstream"
	}
	zone, err := ZonesOf(ld).Add(d, z.Name, ZoneOther, tag, z.Size)
	if err != nil {
		return nil, err
	}
	z.Zone = zone
	return z, nil
}

// minZoneSize is 8 pages of 4k: the smallest shared zone nginx accepts.
const minZoneSize = 8 * 4096

// setKeepalive is ngx_http_upstream_keepalive.
func setKeepalive(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	n, err := value.Number(d.Args[0])
	if err != nil || n == 0 {
		return nil, d.Errorf(`invalid value "%s" in "%s" directive`, d.Args[0], d.Name)
	}
	if len(d.Args) == 2 {
		return nil, d.Errorf(`invalid parameter "%s"`, d.Args[1])
	}
	return n, nil
}

// Sticky is the sticky directive of an http upstream.
type Sticky struct {
	Method string // cookie, route or learn

	// cookie
	Cookie   string
	Expires  time.Duration // -1: a session cookie; "max" is MaxExpires
	Domain   string
	Path     string
	HTTPOnly bool
	Secure   bool
	SameSite string

	// route and learn
	Lookup []string // variable names without "$"
	// learn
	Create  []string
	Zone    *Zone
	Timeout time.Duration
	Header  bool
	Sync    bool
}

// StickyMaxExpires stands for expires=max.
const StickyMaxExpires = time.Duration(1<<63 - 1)

// setSticky is ngx_http_upstream_sticky.
func setSticky(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	s := &Sticky{Method: d.Args[0], Expires: -1}
	var err error
	switch d.Args[0] {
	case "cookie":
		err = s.cookie(d)
	case "route":
		for _, v := range d.Args[1:] {
			name, ok := strings.CutPrefix(v, "$")
			if !ok {
				return nil, d.Errorf(`invalid variable name "%s"`, v)
			}
			s.Lookup = append(s.Lookup, name)
		}
	case "learn":
		err = s.learn(ld, l, d)
	default:
		return nil, d.Errorf(`unknown parameter "%s"`, d.Args[0])
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sticky) cookie(d *grammar.Directive) error {
	if d.Args[1] == "" {
		return Msg("empty cookie name")
	}
	s.Cookie = d.Args[1]
	seen := map[string]bool{}
	for _, p := range d.Args[2:] {
		name, v, hasValue := strings.Cut(p, "=")
		if seen[name] {
			return Msg(sprintf(`parameter "%s" is duplicate`, name))
		}
		seen[name] = true
		switch {
		case hasValue && (name == "domain" || name == "path"):
			if v == "" {
				return Msg(sprintf(`no value for "%s"`, name))
			}
			if name == "domain" {
				s.Domain = v
			} else {
				s.Path = v
			}
		case hasValue && name == "expires":
			if v == "max" {
				s.Expires = StickyMaxExpires
				continue
			}
			t, err := value.Sec(v)
			if err != nil {
				return Msg(`invalid "expires" parameter value`)
			}
			s.Expires = t
		case hasValue && name == "samesite":
			if !strings.Contains(v, "$") && !validSameSite(v) {
				return Msg(`invalid "samesite" parameter value`)
			}
			s.SameSite = v
		case !hasValue && name == "httponly":
			s.HTTPOnly = true
		case !hasValue && name == "secure":
			s.Secure = true
		default:
			return d.Errorf(`unknown parameter "%s"`, p)
		}
	}
	s.Lookup = []string{"cookie_" + s.Cookie}
	return nil
}

func validSameSite(v string) bool {
	for _, ok := range []string{"strict", "lax", "none"} {
		if strings.EqualFold(v, ok) {
			return true
		}
	}
	return false
}

// learn reads "sticky learn": create=, lookup=, zone=name:size, timeout=,
// header, and NGINX Plus's sync, which marks the zone for zone_sync.
func (s *Sticky) learn(ld *Loader, l *Level, d *grammar.Directive) error {
	var name string
	var size int64
	s.Timeout = -1
	for _, p := range d.Args[1:] {
		switch {
		case strings.HasPrefix(p, "zone="):
			if size != 0 {
				return Msg("duplicate zone")
			}
			n, sz, ok := strings.Cut(p[5:], ":")
			switch {
			case !ok:
				return Msg("zone size is not specified")
			case n == "":
				return Msg("zone name is not specified")
			}
			v, err := value.Size(sz)
			switch {
			case err != nil:
				return Msg("invalid zone size")
			case v < minZoneSize:
				return Msg("zone is too small")
			}
			name, size = n, v
		case strings.HasPrefix(p, "timeout="):
			if s.Timeout != -1 {
				return Msg("duplicate timeout")
			}
			t, err := value.Msec(p[8:])
			if err != nil || t == 0 {
				return Msg("invalid timeout")
			}
			s.Timeout = t
		case strings.HasPrefix(p, "create="), strings.HasPrefix(p, "lookup="):
			kind, v := p[:6], p[7:]
			if !strings.HasPrefix(v, "$") {
				return Msg(sprintf(`missing variable in the "%s" parameter`, kind))
			}
			if kind == "create" {
				s.Create = append(s.Create, v[1:])
			} else {
				s.Lookup = append(s.Lookup, v[1:])
			}
		case p == "header":
			s.Header = true
		case p == "sync":
			s.Sync = true
		default:
			return d.Errorf(`unknown parameter "%s"`, p)
		}
	}
	switch {
	case len(s.Lookup) == 0:
		return Msg(`"lookup" parameter is not specified`)
	case len(s.Create) == 0:
		return Msg(`"create" parameter is not specified`)
	case size == 0:
		return Msg(`"zone" parameter is not specified`)
	}
	if s.Timeout == -1 {
		s.Timeout = 10 * time.Minute
	}
	z, err := ZonesOf(ld).Add(d, name, ZoneSticky, "", size)
	if err != nil {
		return err
	}
	u := l.Ext.(*Upstream)
	if owner, ok := z.Params.(*Upstream); ok && owner != u {
		return d.Errorf(`sticky zone "%s" is already used in upstream "%s"`, name, owner.Name)
	}
	z.Params, z.Sync, s.Zone = u, s.Sync, z
	return nil
}
