package httpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/testnet"
)

// freePort returns a port on 127.0.0.1 for a server to bind (see testnet).
func freePort(t testing.TB) int { return testnet.Port(t, "127.0.0.1") }

// expand replaces {{NAME}} in a template.
func expand(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	return tmpl
}

// loadConfig writes a configuration into dir and loads and checks it as
// zonesync -t does.
func loadConfig(t testing.TB, dir, text string) *directives.Config {
	t.Helper()
	file := filepath.Join(dir, "nginx.conf")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var warns []string
	cfg, err := directives.Load(directives.Options{Prefix: dir + "/", ConfFile: file,
		Log: func(s directives.Severity, err error) { warns = append(warns, err.Error()) }})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, text)
	}
	if err := cfg.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	return cfg
}

// testLog collects the server's log lines.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

// running is a server under test.
type running struct {
	s    *Server
	log  *testLog
	done chan struct{}
	dir  string
}

// startServer loads a configuration, starts the core and stops it when the
// test ends.
func startServer(t testing.TB, dir, text string, deps Deps) *running {
	t.Helper()
	cfg := loadConfig(t, dir, text)
	lg := &testLog{}
	deps.Log = zerolog.New(lg)
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	rn := &running{s: s, log: lg, done: make(chan struct{}), dir: dir}
	go func() {
		s.Serve()
		close(rn.done)
	}()
	t.Cleanup(func() { rn.stop(t) })
	return rn
}

func (rn *running) stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rn.s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case <-rn.done:
	case <-time.After(5 * time.Second):
		t.Errorf("Serve did not return after Shutdown")
	}
}

// rawResponse is a response as read off the wire.
type rawResponse struct {
	status  string // the status line
	headers []string
	body    string
	closed  bool // the server closed the connection after it
	none    bool // the connection closed with no response at all
}

func (r rawResponse) header(name string) string {
	for _, h := range r.headers {
		if k, v, ok := strings.Cut(h, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// String is the response with the Date masked, for comparisons.
func (r rawResponse) String() string {
	if r.none {
		return "(connection closed, no response)"
	}
	var b strings.Builder
	b.WriteString(r.status + "\n")
	for _, h := range r.headers {
		if strings.HasPrefix(h, "Date: ") {
			h = "Date: *"
		}
		b.WriteString(h + "\n")
	}
	b.WriteString("\n" + r.body)
	if r.closed {
		b.WriteString("\n(closed)")
	}
	return b.String()
}

// client is a raw HTTP/1.x connection.
type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, network, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.nc, raw); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one response; head says whether it answers a HEAD request.
func (c *client) read(head bool) rawResponse {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var r rawResponse
	line, err := c.br.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && line == "" {
			return rawResponse{none: true, closed: true}
		}
		c.t.Fatalf("read status line: %v (%q)", err, line)
	}
	r.status = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(r.status, "HTTP/") {
		// HTTP/0.9: the body alone, up to the close.
		rest, _ := io.ReadAll(c.br)
		r.body = line + string(rest)
		r.status, r.closed = "(HTTP/0.9)", true
		return r
	}
	length := -1
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read header: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		r.headers = append(r.headers, line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			length, _ = strconv.Atoi(v)
		}
	}
	code := r.status[9:12]
	switch {
	case head || code == "204" || code == "304" || strings.HasPrefix(code, "1"):
	case length >= 0:
		buf := make([]byte, length)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			c.t.Fatalf("read body: %v", err)
		}
		r.body = string(buf)
	default:
		rest, _ := io.ReadAll(c.br)
		r.body = string(rest)
		r.closed = true
		return r
	}
	if r.header("Connection") == "close" {
		r.closed = c.waitEOF()
	}
	return r
}

// waitEOF reads until the server closes the connection (within a
// deadline); it reports whether it did.
func (c *client) waitEOF() bool {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c.br)
	return err == nil
}

// do sends one request on a new connection and reads the response.
func do(t testing.TB, addr, raw string) rawResponse {
	t.Helper()
	c := dial(t, "tcp", addr)
	c.send(raw)
	return c.read(strings.HasPrefix(raw, "HEAD "))
}

// get is a GET with a Host header.
func get(t testing.TB, addr, host, uri string) rawResponse {
	t.Helper()
	return do(t, addr, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", uri, host))
}
