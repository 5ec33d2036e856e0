package httpd

import (
	"net"
	"os"
	"syscall"
	"time"
)

// nginx arms send_timeout (proxy_send_timeout for upstreams) only when a
// write has to wait for the socket: a response the socket takes at once
// needs no timer. A Go write needs its deadline set before it starts,
// which costs clock readings and a runtime timer change on every
// response. directWriter gives a plain socket nginx's way: the bytes are
// first written without waiting; only what the socket did not take is
// written the usual way, with the deadline set then.

// directWriter writes to one socket without waiting. It is made once per
// connection, with the function the socket runs, so that writing
// allocates nothing.
type directWriter struct {
	raw syscall.RawConn
	do  func(fd uintptr) bool // one write(2) of p
	p   []byte
	n   int   // what do wrote
	err error // why do wrote nothing, unless the socket was full or the call interrupted
}

// newDirectWriter returns the writer of a socket (see rawConn); nil
// without one.
func newDirectWriter(raw syscall.RawConn) *directWriter {
	if raw == nil {
		return nil
	}
	w := &directWriter{raw: raw}
	w.do = func(fd uintptr) bool {
		n, err := syscall.Write(int(fd), w.p)
		errno, _ := err.(syscall.Errno) // 0 without an error
		switch {
		case n > 0:
			w.n = n
		case errno != 0 && errno != syscall.EAGAIN && errno != syscall.EINTR:
			w.err = errno
		}
		return true // never wait for the socket here
	}
	return w
}

// rawConn returns the socket under nc, for directWriter and exchange;
// nil when nc is not a socket.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// try writes what the socket takes of b now and returns how much, or the
// error of the write(2) call (a reset connection). A connection that is
// closed, or whose deadline passed, is not written: try returns 0, and
// the plain write that follows reports the one or sets a new deadline.
func (w *directWriter) try(b []byte) (int, error) {
	w.p, w.n, w.err = b, 0, nil
	w.raw.Write(w.do)
	n, err := w.n, w.err
	w.p, w.n, w.err = nil, 0, nil
	return n, err
}

// writeTimed writes b to nc (w is nc's directWriter, or nil) as nginx
// writes: what the socket takes at once needs no timer; the rest is
// written with the deadline timeout from now, as a plain write with that
// deadline would.
func writeTimed(nc net.Conn, w *directWriter, b []byte, timeout time.Duration) (int, error) {
	n := 0
	if w != nil && len(b) > 0 {
		var err error
		n, err = w.try(b)
		if err != nil {
			// The error a plain write returns: the reset is reported once.
			return 0, &net.OpError{Op: "write", Net: nc.LocalAddr().Network(), Source: nc.LocalAddr(),
				Addr: nc.RemoteAddr(), Err: os.NewSyscallError("write", err)}
		}
		if n == len(b) {
			return n, nil
		}
	}
	nc.SetWriteDeadline(time.Now().Add(timeout))
	m, err := nc.Write(b[n:])
	return n + m, err
}
