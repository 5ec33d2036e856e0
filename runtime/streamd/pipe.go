package streamd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// The relay of a connected session, as ngx_stream_proxy_process runs it:
// each direction reads into its own buffer of proxy_buffer_size and
// writes what it read before it reads again. proxy_timeout is the time
// allowed between two successive reads or writes on either connection;
// when it passes, "connection timed out" ends the session. When one side
// closes (or fails), the session ends once what it sent is passed on;
// with proxy_half_close the other side's write direction is shut down
// instead, and the session ends when both sides have closed. The rates
// of proxy_upload_rate and proxy_download_rate are kept per direction as
// nginx keeps them.

// relay copies the session's bytes between the client and up until it
// ends; st gets the try's counts.
func (ss *session) relay(pc *proxyConf, up net.Conn, st *upstreamState) {
	p := &pipe{ss: ss, pc: pc, up: up, client: ss.clientConn(), st: st, start: time.Now(), done: make(chan struct{})}
	p.touch()
	ss.logPlain(levelInfo, fmt.Sprintf("proxy %s connected to %s", addrText(up.LocalAddr()), st.peer))
	p.limits[0], p.limits[1] = pc.upload.of(ss), pc.download.of(ss)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.copy(false) }()
	go func() { defer wg.Done(); p.copy(true) }()
	wg.Wait()
	p.end(endShutdown, false, nil) // both directions are done: make sure up is closed
	st.sent, st.received = ss.upSent.Load(), ss.upReceived.Load()
	if ss.status == 0 {
		ss.status = 200
	}
}

// clientConn is the client's side of the session: the TLS connection
// for "listen ... ssl".
func (ss *session) clientConn() net.Conn {
	if ss.tls != nil {
		return ss.tls
	}
	return ss.nc
}

type pipe struct {
	ss     *session
	pc     *proxyConf
	client net.Conn
	up     net.Conn
	st     *upstreamState
	start  time.Time
	limits [2]int64     // bytes a second from the client, from upstream; 0 for none
	last   atomic.Int64 // UnixNano of the last read or write

	mu      sync.Mutex
	ended   bool
	closed  int // directions that saw their source close (proxy_half_close)
	done    chan struct{}
	firstMu sync.Once
}

// How a session ends.
const (
	endDisconnected = iota // a side closed or failed
	endTimedOut            // proxy_timeout passed
	endWriteFailed         // a write failed (logged already)
	endShutdown            // a forced shutdown, or both directions done
)

func (p *pipe) touch() { p.last.Store(time.Now().UnixNano()) }

func (p *pipe) idleSince() time.Time { return time.Unix(0, p.last.Load()) }

func (p *pipe) isEnded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// end ends the session once: it logs why, closes the upstream connection
// and wakes the other direction. The client connection stays open until
// the session is logged.
func (p *pipe) end(how int, fromUpstream bool, err error) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.ended = true
	p.client.SetDeadline(time.Unix(1, 0))
	p.mu.Unlock()
	switch how {
	case endDisconnected:
		side := "client"
		if fromUpstream {
			side = "upstream"
		}
		p.ss.logPlain(levelInfo, fmt.Sprintf("%s disconnected, %s", side, p.ss.byteCounts()))
	case endTimedOut:
		p.ss.logf(levelInfo, "proxying connection", "connection timed out (110: Connection timed out)")
	}
	p.up.Close()
	close(p.done)
}

// arm sets a deadline on c unless the session has ended: end sets the
// client's deadline in the past (under the same lock) to wake a blocked
// direction, and no later deadline may undo that.
func (p *pipe) arm(c net.Conn, read bool, t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return false
	}
	if read {
		c.SetReadDeadline(t)
	} else {
		c.SetWriteDeadline(t)
	}
	return true
}

// copy runs one direction until the session ends.
func (p *pipe) copy(fromUpstream bool) {
	ss := p.ss
	src, dst := p.client, p.up
	received, sent := &ss.received, &ss.upSent
	limit := p.limits[0]
	readAction, writeAction := "proxying and reading from client", "proxying and sending to upstream"
	if fromUpstream {
		src, dst = p.up, p.client
		received, sent = &ss.upReceived, &ss.sent
		limit = p.limits[1]
		readAction, writeAction = "proxying and reading from upstream", "proxying and sending to client"
	}
	buf := make([]byte, p.pc.buffer)
	for {
		size := len(buf)
		if limit > 0 {
			allowed, wait := rateAllowance(limit, p.start, time.Now(), received.Load())
			if wait > 0 {
				if !pause(ss.s.ctx, p.done, wait) {
					p.stopped()
					return
				}
				p.touch()
				continue
			}
			size = int(min(int64(size), allowed))
		}
		if !p.arm(src, true, p.idleSince().Add(p.pc.timeout)) {
			return
		}
		n, err := src.Read(buf[:size])
		if n > 0 {
			if fromUpstream {
				p.firstMu.Do(func() { p.st.firstByte = ss.s.now().Sub(p.st.start) })
			}
			received.Add(int64(n))
			p.touch()
			if !p.arm(dst, false, time.Now().Add(p.pc.timeout)) {
				return
			}
			m, werr := dst.Write(buf[:n])
			sent.Add(int64(m))
			p.touch()
			if werr != nil {
				p.writeFailed(fromUpstream, writeAction, werr)
				return
			}
			if limit > 0 {
				if d := rateDelay(limit, n); d > 0 {
					if !pause(ss.s.ctx, p.done, d) {
						p.stopped()
						return
					}
					p.touch()
				}
			}
		}
		if err == nil {
			continue
		}
		switch {
		case p.isEnded():
			return
		case ss.s.ctx.Err() != nil:
			p.end(endShutdown, fromUpstream, nil)
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			if time.Since(p.idleSince()) < p.pc.timeout {
				continue
			}
			p.end(endTimedOut, fromUpstream, nil)
			return
		case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
			lv := levelInfo // the client connection logs its errors at info
			if fromUpstream {
				lv = levelError
			}
			ss.logf(lv, readAction, fmt.Sprintf("recv() failed (%s)", directives.ErrnoText(err)))
		}
		p.sourceClosed(fromUpstream, dst)
		return
	}
}

// stopped is a direction whose wait was cut short: by the end of the
// session, or by a forced shutdown.
func (p *pipe) stopped() {
	if p.ss.s.ctx.Err() != nil {
		p.end(endShutdown, false, nil)
	}
}

// writeFailed ends the session on a failed write: a timeout is the
// proxy_timeout's; else the error is logged.
func (p *pipe) writeFailed(fromUpstream bool, action string, err error) {
	switch {
	case p.isEnded():
		return
	case p.ss.s.ctx.Err() != nil:
		p.end(endShutdown, fromUpstream, nil)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		p.end(endTimedOut, fromUpstream, nil)
		return
	}
	lv := levelError
	if fromUpstream {
		lv = levelInfo
	}
	p.ss.logf(lv, action, fmt.Sprintf("writev() failed (%s)", directives.ErrnoText(err)))
	p.end(endWriteFailed, fromUpstream, err)
}

// sourceClosed is a direction whose source closed, after all it sent
// was written on: the session ends, or with proxy_half_close the other
// side's write direction is shut down and the session ends when both
// sources have closed.
func (p *pipe) sourceClosed(fromUpstream bool, dst net.Conn) {
	if !p.pc.halfClose {
		p.end(endDisconnected, fromUpstream, nil)
		return
	}
	p.mu.Lock()
	p.closed++
	both := p.closed == 2
	p.mu.Unlock()
	if both {
		p.end(endDisconnected, fromUpstream, nil)
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil && !p.isEnded() {
			p.ss.logf(levelError, "proxying connection", fmt.Sprintf("shutdown() failed (%s)", directives.ErrnoText(err)))
			p.ss.status = 500
			p.end(endWriteFailed, fromUpstream, err)
		}
	}
}

// rateAllowance is nginx's limit before a read at rate bytes a second:
// what may be read now, or how long to wait first. nginx counts whole
// seconds of the wall clock from the session's start, one second ahead.
func rateAllowance(rate int64, start, now time.Time, received int64) (allowed int64, wait time.Duration) {
	limit := rate*(now.Unix()-start.Unix()+1) - received
	if limit <= 0 {
		return 0, time.Duration(-limit*1000/rate+1) * time.Millisecond
	}
	return limit, 0
}

// rateDelay is the pause after reading n bytes at rate bytes a second.
func rateDelay(rate int64, n int) time.Duration {
	return time.Duration(int64(n)*1000/rate) * time.Millisecond
}
