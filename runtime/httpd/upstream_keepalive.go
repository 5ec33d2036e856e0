package httpd

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/upstream"
)

// Connections to upstream servers, and the cache of idle ones that
// "keepalive N" gives an upstream block, as
// ngx_http_upstream_keepalive_module keeps them:
//
//   - the balancer chooses the server first; the most recently cached
//     idle connection to that server's address is then taken, else a new
//     one is opened;
//   - a connection goes back to the cache after a request only when
//     nothing failed, the whole request was sent, the whole response was
//     read with a known end (Content-Length, the last chunk, or no body),
//     the upstream answered with HTTP/1.1 without "Connection: close",
//     it served fewer than keepalive_requests requests and is younger
//     than keepalive_time, and the server is not shutting down;
//   - the cache holds at most N connections of the group: when it is
//     full the least recently used one is closed;
//   - an idle connection the upstream closed or sent something on, or
//     that waited longer than keepalive_timeout, is closed instead of
//     being used.
//
// nginx closes idle connections as soon as their timeout fires or the
// upstream closes them; here they are checked when the cache is next
// used (how long they were idle by the server's clock, Deps.Now) and when
// a request is about to be sent on one (a non-blocking peek at the
// socket, see send), which makes the same choice of connection, and all
// are closed when the server shuts down.

// keepaliveCache is the idle connections of one upstream group.
type keepaliveCache struct {
	s        *Server
	max      int           // keepalive N
	requests int           // keepalive_requests
	lifetime time.Duration // keepalive_time
	timeout  time.Duration // keepalive_timeout

	mu       sync.Mutex
	idle     []*upstreamConn // most recently used first
	closed   bool            // the server shut down: nothing is cached any more
	watching bool            // the goroutine that empties the cache at shutdown runs
}

// keepaliveFor compiles the keepalive directives of an upstream block; nil
// without "keepalive". The three limits are the block's own: the http
// level's keepalive_requests and friends are the client side's.
func (s *Server) keepaliveFor(u *directives.Upstream) *keepaliveCache {
	l := u.Level
	if l == nil {
		return nil
	}
	n, ok := ownValue[int](l, "keepalive")
	if !ok || n <= 0 {
		return nil
	}
	k := &keepaliveCache{s: s, max: n, requests: 1000, lifetime: time.Hour, timeout: 60 * time.Second}
	if v, ok := ownValue[int](l, "keepalive_requests"); ok {
		k.requests = v
	}
	if v, ok := ownValue[time.Duration](l, "keepalive_time"); ok {
		k.lifetime = v
	}
	if v, ok := ownValue[time.Duration](l, "keepalive_timeout"); ok {
		k.timeout = v
	}
	return k
}

// ownValue is the value a level sets itself for a directive.
func ownValue[T any](l *directives.Level, name string) (T, bool) {
	var zero T
	vs := l.Own(name)
	if len(vs) == 0 {
		return zero, false
	}
	v, ok := vs[len(vs)-1].V.(T)
	return v, ok
}

// upstreamConn is a connection to an upstream server.
type upstreamConn struct {
	nc        net.Conn
	br        *bufio.Reader
	rd        *timedReader
	ex        *exchange // nil when nc is not a socket
	network   string    // the peer's network and address
	addr      string
	requests  int       // requests sent on it, the current one included
	start     time.Time // when it was opened (the server's clock)
	idleSince time.Time // when it was cached (the server's clock)
	cached    bool      // it came from the cache for the current request
	// user is the client connection whose request uses it, which closes
	// it too when a forced shutdown closes that connection (see
	// conn.useUpstream); nil while it is idle.
	user *conn
}

// close closes the connection.
func (uc *upstreamConn) close() {
	uc.unuse()
	uc.nc.Close()
}

// unuse ends the current request's use of the connection.
func (uc *upstreamConn) unuse() {
	if uc.user != nil {
		uc.user.useUpstream(nil)
		uc.user = nil
	}
}

// timedReader gives every read of an upstream connection the current
// request's proxy_read_timeout.
type timedReader struct {
	nc      net.Conn
	timeout time.Duration
	// armed: send has just set the deadline for the first read of the
	// answer, and waited for it to be readable; expired: that wait timed
	// out, which the first read reports.
	armed   bool
	expired error
}

func (t *timedReader) Read(p []byte) (int, error) {
	switch {
	case t.expired != nil:
		err := t.expired
		t.armed, t.expired = false, nil
		return 0, err
	case t.armed:
		t.armed = false
	default:
		t.nc.SetReadDeadline(time.Now().Add(t.timeout))
	}
	return t.nc.Read(p)
}

// upstreamConnect returns a connection to p: an idle one from the cache of
// the group, or a new one.
func (r *request) upstreamConnect(pc *proxyConf, p *upstream.Peer) (*upstreamConn, error) {
	uc := pc.keep.get(p)
	if uc == nil {
		d := net.Dialer{Timeout: pc.connect}
		nc, err := d.DialContext(r.ctx, p.Network, p.Addr)
		if err != nil {
			return nil, err
		}
		uc = &upstreamConn{nc: nc, network: p.Network, addr: p.Addr, start: r.c.s.now()}
		uc.rd = &timedReader{nc: nc}
		uc.br = bufio.NewReader(uc.rd)
		uc.ex = newExchange(rawConn(nc))
	}
	uc.rd.timeout = pc.read
	uc.requests++
	uc.user = r.c
	r.c.useUpstream(uc.nc)
	return uc, nil
}

// release ends the current request's use of a connection: it is cached
// when reusable says the exchange allows it and the cache takes it, else
// closed.
func (pc *proxyConf) release(uc *upstreamConn, reusable bool) {
	if uc == nil {
		return
	}
	uc.unuse()
	if reusable && uc.br.Buffered() == 0 && pc.keep.put(uc) {
		return
	}
	uc.nc.Close()
}

// get takes the most recently cached connection to p's address, closing
// the idle ones found too old on the way. (One the upstream closed is
// found when the request is sent, see send.)
func (k *keepaliveCache) get(p *upstream.Peer) *upstreamConn {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.s.now()
	var found *upstreamConn
	kept := k.idle[:0]
	for _, uc := range k.idle {
		switch {
		case now.Sub(uc.idleSince) > k.timeout:
			uc.nc.Close()
		case found == nil && uc.network == p.Network && uc.addr == p.Addr:
			found = uc
		default:
			kept = append(kept, uc)
		}
	}
	clear(k.idle[len(kept):])
	k.idle = kept
	if found != nil {
		found.cached = true
	}
	return found
}

// put caches a connection after a request; false when it must be closed
// instead (too many requests, too old, the server is shutting down).
func (k *keepaliveCache) put(uc *upstreamConn) bool {
	if k == nil {
		return false
	}
	now := k.s.now()
	if uc.requests >= k.requests || now.Sub(uc.start) > k.lifetime || k.s.isClosing() {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false
	}
	if !k.watching {
		// The request's connection holds the server's wait group, so the
		// watcher joins it safely; it ends when Shutdown begins.
		k.watching = true
		k.s.wg.Add(1)
		go func() {
			defer k.s.wg.Done()
			<-k.s.stop
			k.closeAll()
		}()
	}
	if len(k.idle) >= k.max {
		last := k.idle[len(k.idle)-1]
		last.nc.Close()
		k.idle = k.idle[:len(k.idle)-1]
	}
	// The deadlines of the last request stay: nothing reads or writes
	// an idle connection, and the next request sets its own before it
	// waits for it.
	uc.idleSince = now
	uc.cached = false
	k.idle = append(k.idle, nil)
	copy(k.idle[1:], k.idle)
	k.idle[0] = uc
	return true
}

// closeAll closes every idle connection; nothing is cached afterwards.
func (k *keepaliveCache) closeAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	for _, uc := range k.idle {
		uc.nc.Close()
	}
	k.idle = nil
}

// send writes a request on the connection and waits until the answer can
// be read, as nginx does: it writes, and reads on the read event. A plain
// read tries the socket first and waits only when it is empty, which it
// always is right after the request was written: one system call more per
// request. send waits in the poller first (RawConn.Read with a function
// that declines its first call). The poller forgets what it knew of the
// socket when that wait starts, so what came before is looked at from
// inside it, before anything is written: a cached connection on which
// something came while it was idle (the upstream closed it, reset it or
// sent what nobody asked for) is stale, and nothing is sent on it; a new
// one is not waited on. Whatever comes after the request wakes the wait.
//
// proxy_read_timeout starts with the wait, as nginx's read timer starts
// when the request is sent; the first read of the answer is not given a
// new deadline, and reports the wait's timeout. A request the socket does
// not take at once is written the usual way (writeTimed) and read the
// usual way. err is a failure to write.
func (uc *upstreamConn) send(req []byte, timeout time.Duration) (stale bool, err error) {
	x := uc.ex
	if x == nil || len(req) == 0 {
		_, err := writeTimed(uc.nc, nil, req, timeout)
		return false, err
	}
	uc.nc.SetReadDeadline(time.Now().Add(uc.rd.timeout))
	x.req, x.cached, x.started, x.stale, x.ready, x.n, x.err = req, uc.cached, false, false, false, 0, nil
	werr := x.raw.Read(x.step)
	n, ready, sent, stale, serr := x.n, x.ready, x.started, x.stale, x.err
	x.req, x.err = nil, nil
	switch {
	case !sent:
		// The connection was closed (a forced shutdown): the usual write
		// reports it.
	case stale:
		return true, nil
	case serr != nil:
		return false, &net.OpError{Op: "write", Net: uc.nc.LocalAddr().Network(), Source: uc.nc.LocalAddr(),
			Addr: uc.nc.RemoteAddr(), Err: os.NewSyscallError("write", serr)}
	case n == len(req) && !ready:
		// Waited for the answer.
		switch {
		case werr == nil:
			uc.rd.armed = true
		case errors.Is(werr, os.ErrDeadlineExceeded):
			uc.rd.expired = werr
		}
		return false, nil
	case n == len(req):
		// Something to read already (a new connection's upstream spoke
		// first): it is read as it is.
		return false, nil
	}
	_, err = writeTimed(uc.nc, nil, req[n:], timeout)
	return false, err
}

// exchange is what send's wait needs, made once per connection so that a
// request allocates nothing for it.
type exchange struct {
	raw  syscall.RawConn
	step func(fd uintptr) bool // what the wait runs: see send

	req     []byte
	cached  bool  // the connection was idle in the cache: look for what came meanwhile
	started bool  // step ran once: the request was looked at and written
	stale   bool  // the cached connection is unusable
	ready   bool  // something was there before the request was written
	n       int   // what was written
	err     error // why nothing was written (but a full socket or an interrupted call)
}

// newExchange returns the exchange of a socket (see rawConn); nil without
// one.
func newExchange(raw syscall.RawConn) *exchange {
	if raw == nil {
		return nil
	}
	x := &exchange{raw: raw}
	x.step = func(fd uintptr) bool {
		if x.started {
			return true // readable, or woken for nothing: the reads that follow wait again
		}
		x.started = true
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		errno, _ := err.(syscall.Errno) // 0 without an error
		switch {
		case errno == syscall.EAGAIN:
			// Nothing came: the request goes.
		case x.cached:
			x.stale = true
			return true
		case errno != 0 && errno != syscall.EINTR:
			// A new connection the upstream reset: the error the write
			// would have reported (the peek took it from the socket).
			x.err = errno
			return true
		default:
			x.ready = true // data, or the end of the connection
		}
		n, err := syscall.Write(int(fd), x.req)
		errno, _ = err.(syscall.Errno)
		switch {
		case n > 0:
			x.n = n
		case errno != 0 && errno != syscall.EAGAIN && errno != syscall.EINTR:
			x.err = errno
		}
		// Wait for the answer only when all was written and nothing is
		// there yet.
		return x.ready || x.n < len(x.req) || x.err != nil
	}
	return x
}
