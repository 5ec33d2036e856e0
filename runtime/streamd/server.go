// Package streamd is the stream (TCP) server core of a zonesync node: it
// runs the stream servers of an nginx configuration whose content is a
// "return" or a "proxy_pass" (over the round robin of runtime/upstream),
// with the access, set, map, keyval and log modules, as nginx 1.22 runs
// them. The zone_sync server belongs to the sync layer and is skipped
// here (see Skipped and README.md).
package streamd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
	"github.com/zonesync/zonesync/runtime/sockets"
	"github.com/zonesync/zonesync/runtime/upstream"
)

// KeyvalLookup is a stream keyval zone as keyval variables read it.
type KeyvalLookup interface {
	Match(key string) (value []byte, ok bool)
}

// Deps are what the node gives the core.
type Deps struct {
	Log zerolog.Logger
	// Zone returns a stream keyval zone by name; nil for an unknown zone.
	Zone func(name string) KeyvalLookup
	// Now is the clock of $msec and $time_local; time.Now when nil.
	Now func() time.Time
	// Handover, if set, carries the listening sockets over a reload:
	// Listen takes the sockets it parked, Shutdown parks them instead
	// of closing them.
	Handover *sockets.Handover
}

// Skipped is a stream server this core does not run, and why.
type Skipped struct {
	Server *directives.Level
	Reason string
}

// Server runs the stream servers of one configuration.
type Server struct {
	deps     Deps
	log      zerolog.Logger
	now      func() time.Time
	hostname string

	servers   []*server
	skipped   []Skipped
	listeners []*listener
	userVars  map[string]*userVar
	groups    map[string]*upstream.Group       // upstream blocks and proxy_pass addresses (groupKey)
	hashKeys  map[*upstream.Group]script.Value // the key of each "hash" upstream
	logs      *accessLogs

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[*session]struct{}
	sockets  *sockets.Set // nil until Listen
	serving  bool
	closing  atomic.Bool
	stop     chan struct{}
	seq      atomic.Uint64
	wg       sync.WaitGroup
}

// server is one stream server block this core runs.
type server struct {
	level   *directives.Level
	listens []*directives.StreamListen
	ret     script.Value
	sets    []setStmt
	access  []directives.AccessRule
	tls     *tls.Config
	tlsWait time.Duration
	proxy   *proxyConf
	logs    []*accessLog
}

type setStmt struct {
	name string
	val  script.Value
}

// userVar is a variable the configuration defines: a map, a keyval, or a
// set target.
type userVar struct {
	m      *script.Map
	kvKey  script.Value
	kvZone KeyvalLookup
	kv     bool
}

// New compiles the stream block of cfg. It binds nothing.
func New(cfg *directives.Config, deps Deps) (*Server, error) {
	s := &Server{deps: deps, log: deps.Log, now: deps.Now, sessions: map[*session]struct{}{}, stop: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	s.hostname, _ = os.Hostname()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var stream *directives.Level
	for _, c := range cfg.Main.Children {
		if c.Ctx == directives.Stream {
			stream = c
			break
		}
	}
	if stream == nil {
		return s, nil
	}
	if err := s.userVariables(cfg, stream); err != nil {
		return nil, err
	}
	if err := s.upstreamGroups(stream); err != nil {
		return nil, err
	}
	formats, err := logFormats(stream)
	if err != nil {
		return nil, err
	}
	s.logs = &accessLogs{formats: formats}
	for _, l := range stream.Children {
		if l.Ctx != directives.StreamServer {
			continue
		}
		if reason := skipReason(l); reason != "" {
			s.skipped = append(s.skipped, Skipped{Server: l, Reason: reason})
			continue
		}
		srv, err := s.server(cfg, l)
		if err != nil {
			s.logs.close()
			return nil, err
		}
		s.servers = append(s.servers, srv)
	}
	if err := s.planSockets(); err != nil {
		s.logs.close()
		return nil, err
	}
	return s, nil
}

// skipReason says why a server is not run here, or "".
func skipReason(l *directives.Level) string {
	switch {
	case l.Has("zone_sync"):
		return "zone_sync: the sync layer runs it"
	case l.Has("pass"):
		return "pass is not implemented"
	case !l.Has("return") && !l.Has("proxy_pass"):
		return "no content handler"
	}
	return ""
}

// server compiles one stream server.
func (s *Server) server(cfg *directives.Config, l *directives.Level) (*server, error) {
	srv := &server{level: l, listens: directives.StreamListens(l), access: accessRules(l)}
	for _, ln := range srv.listens {
		where := fmt.Sprintf(" in %s:%d", ln.D.File(), ln.D.Line)
		switch {
		case ln.UDP:
			return nil, errors.New(`the "udp" parameter of "listen" is not supported` + where)
		case ln.ProxyProtocol:
			return nil, errors.New(`the "proxy_protocol" parameter of "listen" is not supported` + where)
		case ln.Addr.LastPort != 0:
			return nil, errors.New(`port ranges in "listen" are not supported` + where)
		}
	}
	if vs := l.Own("return"); len(vs) > 0 {
		srv.ret = script.Compile(vs[0].D.Args[0])
	}
	var err error
	if srv.proxy, err = s.proxyFor(l); err != nil {
		return nil, err
	}
	if srv.logs, err = s.logs.forServer(cfg, s, l); err != nil {
		return nil, err
	}
	for _, v := range l.Own("set") {
		srv.sets = append(srv.sets, setStmt{name: strings.ToLower(strings.TrimPrefix(v.D.Args[0], "$")), val: script.Compile(v.D.Args[1])})
	}
	for _, ln := range srv.listens {
		if ln.SSL {
			c, wait, err := serverTLS(cfg, l)
			if err != nil {
				return nil, err
			}
			srv.tls, srv.tlsWait = c, wait
			break
		}
	}
	return srv, nil
}

// accessRules merges allow and deny as nginx does: the rules of the
// nearest level that has any, in order.
func accessRules(l *directives.Level) []directives.AccessRule {
	for cur := l; cur != nil; cur = cur.Parent {
		if !cur.Has("allow") && !cur.Has("deny") {
			continue
		}
		var rules []directives.AccessRule
		for _, v := range cur.Statements() {
			if r, ok := v.V.(directives.AccessRule); ok && (v.D.Name == "allow" || v.D.Name == "deny") {
				rules = append(rules, r)
			}
		}
		return rules
	}
	return nil
}

// userVariables compiles the maps, keyval variables and set targets of
// the stream block.
func (s *Server) userVariables(cfg *directives.Config, stream *directives.Level) error {
	s.userVars = map[string]*userVar{}
	for _, v := range stream.Statements() {
		inner, ok := v.V.(*directives.Level)
		if !ok {
			continue
		}
		if m, ok := inner.Ext.(*directives.Map); ok {
			cm, err := script.NewMap(m)
			if err != nil {
				return fmt.Errorf("%w in %s:%d", err, v.D.File(), v.D.Line)
			}
			s.userVars[cm.Var] = &userVar{m: cm}
		}
	}
	for _, kv := range directives.KeyvalVariables(cfg.Loader) {
		if !kv.Stream {
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
	stream.Each(directives.StreamServer, func(l *directives.Level) {
		for _, v := range l.Own("set") {
			name := strings.ToLower(strings.TrimPrefix(v.D.Args[0], "$"))
			if _, ok := s.userVars[name]; !ok {
				s.userVars[name] = &userVar{}
			}
		}
	})
	return nil
}

// Implemented lists the stream directives this core runs.
func (s *Server) Implemented() map[string]bool {
	out := map[string]bool{}
	for _, n := range []string{"stream", "server", "listen", "return", "allow", "deny", "set", "map", "keyval",
		"ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers", "ssl_handshake_timeout",
		"ssl_session_tickets", "ssl_verify_client", "ssl_client_certificate", "ssl_trusted_certificate",
		"access_log", "log_format"} {
		out[n] = true
	}
	for _, n := range proxyImplemented {
		out[n] = true
	}
	return out
}

// Skipped lists the stream servers this core does not run: the zone_sync
// server (whose listeners the sync layer owns) and servers whose content
// handler is not implemented ("pass").
func (s *Server) Skipped() []Skipped { return append([]Skipped(nil), s.skipped...) }

// Addrs returns the addresses of the bound sockets.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets == nil {
		return nil
	}
	return s.sockets.Addrs()
}

// Listen binds every listening address, with nginx's error text; on
// failure the sockets bound so far are closed.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets != nil {
		return errors.New("streamd: Listen called twice")
	}
	if s.closing.Load() {
		return errors.New("streamd: server is shut down")
	}
	specs := make([]sockets.Spec, len(s.listeners))
	for i, l := range s.listeners {
		specs[i] = l.spec()
	}
	set := sockets.NewSet(specs, s.deps.Handover)
	if err := set.Listen(); err != nil {
		return err
	}
	s.sockets = set
	return nil
}

// Serve accepts connections until Shutdown and returns once every
// goroutine it started has ended.
func (s *Server) Serve() {
	s.mu.Lock()
	if s.serving || s.closing.Load() {
		s.mu.Unlock()
		return
	}
	s.serving = true
	if s.sockets != nil {
		s.sockets.Accept(func(i int, ln net.Listener) { s.acceptLoop(s.listeners[i], ln) })
	}
	s.mu.Unlock()
	<-s.stop
	// The accept loops end first: they are what adds connections to wg.
	if s.sockets != nil {
		s.sockets.Wait()
	}
	s.wg.Wait()
}

func (s *Server) acceptLoop(l *listener, ln net.Listener) {
	logErr := func(err error) { s.log.Error().Err(err).Str("listen", l.text).Msg("accept() failed") }
	sockets.AcceptLoop(ln, s.stop, s.closing.Load, logErr, func(nc net.Conn) {
		ss := &session{s: s, srv: l.serverFor(nc.LocalAddr()), nc: nc, start: s.now(), listenText: l.text}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			return
		}
		ss.number = s.seq.Add(1)
		s.sessions[ss] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go ss.run()
	})
}

func (s *Server) sessionDone(ss *session) {
	if ss.tls != nil {
		ss.tls.Close() // close_notify first, as nginx's SSL shutdown
	}
	ss.nc.Close()
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
	s.wg.Done()
}

// StopAccepting ends the accept loops and returns once they have; with
// a Handover the sockets are parked there for the next configuration's
// servers at once. Connections in progress go on until Shutdown.
func (s *Server) StopAccepting() {
	s.mu.Lock()
	if s.closing.CompareAndSwap(false, true) {
		close(s.stop)
		s.stopListeners()
	}
	s.mu.Unlock()
	s.parkListeners()
}

// Shutdown stops accepting, lets sessions in progress end (nginx's QUIT)
// unless ctx ends first, when every session is closed at once. It waits
// for all goroutines and may be called again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing.CompareAndSwap(false, true) {
		close(s.stop)
		s.stopListeners()
	}
	s.mu.Unlock()
	s.parkListeners()
	defer s.logs.close()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for ss := range s.sessions {
		ss.nc.Close()
	}
	s.mu.Unlock()
	<-done
	return fmt.Errorf("streamd: shutdown forced: %w", ctx.Err())
}

// stopListeners ends the accept loops (see sockets.Set.Stop).
func (s *Server) stopListeners() {
	if s.sockets != nil {
		s.sockets.Stop()
	}
}

// parkListeners waits for the accept loops to end and parks the stopped
// sockets in the Handover.
func (s *Server) parkListeners() {
	if s.sockets != nil {
		s.sockets.Park()
	}
}
