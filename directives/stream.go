package directives

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The stream core (ngx_stream_core_module and the parts of the proxy,
// return, access and upstream modules a stream server needs): listen,
// the handler directives, resolver, and the checks nginx makes when a
// stream server block and the stream block end.
func init() {
	AddFinisher("server", Stream, streamServerDone)
	AddFinisher("stream", Main, streamDone)
	Register("listen", StreamServer, Def{Set: setStreamListen, Multi: true,
		Doc: "Address and port (or UNIX socket) the server accepts connections on, with socket options."})
	Register("proxy_pass", StreamServer, Def{Set: setStreamProxyPass,
		Doc: "Address or upstream group connections are proxied to."})
	Register("return", StreamServer, Def{Set: setStreamReturn,
		Doc: "Text sent to the client before the connection is closed."})
	Register("proxy_timeout", Stream, Def{Set: setMsec, Inherit: true, Default: 10 * time.Minute, DefaultDoc: "10m",
		Doc: "Timeout between two successive reads or writes on the client or proxied connection."})
	Register("proxy_connect_timeout", Stream, Def{Set: setMsec, Inherit: true, Default: 60 * time.Second, DefaultDoc: "60s",
		Doc: "Timeout for connecting to a proxied server."})
	Register("allow", Stream, Def{Set: setAccess, Multi: true, Inherit: true,
		Doc: "Allows access from an address, a network, unix: or all."})
	Register("deny", Stream, Def{Set: setAccess, Multi: true, Inherit: true,
		Doc: "Denies access from an address, a network, unix: or all."})
	Register("resolver", Stream, Def{Set: setStreamResolver, Inherit: true,
		Doc: "DNS servers used to resolve names at run time (zone_sync_server ... resolve)."})
	Register("resolver_timeout", Stream, Def{Set: setMsec, Inherit: true, Default: 30 * time.Second, DefaultDoc: "30s",
		Doc: "Timeout of a name resolution."})
}

// backlogDefault is NGX_LISTEN_BACKLOG on Linux.
const backlogDefault = 511

// StreamListen is one stream listen directive.
type StreamListen struct {
	D    *grammar.Directive
	Addr value.Addr
	// Addrs are the socket addresses the address stands for: the literal,
	// or every address of a host name (IPv4 first); empty for a UNIX
	// socket. Text gives each as nginx prints it.
	Addrs []netip.AddrPort
	Text  []string

	UDP, SSL, ProxyProtocol, Bind, Reuseport bool
	Backlog                                  int   // backlog=, or backlogDefault
	Rcvbuf, Sndbuf                           int64 // -1 when not set
	IPv6Only                                 bool  // ipv6only=, on by default
	Fastopen                                 int   // -1 when not set
	// SoKeepalive is "", "on", "off" or "tune" (idle:intvl:cnt given).
	SoKeepalive         string
	KeepIdle, KeepIntvl time.Duration
	KeepCnt             int
	backlogSet, keepSet bool
}

// streamListens is every stream listening address, for the duplicate
// check nginx makes as each listen is read.
type streamListens struct {
	seen []streamListenAddr
}

type streamListenAddr struct {
	udp  bool
	text string
}

type streamListensKey struct{}

// setStreamListen is ngx_stream_core_listen of nginx 1.22: the address,
// then each parameter in turn, then what udp cannot have, then the
// address and port pairs already in use.
func setStreamListen(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	a, err := value.ParseURL(d.Args[0], value.URLOptions{Listen: true})
	if err != nil {
		return nil, d.Errorf(`%s in "%s" of the "listen" directive`, err, d.Args[0])
	}
	ln := &StreamListen{D: d, Addr: a, Backlog: backlogDefault, Rcvbuf: -1, Sndbuf: -1, IPv6Only: true, Fastopen: -1}
	switch {
	case a.Unix:
		ln.Text = []string{"unix:" + a.Path}
	default:
		ips, err := streamAddrIPs(a)
		if err != nil {
			return nil, d.Errorf(`host not found in "%s" of the "listen" directive`, d.Args[0])
		}
		for _, ip := range ips {
			ap := netip.AddrPortFrom(ip, uint16(a.Port))
			ln.Addrs = append(ln.Addrs, ap)
			ln.Text = append(ln.Text, ap.String())
		}
	}
	for _, p := range d.Args[1:] {
		if err := ln.param(d, p); err != nil {
			return nil, err
		}
	}
	if err := ln.udpConflict(); err != nil {
		return nil, err
	}
	st := State(ld, streamListensKey{}, func() *streamListens { return &streamListens{} })
	for _, t := range ln.Text {
		for _, s := range st.seen {
			if s.udp == ln.UDP && s.text == t {
				return nil, d.Errorf(`duplicate "%s" address and port pair`, t)
			}
		}
		st.seen = append(st.seen, streamListenAddr{udp: ln.UDP, text: t})
	}
	return ln, nil
}

// streamAddrIPs returns the addresses of a listen, upstream or zone_sync
// address: the literal, the wildcard, or a host name's addresses.
func streamAddrIPs(a value.Addr) ([]netip.Addr, error) {
	switch {
	case a.IP.IsValid():
		return []netip.Addr{a.IP}, nil
	case a.Host == "" || a.Host == "*":
		return []netip.Addr{netip.IPv4Unspecified()}, nil
	}
	return resolveHost(a.Host)
}

// param reads one listen parameter, with nginx 1.22's stream messages.
func (ln *StreamListen) param(d *grammar.Directive, p string) error {
	name, val, hasVal := strings.Cut(p, "=")
	switch {
	case p == "udp":
		ln.UDP = true
	case p == "bind":
		ln.Bind = true
	case p == "reuseport":
		ln.Reuseport, ln.Bind = true, true
	case p == "ssl":
		ln.SSL = true
	case p == "proxy_protocol":
		ln.ProxyProtocol = true
	case hasVal && name == "backlog":
		n, err := value.Number(val)
		if err != nil || n == 0 {
			return d.Errorf(`invalid backlog "%s"`, p)
		}
		ln.Backlog, ln.backlogSet, ln.Bind = n, true, true
	case hasVal && (name == "rcvbuf" || name == "sndbuf"):
		n, err := value.Size(val)
		if err != nil {
			return d.Errorf(`invalid %s "%s"`, name, p)
		}
		if name == "rcvbuf" {
			ln.Rcvbuf = n
		} else {
			ln.Sndbuf = n
		}
		ln.Bind = true
	case hasVal && name == "fastopen":
		n, err := value.Number(val)
		if err != nil {
			return d.Errorf(`invalid fastopen "%s"`, p)
		}
		ln.Fastopen, ln.Bind = n, true
	case strings.HasPrefix(p, "ipv6only=o"):
		switch p[len("ipv6only=o"):] {
		case "n":
			ln.IPv6Only = true
		case "ff":
			ln.IPv6Only = false
		default:
			return d.Errorf(`invalid ipv6only flags "%s"`, p[len("ipv6only="):])
		}
		ln.Bind = true
	case hasVal && name == "so_keepalive":
		if !ln.keepalive(val) {
			return d.Errorf(`invalid so_keepalive value: "%s"`, val)
		}
		ln.keepSet, ln.Bind = true, true
	default:
		return d.Errorf(`the invalid "%s" parameter`, p)
	}
	return nil
}

// keepalive reads so_keepalive=on|off|[idle]:[intvl]:[cnt].
func (ln *StreamListen) keepalive(v string) bool {
	switch v {
	case "on", "off":
		ln.SoKeepalive = v
		return true
	}
	parts := strings.SplitN(v, ":", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	var err error
	if parts[0] != "" {
		if ln.KeepIdle, err = value.Sec(parts[0]); err != nil {
			return false
		}
	}
	if parts[1] != "" {
		if ln.KeepIntvl, err = value.Sec(parts[1]); err != nil {
			return false
		}
	}
	if parts[2] != "" {
		if ln.KeepCnt, err = value.Number(parts[2]); err != nil {
			return false
		}
	}
	ln.SoKeepalive = "tune"
	return ln.KeepIdle != 0 || ln.KeepIntvl != 0 || ln.KeepCnt != 0
}

// udpConflict lists what a udp listen cannot have, in nginx's order.
func (ln *StreamListen) udpConflict() error {
	if !ln.UDP {
		return nil
	}
	for _, c := range []struct {
		set  bool
		name string
	}{
		{ln.backlogSet, "backlog"},
		{ln.SSL, "ssl"},
		{ln.keepSet, "so_keepalive"},
		{ln.ProxyProtocol, "proxy_protocol"},
		{ln.Fastopen != -1, "fastopen"},
	} {
		if c.set {
			return Msg(fmt.Sprintf(`"%s" parameter is incompatible with "udp"`, c.name))
		}
	}
	return nil
}

// StreamListens returns the listen directives of a stream server.
func StreamListens(server *Level) []*StreamListen {
	var out []*StreamListen
	for _, v := range server.Own("listen") {
		if ln, ok := v.V.(*StreamListen); ok {
			out = append(out, ln)
		}
	}
	return out
}

// streamHandlers are the directives that give a stream server its content
// handler. nginx 1.22 lets a later one replace an earlier one silently;
// each is "is duplicate" only with itself.
var streamHandlers = []string{"proxy_pass", "return", "zone_sync", "pass"}

// streamHandlerSet reports whether the server has a handler.
func streamHandlerSet(l *Level) bool {
	for _, h := range streamHandlers {
		if l.Has(h) {
			return true
		}
	}
	return false
}

// StreamProxyPass is a stream proxy_pass: an address or upstream name
// (Addr), or a value with variables (Variable).
type StreamProxyPass struct {
	D        *grammar.Directive
	Addr     value.Addr
	Variable bool
}

// setStreamProxyPass is ngx_stream_proxy_pass: the address is parsed
// without resolving; implicit upstreams are resolved when the stream block
// ends.
func setStreamProxyPass(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	p := &StreamProxyPass{D: d}
	if strings.Contains(d.Args[0], "$") {
		p.Variable = true
		return p, checkScript(d, d.Args[0])
	}
	a, err := value.ParseURL(d.Args[0], value.URLOptions{})
	if err != nil {
		return nil, d.Errorf(`%s in upstream "%s"`, err, d.Args[0])
	}
	p.Addr = a
	return p, nil
}

// setStreamReturn is ngx_stream_return: a text whose variables are well
// formed.
func setStreamReturn(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	return d.Args[0], checkScript(d, d.Args[0])
}

// StreamResolver is a stream resolver directive: the DNS servers and their
// options.
type StreamResolver struct {
	D *grammar.Directive
	// Servers are the DNS servers as written ("10.0.0.1", "[::1]:5353",
	// "dns.local"); Addrs the socket addresses they stand for (port 53
	// when none is given).
	Servers []string
	Addrs   []netip.AddrPort
	// Valid overrides the answers' TTL when not zero.
	Valid      time.Duration
	IPv4, IPv6 bool
	StatusZone string
}

// setStreamResolver is ngx_resolver_create's reading of the directive:
// addresses (names are resolved now), valid=, ipv4=, ipv6= and, as NGINX
// Plus has it, status_zone=.
func setStreamResolver(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	r := &StreamResolver{D: d, IPv4: true, IPv6: true}
	for _, arg := range d.Args {
		if name, val, ok := strings.Cut(arg, "="); ok && streamResolverParams[name] {
			if !r.param(name, val) {
				return nil, d.Errorf(`invalid parameter: %s`, arg)
			}
			continue
		}
		a, err := value.ParseURL(arg, value.URLOptions{DefaultPort: 53})
		if err != nil {
			return nil, d.Errorf(`%s in resolver "%s"`, err, arg)
		}
		r.Servers = append(r.Servers, arg)
		if a.Unix {
			continue
		}
		ips, err := streamAddrIPs(a)
		if err != nil {
			return nil, d.Errorf(`host not found in resolver "%s"`, arg)
		}
		for _, ip := range ips {
			r.Addrs = append(r.Addrs, netip.AddrPortFrom(ip, uint16(a.Port)))
		}
	}
	if !r.IPv4 && !r.IPv6 {
		return nil, d.Errorf(`"ipv4" and "ipv6" cannot both be "off"`)
	}
	return r, nil
}

// streamResolverParams are the name=value parameters of resolver.
var streamResolverParams = map[string]bool{"valid": true, "ipv4": true, "ipv6": true, "status_zone": true}

// param sets one name=value parameter; false means an invalid value.
func (r *StreamResolver) param(name, val string) bool {
	switch name {
	case "valid":
		t, err := value.Sec(val)
		r.Valid = t
		return err == nil
	case "ipv4", "ipv6":
		on := val == "on" // nginx compares the words case-sensitively
		if name == "ipv4" {
			r.IPv4 = on
		} else {
			r.IPv6 = on
		}
		return on || val == "off"
	}
	r.StatusZone = val
	return val != ""
}

// streamServers returns the server levels of a stream block, in order.
func streamServers(stream *Level) []*Level {
	var out []*Level
	for _, c := range stream.Children {
		if c.Ctx == StreamServer {
			out = append(out, c)
		}
	}
	return out
}

// streamServerDone is the check ngx_stream_core_server makes when the
// server block ends: a stream server must listen somewhere.
func streamServerDone(_ *Loader, srv *Level) error {
	if len(srv.Own("listen")) == 0 {
		return &grammar.Error{Msg: fmt.Sprintf(`no "listen" is defined for server in %s:%d`, srv.Directive.File(), srv.Directive.Line)}
	}
	return nil
}

// streamDone makes the checks of ngx_stream_block, module by module as
// nginx makes them when the stream block ends: the core module's merge
// (every server needs a handler), the upstream module's init (proxy_pass
// names with no upstream block are resolved now), the ssl module's merge
// (certificates load) and zone_sync's merge.
func streamDone(ld *Loader, stream *Level) error {
	servers := streamServers(stream)
	for _, srv := range servers {
		if !streamHandlerSet(srv) {
			return &grammar.Error{Msg: fmt.Sprintf("no handler for server in %s:%d", srv.Directive.File(), srv.Directive.Line)}
		}
	}
	for _, u := range *registryOf(ld, true) {
		if err := checkPrimary(u); err != nil {
			return err
		}
	}
	if err := streamImplicitUpstreams(stream, servers); err != nil {
		return err
	}
	for _, srv := range servers {
		if err := sslMergeStream(ld, srv, stream.Directive); err != nil {
			return err
		}
	}
	for _, srv := range servers {
		if err := zoneSyncMerge(srv); err != nil {
			return err
		}
	}
	return nil
}

// streamImplicitUpstreams is the upstream module's init for the groups a
// proxy_pass address makes: a name that is no upstream block must have a
// port and resolve; an upstream block cannot be given a port.
func streamImplicitUpstreams(stream *Level, servers []*Level) error {
	blocks := map[string]bool{}
	for _, v := range stream.Own("upstream") {
		if len(v.D.Args) > 0 {
			blocks[strings.ToLower(v.D.Args[0])] = true
		}
	}
	for _, srv := range servers {
		p, ok := srv.Get("proxy_pass").(*StreamProxyPass)
		if !ok || p.Variable || p.Addr.Unix {
			continue
		}
		where := fmt.Sprintf("in %s:%d", p.D.File(), p.D.Line)
		if blocks[strings.ToLower(p.Addr.Host)] && !p.Addr.IP.IsValid() {
			if p.Addr.HasPort {
				return p.D.Errorf(`upstream "%s" may not have port %d`, p.Addr.Host, p.Addr.Port)
			}
			continue
		}
		if !p.Addr.HasPort {
			return &grammar.Error{Msg: fmt.Sprintf(`no port in upstream "%s" %s`, p.Addr.Host, where)}
		}
		if _, err := streamAddrIPs(p.Addr); err != nil {
			return &grammar.Error{Msg: fmt.Sprintf(`host not found in upstream "%s" %s`, p.Addr.Host, where)}
		}
	}
	return nil
}
