package httpd

import (
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/runtime/upstream"
)

// Upstream response bodies, as ngx_http_proxy_module's input filters and
// ngx_http_upstream relay them:
//
//   - the body's end is known from the header: none (a HEAD request, 204,
//     304, 1xx, "Content-Length: 0"), Content-Length, the last chunk of a
//     chunked body (its trailer is read and dropped), or else the close of
//     the connection;
//   - with proxy_buffering off (or "X-Accel-Buffering: no" from the
//     upstream, unless proxy_ignore_headers names it; "yes" turns
//     buffering on) the header is sent at once and every piece of the
//     body is written to the client as soon as it is read;
//   - with buffering on, a body that fits in the proxy buffers
//     (proxy_buffer_size plus proxy_buffers, 36k by default) is read
//     whole first and sent with its Content-Length, even when the
//     upstream sent it chunked; a larger one is streamed as without
//     buffering (nginx would spill it to a temporary file: the client
//     gets the same bytes);
//   - a streamed body of unknown length goes to HTTP/1.1 clients chunked
//     (chunked_transfer_encoding) and ends HTTP/1.0 clients' connection;
//   - when the upstream fails in the middle of the body, the client gets
//     what came, and its connection is closed, as nginx finalizes such a
//     request with 502 after the header was sent.

// bodyKind is how an upstream body ends.
type bodyKind int

const (
	bodyNone    bodyKind = iota // no body
	bodyLength                  // Content-Length
	bodyChunked                 // the last chunk
	bodyClose                   // the close of the connection
)

// upstreamBody is the body of one upstream response while it is relayed.
type upstreamBody struct {
	r  *request
	pc *proxyConf
	uc *upstreamConn
	// The upstream as the error log names it: the scheme, the peer's
	// name and the URI.
	peerName, uri string

	kind bodyKind
	left int64     // bodyLength: bytes still to read
	cr   io.Reader // bodyChunked: the chunk decoder
	keep bool      // the connection may be reused once the body is read

	prefix     []byte // read before the header was sent
	done       bool   // the whole body was read
	err        error  // the upstream failed; logged when it happened
	chunked    bool   // the client gets it chunked
	clientGone bool   // writing to the client failed
	// The peer, given back to the balancer (pick.Free) when the body is
	// done, with peerFailed as its failure.
	pick       *upstream.Pick
	peer       *upstream.Peer
	peerFailed bool
}

// newUpstreamBody prepares the reading of a response's body.
func (r *request) newUpstreamBody(pc *proxyConf, uc *upstreamConn, h *upstreamHead, peerName, uri string) *upstreamBody {
	// A 1xx answer (101 switches protocols) never leaves the connection
	// reusable.
	b := &upstreamBody{r: r, pc: pc, uc: uc, peerName: peerName, uri: uri, keep: !h.closing && h.status >= 200}
	switch {
	case r.method == "HEAD" || h.status == 204 || h.status == 304 || h.status < 200:
		b.kind = bodyNone
	case h.chunked:
		b.kind = bodyChunked
		b.cr = httputil.NewChunkedReader(uc.br)
	case h.length == 0:
		b.kind = bodyNone
	case h.length > 0:
		b.kind, b.left = bodyLength, h.length
	default:
		b.kind, b.keep = bodyClose, false
	}
	b.done = b.kind == bodyNone
	return b
}

// relay gives the response its body: none, the whole body read now, or a
// stream the connection writes after the header. The upstream connection
// is released once the body is read, or when the stream closes.
func (b *upstreamBody) relay(h *upstreamHead) *response {
	resp := h.resp
	if b.kind == bodyNone {
		resp.length = h.length
		if b.r.method == "HEAD" {
			// nginx drops what came with the header of a HEAD response.
			b.uc.br.Discard(b.uc.br.Buffered())
		}
		b.Close()
		return resp
	}
	buffering := b.pc.buffering
	if h.buffering != 0 {
		buffering = h.buffering > 0
	}
	if buffering && (b.kind != bodyLength || b.left <= b.pc.bufferSize) && b.prefetch(b.pc.bufferSize) {
		resp.body = b.prefix
		resp.length = int64(len(b.prefix))
		b.prefix = nil
		b.Close()
		return resp
	}
	resp.length = h.length
	if h.length < 0 {
		if b.r.version >= 1001 && b.pc.chunked {
			resp.chunked, b.chunked = true, true
		} else {
			b.r.keepalive = false
		}
	}
	resp.stream = b
	return resp
}

// prefetch reads the body into prefix while it is no longer than limit;
// it reports whether the whole body was read.
func (b *upstreamBody) prefetch(limit int64) bool {
	if b.kind == bodyLength && !b.done && b.left <= limit {
		// The usual case: a body of known length that fits is read
		// straight into a slice of its size.
		b.prefix = make([]byte, b.left)
		for n := 0; !b.done; {
			m, err := b.read(b.prefix[n:])
			n += m
			if err != nil {
				b.prefix = b.prefix[:n]
				return false
			}
		}
		return true
	}
	bp := prefetchBuffers.Get().(*[]byte)
	defer prefetchBuffers.Put(bp)
	for !b.done && int64(len(b.prefix)) <= limit {
		n, err := b.read(*bp)
		b.prefix = append(b.prefix, (*bp)[:n]...)
		if err != nil {
			return false
		}
	}
	return b.done
}

// prefetchBuffers are the read buffers of prefetch.
var prefetchBuffers = sync.Pool{New: func() any {
	b := make([]byte, 16<<10)
	return &b
}}

// read reads the next piece of the body; done is set after the last.
func (b *upstreamBody) read(p []byte) (int, error) {
	switch b.kind {
	case bodyLength:
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err := b.uc.br.Read(p)
		b.left -= int64(n)
		if b.left == 0 {
			b.done = true
			return n, nil
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, b.fail(err)
	case bodyChunked:
		n, err := b.cr.Read(p)
		if errors.Is(err, io.EOF) {
			b.done = true
			return n, b.fail(b.trailer())
		}
		return n, b.fail(err)
	case bodyClose:
		n, err := b.uc.br.Read(p)
		if errors.Is(err, io.EOF) {
			b.done = true
			return n, nil
		}
		return n, b.fail(err)
	}
	return 0, io.EOF
}

// trailer reads the lines after the last chunk, up to the empty one.
func (b *upstreamBody) trailer() error {
	for {
		line, err := readLine(b.uc.br)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil || len(line) == 0 {
			return err
		}
	}
}

// errInvalidChunked is a chunked body nginx cannot parse.
var errInvalidChunked = errors.New("upstream sent invalid chunked response")

// fail logs what stopped the reading of the body, as nginx words it.
func (b *upstreamBody) fail(err error) error {
	if err == nil {
		return nil
	}
	b.done = false
	b.err = err
	var ne net.Error
	var errno syscall.Errno
	msg := ""
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "upstream prematurely closed connection"
	case errors.As(err, &ne) && ne.Timeout():
		msg = "upstream timed out (110: Connection timed out)"
	case errors.As(err, &ne), errors.As(err, &errno):
		msg = syscallError(err, "recv() failed").Error()
	default:
		b.err = errInvalidChunked
		msg = errInvalidChunked.Error()
	}
	b.r.logError().Str("upstream", b.pc.schema+b.peerName+b.uri).Msg(msg + " while reading upstream")
	return b.err
}

// WriteTo writes the body to the client as it is read: what was read
// before, then every piece at once, with chunk framing when chunked.
func (b *upstreamBody) WriteTo(w io.Writer) (int64, error) {
	var sent int64
	send := func(p []byte) error {
		if len(p) == 0 {
			return nil
		}
		if b.chunked {
			framed := make([]byte, 0, len(p)+20)
			framed = strconv.AppendInt(framed, int64(len(p)), 16)
			framed = append(framed, '\r', '\n')
			framed = append(append(framed, p...), '\r', '\n')
			p = framed
		}
		if dw, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
			dw.SetWriteDeadline(time.Now().Add(b.r.conf.sendTimeout))
		}
		n, err := w.Write(p)
		sent += int64(n)
		if err != nil {
			b.clientGone = true
		}
		return err
	}
	if err := send(b.prefix); err != nil {
		return sent, err
	}
	b.prefix = nil
	if b.err != nil {
		return sent, b.err
	}
	buf := make([]byte, 16<<10)
	for !b.done {
		n, err := b.read(buf)
		if werr := send(buf[:n]); werr != nil {
			return sent, werr
		}
		if err != nil {
			return sent, err
		}
	}
	if b.chunked {
		b.chunked = false
		if err := send([]byte("0\r\n\r\n")); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// Close releases the upstream connection (to the keepalive cache when
// the body was read through and nothing forbids it) and the peer.
func (b *upstreamBody) Close() {
	if b.uc != nil {
		b.pc.release(b.uc, b.done && b.keep && !b.clientGone)
		b.uc = nil
	}
	if b.peer != nil {
		b.pick.Free(b.peer, b.peerFailed)
		b.peer = nil
	}
}
