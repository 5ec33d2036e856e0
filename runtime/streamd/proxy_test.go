package streamd

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/errlog"
	"github.com/zonesync/zonesync/runtime/testnet"
)

// Backends on loopback for the proxy tests. Each is closed when the test
// ends, after the connections it accepted.

type backend struct {
	ln    net.Listener
	addr  string
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// startBackend serves each connection with h on a fresh loopback port.
func startBackend(t testing.TB, h func(c net.Conn)) *backend {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, addr: ln.Addr().String()}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				h(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

// namer sends its name and closes.
func namer(t testing.TB, name string) *backend {
	return startBackend(t, func(c net.Conn) {
		c.Write([]byte(name + "\n"))
		c.Close()
	})
}

// echo sends back what it reads; when the client has closed its side it
// sends "after-eof\n" and closes.
func echo(t testing.TB) *backend {
	return startBackend(t, func(c net.Conn) {
		io.Copy(c, c)
		c.Write([]byte("after-eof\n"))
		c.Close()
	})
}

// silent accepts and never sends; the connection stays open until the
// test ends.
func silent(t testing.TB) *backend {
	return startBackend(t, func(c net.Conn) { io.Copy(io.Discard, c) })
}

// ticker sends n lines, one every d, then closes.
func ticker(t testing.TB, n int, d time.Duration) *backend {
	return startBackend(t, func(c net.Conn) {
		defer c.Close()
		tk := time.NewTicker(d)
		defer tk.Stop()
		for i := range n {
			<-tk.C
			if _, err := fmt.Fprintf(c, "tick %d\n", i); err != nil {
				return
			}
		}
	})
}

// refused is a loopback address nothing listens on.
func refused(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

// blackhole is a loopback address whose listen queue is full: Linux drops
// a SYN to it, so a connect neither succeeds nor fails until its timeout.
func blackhole(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "blackhole")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// One connection fills a queue of backlog 0; it is never accepted.
	filler, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filler.Close()
		ln.Close()
	})
	return addr
}

// logBuffer collects the node's error log in nginx's format.
type logBuffer struct{ testnet.Buffer }

var logPrefix = regexp.MustCompile(`(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: `)

// lines returns the log without dates and pids: "[error] *1 connect()...".
func (l *logBuffer) lines() []string {
	s := logPrefix.ReplaceAllString(l.String(), "$1 ")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// has reports whether a line of the log is want.
func (l *logBuffer) has(want string) bool {
	for _, line := range l.lines() {
		if line == want {
			return true
		}
	}
	return false
}

func errorLog(t testing.TB) (zerolog.Logger, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	l, err := errlog.New([]errlog.Target{{Level: directives.Info}}, buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l.Zerolog(), buf
}

// dialSession connects to addr, sends send (then shuts its write side down
// when closeWrite), and returns what it reads until the server closes.
func dialSession(t testing.TB, addr, send string, closeWrite bool) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if send != "" {
		c.Write([]byte(send))
	}
	if closeWrite {
		c.(*net.TCPConn).CloseWrite()
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return string(b) + "(" + err.Error() + ")"
	}
	return string(b)
}

// proxyServer starts a stream configuration with an access log of
// lf's format and returns the error log and a reader of the access log.
func proxyServer(t *testing.T, body string, deps Deps) (*logBuffer, func() []string) {
	t.Helper()
	dir := t.TempDir()
	var buf *logBuffer
	deps.Log, buf = errorLog(t)
	startServer(t, dir, "events {}\n"+strings.ReplaceAll(body, "{{DIR}}", dir), deps)
	return buf, func() []string {
		b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
}

const testFormat = `log_format t '$status $upstream_addr sent=$bytes_sent recv=$bytes_received us=$upstream_bytes_sent ur=$upstream_bytes_received uc=$upstream_connect_time';
  access_log {{DIR}}/access.log t;`

// nginx's smooth weighted round robin over 5:1:1 (see nginx_proxy_test.go
// for the same order from nginx itself).
func TestProxyRoundRobinWeights(t *testing.T) {
	a, b, c := namer(t, "a"), namer(t, "b"), namer(t, "c")
	port := freePort(t)
	proxyServer(t, fmt.Sprintf(`stream {
  upstream u { server %s weight=5; server %s; server %s; }
  server { listen 127.0.0.1:%d; proxy_pass u; }
}`, a.addr, b.addr, c.addr, port), Deps{})
	var got []string
	for range 14 {
		got = append(got, strings.TrimSpace(dialSession(t, fmt.Sprintf("127.0.0.1:%d", port), "", false)))
	}
	want := "a a b a c a a a a b a c a a"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %q, want %q", strings.Join(got, " "), want)
	}
}

// A refused connect is logged as nginx logs it, the peer is taken out
// (max_fails=1) and the next one serves the session; $upstream_addr
// lists both tries.
func TestProxyFailover(t *testing.T) {
	b := namer(t, "b")
	dead := refused(t)
	port := freePort(t)
	elog, alog := proxyServer(t, fmt.Sprintf(`stream {
  %s
  upstream u { server %s; server %s; }
  server { listen 127.0.0.1:%d; proxy_pass u; }
}`, testFormat, dead, b.addr, port), Deps{})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if got := dialSession(t, addr, "", false); got != "b\n" {
		t.Fatalf("first session got %q", got)
	}
	ctx := fmt.Sprintf(`, client: 127.0.0.1, server: %s, upstream: "%s", bytes from/to client:0/0, bytes from/to upstream:0/0`, addr, dead)
	for _, want := range []string{
		"[error] *1 connect() failed (111: Connection refused) while connecting to upstream" + ctx,
		"[warn] *1 upstream server temporarily disabled while connecting to upstream" + ctx,
		"[info] *1 upstream disconnected, bytes from/to client:0/2, bytes from/to upstream:2/0",
	} {
		if !elog.has(want) {
			t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
		}
	}
	if got := dialSession(t, addr, "", false); got != "b\n" {
		t.Fatalf("second session got %q", got)
	}
	want := []string{
		fmt.Sprintf("200 %s, %s sent=2 recv=0 us=0, 0 ur=0, 2 uc=-, 0.000", dead, b.addr),
		fmt.Sprintf("200 %s sent=2 recv=0 us=0 ur=2 uc=0.000", b.addr),
	}
	if got := maskTimes(alog()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("access log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var timeValue = regexp.MustCompile(`\b\d+\.\d{3}\b`)

// maskTimes writes every time of a log line as 0.000.
func maskTimes(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = timeValue.ReplaceAllString(l, "0.000")
	}
	return out
}

// Backup servers serve only when no primary one can; with every server
// out, the session is 502 and the next one finds no live upstreams.
func TestProxyBackupAndNoLive(t *testing.T) {
	primary, spare := namer(t, "primary"), namer(t, "spare")
	dead1, dead2 := refused(t), refused(t)
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	elog, alog := proxyServer(t, fmt.Sprintf(`stream {
  %s
  upstream ok { server %s; server %s backup; }
  upstream fallback { server %s; server %s backup; }
  upstream dead { server %s; server %s; }
  server { listen 127.0.0.1:%d; proxy_pass ok; }
  server { listen 127.0.0.1:%d; proxy_pass fallback; }
  server { listen 127.0.0.1:%d; proxy_pass dead; }
}`, testFormat, primary.addr, spare.addr, dead1, spare.addr, dead1, dead2, p1, p2, p3), Deps{})
	for i := range 3 {
		if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p1), "", false); got != "primary\n" {
			t.Fatalf("session %d with a live primary: %q", i, got)
		}
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p2), "", false); got != "spare\n" {
		t.Fatalf("fallback: %q", got)
	}
	deadAddr := fmt.Sprintf("127.0.0.1:%d", p3)
	for i := range 2 {
		if got := dialSession(t, deadAddr, "", false); got != "" {
			t.Fatalf("dead session %d: %q", i, got)
		}
	}
	want := fmt.Sprintf(`[error] *6 no live upstreams while connecting to upstream, client: 127.0.0.1, server: %s, upstream: "dead", bytes from/to client:0/0, bytes from/to upstream:0/0`, deadAddr)
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
	got := maskTimes(alog())
	wantLog := []string{
		fmt.Sprintf("200 %s, %s sent=6 recv=0 us=0, 0 ur=0, 6 uc=-, 0.000", dead1, spare.addr),
		fmt.Sprintf("502 %s, %s sent=0 recv=0 us=0, 0 ur=0, 0 uc=-, -", dead1, dead2),
		"502 dead sent=0 recv=0 us=0 ur=0 uc=-",
	}
	if strings.Join(got[3:], "\n") != strings.Join(wantLog, "\n") {
		t.Fatalf("access log:\n%s\nwant (after the 3 first):\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
}

// proxy_timeout ends a session when neither side sends for that long,
// and only then: a backend that sends more slowly than the timeout in all
// but less than it between two sends keeps the session.
func TestProxyTimeout(t *testing.T) {
	quiet, slow := silent(t), ticker(t, 5, 60*time.Millisecond)
	p1, p2 := freePort(t), freePort(t)
	elog, alog := proxyServer(t, fmt.Sprintf(`stream {
  %s
  proxy_timeout 200ms;
  server { listen 127.0.0.1:%d; proxy_pass %s; }
  server { listen 127.0.0.1:%d; proxy_pass %s; }
}`, testFormat, p1, quiet.addr, p2, slow.addr), Deps{})
	addr := fmt.Sprintf("127.0.0.1:%d", p1)
	start := time.Now()
	if got := dialSession(t, addr, "hi", false); got != "" {
		t.Fatalf("idle session got %q", got)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("the idle session ended after %v", d)
	}
	want := fmt.Sprintf(`[info] *1 connection timed out (110: Connection timed out) while proxying connection, client: 127.0.0.1, server: %s, upstream: "%s", bytes from/to client:2/0, bytes from/to upstream:0/2`, addr, quiet.addr)
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p2), "", false); got != "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n" {
		t.Fatalf("a session active within proxy_timeout was cut: %q", got)
	}
	if got := maskTimes(alog())[0]; got != fmt.Sprintf("200 %s sent=0 recv=2 us=2 ur=0 uc=0.000", quiet.addr) {
		t.Fatalf("access log: %q", got)
	}
}

// proxy_connect_timeout toward a peer that never answers: "upstream timed
// out", then the next peer.
func TestProxyConnectTimeout(t *testing.T) {
	hole, b := blackhole(t), namer(t, "b")
	p1, p2 := freePort(t), freePort(t)
	elog, alog := proxyServer(t, fmt.Sprintf(`stream {
  %s
  proxy_connect_timeout 200ms;
  upstream u { server %s; server %s; }
  server { listen 127.0.0.1:%d; proxy_pass %s; }
  server { listen 127.0.0.1:%d; proxy_pass u; }
}`, testFormat, hole, b.addr, p1, hole, p2), Deps{})
	addr := fmt.Sprintf("127.0.0.1:%d", p1)
	if got := dialSession(t, addr, "", false); got != "" {
		t.Fatalf("got %q", got)
	}
	want := fmt.Sprintf(`[error] *1 upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: %s, upstream: "%s", bytes from/to client:0/0, bytes from/to upstream:0/0`, addr, hole)
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p2), "", false); got != "b\n" {
		t.Fatalf("failover after a timeout: %q", got)
	}
	wantLog := []string{
		fmt.Sprintf("502 %s sent=0 recv=0 us=0 ur=0 uc=-", hole),
		fmt.Sprintf("200 %s, %s sent=2 recv=0 us=0, 0 ur=0, 2 uc=-, 0.000", hole, b.addr),
	}
	if got := maskTimes(alog()); strings.Join(got, "\n") != strings.Join(wantLog, "\n") {
		t.Fatalf("access log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
}

// Without proxy_half_close the session ends when the client closes its
// side, once what it sent is passed on; with it, the upstream's side is
// shut down and the session goes on until the upstream closes too.
func TestProxyHalfClose(t *testing.T) {
	e := echo(t)
	p1, p2 := freePort(t), freePort(t)
	elog, _ := proxyServer(t, fmt.Sprintf(`stream {
  server { listen 127.0.0.1:%d; proxy_pass %s; }
  server { listen 127.0.0.1:%d; proxy_pass %s; proxy_half_close on; }
}`, p1, e.addr, p2, e.addr), Deps{})
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p1), "hello\n", true); strings.Contains(got, "after-eof") {
		t.Fatalf("the session went on after the client closed: %q", got)
	}
	var closed bool
	for _, l := range elog.lines() {
		closed = closed || strings.HasPrefix(l, "[info] *1 client disconnected, bytes from/to client:6/")
	}
	if !closed {
		t.Errorf("no client disconnected line in\n%s", strings.Join(elog.lines(), "\n"))
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p2), "hello\n", true); got != "hello\nafter-eof\n" {
		t.Fatalf("half-close: %q", got)
	}
	want := "[info] *2 upstream disconnected, bytes from/to client:6/16, bytes from/to upstream:16/6"
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
}

// The stream deny-list: a keyval variable feeds a map that names the
// upstream; the zone's content at session time decides. Variables may
// also name an address; a name that is no upstream needs a resolver.
func TestProxyVariableTarget(t *testing.T) {
	good, hole := namer(t, "backend"), namer(t, "blackhole")
	ip := namer(t, "by-address")
	zone := &fakeZone{values: map[string]string{}}
	p1, p2 := freePort(t), freePort(t)
	elog, alog := proxyServer(t, fmt.Sprintf(`stream {
  %s
  keyval_zone zone=denylist:1m;
  keyval $remote_addr $blocked zone=denylist;
  map $blocked $target { "" backend; default blackhole; }
  upstream backend { server %s; }
  upstream blackhole { server %s; }
  map $server_addr $other { 127.0.0.1 %s; default nosuch; }
  server { listen 127.0.0.1:%d; proxy_pass $target; }
  server { listen 127.0.0.1:%d; listen 127.0.0.2:%d; proxy_pass $other; }
}`, testFormat, good.addr, hole.addr, ip.addr, p1, p2, p2), Deps{Zone: func(name string) KeyvalLookup {
		if name == "denylist" {
			return zone
		}
		return nil
	}})
	addr := fmt.Sprintf("127.0.0.1:%d", p1)
	if got := dialSession(t, addr, "", false); got != "backend\n" {
		t.Fatalf("not blocked: %q", got)
	}
	zone.mu.Lock()
	zone.values["127.0.0.1"] = "1"
	zone.mu.Unlock()
	if got := dialSession(t, addr, "", false); got != "blackhole\n" {
		t.Fatalf("blocked: %q", got)
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p2), "", false); got != "by-address\n" {
		t.Fatalf("address in a variable: %q", got)
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.2:%d", p2), "", false); got != "" {
		t.Fatalf("no port: %q", got)
	}
	want := fmt.Sprintf(`[error] *4 no port in upstream "nosuch", client: 127.0.0.1, server: 127.0.0.2:%d, bytes from/to client:0/0, bytes from/to upstream:0/0`, p2)
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
	wantLog := []string{
		fmt.Sprintf("200 %s sent=8 recv=0 us=0 ur=8 uc=0.000", good.addr),
		fmt.Sprintf("200 %s sent=10 recv=0 us=0 ur=10 uc=0.000", hole.addr),
		fmt.Sprintf("200 %s sent=11 recv=0 us=0 ur=11 uc=0.000", ip.addr),
		"500 - sent=0 recv=0 us=- ur=- uc=-",
	}
	if got := maskTimes(alog()); strings.Join(got, "\n") != strings.Join(wantLog, "\n") {
		t.Fatalf("access log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
}

// A name that is no upstream is not resolved without a resolver.
func TestProxyVariableNeedsResolver(t *testing.T) {
	port := freePort(t)
	elog, _ := proxyServer(t, fmt.Sprintf(`stream {
  server { listen 127.0.0.1:%d; proxy_pass example.invalid:$server_port; }
}`, port), Deps{})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if got := dialSession(t, addr, "", false); got != "" {
		t.Fatalf("got %q", got)
	}
	want := fmt.Sprintf(`[error] *1 no resolver defined to resolve example.invalid, client: 127.0.0.1, server: %s, bytes from/to client:0/0, bytes from/to upstream:0/0`, addr)
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
}

// "listen ... ssl" proxies the decrypted stream.
func TestProxyTLS(t *testing.T) {
	e := echo(t)
	port := freePort(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, "s.test")
	os.WriteFile(filepath.Join(dir, "s.crt"), []byte(cert), 0o644)
	os.WriteFile(filepath.Join(dir, "s.key"), []byte(key), 0o600)
	startServer(t, dir, fmt.Sprintf(`events {}
stream {
  log_format t '$status $ssl_protocol $bytes_received/$bytes_sent $upstream_bytes_sent/$upstream_bytes_received';
  access_log access.log t;
  server { listen 127.0.0.1:%d ssl; ssl_certificate s.crt; ssl_certificate_key s.key; proxy_pass %s; proxy_half_close on; }
}`, port, e.addr), Deps{})
	c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true, ServerName: "s.test", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("secret\n"))
	c.CloseWrite()
	b, err := io.ReadAll(c)
	if string(b) != "secret\nafter-eof\n" || err != nil {
		t.Fatalf("got %q, %v", b, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	if string(got) != "200 TLSv1.2 7/17 7/17\n" {
		t.Fatalf("access log %q", got)
	}
}

// The pieces of nginx's rate limit: a read may take what the seconds
// since the start (plus one) allow; past that it waits; after a read it
// pauses for what was read.
func TestRateLimit(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, c := range []struct {
		name     string
		now      time.Time
		received int64
		allowed  int64
		wait     time.Duration
	}{
		{"first second", start, 0, 100, 0},
		{"part used", start.Add(500 * time.Millisecond), 60, 40, 0},
		{"second used up", start.Add(900 * time.Millisecond), 100, 0, 1 * time.Millisecond},
		{"ahead by half", start, 150, 0, 501 * time.Millisecond},
		{"next second", start.Add(1100 * time.Millisecond), 100, 100, 0},
	} {
		allowed, wait := rateAllowance(100, start, c.now, c.received)
		if allowed != c.allowed || wait != c.wait {
			t.Errorf("%s: allowance %d, wait %v; want %d, %v", c.name, allowed, wait, c.allowed, c.wait)
		}
	}
	if d := rateDelay(100, 50); d != 500*time.Millisecond {
		t.Errorf("delay after 50 bytes at 100/s: %v", d)
	}
	if d := rateDelay(1000, 0); d != 0 {
		t.Errorf("delay after nothing: %v", d)
	}
}

// A rate-limited session still carries every byte.
func TestProxyRateLimitedSession(t *testing.T) {
	e := echo(t)
	port := freePort(t)
	proxyServer(t, fmt.Sprintf(`stream {
  server { listen 127.0.0.1:%d; proxy_pass %s; proxy_half_close on; proxy_upload_rate 64k; proxy_download_rate $server_port; }
}`, port, e.addr), Deps{})
	payload := strings.Repeat("0123456789", 100)
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", port), payload, true); got != payload+"after-eof\n" {
		t.Fatalf("got %d bytes", len(got))
	}
}

// The other balancers run through runtime/upstream: hash with the
// session's key, least_conn counting a session until it ends.
func TestProxyBalancers(t *testing.T) {
	a, b, c := namer(t, "a"), namer(t, "b"), namer(t, "c")
	arrived := make(chan struct{}, 1)
	hold := startBackend(t, func(c net.Conn) {
		arrived <- struct{}{}
		io.Copy(io.Discard, c)
	})
	hashPort, leastPort := freePort(t), freePort(t)
	proxyServer(t, fmt.Sprintf(`stream {
  upstream h { hash $remote_addr; server %s; server %s; server %s; }
  upstream l { least_conn; server %s; server %s; }
  server { listen 127.0.0.1:%d; proxy_pass h; }
  server { listen 127.0.0.1:%d; proxy_pass l; }
}`, a.addr, b.addr, c.addr, hold.addr, b.addr, hashPort, leastPort), Deps{})
	first := ""
	for range 6 {
		got := strings.TrimSpace(dialSession(t, fmt.Sprintf("127.0.0.1:%d", hashPort), "", false))
		if first == "" {
			first = got
		}
		if got != first || got == "" {
			t.Fatalf("hash $remote_addr: one client went to %q and to %q", first, got)
		}
	}
	// The first least_conn session goes to the silent backend and stays;
	// every later one goes to the server without a session.
	held, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", leastPort))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the first least_conn session never reached the first server")
	}
	for range 4 {
		if got := strings.TrimSpace(dialSession(t, fmt.Sprintf("127.0.0.1:%d", leastPort), "", false)); got != "b" {
			t.Fatalf("least_conn with a session held on the other server: %q, want b", got)
		}
	}
}

// What the stream proxy refuses to run, with the directive's position.
func TestProxyRefused(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
	}{
		{"proxy_ssl", `server { listen 127.0.0.1:{{P}}; proxy_pass 127.0.0.1:1; proxy_ssl on; }`,
			`"proxy_ssl" is not supported by the stream proxy in `},
		{"transparent", `proxy_bind 127.0.0.1 transparent; server { listen 127.0.0.1:{{P}}; proxy_pass 127.0.0.1:1; }`,
			`"proxy_bind ... transparent" is not supported in `},
		{"unknown format", `access_log x.log nosuch; server { listen 127.0.0.1:{{P}}; proxy_pass 127.0.0.1:1; }`,
			`unknown log format "nosuch" in `},
		{"no format", `server { listen 127.0.0.1:{{P}}; proxy_pass 127.0.0.1:1; access_log x.log; }`,
			`log format is not specified in `},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := strings.ReplaceAll(c.body, "{{P}}", fmt.Sprint(freePort(t)))
			cfg := loadConfig(t, t.TempDir(), "events {}\nstream { "+body+" }")
			_, err := New(cfg, Deps{Log: zerolog.Nop()})
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("New: %v, want %q", err, c.want)
			}
		})
	}
}

// proxy_bind sets the local address of the upstream connection.
func TestProxyBind(t *testing.T) {
	seen := make(chan string, 1)
	b := startBackend(t, func(c net.Conn) {
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		seen <- host
		c.Close()
	})
	port := freePort(t)
	proxyServer(t, fmt.Sprintf(`stream {
  server { listen 127.0.0.1:%d; proxy_pass %s; proxy_bind 127.0.0.3; }
}`, port, b.addr), Deps{})
	dialSession(t, fmt.Sprintf("127.0.0.1:%d", port), "", false)
	if got := <-seen; got != "127.0.0.3" {
		t.Fatalf("the upstream saw %s", got)
	}
}

// Access log escaping and "-" for variables nginx does not find.
func TestStreamAccessLogEscaping(t *testing.T) {
	port := freePort(t)
	zone := &fakeZone{values: map[string]string{}}
	_, alog := proxyServer(t, fmt.Sprintf(`stream {
  keyval_zone zone=kv:1m;
  keyval $remote_addr $kv zone=kv;
  log_format d '[$kv] [$ssl_protocol] [$upstream_addr] $status "$v"';
  log_format j escape=json '{"kv":"$kv","v":"$v"}';
  access_log {{DIR}}/access.log d;
  access_log {{DIR}}/access.log j;
  server { listen 127.0.0.1:%d; set $v 'a"b\\c'; return "ok"; }
}`, port), Deps{Zone: func(string) KeyvalLookup { return zone }})
	dialSession(t, fmt.Sprintf("127.0.0.1:%d", port), "", false)
	want := `[-] [-] [-] 200 "a\x22b\x5Cc"` + "\n" + `{"kv":"","v":"a\"b\\c"}`
	if got := strings.Join(alog(), "\n"); got != want {
		t.Fatalf("access log:\n%s\nwant:\n%s", got, want)
	}
}

// startDNS answers A queries for the names in hosts from a UDP server on
// loopback; other names are NXDOMAIN, and AAAA queries get no records.
func startDNS(t testing.TB, hosts map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		ip, ok := hosts[strings.TrimSuffix(strings.ToLower(q.Name), ".")]
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.ParseIP(ip)})
		}
		w.WriteMsg(m)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return pc.LocalAddr().String()
}

// With a resolver, a name in a variable target is resolved when the
// session starts; a name that does not resolve ends the session (500).
func TestProxyVariableResolved(t *testing.T) {
	b := namer(t, "resolved")
	_, bport, _ := net.SplitHostPort(b.addr)
	dnsAddr := startDNS(t, map[string]string{"backend.test": "127.0.0.1"})
	p1, p2 := freePort(t), freePort(t)
	elog, alog := proxyServer(t, fmt.Sprintf(`stream {
  %s
  resolver %s;
  resolver_timeout 5s;
  map $server_port $target { %d backend.test:%s; default nosuch.test:%s; }
  server { listen 127.0.0.1:%d; listen 127.0.0.1:%d; proxy_pass $target; }
}`, testFormat, dnsAddr, p1, bport, bport, p1, p2), Deps{})
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p1), "", false); got != "resolved\n" {
		t.Fatalf("resolved name: %q", got)
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p2), "", false); got != "" {
		t.Fatalf("unknown name: %q", got)
	}
	want := fmt.Sprintf(`[error] *2 nosuch.test could not be resolved (3: Host not found), client: 127.0.0.1, server: 127.0.0.1:%d, bytes from/to client:0/0, bytes from/to upstream:0/0`, p2)
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
	wantLog := []string{
		fmt.Sprintf("200 %s sent=9 recv=0 us=0 ur=9 uc=0.000", b.addr),
		"500 - sent=0 recv=0 us=- ur=- uc=-",
	}
	if got := maskTimes(alog()); strings.Join(got, "\n") != strings.Join(wantLog, "\n") {
		t.Fatalf("access log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
}

// A proxied session keeps a graceful shutdown waiting; when the
// shutdown's context ends, both of its connections are closed and every
// goroutine ends.
func TestProxyForcedShutdown(t *testing.T) {
	quiet := silent(t)
	port := freePort(t)
	s, err := New(loadConfig(t, t.TempDir(), fmt.Sprintf(`
events {}
stream { server { listen 127.0.0.1:%d; proxy_pass %s; } }`, port, quiet.addr)), Deps{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(); close(done) }()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The echo of a byte through a silent backend never comes; the
	// session is in its relay once the backend has the byte.
	c.Write([]byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		var relaying bool
		for ss := range s.sessions {
			relaying = ss.upSent.Load() == 1
		}
		s.mu.Unlock()
		if relaying {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session did not reach its relay")
		}
		tm := time.NewTimer(time.Millisecond)
		<-tm.C
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with an ended context returned nil")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client's connection is still open")
	}
}

// A UNIX socket upstream; one that does not exist is logged as nginx
// logs a connect() that fails at once.
func TestProxyUnixUpstream(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "b.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("unix\n"))
			c.Close()
		}
	}()
	p1, p2 := freePort(t), freePort(t)
	missing := filepath.Join(dir, "missing.sock")
	elog, _ := proxyServer(t, fmt.Sprintf(`stream {
  server { listen 127.0.0.1:%d; proxy_pass unix:%s; }
  server { listen 127.0.0.1:%d; proxy_pass unix:%s; }
}`, p1, sock, p2, missing), Deps{})
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p1), "", false); got != "unix\n" {
		t.Fatalf("got %q", got)
	}
	if got := dialSession(t, fmt.Sprintf("127.0.0.1:%d", p2), "", false); got != "" {
		t.Fatalf("got %q", got)
	}
	want := fmt.Sprintf(`[crit] *2 connect() to unix:%s failed (2: No such file or directory) while connecting to upstream, client: 127.0.0.1, server: 127.0.0.1:%d, upstream: "unix:%s", bytes from/to client:0/0, bytes from/to upstream:0/0`, missing, p2, missing)
	if !elog.has(want) {
		t.Errorf("no log line %q in\n%s", want, strings.Join(elog.lines(), "\n"))
	}
}
