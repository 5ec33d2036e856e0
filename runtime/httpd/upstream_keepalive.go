package httpd

import (
	"bufio"
	"context"
	"errors"
	"net"
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
// used (a non-blocking peek at the socket, and how long they were idle
// by the server's clock, Deps.Now), which makes the same choice of
// connection, and all are closed when the server shuts down.

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
	key       string    // the peer's network and address
	requests  int       // requests sent on it, the current one included
	start     time.Time // when it was opened (the server's clock)
	idleSince time.Time // when it was cached (the server's clock)
	cached    bool      // it came from the cache for the current request
	// unwatch stops closing the connection when the request's context
	// ends (a forced shutdown must not wait for a slow upstream).
	unwatch func() bool
}

// close closes the connection.
func (uc *upstreamConn) close() {
	uc.stopWatch()
	uc.nc.Close()
}

func (uc *upstreamConn) stopWatch() {
	if uc.unwatch != nil {
		uc.unwatch()
		uc.unwatch = nil
	}
}

// timedReader gives every read of an upstream connection the current
// request's proxy_read_timeout.
type timedReader struct {
	nc      net.Conn
	timeout time.Duration
}

func (t *timedReader) Read(p []byte) (int, error) {
	t.nc.SetReadDeadline(time.Now().Add(t.timeout))
	return t.nc.Read(p)
}

func peerKey(p *upstream.Peer) string { return p.Network + " " + p.Addr }

// upstreamConnect returns a connection to p: an idle one from the cache of
// the group, or a new one.
func (r *request) upstreamConnect(pc *proxyConf, p *upstream.Peer) (*upstreamConn, error) {
	uc := pc.keep.get(peerKey(p))
	if uc == nil {
		d := net.Dialer{Timeout: pc.connect}
		nc, err := d.DialContext(r.ctx, p.Network, p.Addr)
		if err != nil {
			return nil, err
		}
		uc = &upstreamConn{nc: nc, key: peerKey(p), start: r.c.s.now()}
		uc.rd = &timedReader{nc: nc}
		uc.br = bufio.NewReader(uc.rd)
	}
	uc.rd.timeout = pc.read
	uc.requests++
	nc := uc.nc
	uc.unwatch = context.AfterFunc(r.ctx, func() { nc.Close() })
	return uc, nil
}

// release ends the current request's use of a connection: it is cached
// when reusable says the exchange allows it and the cache takes it, else
// closed.
func (pc *proxyConf) release(uc *upstreamConn, reusable bool) {
	if uc == nil {
		return
	}
	uc.stopWatch()
	if reusable && uc.br.Buffered() == 0 && pc.keep.put(uc) {
		return
	}
	uc.nc.Close()
}

// get takes the most recently cached usable connection to key, closing
// the idle ones found broken or too old on the way.
func (k *keepaliveCache) get(key string) *upstreamConn {
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
		case found == nil && uc.key == key:
			if idleBroken(uc.nc) {
				uc.nc.Close()
				continue
			}
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
	if k == nil || uc.requests >= k.requests || k.s.now().Sub(uc.start) > k.lifetime || k.s.isClosing() {
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
	uc.nc.SetDeadline(time.Time{})
	uc.idleSince = k.s.now()
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

// idleBroken reports whether an idle connection is unusable: the upstream
// closed it, reset it, or sent something nobody asked for. The socket is
// peeked at without waiting.
func idleBroken(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	broken := true
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		broken = !errors.Is(err, syscall.EAGAIN)
		return true
	})
	return broken || err != nil
}
