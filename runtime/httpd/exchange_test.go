package httpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// testUpstreamConn makes an upstream connection of nc as upstreamConnect
// does; cached says it comes from the keepalive cache.
func testUpstreamConn(nc net.Conn, cached bool, readTimeout time.Duration) *upstreamConn {
	uc := &upstreamConn{nc: nc, cached: cached}
	uc.rd = &timedReader{nc: nc, timeout: readTimeout}
	uc.br = bufio.NewReader(uc.rd)
	uc.ex = newExchange(rawConn(nc))
	return uc
}

// echo answers every line a peer reads with "re: LINE".
func echo(peer net.Conn) {
	br := bufio.NewReader(peer)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(peer, "re: "+line); err != nil {
			return
		}
	}
}

// send writes the request and waits for the answer, which the next read
// gets without a deadline of its own; an answer that comes at once is
// never missed.
func TestSendWaitsForTheAnswer(t *testing.T) {
	a, b := tcpPair(t)
	go echo(b)
	uc := testUpstreamConn(a, false, 10*time.Second)
	for i := range 2000 {
		uc.cached = i > 0
		stale, err := uc.send([]byte("ping\n"), time.Minute)
		if stale || err != nil {
			t.Fatalf("exchange %d: stale %v, %v", i, stale, err)
		}
		if !uc.rd.armed {
			t.Fatalf("exchange %d: the first read is not armed", i)
		}
		line, err := uc.br.ReadString('\n')
		if line != "re: ping\n" || err != nil {
			t.Fatalf("exchange %d: %q, %v", i, line, err)
		}
		if uc.rd.armed {
			t.Fatalf("exchange %d: still armed after the read", i)
		}
	}
}

// A cached connection the upstream closed, or sent something on, while it
// was idle is stale: nothing is written on it.
func TestSendStale(t *testing.T) {
	for _, what := range []string{"close", "data"} {
		a, b := tcpPair(t)
		if what == "close" {
			b.Close() // on loopback the FIN has reached a when Close returns
		} else {
			b.Write([]byte("unasked"))
			waitFor(t, func() bool { return readable(a) }, "the data to come")
		}
		uc := testUpstreamConn(a, true, time.Minute)
		stale, err := uc.send([]byte("GET\n"), time.Minute)
		if !stale || err != nil {
			t.Fatalf("%s: stale %v, %v", what, stale, err)
		}
		if what == "data" {
			b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if n, _ := b.Read(make([]byte, 10)); n != 0 {
				t.Fatalf("%s: the request was sent on a stale connection", what)
			}
		}
	}
}

// readable peeks at a connection without waiting.
func readable(nc net.Conn) bool {
	x := newExchange(rawConn(nc))
	x.req, x.cached = []byte("x"), true
	x.raw.Control(func(fd uintptr) { x.step(fd) })
	return x.stale
}

// A new connection whose upstream spoke first is not waited on: what came
// is read, and the request was sent.
func TestSendUpstreamSpokeFirst(t *testing.T) {
	a, b := tcpPair(t)
	b.Write([]byte("hello\n"))
	waitFor(t, func() bool { return readable(a) }, "the greeting to come")
	uc := testUpstreamConn(a, false, time.Minute)
	if stale, err := uc.send([]byte("GET\n"), time.Minute); stale || err != nil {
		t.Fatalf("stale %v, %v", stale, err)
	}
	if line, err := uc.br.ReadString('\n'); line != "hello\n" || err != nil {
		t.Fatalf("read %q, %v", line, err)
	}
	if line, err := bufio.NewReader(b).ReadString('\n'); line != "GET\n" || err != nil {
		t.Fatalf("the upstream read %q, %v", line, err)
	}
}

// No answer within proxy_read_timeout: the first read reports the wait's
// timeout at once.
func TestSendReadTimeout(t *testing.T) {
	a, _ := tcpPair(t)
	uc := testUpstreamConn(a, false, 50*time.Millisecond)
	start := time.Now()
	if stale, err := uc.send([]byte("GET\n"), time.Minute); stale || err != nil {
		t.Fatalf("stale %v, %v", stale, err)
	}
	_, err := uc.br.ReadByte()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	if uc.rd.expired != nil || uc.rd.armed {
		t.Fatal("the wait's timeout is reported twice")
	}
}

// A request the socket does not take at once is written the usual way,
// within proxy_send_timeout.
func TestSendLargeRequest(t *testing.T) {
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(16 << 10)
	b.(*net.TCPConn).SetReadBuffer(16 << 10)
	uc := testUpstreamConn(a, false, time.Minute)
	big := bytes.Repeat([]byte("x"), 4<<20)
	_, err := uc.send(big, 50*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("nobody reads: %v, want a timeout", err)
	}
	// With a reader all is written, whether the socket took it at once
	// or not (then send waits for the answer, which never comes here).
	c, d := tcpPair(t)
	got := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, d)
		got <- n
	}()
	uc = testUpstreamConn(c, false, 50*time.Millisecond)
	if stale, err := uc.send(big, time.Minute); stale || err != nil {
		t.Fatalf("a reader: stale %v, %v", stale, err)
	}
	c.Close()
	if n := <-got; n != int64(len(big)) {
		t.Fatalf("the upstream read %d bytes, want %d", n, len(big))
	}
}

// A reset connection fails the write with the reset, as a plain write
// does.
func TestSendReset(t *testing.T) {
	a, b := tcpPair(t)
	b.(*net.TCPConn).SetLinger(0)
	b.Close()
	uc := testUpstreamConn(a, false, time.Minute)
	_, err := uc.send([]byte("GET\n"), time.Minute)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%v, want the write's *net.OpError with ECONNRESET", err)
	}
}
