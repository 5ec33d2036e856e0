package httpd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// What the socket takes at once is written without a deadline: even one
// that passed long ago (an earlier write's) does not fail it.
func TestWriteTimedAtOnce(t *testing.T) {
	a, b := tcpPair(t)
	w := newDirectWriter(rawConn(a))
	if w == nil {
		t.Fatal("no direct writer for a TCP connection")
	}
	a.SetWriteDeadline(time.Now().Add(-time.Hour))
	for _, msg := range []string{"first", "second"} {
		n, err := writeTimed(a, w, []byte(msg), time.Minute)
		if n != len(msg) || err != nil {
			t.Fatalf("writeTimed(%q) = %d, %v", msg, n, err)
		}
	}
	got := make([]byte, len("firstsecond"))
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "firstsecond" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// What the socket cannot take is written with the deadline: a reader that
// never reads makes the write time out after the timeout, having written
// what the socket took.
func TestWriteTimedTimesOut(t *testing.T) {
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(16 << 10)
	b.(*net.TCPConn).SetReadBuffer(16 << 10)
	w := newDirectWriter(rawConn(a))
	big := bytes.Repeat([]byte("x"), 4<<20)
	start := time.Now()
	n, err := writeTimed(a, w, big, 100*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if n <= 0 || n >= len(big) {
		t.Fatalf("wrote %d of %d", n, len(big))
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("timed out after %v, before the timeout", d)
	}
}

// Writing to a connection the peer reset, or one closed here, fails as a
// plain write does: the reset first, then a broken pipe.
func TestWriteTimedFailures(t *testing.T) {
	for _, direct := range []bool{false, true} {
		a, b := tcpPair(t)
		var w *directWriter
		if direct {
			w = newDirectWriter(rawConn(a))
		}
		b.(*net.TCPConn).SetLinger(0)
		b.Close() // RST, which reaches a at once on loopback
		for _, want := range []syscall.Errno{syscall.ECONNRESET, syscall.EPIPE} {
			_, err := writeTimed(a, w, []byte("x"), time.Minute)
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "write" || !errors.Is(err, want) {
				t.Errorf("direct %v: %v, want the write's *net.OpError with %v", direct, err, want)
			}
		}
	}
	c, _ := tcpPair(t)
	wc := newDirectWriter(rawConn(c))
	c.Close()
	if _, err := writeTimed(c, wc, []byte("x"), time.Minute); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("on a closed connection: %v, want net.ErrClosed", err)
	}
}

// waitFor polls cond until it holds (loopback delivers at once, so the
// first call usually does).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
