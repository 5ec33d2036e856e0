package httpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// One client connection: requests are read and answered in turn, kept
// alive as nginx keeps them (HTTP/1.1 unless "Connection: close", HTTP/1.0
// with "Connection: keep-alive", within keepalive_timeout,
// keepalive_requests and keepalive_time). Timeouts close the connection
// without an answer, as nginx does.

// Lingering close, as nginx's defaults: after a response that closes the
// connection while the client may still be sending, its data is read and
// dropped for up to lingeringTimeout between reads and lingeringTime in
// all, so that the client sees the response rather than a reset.
const (
	lingeringTimeout = 5 * time.Second
	lingeringTime    = 30 * time.Second
)

type conn struct {
	s      *Server
	a      *addrConf
	nc     net.Conn // the socket
	rw     net.Conn // the socket, or the TLS connection over it
	tls    *tls.Conn
	direct *directWriter // writes to the socket without TLS; nil with TLS
	br     *bufio.Reader
	number uint64
	start  time.Time
	ctx    context.Context

	requests  int       // requests read so far, this one included
	readBytes int64     // bytes read from the connection
	resp      *response // the response being sent, for $sent_http_*
	req       request   // the request being served; empty between requests (see recycle)

	remote, local netip.AddrPort // zero for UNIX sockets

	mu       sync.Mutex
	idle     bool
	served   bool // a request has begun on it (under mu)
	closed   bool
	upstream net.Conn // the upstream connection the current request uses, if any
}

func (s *Server) newConn(l *listener, nc net.Conn) *conn {
	c := &conn{s: s, a: l.confFor(nc.LocalAddr()), nc: nc, rw: nc, start: s.now(), ctx: s.ctx, idle: true}
	c.remote = addrPort(nc.RemoteAddr())
	c.local = addrPort(nc.LocalAddr())
	return c
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

func (c *conn) remoteAddr() string {
	if !c.remote.IsValid() {
		return "unix:"
	}
	return c.remote.Addr().String()
}

func (c *conn) binaryRemoteAddr() string {
	if !c.remote.IsValid() {
		return ""
	}
	b := c.remote.Addr().AsSlice()
	return string(b)
}

func (c *conn) remotePort() string {
	if !c.remote.IsValid() {
		return ""
	}
	return strconv.Itoa(int(c.remote.Port()))
}

func (c *conn) serverAddr() string {
	if !c.local.IsValid() {
		return "unix:" + c.a.unix
	}
	return c.local.Addr().String()
}

func (c *conn) serverPort() string {
	if !c.local.IsValid() {
		return ""
	}
	return strconv.Itoa(int(c.local.Port()))
}

// matches reports whether an allow/deny rule covers the client: "all"
// always, "unix:" UNIX-socket clients, a network the others (an
// IPv4-mapped IPv6 client is matched as IPv4).
func (c *conn) matches(rule directives.AccessRule) bool {
	switch {
	case rule.All:
		return true
	case !c.remote.IsValid():
		return rule.Unix
	case rule.Unix:
		return false
	}
	return rule.Net.Contains(c.remote.Addr().Unmap()) || rule.Net.Contains(c.remote.Addr())
}

// setIdle marks the connection waiting for a request (idle) or busy; it
// reports false when the server is shutting down and the connection must
// go.
func (c *conn) setIdle(idle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.idle = idle
	if !idle {
		c.served = true
	}
	return true
}

// closeIfIdle closes the connection when it waits for another request
// (keep-alive). A connection still waiting for its first one is left to
// read it: it was accepted, so its client is sending a request that is
// answered before the connection closes.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle && c.served && !c.closed {
		c.closed = true
		c.nc.Close()
	}
}

// forceClose closes the connection whatever it does, and the upstream
// connection its request uses: a forced shutdown does not wait for a slow
// upstream.
func (c *conn) forceClose() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.nc.Close()
	if c.upstream != nil {
		c.upstream.Close()
	}
}

// useUpstream records the upstream connection the current request uses
// (nil when it is done with it), for forceClose; one the request takes
// after the connection was forced closed is closed at once.
func (c *conn) useUpstream(nc net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upstream = nc
	if c.closed && nc != nil {
		nc.Close()
	}
}

// serve runs the connection.
func (c *conn) serve() {
	defer c.s.connDone(c)
	def := c.a.defaultSrv
	if c.a.ssl && !c.handshake(def) {
		return
	}
	c.br = bufio.NewReaderSize(countReader{c}, max(int(def.largeHeader), 1024))
	if c.tls == nil {
		c.direct = newDirectWriter(rawConn(c.nc))
	}
	wait := def.headerTimeout
	for {
		r, ok := c.next(wait)
		if !ok {
			return
		}
		if !c.respond(r, c.handle(r)) {
			return
		}
		wait = r.conf.st.KeepaliveTimeout.Timeout
		c.recycle(r)
	}
}

// recycle empties the connection's request once it was answered. A
// connection reads and answers one request at a time, and nothing keeps a
// request after its response, so one request value serves them all and
// reading a request allocates none. The header lists keep their storage,
// emptied: an idle connection holds nothing of its last request.
func (c *conn) recycle(r *request) {
	clear(r.headers)
	clear(r.upstreamHeaders)
	*r = request{headers: r.headers[:0], upstreamHeaders: r.upstreamHeaders[:0]}
}

// handshake runs the TLS handshake; a plain HTTP request gets nginx's 497
// page.
func (c *conn) handshake(def *vserver) bool {
	tc := tls.Server(c.nc, c.a.tls)
	c.nc.SetDeadline(time.Now().Add(def.headerTimeout))
	err := tc.HandshakeContext(c.ctx)
	c.nc.SetDeadline(time.Time{})
	if err != nil {
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && rhe.Conn != nil {
			r := &request{c: c, srv: def, conf: def.own, version: 1001, start: c.s.now()}
			c.s.log.Info().Str("client", c.remoteAddr()).Msg("client sent plain HTTP request to HTTPS port")
			var b bytes.Buffer
			resp := r.specialResponse(statusPlainToHTTPS)
			r.writeHeader(&b, resp)
			b.Write(resp.body)
			c.nc.SetWriteDeadline(time.Now().Add(def.own.sendTimeout))
			if _, err := rhe.Conn.Write(b.Bytes()); err == nil {
				c.br = bufio.NewReader(c.nc)
				c.rw = c.nc
				c.lingeringClose()
			}
		}
		return false
	}
	c.tls, c.rw = tc, tc
	return true
}

// next waits for a request and reads its head. ok is false when the
// connection is to be closed without an answer.
func (c *conn) next(wait time.Duration) (*request, bool) {
	if !c.setIdle(true) {
		return nil, false
	}
	if c.s.isClosing() {
		return nil, false
	}
	c.rw.SetReadDeadline(time.Now().Add(wait))
	if _, err := c.br.Peek(1); err != nil {
		return nil, false
	}
	if !c.setIdle(false) {
		return nil, false
	}
	c.requests++
	def := c.a.defaultSrv
	r := &c.req // empty, see recycle
	r.c, r.ctx, r.start, r.srv, r.conf, r.contentLength = c, c.ctx, c.s.now(), def, def.own, -1
	if !headBuffered(c.br) {
		// What is still to come of the head comes within
		// client_header_timeout. (A head that came whole needs no more
		// reading: nginx sets that timer only when it has to wait.)
		c.rw.SetReadDeadline(time.Now().Add(def.headerTimeout))
	}
	perr, err := c.readHead(r)
	if err != nil {
		return nil, false
	}
	if perr == nil {
		r.srv = c.a.serverFor(r.host, r)
		r.conf = r.srv.own
		r.keepalive = !r.connClose && (r.version > 1000 || r.connKeepAlive && r.version == 1000)
		return r, true
	}
	r.parseErr = perr
	return r, true
}

// readHead reads the request line and headers; err is an I/O failure
// (the connection closes silently), perr a request nginx answers with an
// error. The checks nginx makes on one header as it reads it (Host, and
// repeated unique headers) stop the reading there, which $request_length
// shows.
func (c *conn) readHead(r *request) (perr *parseError, err error) {
	def := c.a.defaultSrv
	start := c.consumed()
	defer func() { r.length = c.consumed() - start }()
	lines := headLines{br: c.br}
	var line string
	for len(line) == 0 {
		if line, err = lines.requestLine(); err != nil {
			if errors.Is(err, errLineTooLong) {
				return bad(414, "client sent too long URI"), nil
			}
			return nil, err
		}
		if len(line) == 0 {
			start = c.consumed()
		}
	}
	if perr := r.parseRequestLine(line, def.mergeSlashes); perr != nil {
		return perr, nil
	}
	if r.version == 9 {
		return nil, nil
	}
	rules := headerRules{underscores: def.underscores, ignoreInvalid: def.ignoreInvalid}
	limit := def.largeHeader * int64(def.largeHeaderNum)
	var seen uniqueHeaders
	if cap(r.headers) == 0 {
		r.headers = make([]header, 0, 8)
	}
	for {
		line, err := lines.requestLine()
		if errors.Is(err, errLineTooLong) {
			return bad(statusHeaderTooLarge, "client sent too long header line"), nil
		}
		if err != nil {
			return nil, err
		}
		if c.consumed()-start > limit {
			return bad(statusHeaderTooLarge, "client sent too large request"), nil
		}
		if len(line) == 0 {
			break
		}
		h, keep, perr := parseHeader(line, rules)
		if perr != nil {
			return perr, nil
		}
		if !keep {
			r.logAt(c.s.log.Info()).Str("header", line).Msg("client sent invalid header line")
			continue
		}
		r.headers = append(r.headers, h)
		if perr := r.checkHeader(h, &seen); perr != nil {
			return perr, nil
		}
	}
	return r.processHeaders(), nil
}

// consumed is how many bytes of the connection were read and used.
func (c *conn) consumed() int64 { return c.readBytes - int64(c.br.Buffered()) }

// countReader counts what the connection reads.
type countReader struct{ c *conn }

func (cr countReader) Read(p []byte) (int, error) {
	n, err := cr.c.rw.Read(p)
	cr.c.readBytes += int64(n)
	return n, err
}

// handle answers a request.
func (c *conn) handle(r *request) (out outcome) {
	if r.parseErr != nil {
		r.logAt(c.s.log.Info()).Msg(r.parseErr.msg)
		r.keepalive = false
		return outcome{resp: r.specialResponse(r.parseErr.status)}
	}
	defer func() {
		if p := recover(); p != nil {
			r.logError().Interface("panic", p).Msg("request handler failed")
			out = outcome{resp: r.specialResponse(500)}
		}
	}()
	return r.process()
}

// respond sends the answer; it reports whether the connection goes on.
func (c *conn) respond(r *request, out outcome) bool {
	if out.status == statusClose {
		return false
	}
	resp := out.resp
	if !resp.special {
		if err := r.expectContinue(); err != nil {
			return false
		}
		if r.errStatus != 0 {
			resp.status = r.errStatus
			resp.statusLine = ""
		}
	}
	if resp.noKeepalive || c.s.isClosing() {
		r.keepalive = false
	}
	r.status = resp.status
	r.applyAddHeaders(resp)
	if resp.acceptRanges && resp.status == 200 && r.version >= 1000 {
		r.rangeFilter(resp)
	}
	if r.method == "HEAD" {
		resp.headerOnly = true
	}
	c.resp = resp
	defer func() { c.resp = nil }()
	b := getBuffer()
	if r.version != 9 {
		r.writeHeader(b, resp)
	}
	head := int64(b.Len())
	if !resp.headerOnly {
		b.Write(resp.body)
	}
	var n int
	var err error
	if resp.file != nil && !resp.headerOnly {
		// The file is copied within the same deadline.
		c.rw.SetWriteDeadline(time.Now().Add(r.conf.sendTimeout))
		n, err = c.rw.Write(b.Bytes())
	} else {
		n, err = writeTimed(c.rw, c.direct, b.Bytes(), r.conf.sendTimeout)
	}
	putBuffer(b)
	r.sent, r.bodySent = int64(n), max(int64(n)-head, 0)
	if err == nil && resp.file != nil && !resp.headerOnly {
		var m int64
		m, err = io.CopyN(c.rw, resp.file, resp.length)
		r.sent += m
		r.bodySent += m
	}
	if resp.file != nil {
		resp.file.Close()
		resp.file = nil
	}
	if resp.stream != nil {
		if err == nil && !resp.headerOnly {
			var m int64
			m, err = resp.stream.WriteTo(c.rw)
			r.sent += m
			r.bodySent += m
		}
		resp.stream.Close()
		resp.stream = nil
	}
	c.s.logAccess(r)
	if err != nil {
		return false
	}
	if !r.keepalive || r.conf.st.KeepaliveTimeout.Timeout == 0 {
		// With keepalive_timeout 0 nginx may have said keep-alive (a
		// server-level return skips the location's checks) and still
		// closes.
		if (r.hasBody() && !r.bodyDone) || c.br.Buffered() > 0 || pending(c.nc) {
			c.lingeringClose()
		}
		return false
	}
	return r.discardBody() == nil
}

// pending reports whether the client sent data nobody read yet, without
// waiting: closing a socket with unread data resets the connection. The
// socket is peeked at through Control, which does not look at the read
// deadline: whichever deadline was set last, passed or not, does not
// hide the data.
func pending(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	found := false
	raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		found = err == nil && n > 0
	})
	return found
}

// expectContinue is ngx_http_test_expect: an HTTP/1.1 request with
// "Expect: 100-continue" is told to go on before its body is read or
// dropped.
func (r *request) expectContinue() error {
	if r.expectTested || !r.expect100 || r.version < 1001 {
		return nil
	}
	r.expectTested = true
	r.c.rw.SetWriteDeadline(time.Now().Add(r.conf.sendTimeout))
	_, err := io.WriteString(r.c.rw, "HTTP/1.1 100 Continue\r\n\r\n")
	return err
}

// bodyReader returns a reader of the request body that extends the read
// deadline before each read (client_body_timeout is between two reads).
// The chunked reader reads c.br itself, so that it takes no more than the
// body.
func (r *request) bodyReader() io.Reader {
	dr := &deadlineReader{c: r.c, timeout: r.conf.bodyTimeout}
	if r.chunked {
		dr.r = httputil.NewChunkedReader(r.c.br)
	} else {
		dr.r = io.LimitReader(r.c.br, r.contentLength)
	}
	return dr
}

type deadlineReader struct {
	c       *conn
	timeout time.Duration
	r       io.Reader
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.c.rw.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}

// errBodyTooLarge is a chunked body longer than client_max_body_size.
var errBodyTooLarge = errors.New("client intended to send too large chunked body")

// readBody reads the whole body, within client_max_body_size.
func (r *request) readBody() ([]byte, error) {
	if r.bodyDone || !r.hasBody() {
		r.bodyDone = true
		return r.body, nil
	}
	if err := r.expectContinue(); err != nil {
		return nil, err
	}
	r.bodyDone = true
	limit := r.conf.st.ClientMaxBodySize
	start := r.c.consumed()
	defer func() { r.length += r.c.consumed() - start }()
	rd := r.bodyReader()
	if limit > 0 {
		rd = io.LimitReader(rd, limit+1)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	if r.chunked {
		if limit > 0 && int64(len(body)) > limit {
			return nil, errBodyTooLarge
		}
		if err := r.readTrailers(); err != nil {
			return nil, err
		}
	} else if int64(len(body)) < r.contentLength {
		return nil, io.ErrUnexpectedEOF
	}
	r.body = body
	return body, nil
}

// discardBody drops a body nobody read, so the next request can be read;
// as nginx, it waits at most lingering_timeout between two reads.
func (r *request) discardBody() error {
	if r.bodyDone || !r.hasBody() {
		return nil
	}
	r.bodyDone = true
	rd := r.bodyReader().(*deadlineReader)
	rd.timeout = lingeringTimeout
	n, err := io.Copy(io.Discard, rd)
	if err != nil {
		return err
	}
	if r.chunked {
		return r.readTrailers()
	}
	if n < r.contentLength {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// readTrailers reads the lines after the last chunk, up to the empty one.
func (r *request) readTrailers() error {
	for {
		r.c.rw.SetReadDeadline(time.Now().Add(r.conf.bodyTimeout))
		line, err := readLine(r.c.br)
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			return nil
		}
	}
}

// lingeringClose stops sending, then reads and drops what the client still
// sends before closing: closing a socket with unread data would reset the
// connection, and the client could lose the response.
func (c *conn) lingeringClose() {
	if c.tls != nil {
		c.tls.CloseWrite() // close_notify: the client's TLS reads end
	} else if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	end := time.Now().Add(lingeringTime)
	buf := make([]byte, 4096)
	for {
		d := time.Now().Add(lingeringTimeout)
		if d.After(end) {
			d = end
		}
		c.rw.SetReadDeadline(d)
		if _, err := c.br.Read(buf); err != nil {
			return
		}
	}
}
