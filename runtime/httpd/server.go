// Package httpd is the HTTP server core of a zonesync node: it runs the
// http block of an nginx configuration as nginx 1.22 does for the
// directives it implements (see Implemented and README.md).
package httpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/api"
	"github.com/zonesync/zonesync/runtime/sockets"
	"github.com/zonesync/zonesync/runtime/zone"
)

// KeyvalLookup is a keyval zone as the keyval variables read it; the zone
// applies its type (string, ip, prefix) to the key.
type KeyvalLookup interface {
	Match(key string) (value []byte, ok bool)
}

// Deps are what the node gives the core.
type Deps struct {
	Log zerolog.Logger
	// Zone returns an http keyval zone by name; nil for an unknown zone.
	Zone func(name string) KeyvalLookup
	// API returns the handler of a location with "api".
	API func(loc *directives.HTTPLocationConf) http.Handler
	// Now is the clock (Date, $msec, $time_local, timeouts); time.Now
	// when nil.
	Now func() time.Time
	// LimitZone returns a limit_req zone by name; nil for an unknown
	// zone. Without it limit_req is not run (Implemented leaves it out).
	LimitZone func(name string) *zone.Store
	// StickyZone returns the zone store of a "sticky learn" zone by name;
	// nil for an unknown zone. Without it sticky learn is refused.
	StickyZone func(name string) *zone.Store
	// Stats receives the limit_req counters of the API; may be nil.
	Stats *api.Counters
	// Wait pauses a request limit_req delays, until d has passed or ctx
	// ends (then it returns ctx's error); nil waits on a timer.
	Wait func(ctx context.Context, d time.Duration) error
	// Handover, if set, carries the listening sockets over a reload:
	// Listen takes the sockets it parked, Shutdown parks them instead
	// of closing them.
	Handover *sockets.Handover
}

// Server runs the http servers of one configuration.
type Server struct {
	deps     Deps
	log      zerolog.Logger
	now      func() time.Time
	prefix   string
	hostname string

	servers   []*vserver
	addrs     []*addrConf
	listeners []*listener
	userVars  map[string]*userVar
	accessLog *accessLogs

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   map[*conn]struct{}
	sockets *sockets.Set // nil until Listen
	serving bool
	closing atomic.Bool
	stop    chan struct{}
	connSeq atomic.Uint64
	date    atomic.Pointer[cachedDate] // the Date header of the current second
	wg      sync.WaitGroup
	forced  bool // Shutdown's context ended: connections close (under mu)
}

// New compiles the http block of cfg. It binds nothing.
func New(cfg *directives.Config, deps Deps) (*Server, error) {
	s := &Server{deps: deps, log: deps.Log, now: deps.Now, prefix: cfg.Prefix,
		conns: map[*conn]struct{}{}, stop: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	s.hostname, _ = os.Hostname()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var http *directives.Level
	for _, c := range cfg.Main.Children {
		if c.Ctx == directives.HTTP {
			http = c
			break
		}
	}
	if http == nil {
		return s, nil
	}
	if err := s.userVariables(cfg, http); err != nil {
		return nil, err
	}
	b := &builder{s: s}
	for _, sc := range directives.HTTPServers(cfg.Main) {
		v, err := b.server(sc)
		if err != nil {
			return nil, err
		}
		s.servers = append(s.servers, v)
	}
	if err := s.buildAddrs(); err != nil {
		return nil, err
	}
	if err := s.buildTLS(cfg); err != nil {
		return nil, err
	}
	logs, err := s.openAccessLogs(http)
	if err != nil {
		return nil, err
	}
	s.accessLog = logs
	return s, nil
}

// Implemented lists the directives this core runs; the node warns about
// the others a configuration uses.
func (s *Server) Implemented() map[string]bool {
	out := map[string]bool{}
	for _, n := range implemented {
		out[n] = true
	}
	for _, n := range proxyImplemented {
		out[n] = true
	}
	if s.deps.LimitZone != nil {
		for _, n := range limitReqImplemented {
			out[n] = true
		}
	}
	return out
}

var implemented = []string{
	"http", "server", "listen", "server_name", "location", "internal",
	"if", "set", "return", "rewrite", "break",
	"allow", "deny", "map", "keyval",
	"root", "alias", "index", "try_files", "types", "default_type", "error_page", "recursive_error_pages",
	"add_header", "etag", "log_not_found",
	"client_max_body_size", "client_header_timeout", "client_body_timeout", "send_timeout",
	"client_header_buffer_size", "large_client_header_buffers",
	"keepalive_timeout", "keepalive_requests", "keepalive_time",
	"merge_slashes", "underscores_in_headers", "ignore_invalid_headers",
	"absolute_redirect", "port_in_redirect", "server_name_in_redirect", "server_tokens",
	"ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers",
	"ssl_session_tickets", "ssl_verify_client", "ssl_client_certificate", "ssl_trusted_certificate",
	"access_log", "log_format",
	"api",
}

// Addrs returns the addresses of the bound sockets, in listen order.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets == nil {
		return nil
	}
	return s.sockets.Addrs()
}

// Listen binds every listening address. On failure the sockets bound so
// far are closed and the error is nginx's: `bind() to 127.0.0.1:80 failed
// (98: Address already in use)`.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets != nil {
		return errors.New("httpd: Listen called twice")
	}
	if s.closing.Load() {
		return errors.New("httpd: server is shut down")
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

// Serve accepts connections until Shutdown, and returns once every
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

func (s *Server) isClosing() bool { return s.closing.Load() }

// acceptLoop accepts the connections of one socket.
func (s *Server) acceptLoop(l *listener, ln net.Listener) {
	logErr := func(err error) { s.log.Error().Err(err).Str("listen", l.text).Msg("accept() failed") }
	sockets.AcceptLoop(ln, s.stop, s.isClosing, logErr, func(nc net.Conn) {
		c := s.newConn(l, nc)
		s.mu.Lock()
		// A connection accepted as a graceful shutdown began is served
		// (its client is already sending); once the shutdown is forced,
		// none is.
		if s.forced {
			s.mu.Unlock()
			nc.Close()
			return
		}
		c.number = s.connSeq.Add(1)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	})
}

func (s *Server) connDone(c *conn) {
	c.forceClose()
	s.mu.Lock()
	delete(s.conns, c)
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

// Shutdown stops the server: the sockets close, idle connections close,
// and requests in progress finish (nginx's graceful QUIT) unless ctx ends
// first, when every connection is closed at once (TERM). It waits for all
// goroutines and may be called again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing.CompareAndSwap(false, true) {
		close(s.stop)
		s.stopListeners()
	}
	for c := range s.conns {
		c.closeIfIdle()
	}
	s.mu.Unlock()
	s.parkListeners()
	if s.accessLog != nil {
		defer s.accessLog.close()
	}
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
	// The connections close before the requests' context ends, so that
	// no handler that returns on it gets an answer out.
	s.mu.Lock()
	s.forced = true
	for c := range s.conns {
		c.forceClose()
	}
	s.mu.Unlock()
	s.cancel()
	<-done
	return fmt.Errorf("httpd: shutdown forced: %w", ctx.Err())
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
