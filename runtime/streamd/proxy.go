package streamd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/runtime/httpd/script"
	"github.com/zonesync/zonesync/runtime/sync/discovery"
	"github.com/zonesync/zonesync/runtime/upstream"
)

// proxy_pass as ngx_stream_proxy_module runs it over ngx_stream_upstream:
// the target is an upstream block, an address (an implicit upstream that
// every server naming the same address shares) or a value with
// variables evaluated when the session starts; the peer comes from the
// shared round robin (runtime/upstream), a failed connect frees it as
// failed and, with proxy_next_upstream, the next peer is tried; then the
// bytes are copied both ways (pipe.go) until the session ends.

// proxyImplemented are the stream proxy and upstream directives this core
// runs.
var proxyImplemented = []string{
	"proxy_pass", "upstream", "proxy_connect_timeout", "proxy_timeout", "proxy_next_upstream",
	"proxy_next_upstream_tries", "proxy_next_upstream_timeout", "proxy_buffer_size", "proxy_upload_rate",
	"proxy_download_rate", "proxy_bind", "proxy_half_close", "proxy_socket_keepalive", "resolver", "resolver_timeout",
	"hash", "least_conn", "random",
}

// proxyConf is the proxy of one server, merged as
// ngx_stream_proxy_merge_srv_conf merges it.
type proxyConf struct {
	group     *upstream.Group // the target without variables
	target    script.Value    // the target with variables
	variable  bool
	connect   time.Duration
	timeout   time.Duration
	next      bool
	tries     int
	nextLimit time.Duration // proxy_next_upstream_timeout, 0 for none
	buffer    int
	halfClose bool
	keepalive bool
	upload    rateConf
	download  rateConf
	bind      bindConf
	resolver  *discovery.Resolver // for names in a target with variables; nil without "resolver"
}

// rateConf is proxy_upload_rate or proxy_download_rate: a size, possibly
// with variables, in bytes per second; 0 is no limit.
type rateConf struct {
	static  int64
	value   script.Value
	dynamic bool
}

// bindConf is proxy_bind: no local address, a fixed one, or a value with
// variables evaluated for each session.
type bindConf struct {
	addr    *net.TCPAddr
	value   script.Value
	dynamic bool
}

// setting is a stream proxy directive's value at a server: its own, else
// the stream block's, else def.
func setting[T any](l *directives.Level, name string, def T) T {
	for cur := l; cur != nil; cur = cur.Parent {
		if cur.Ctx != directives.StreamServer && cur.Ctx != directives.Stream {
			break
		}
		if vs := cur.Own(name); len(vs) > 0 {
			if v, ok := vs[len(vs)-1].V.(T); ok {
				return v
			}
			return def
		}
	}
	return def
}

// settingAt is the directive that setting's value comes from, for error
// positions; nil when it is the default.
func settingAt(l *directives.Level, name string) *directives.Value {
	for cur := l; cur != nil; cur = cur.Parent {
		if cur.Ctx != directives.StreamServer && cur.Ctx != directives.Stream {
			break
		}
		if vs := cur.Own(name); len(vs) > 0 {
			return &vs[len(vs)-1]
		}
	}
	return nil
}

func at(v *directives.Value) string {
	if v == nil || v.D == nil {
		return ""
	}
	return fmt.Sprintf(" in %s:%d", v.D.File(), v.D.Line)
}

// groupKey finds a group as ngx_stream_proxy_handler finds an upstream
// for a variable's value: by name, case-insensitively, and port (0 for an
// upstream block, which only a value without a port names).
func groupKey(host string, port int) string {
	return fmt.Sprintf("%s\x00%d", strings.ToLower(host), port)
}

// upstreamGroups builds a group for every stream upstream block. Only the
// round robin is run here.
func (s *Server) upstreamGroups(stream *directives.Level) error {
	s.groups = map[string]*upstream.Group{}
	s.hashKeys = map[*upstream.Group]script.Value{}
	for _, v := range stream.Own("upstream") {
		inner, ok := v.V.(*directives.Level)
		if !ok {
			continue
		}
		u, ok := inner.Ext.(*directives.Upstream)
		if !ok {
			continue
		}
		where := fmt.Sprintf(" in %s:%d", v.D.File(), v.D.Line)
		g := upstream.New(u, s.now)
		if g.Empty() {
			return fmt.Errorf(`upstream "%s" has no address%s`, u.Name, where)
		}
		if k := g.HashKey(); k != "" {
			s.hashKeys[g] = script.Compile(k)
		}
		s.groups[groupKey(u.Name, 0)] = g
	}
	return nil
}

// implicitGroup is the group of a proxy_pass address: shared by every
// server that names the same host and port, as ngx_stream_upstream_add
// shares it.
func (s *Server) implicitGroup(a value.Addr) (*upstream.Group, bool) {
	u := &directives.Upstream{Name: a.Host, Stream: true, Implicit: true, Port: a.Port}
	key := groupKey(a.Host, a.Port)
	if a.Unix {
		u.Name = "unix:" + a.Path
		key = groupKey(u.Name, 0)
	}
	if g := s.groups[key]; g != nil {
		return g, true
	}
	g := upstream.New(u, s.now)
	if g.Empty() {
		return nil, false
	}
	s.groups[key] = g
	return g, true
}

// proxyFor compiles the proxy of a server; nil without proxy_pass.
func (s *Server) proxyFor(l *directives.Level) (*proxyConf, error) {
	vs := l.Own("proxy_pass")
	if len(vs) == 0 {
		return nil, nil
	}
	pp, ok := vs[0].V.(*directives.StreamProxyPass)
	if !ok {
		return nil, nil
	}
	where := at(&vs[0])
	pc := &proxyConf{
		connect:   setting(l, "proxy_connect_timeout", 60*time.Second),
		timeout:   setting(l, "proxy_timeout", 10*time.Minute),
		next:      setting(l, "proxy_next_upstream", true),
		tries:     setting(l, "proxy_next_upstream_tries", 0),
		nextLimit: setting(l, "proxy_next_upstream_timeout", time.Duration(0)),
		buffer:    int(setting(l, "proxy_buffer_size", int64(16384))),
		halfClose: setting(l, "proxy_half_close", false),
		keepalive: setting(l, "proxy_socket_keepalive", false),
	}
	if pc.buffer <= 0 {
		pc.buffer = 16384
	}
	if setting(l, "proxy_ssl", false) {
		return nil, errors.New(`"proxy_ssl" is not supported by the stream proxy` + at(settingAt(l, "proxy_ssl")))
	}
	if setting(l, "proxy_protocol", false) {
		return nil, errors.New(`"proxy_protocol" is not supported by the stream proxy` + at(settingAt(l, "proxy_protocol")))
	}
	var err error
	if pc.upload, err = rateFor(l, "proxy_upload_rate"); err != nil {
		return nil, err
	}
	if pc.download, err = rateFor(l, "proxy_download_rate"); err != nil {
		return nil, err
	}
	if pc.bind, err = bindFor(l); err != nil {
		return nil, err
	}
	switch {
	case pp.Variable:
		pc.variable, pc.target = true, script.Compile(pp.D.Args[0])
		if r, ok := l.Get("resolver").(*directives.StreamResolver); ok {
			timeout, _ := l.Get("resolver_timeout").(time.Duration)
			pc.resolver = discovery.NewResolver(r, timeout, s.resolverLog)
		}
	case !pp.Addr.Unix && !pp.Addr.HasPort:
		pc.group = s.groups[groupKey(pp.Addr.Host, 0)]
		if pc.group == nil {
			return nil, fmt.Errorf(`no port in upstream "%s"%s`, pp.Addr.Host, where)
		}
	default:
		g, ok := s.implicitGroup(pp.Addr)
		if !ok {
			return nil, fmt.Errorf(`host not found in upstream "%s"%s`, pp.D.Args[0], where)
		}
		pc.group = g
	}
	return pc, nil
}

// resolverLog receives the resolver's failures of single DNS servers.
func (s *Server) resolverLog(sev directives.Severity, format string, args ...any) {
	lv := levelError
	switch {
	case sev <= directives.Crit:
		lv = levelCrit
	case sev == directives.Warn:
		lv = levelWarn
	case sev > directives.Warn:
		lv = levelInfo
	}
	s.event(lv).Msg(fmt.Sprintf(format, args...))
}

// rateFor reads proxy_upload_rate or proxy_download_rate.
func rateFor(l *directives.Level, name string) (rateConf, error) {
	v := setting(l, name, "")
	if v == "" {
		return rateConf{}, nil
	}
	if strings.Contains(v, "$") {
		return rateConf{value: script.Compile(v), dynamic: true}, nil
	}
	n, err := value.Size(v)
	if err != nil {
		return rateConf{}, fmt.Errorf(`invalid size "%s"%s`, v, at(settingAt(l, name)))
	}
	return rateConf{static: n}, nil
}

// of is the rate of a session: a value with variables that is not a size
// is logged, as nginx logs it, and means no limit.
func (r rateConf) of(ss *session) int64 {
	if !r.dynamic {
		return r.static
	}
	v := r.value.Eval(ss)
	n, err := value.Size(v)
	if err != nil {
		ss.logf(levelError, "", fmt.Sprintf(`invalid size "%s"`, v))
		return 0
	}
	return n
}

// bindFor reads proxy_bind: "off", an address (with an optional port) or
// a value with variables. "transparent" needs privileges the node does
// not take and is refused.
func bindFor(l *directives.Level) (bindConf, error) {
	args := setting[[]string](l, "proxy_bind", nil)
	where := at(settingAt(l, "proxy_bind"))
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "off"):
		return bindConf{}, nil
	case len(args) > 1 && args[1] == "transparent":
		return bindConf{}, errors.New(`"proxy_bind ... transparent" is not supported` + where)
	case len(args) > 1:
		return bindConf{}, fmt.Errorf(`invalid parameter "%s"%s`, args[1], where)
	case strings.Contains(args[0], "$"):
		return bindConf{value: script.Compile(args[0]), dynamic: true}, nil
	}
	a, ok := localAddr(args[0])
	if !ok {
		return bindConf{}, fmt.Errorf(`invalid address "%s"%s`, args[0], where)
	}
	return bindConf{addr: a}, nil
}

// localAddr reads an address for bind() as ngx_parse_addr_port does: an
// IP, with or without a port.
func localAddr(s string) (*net.TCPAddr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap), true
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && ip.Zone() == "" {
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)), true
	}
	return nil, false
}

// local is the address to bind for a session, nil for none.
func (b bindConf) local(ss *session) *net.TCPAddr {
	if !b.dynamic {
		return b.addr
	}
	v := b.value.Eval(ss)
	if v == "" {
		return nil
	}
	a, ok := localAddr(v)
	if !ok {
		ss.logf(levelError, "", fmt.Sprintf(`invalid local address "%s"`, v))
		return nil
	}
	return a
}

// upstreamState is one try of a session, as $upstream_* report it. A
// duration of -1 is nginx's "-".
type upstreamState struct {
	peer      string
	start     time.Time
	connect   time.Duration
	firstByte time.Duration
	session   time.Duration
	sent      int64
	received  int64
}

// newState starts a try; the previous one's time ends now.
func (ss *session) newState() *upstreamState {
	now := ss.s.now()
	if n := len(ss.states); n > 0 && ss.states[n-1].session < 0 {
		ss.states[n-1].session = now.Sub(ss.states[n-1].start)
	}
	st := &upstreamState{start: now, connect: -1, firstByte: -1, session: -1}
	ss.states = append(ss.states, st)
	return st
}

// closeStates ends the last try's time when the session ends.
func (ss *session) closeStates() {
	if n := len(ss.states); n > 0 && ss.states[n-1].session < 0 {
		ss.states[n-1].session = ss.s.now().Sub(ss.states[n-1].start)
	}
}

// targetGroup is the group of a proxy_pass with variables, found as
// ngx_stream_proxy_handler finds it: an upstream (a block for a value
// without a port, an implicit one for host:port), else a group of its
// own for an IP address, a UNIX socket, or a name the server's resolver
// resolves now. Without a group, status is the session's.
func (ss *session) targetGroup(pc *proxyConf) (g *upstream.Group, status int) {
	v := pc.target.Eval(ss)
	a, err := value.ParseURL(v, value.URLOptions{})
	if err != nil {
		ss.logf(levelError, "", fmt.Sprintf(`%s in upstream "%s"`, err, v))
		return nil, 500
	}
	key := groupKey(a.Host, a.Port)
	if a.Unix {
		key = groupKey("unix:"+a.Path, 0)
	}
	if g := ss.s.groups[key]; g != nil {
		return g, 0
	}
	switch {
	case a.Unix:
		return upstream.New(&directives.Upstream{Name: "unix:" + a.Path, Stream: true, Implicit: true}, ss.s.now), 0
	case !a.HasPort:
		ss.logf(levelError, "", fmt.Sprintf(`no port in upstream "%s"`, a.Host))
		return nil, 500
	case a.IP.IsValid():
		return upstream.New(&directives.Upstream{Name: a.Host, Stream: true, Implicit: true, Port: a.Port}, ss.s.now), 0
	case pc.resolver == nil:
		ss.logf(levelError, "", "no resolver defined to resolve "+a.Host)
		return nil, 500
	}
	ans, err := pc.resolver.Lookup(ss.s.ctx, a.Host)
	if err != nil {
		var re *discovery.ResolveError
		if errors.As(err, &re) {
			ss.logf(levelError, "", re.Error())
			return nil, 500
		}
		return nil, 500
	}
	srv := &directives.UpstreamServer{Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second}
	for _, ip := range ans.Addrs {
		srv.Addrs = append(srv.Addrs, netip.AddrPortFrom(ip, uint16(a.Port)).String())
	}
	return upstream.New(&directives.Upstream{Name: a.Host, Stream: true, Servers: []*directives.UpstreamServer{srv}}, ss.s.now), 0
}

// serveProxy is the proxy content handler: it connects to a peer, trying
// the next on failure as proxy_next_upstream allows, and relays the
// session.
func (ss *session) serveProxy(pc *proxyConf) {
	ss.proxied = true
	defer ss.closeStates()
	g := pc.group
	if pc.variable {
		var status int
		if g, status = ss.targetGroup(pc); g == nil {
			ss.status = status
			return
		}
	}
	start := time.Now()
	pk := g.Pick(pc.tries)
	if k, ok := ss.s.hashKeys[g]; ok {
		pk.Key = k.Eval(ss)
	}
	pk.Client = addrPort(ss.nc.RemoteAddr()).Addr().Unmap()
	for {
		st := ss.newState()
		p := pk.Get()
		if p == nil {
			st.peer = g.Name
			ss.peerName.Store(&st.peer)
			ss.logf(levelError, "connecting to upstream", "no live upstreams")
			ss.status = 502
			return
		}
		st.peer = p.Name
		ss.peerName.Store(&st.peer)
		up, err := ss.dial(pc, p)
		if err == nil {
			st.connect = ss.s.now().Sub(st.start)
			ss.relay(pc, up, st)
			pk.Free(p, false)
			return
		}
		if ss.s.ctx.Err() != nil {
			pk.Free(p, false)
			ss.status = 500
			return
		}
		var se *os.SyscallError
		if errors.As(err, &se) && se.Syscall == "bind" {
			ss.logf(levelCrit, "connecting to upstream", fmt.Sprintf("bind(%s) failed (%s)", bindText(pc, ss), directives.ErrnoText(se.Err)))
			pk.Free(p, false)
			ss.status = 500
			return
		}
		level, text := connectFailure(p, err)
		ss.logf(level, "connecting to upstream", text)
		if pk.Free(p, true) {
			ss.logf(levelWarn, "connecting to upstream", "upstream server temporarily disabled")
		}
		if pk.Tries == 0 || !pc.next || (pc.nextLimit > 0 && time.Since(start) >= pc.nextLimit) {
			ss.status = 502
			return
		}
	}
}

// dial connects to a peer within proxy_connect_timeout; a forced shutdown
// cuts it short.
func (ss *session) dial(pc *proxyConf, p *upstream.Peer) (net.Conn, error) {
	d := net.Dialer{Timeout: pc.connect, KeepAlive: -1}
	if pc.keepalive {
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
	}
	if p.Network == "tcp" {
		if la := pc.bind.local(ss); la != nil {
			d.LocalAddr = la
		}
	}
	return d.DialContext(ss.s.ctx, p.Network, p.Addr)
}

func bindText(pc *proxyConf, ss *session) string {
	if la := pc.bind.local(ss); la != nil {
		if la.Port == 0 {
			return la.IP.String()
		}
		return la.String()
	}
	return ""
}

// connectFailure words a failed connect as nginx does: a timeout is
// "upstream timed out"; an error the kernel returns at once (always for
// a UNIX socket) is "connect() to PEER failed", one reported later
// "connect() failed"; the level is error for the errors of a peer that is
// down, else crit.
func connectFailure(p *upstream.Peer, err error) (level, string) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return levelError, "upstream timed out (110: Connection timed out)"
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return levelError, fmt.Sprintf("connect() failed (%v)", err)
	}
	lv := levelCrit
	switch errno {
	case syscall.ECONNREFUSED, syscall.EAGAIN, syscall.ECONNRESET, syscall.ENETDOWN, syscall.ENETUNREACH,
		syscall.EHOSTDOWN, syscall.EHOSTUNREACH, syscall.ETIMEDOUT:
		lv = levelError
	}
	immediate := p.Network == "unix"
	switch errno {
	case syscall.ENETUNREACH, syscall.EADDRNOTAVAIL, syscall.EACCES, syscall.EPERM, syscall.EAFNOSUPPORT:
		immediate = true
	}
	if immediate {
		return lv, fmt.Sprintf("connect() to %s failed (%s)", p.Name, directives.ErrnoText(errno))
	}
	return lv, fmt.Sprintf("connect() failed (%s)", directives.ErrnoText(errno))
}

// msecText is nginx's "%T.%03M" of a duration, "-" for -1.
func msecText(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	ms := d.Milliseconds()
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// upstreamVar is $upstream_addr, $upstream_bytes_* and the times: one
// value per try, joined with ", ".
func (ss *session) upstreamVar(name string) (string, bool) {
	if len(ss.states) == 0 {
		return "", false
	}
	var f func(st *upstreamState) string
	switch name {
	case "upstream_addr":
		f = func(st *upstreamState) string { return st.peer }
	case "upstream_bytes_sent":
		f = func(st *upstreamState) string { return fmt.Sprint(st.sent) }
	case "upstream_bytes_received":
		f = func(st *upstreamState) string { return fmt.Sprint(st.received) }
	case "upstream_connect_time":
		f = func(st *upstreamState) string { return msecText(st.connect) }
	case "upstream_first_byte_time":
		f = func(st *upstreamState) string { return msecText(st.firstByte) }
	default:
		f = func(st *upstreamState) string { return msecText(st.session) }
	}
	parts := make([]string, len(ss.states))
	for i, st := range ss.states {
		parts[i] = f(st)
	}
	return strings.Join(parts, ", "), true
}

// upstreamVars are the names upstreamVar computes.
var upstreamVars = map[string]bool{
	"upstream_addr": true, "upstream_bytes_sent": true, "upstream_bytes_received": true,
	"upstream_connect_time": true, "upstream_first_byte_time": true, "upstream_session_time": true,
}

// pause waits d unless the session ends or the server is shut down; it
// reports whether the wait ran its course.
func pause(ctx context.Context, done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
	case <-ctx.Done():
	}
	return false
}
