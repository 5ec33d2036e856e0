package httpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
)

// fakeZone is a keyval zone kept in a map.
type fakeZone struct {
	mu     sync.Mutex
	values map[string]string
	keys   []string // keys looked up
}

func (z *fakeZone) Match(key string) ([]byte, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.keys = append(z.keys, key)
	v, ok := z.values[key]
	return []byte(v), ok
}

func (z *fakeZone) set(key, v string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if v == "" {
		delete(z.values, key)
		return
	}
	z.values[key] = v
}

// The deny-list pattern of the keyval documentation: the client address
// is looked up in a zone, and a value denies.
func TestKeyvalDenyList(t *testing.T) {
	port := freePort(t)
	deny := &fakeZone{values: map[string]string{"127.0.0.1": "1"}}
	conf := fmt.Sprintf(`
events {}
http {
  access_log off;
  keyval_zone zone=deny:1m type=ip;
  keyval $remote_addr $blocked zone=deny;
  keyval $http_x_user $plan zone=plans;
  keyval_zone zone=plans:1m;
  server {
    listen 127.0.0.1:%d;
    if ($blocked) { return 403; }
    location / { return 200 "welcome $remote_addr plan=$plan\n"; }
  }
}`, port)
	plans := &fakeZone{values: map[string]string{"ann": "gold"}}
	zones := map[string]KeyvalLookup{"deny": deny, "plans": plans}
	startServer(t, t.TempDir(), conf, Deps{Zone: func(name string) KeyvalLookup { return zones[name] }})
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	if r := get(t, addr, "t", "/"); !strings.HasPrefix(r.status, "HTTP/1.1 403 ") {
		t.Fatalf("blocked client: %s", r)
	}
	deny.set("127.0.0.1", "")
	r := do(t, addr, "GET / HTTP/1.1\r\nHost: t\r\nX-User: ann\r\nConnection: close\r\n\r\n")
	if r.status != "HTTP/1.1 200 OK" || r.body != "welcome 127.0.0.1 plan=gold\n" {
		t.Fatalf("unblocked client: %s", r)
	}
	deny.set("127.0.0.1", "0")
	if r := get(t, addr, "t", "/"); r.status != "HTTP/1.1 200 OK" {
		t.Fatalf(`"0" is false: %s`, r)
	}
	deny.mu.Lock()
	defer deny.mu.Unlock()
	for _, k := range deny.keys {
		if k != "127.0.0.1" {
			t.Errorf("zone looked up with %q, want the client address", k)
		}
	}
}

func TestKeyvalUnknownZone(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t, dir, `
events {}
http {
  keyval_zone zone=deny:1m;
  keyval $remote_addr $blocked zone=deny;
  server { listen 127.0.0.1:1; return 200; }
}`)
	_, err := New(cfg, Deps{Log: zerolog.Nop(), Zone: func(string) KeyvalLookup { return nil }})
	if err == nil || !strings.Contains(err.Error(), `unknown keyval zone "deny"`) {
		t.Fatalf("New: %v", err)
	}
}

func TestAPIHandler(t *testing.T) {
	port := freePort(t)
	conf := fmt.Sprintf(`
events {}
http {
  access_log off;
  server {
    listen 127.0.0.1:%d;
    location /api/ {
      api write=on;
      client_max_body_size 16;
      add_header X-Added yes;
    }
  }
}`, port)
	var seen *directives.HTTPLocationConf
	api := func(loc *directives.HTTPLocationConf) http.Handler {
		seen = loc
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/panic" {
				panic("boom")
			}
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Path", r.URL.Path)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"method":%q,"query":%q,"body":%q,"host":%q,"write":%t}`,
				r.Method, r.URL.RawQuery, body, r.Host, seen.API.Write)
		})
	}
	startServer(t, t.TempDir(), conf, Deps{API: api})
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	r := do(t, addr, "POST /api/9/x?a=1 HTTP/1.1\r\nHost: node\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	want := "HTTP/1.1 201 Created\nServer: zonesync\nDate: *\nContent-Type: application/json\nContent-Length: 73\n" +
		"Connection: close\nX-Path: /api/9/x\nX-Added: yes\n\n" +
		`{"method":"POST","query":"a=1","body":"abcde","host":"node","write":true}` + "\n(closed)"
	if r.String() != want {
		t.Errorf("API answer:\n%s\nwant\n%s", r, want)
	}
	r = do(t, addr, "POST /api/x HTTP/1.1\r\nHost: node\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n")
	if !strings.HasPrefix(r.status, "HTTP/1.1 413 ") {
		t.Errorf("chunked body over client_max_body_size: %s", r)
	}
	r = do(t, addr, "GET /api/panic HTTP/1.1\r\nHost: node\r\n\r\n")
	if !strings.HasPrefix(r.status, "HTTP/1.1 500 ") || r.header("Connection") != "close" {
		t.Errorf("panicking handler: %s", r)
	}
}

func TestAPIWithoutHandler(t *testing.T) {
	cfg := loadConfig(t, t.TempDir(), `
events {}
http { server { listen 127.0.0.1:1; location /api { api; } } }`)
	if _, err := New(cfg, Deps{Log: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "no API handler") {
		t.Fatalf("New: %v", err)
	}
}

// blockingAPI is an API whose requests wait until released (or until
// their context ends).
type blockingAPI struct {
	entered  chan struct{}
	release  chan struct{}
	canceled chan struct{}
}

func newBlockingAPI() *blockingAPI {
	return &blockingAPI{entered: make(chan struct{}, 1), release: make(chan struct{}), canceled: make(chan struct{}, 1)}
}

func (b *blockingAPI) deps() Deps {
	return Deps{API: func(*directives.HTTPLocationConf) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.entered <- struct{}{}
			select {
			case <-b.release:
				io.WriteString(w, "released\n")
			case <-r.Context().Done():
				b.canceled <- struct{}{}
			}
		})
	}}
}

const blockingConf = `
events {}
http {
  access_log off;
  server {
    listen 127.0.0.1:%d;
    location /block { api; }
    location / { return 200 "quick\n"; }
  }
}`

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// QUIT: idle connections close, the socket closes, a request in progress
// finishes (with "Connection: close"), then Shutdown returns.
func TestGracefulShutdown(t *testing.T) {
	port := freePort(t)
	api := newBlockingAPI()
	rn := startServer(t, t.TempDir(), fmt.Sprintf(blockingConf, port), api.deps())
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	idle := dial(t, "tcp", addr)
	idle.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := idle.read(false); r.header("Connection") != "keep-alive" {
		t.Fatalf("first answer: %s", r)
	}
	busy := dial(t, "tcp", addr)
	busy.send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n")
	wait(t, api.entered, "the request to reach the handler")

	shut := make(chan error, 1)
	go func() { shut <- rn.s.Shutdown(context.Background()) }()
	if !idle.waitEOF() {
		t.Fatal("the idle connection was not closed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listening socket stays open")
		}
		waitABit(time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned before the request ended: %v", err)
	default:
	}
	close(api.release)
	r := busy.read(false)
	if r.body != "released\n" || r.header("Connection") != "close" || !r.closed {
		t.Fatalf("request in progress: %s", r)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	wait(t, rn.done, "Serve to return")
	if err := rn.s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TERM: when the context ends, connections close at once and handlers see
// their request context canceled.
func TestImmediateShutdown(t *testing.T) {
	port := freePort(t)
	api := newBlockingAPI()
	rn := startServer(t, t.TempDir(), fmt.Sprintf(blockingConf, port), api.deps())
	busy := dial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	busy.send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n")
	wait(t, api.entered, "the request to reach the handler")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := rn.s.Shutdown(ctx)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	wait(t, api.canceled, "the handler's context to end")
	if r := busy.read(false); !r.none {
		t.Fatalf("answer after an immediate shutdown: %s", r)
	}
	wait(t, rn.done, "Serve to return")
}

func TestShutdownBeforeServe(t *testing.T) {
	port := freePort(t)
	cfg := loadConfig(t, t.TempDir(), fmt.Sprintf(blockingConf, port))
	s, err := New(cfg, newBlockingAPI().deps())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Serve() // returns at once
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Fatal("the socket is still open")
	}
}

func TestListenError(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().(*net.TCPAddr).Port
	free := freePort(t)
	cfg := loadConfig(t, t.TempDir(), fmt.Sprintf(`
events {}
http {
  server { listen 127.0.0.1:%d; return 200; }
  server { listen 127.0.0.1:%d; return 200; }
}`, free, taken))
	s, err := New(cfg, Deps{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Listen()
	want := fmt.Sprintf("bind() to 127.0.0.1:%d failed (98: Address already in use)", taken)
	if err == nil || err.Error() != want {
		t.Fatalf("Listen: %v, want %s", err, want)
	}
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", free))
	if err != nil {
		t.Fatalf("the socket bound before the failure was not closed: %v", err)
	}
	l.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// keepalive_timeout closes an idle connection; keepalive_requests limits
// the requests of one connection.
func TestKeepaliveLimits(t *testing.T) {
	port := freePort(t)
	startServer(t, t.TempDir(), fmt.Sprintf(`
events {}
http {
  access_log off;
  keepalive_timeout 50ms;
  keepalive_requests 2;
  server { listen 127.0.0.1:%d; location / { return 200 "r$connection_requests\n"; } }
}`, port), Deps{})
	c := dial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := c.read(false); r.body != "r1\n" || r.header("Connection") != "keep-alive" {
		t.Fatalf("first: %s", r)
	}
	c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := c.read(false); r.body != "r2\n" || r.header("Connection") != "close" || !r.closed {
		t.Fatalf("second (the last keepalive_requests allows): %s", r)
	}
	c = dial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	c.read(false)
	if !c.waitEOF() {
		t.Fatal("the idle connection outlived keepalive_timeout")
	}
}

// client_header_timeout runs while a head is incomplete, on a kept-alive
// connection too, where the wait for the request had keepalive_timeout.
func TestHeaderTimeout(t *testing.T) {
	port := freePort(t)
	startServer(t, t.TempDir(), fmt.Sprintf(`
events {}
http {
  access_log off;
  keepalive_timeout 1h;
  client_header_timeout 50ms;
  server { listen 127.0.0.1:%d; location / { return 200 "ok\n"; } }
}`, port), Deps{})
	c := dial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := c.read(false); r.body != "ok\n" {
		t.Fatalf("first: %s", r)
	}
	c.send("GET / HTTP/1.1\r\nHost: t\r\n") // no end
	if !c.waitEOF() {
		t.Fatal("an incomplete head outlived client_header_timeout")
	}
}

func TestClockVariables(t *testing.T) {
	port := freePort(t)
	now := time.Date(2025, 11, 26, 1, 2, 3, 456e6, time.UTC)
	startServer(t, t.TempDir(), fmt.Sprintf(`
events {}
http {
  access_log off;
  server { listen 127.0.0.1:%d; return 200 "$msec|$time_iso8601|$request_time|$nginx_version|$hostname\n"; }
}`, port), Deps{Now: func() time.Time { return now }})
	r := get(t, fmt.Sprintf("127.0.0.1:%d", port), "t", "/")
	host, _ := os.Hostname()
	want := "1764118923.456|2025-11-26T01:02:03Z|0.000|1.22.1|" + host + "\n"
	if r.body != want || r.header("Date") != "Wed, 26 Nov 2025 01:02:03 GMT" {
		t.Fatalf("got %s\nwant body %q", r, want)
	}
}

func TestRequestID(t *testing.T) {
	port := freePort(t)
	startServer(t, t.TempDir(), fmt.Sprintf(`
events {}
http {
  access_log off;
  server { listen 127.0.0.1:%d; add_header X-Id $request_id; return 200 "$request_id\n"; }
}`, port), Deps{})
	r := get(t, fmt.Sprintf("127.0.0.1:%d", port), "t", "/")
	id := strings.TrimSpace(r.body)
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || r.header("X-Id") != id {
		t.Fatalf("request id %q, header %q", id, r.header("X-Id"))
	}
}

func TestImplemented(t *testing.T) {
	cfg := loadConfig(t, t.TempDir(), "events {}\n")
	s, err := New(cfg, Deps{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	impl := s.Implemented()
	for _, n := range []string{"server", "location", "if", "return", "keyval", "map", "allow", "add_header", "api", "proxy_pass", "upstream"} {
		if !impl[n] {
			t.Errorf("%s is not reported as implemented", n)
		}
	}
	for _, n := range []string{"proxy_cache", "limit_req", "keyval_zone"} {
		if impl[n] {
			t.Errorf("%s is reported as implemented", n)
		}
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
