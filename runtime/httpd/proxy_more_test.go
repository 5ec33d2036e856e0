package httpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Upstream keep-alive, proxy_redirect, streaming and the header
// directives of the proxy, against backends on loopback. The backends
// count the connections they accept, which is how reuse shows.

// kaUpstream is the keep-alive configuration users write: HTTP/1.1 and
// no "Connection: close" to the upstream.
const kaUpstream = `proxy_http_version 1.1; proxy_set_header Connection "";`

// proxyServerDeps is proxyServerWith with the core's dependencies.
func proxyServerDeps(t *testing.T, upstreams, server string, deps Deps) (*running, string) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf("error_log %s/logs/error.log;\nevents {}\nhttp {\n access_log off;\n %s\n server {\n  listen 127.0.0.1:%d;\n%s\n }\n}\n",
		dir, upstreams, port, server)
	rn := startServer(t, dir, conf, deps)
	return rn, fmt.Sprintf("127.0.0.1:%d", port)
}

// connsOf lists the connection number of every request a backend read.
func connsOf(b *kaBackend) string {
	var out []string
	for _, q := range b.requests() {
		out = append(out, strconv.Itoa(q.conn))
	}
	return strings.Join(out, " ")
}

func TestUpstreamKeepaliveReuse(t *testing.T) {
	be := startKABackend(t, "be")
	ch := startKABackend(t, "ch")
	ch.serve = func(q kaRequest, w io.Writer) bool {
		switch {
		case strings.HasPrefix(q.line, "HEAD "):
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
		case strings.Contains(q.line, "/204"):
			io.WriteString(w, "HTTP/1.1 204 No Content\r\n\r\n")
		case strings.Contains(q.line, "/empty"):
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		default:
			io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n")
		}
		return false
	}
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\nupstream ch { server %s; keepalive 2; }\n", be.addr(), ch.addr())
	_, addr := proxyServerWith(t, up, `
  location / { `+kaUpstream+` proxy_pass http://be; }
  location /ch/ { `+kaUpstream+` proxy_buffering off; proxy_pass http://ch; }
  location /chb/ { `+kaUpstream+` proxy_pass http://ch; }`)
	for i := range 5 {
		if r := get(t, addr, "x", "/"+strconv.Itoa(i)); r.body != "be" {
			t.Fatalf("request %d: %s", i, r)
		}
	}
	if n := be.accepted(); n != 1 {
		t.Errorf("backend accepted %d connections for 5 requests, want 1", n)
	}
	for _, q := range be.requests() {
		if !strings.HasSuffix(q.line, " HTTP/1.1") || q.header("Connection") != "" {
			t.Errorf("backend got %q with Connection %q", q.line, q.header("Connection"))
		}
	}
	// Bodies whose end is known keep the connection: chunked (with a
	// trailer), streamed or read whole, no body at all.
	c := dial(t, "tcp", addr)
	for _, req := range []string{"GET /ch/a", "GET /chb/b", "HEAD /ch/c", "GET /ch/204", "GET /ch/empty", "GET /ch/d"} {
		c.send(req + " HTTP/1.1\r\nHost: x\r\n\r\n")
		r, _ := c.readResponse(strings.HasPrefix(req, "HEAD"))
		if r.status == "" || r.closed {
			t.Fatalf("%s: %s", req, r)
		}
		if strings.HasSuffix(req, "/a") || strings.HasSuffix(req, "/b") || strings.HasSuffix(req, "/d") {
			if r.body != "abcde" {
				t.Errorf("%s: body %q", req, r.body)
			}
		}
	}
	if got := connsOf(ch); got != "1 1 1 1 1 1" {
		t.Errorf("chunked backend connections per request: %s, want all on 1", got)
	}
}

func TestUpstreamKeepaliveNotReused(t *testing.T) {
	be := startKABackend(t, "be")
	// A backend that says it closes, or answers HTTP/1.0, but keeps the
	// socket open: nginx does not reuse the connection either way.
	lying := startKABackend(t, "lying")
	lying.serve = func(q kaRequest, w io.Writer) bool {
		if strings.Contains(q.line, "/10") {
			io.WriteString(w, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
		} else {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		}
		return false
	}
	up := fmt.Sprintf("upstream be { server %s; keepalive 4; }\nupstream lying { server %s; keepalive 4; }\nupstream plain { server %s; }\n",
		be.addr(), lying.addr(), be.addr())
	_, addr := proxyServerWith(t, up, `
  location /http10/ { proxy_set_header Connection ""; proxy_pass http://be; }
  location /close/ { proxy_http_version 1.1; proxy_pass http://be; }
  location /plain/ { `+kaUpstream+` proxy_pass http://plain; }
  location /lying/ { `+kaUpstream+` proxy_pass http://lying; }`)
	cases := []struct {
		uri  string
		b    *kaBackend
		line string // the request line the backend sees
	}{
		{"/http10/", be, "GET /http10/ HTTP/1.0"},
		{"/close/", be, "GET /close/ HTTP/1.1"},
		{"/plain/", be, "GET /plain/ HTTP/1.1"},
		{"/lying/", lying, "GET /lying/ HTTP/1.1"},
		{"/lying/10", lying, "GET /lying/10 HTTP/1.1"},
	}
	for _, c := range cases {
		before := c.b.accepted()
		for range 3 {
			if r := get(t, addr, "x", c.uri); r.status != "HTTP/1.1 200 OK" {
				t.Fatalf("%s: %s", c.uri, r)
			}
		}
		if n := c.b.accepted() - before; n != 3 {
			t.Errorf("%s: %d connections for 3 requests, want 3", c.uri, n)
		}
		reqs := c.b.requests()
		if got := reqs[len(reqs)-1].line; got != c.line {
			t.Errorf("%s: backend got %q, want %q", c.uri, got, c.line)
		}
	}
}

func TestUpstreamKeepaliveRequests(t *testing.T) {
	be := startKABackend(t, "be")
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; keepalive_requests 2; }\n", be.addr())
	_, addr := proxyServerWith(t, up, "location / { "+kaUpstream+" proxy_pass http://be; }")
	for range 5 {
		get(t, addr, "x", "/")
	}
	// A connection serves keepalive_requests requests, then is closed.
	if got := connsOf(be); got != "1 1 2 2 3" {
		t.Errorf("connections per request: %s, want 1 1 2 2 3", got)
	}
}

func TestUpstreamKeepaliveTimes(t *testing.T) {
	be := startKABackend(t, "be")
	clock := &handClock{}
	clock.Advance(time.Duration(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()) * time.Millisecond)
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; keepalive_timeout 10s; keepalive_time 30s; }\n", be.addr())
	_, addr := proxyServerDeps(t, up, "location / { "+kaUpstream+" proxy_pass http://be; }", Deps{Now: clock.Now})
	for _, idle := range []time.Duration{
		0,
		9 * time.Second,  // idle 9s: reused
		11 * time.Second, // idle 11s, more than keepalive_timeout: a new one
		9 * time.Second,  // reused (9s old)
		9 * time.Second,  // reused (18s old)
		9 * time.Second,  // reused (27s old)
		9 * time.Second,  // reused, 36s old when done: more than keepalive_time, closed
		0,
	} {
		clock.Advance(idle)
		if r := get(t, addr, "x", "/"); r.body != "be" {
			t.Fatalf("got %s", r)
		}
	}
	if got := connsOf(be); got != "1 1 2 2 2 2 2 3" {
		t.Errorf("connections per request: %s, want 1 1 2 2 2 2 2 3", got)
	}
	// The idle connections the cache closed end at the backend.
	for _, want := range []int{1, 2} {
		select {
		case n := <-be.ended:
			if n != want {
				t.Errorf("connection %d ended, want %d", n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("connection %d did not end", want)
		}
	}
}

func TestUpstreamKeepaliveLeastRecentlyUsed(t *testing.T) {
	a, b := startKABackend(t, "a"), startKABackend(t, "b")
	up := fmt.Sprintf("upstream one { server %s; server %s; keepalive 1; }\nupstream two { server %s; server %s; keepalive 2; }\n",
		a.addr(), b.addr(), a.addr(), b.addr())
	_, addr := proxyServerWith(t, up, `
  location /one/ { `+kaUpstream+` proxy_pass http://one; }
  location /two/ { `+kaUpstream+` proxy_pass http://two; }`)
	var order string
	for range 4 {
		order += get(t, addr, "x", "/one/").body
	}
	// Round robin alternates; a cache of one keeps only the last server's
	// connection, so every request opens one.
	if order != "abab" || a.accepted() != 2 || b.accepted() != 2 {
		t.Errorf("keepalive 1: order %s, connections a=%d b=%d, want abab 2 2", order, a.accepted(), b.accepted())
	}
	for range 4 {
		get(t, addr, "x", "/two/")
	}
	if a.accepted() != 3 || b.accepted() != 3 {
		t.Errorf("keepalive 2: connections a=%d b=%d, want one more each", a.accepted(), b.accepted())
	}
}

// staleBackend answers the first request of a connection and closes the
// next one after reading it, without an answer: a kept-alive connection
// that turns out closed when it is reused.
func staleBackend(t *testing.T, name string) *kaBackend {
	b := startKABackend(t, name)
	b.serve = func(q kaRequest, w io.Writer) bool {
		if q.n > 1 {
			return true
		}
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(name), name)
		return false
	}
	return b
}

func TestUpstreamKeepaliveStale(t *testing.T) {
	st := staleBackend(t, "st")
	up := fmt.Sprintf("upstream st { server %s; keepalive 2; }\n", st.addr())
	rn, addr := proxyServerWith(t, up, `
  location / { `+kaUpstream+` proxy_pass http://st; }
  location /ni/ { `+kaUpstream+` proxy_next_upstream error non_idempotent; proxy_pass http://st; }
  location /off/ { `+kaUpstream+` proxy_next_upstream off; proxy_pass http://st; }`)
	c := dial(t, "tcp", addr)
	send := func(req string) rawResponse {
		c.send(req)
		return c.read(false)
	}
	// GET: the closed connection costs no try, a new one answers.
	if r := send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); r.body != "st" {
		t.Fatalf("first: %s", r)
	}
	if r := send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); r.body != "st" {
		t.Errorf("GET on a stale connection: %s", r)
	}
	// POST is not sent again, unless non_idempotent says so.
	if r := send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"); r.status != "HTTP/1.1 502 Bad Gateway" || r.closed {
		t.Errorf("POST on a stale connection: %s", r)
	}
	get(t, addr, "x", "/ni/")
	if r := send("POST /ni/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"); r.body != "st" {
		t.Errorf("POST with non_idempotent: %s", r)
	}
	if r := send("GET /off/ HTTP/1.1\r\nHost: x\r\n\r\n"); r.status != "HTTP/1.1 502 Bad Gateway" {
		t.Errorf("GET with proxy_next_upstream off: %s", r)
	}
	var lines []string
	for _, q := range st.requests() {
		lines = append(lines, fmt.Sprintf("%d/%d %s", q.conn, q.n, q.line))
	}
	want := []string{"1/1 GET / HTTP/1.1", "1/2 GET / HTTP/1.1", "2/1 GET / HTTP/1.1", "2/2 POST / HTTP/1.1",
		"3/1 GET /ni/ HTTP/1.1", "3/2 POST /ni/ HTTP/1.1", "4/1 POST /ni/ HTTP/1.1", "4/2 GET /off/ HTTP/1.1"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("backend saw\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	log := rn.log.String()
	if n := strings.Count(log, "upstream prematurely closed connection while reading response header from upstream"); n != 4 {
		t.Errorf("%d prematurely closed lines, want 4:\n%s", n, log)
	}
}

func TestUpstreamKeepaliveStaleNextServer(t *testing.T) {
	st, live := staleBackend(t, "st"), startKABackend(t, "live")
	up := fmt.Sprintf("upstream u { server %s; server %s; keepalive 4; }\n", st.addr(), live.addr())
	rn, addr := proxyServerWith(t, up, `location / { `+kaUpstream+` proxy_pass http://u; add_header X-Up "$upstream_addr|$upstream_status"; }`)
	var got []string
	for range 4 {
		r := get(t, addr, "x", "/")
		got = append(got, r.body+" "+r.header("X-Up"))
	}
	// The stale connection is the server's failure (max_fails=1): the
	// request goes on to the other server, which then serves alone.
	want := []string{
		"st " + st.addr() + "|200",
		"live " + live.addr() + "|200",
		"live " + st.addr() + ", " + live.addr() + "|502, 200",
		"live " + live.addr() + "|200",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(rn.log.String(), "upstream server temporarily disabled while reading response header from upstream") {
		t.Errorf("log:\n%s", rn.log)
	}
}

// An idle connection the upstream closed is dropped before it is used:
// no error, a new connection.
func TestUpstreamKeepaliveClosedWhileIdle(t *testing.T) {
	be := startKABackend(t, "be")
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	rn, addr := proxyServerWith(t, up, "location / { "+kaUpstream+" proxy_pass http://be; }")
	be.serve = func(q kaRequest, w io.Writer) bool {
		be.answer(q, w)
		return true // closes without saying so
	}
	get(t, addr, "x", "/")
	// On loopback the backend's FIN has reached the proxy's socket when
	// its close returns.
	select {
	case <-be.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend did not close")
	}
	if r := get(t, addr, "x", "/"); r.body != "be" {
		t.Errorf("after the backend closed: %s", r)
	}
	if be.accepted() != 2 {
		t.Errorf("accepted %d, want 2", be.accepted())
	}
	if strings.Contains(rn.log.String(), `"level":"error"`) {
		t.Errorf("the closed connection was used:\n%s", rn.log)
	}
}

func TestUpstreamKeepaliveShutdown(t *testing.T) {
	be := startKABackend(t, "be")
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	rn, addr := proxyServerWith(t, up, "location / { "+kaUpstream+" proxy_pass http://be; }")
	get(t, addr, "x", "/")
	rn.stop(t)
	select {
	case n := <-be.ended:
		if n != 1 {
			t.Errorf("connection %d ended", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the idle upstream connection outlived the shutdown")
	}
}

// Several requests on one client connection through proxy_pass, with
// bodies of every kind, keep the client connection.
func TestProxyClientKeepalive(t *testing.T) {
	be := startKABackend(t, "be")
	be.serve = func(q kaRequest, w io.Writer) bool {
		switch {
		case strings.Contains(q.line, "/chunked"):
			io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
		default:
			body := "got " + q.body
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
		return q.wantsClose()
	}
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	_, addr := proxyServerWith(t, up, `
  location / { `+kaUpstream+` proxy_pass http://be; }
  location /nb/ { `+kaUpstream+` proxy_buffering off; proxy_pass http://be; }
  location /plain/ { proxy_pass http://`+be.addr()+`; }`)
	c := dial(t, "tcp", addr)
	steps := []struct{ req, body string }{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "got "},
		{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "got abc"},
		{"POST /plain/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n", "got z"},
		{"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", "ok"},
		{"GET /nb/chunked HTTP/1.1\r\nHost: x\r\n\r\n", "ok"},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "got "},
		{"GET /nb/chunked HTTP/1.1\r\nHost: x\r\n\r\n", "ok"},
	}
	for _, s := range steps {
		c.send(s.req)
		r, _ := c.readResponse(false)
		if r.body != s.body || r.closed || r.header("Connection") != "keep-alive" {
			t.Fatalf("%q: %s", s.req, r)
		}
	}
	// An HTTP/1.0 client cannot get a body of unknown length on a kept
	// connection: it is closed after it.
	c.send("GET /nb/chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if r, _ := c.readResponse(false); r.body != "ok" || !r.closed || r.header("Transfer-Encoding") != "" {
		t.Errorf("HTTP/1.0 client, unknown length: %s", r)
	}
}

func TestProxyRedirect(t *testing.T) {
	be := startKABackend(t, "be")
	be.serve = func(q kaRequest, w io.Writer) bool {
		to := q.header("X-To")
		fmt.Fprintf(w, "HTTP/1.1 302 Found\r\nLocation: %s\r\nRefresh: 3; URL=%s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", to, to)
		return true
	}
	a := be.addr()
	_, addr := proxyServerWith(t, fmt.Sprintf("upstream up { server %s; }\n", a), `
  port_in_redirect off;
  location /d/ { proxy_pass http://up; }
  location /u/ { proxy_pass http://up/x/; }
  location /off/ { proxy_redirect off; proxy_pass http://up; }
  location /e/ { proxy_pass http://up; proxy_redirect http://other/ /o/; proxy_redirect default; proxy_redirect http://$host/ http://$host:8080/; }
  location /re/ { proxy_pass http://up; proxy_redirect ~^http://([^/]+)/(.*)$ https://$1.example/$2?from=$http_x_from; proxy_redirect ~*^/CASE/ /lower/; }
  location /noabs/ { absolute_redirect off; proxy_pass http://up; }`)
	cases := []struct{ uri, to, location, refresh string }{
		// default without a URI part: http://up/ becomes /, made absolute.
		{"/d/", "http://up/a/b?c", "http://x/a/b?c", "3; URL=/a/b?c"},
		{"/d/", "http://other/a", "http://other/a", "3; URL=http://other/a"},
		{"/d/", "/rel", "/rel", "3; URL=/rel"},
		// default with a URI part: the URL as written becomes the location.
		{"/u/", "http://up/x/y", "http://x/u/y", "3; URL=/u/y"},
		{"/u/", "http://up/z", "http://up/z", "3; URL=http://up/z"},
		{"/off/", "http://up/a", "http://up/a", "3; URL=http://up/a"},
		{"/e/", "http://other/p", "http://x/o/p", "3; URL=/o/p"},
		{"/e/", "http://up/q", "http://x/q", "3; URL=/q"},
		{"/e/", "http://x/r", "http://x:8080/r", "3; URL=http://x:8080/r"},
		{"/re/", "http://up/s/t", "https://up.example/s/t?from=f", "3; URL=https://up.example/s/t?from=f"},
		{"/re/", "/case/v", "http://x/lower/", "3; URL=/lower/"},
		{"/noabs/", "http://up/w", "/w", "3; URL=/w"},
	}
	for _, c := range cases {
		r := do(t, addr, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nX-To: %s\r\nX-From: f\r\nConnection: close\r\n\r\n", c.uri, c.to))
		if r.header("Location") != c.location || r.header("Refresh") != c.refresh {
			t.Errorf("%s %s: Location %q Refresh %q, want %q %q", c.uri, c.to, r.header("Location"), r.header("Refresh"), c.location, c.refresh)
		}
	}
}

func TestProxyRedirectInheritance(t *testing.T) {
	be := startKABackend(t, "be")
	be.serve = func(q kaRequest, w io.Writer) bool {
		fmt.Fprintf(w, "HTTP/1.1 301 Moved Permanently\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", q.header("X-To"))
		return true
	}
	_, addr := proxyServerWith(t, fmt.Sprintf("upstream up { server %s; }\nupstream up2 { server %s; }\n", be.addr(), be.addr()), `
  port_in_redirect off;
  proxy_redirect http://srv/ /from-server/;
  location /s/ { proxy_pass http://up; }
  location /outer/ {
    proxy_pass http://up/in/;
    location /outer/nested/ { proxy_pass http://up2; }
    if ($arg_if) { proxy_pass http://up2; }
  }`)
	cases := []struct{ uri, to, location string }{
		// The server's rules replace the default.
		{"/s/", "http://srv/a", "http://x/from-server/a"},
		{"/s/", "http://up/a", "http://up/a"},
		// The server's rules reach every location that sets none.
		{"/outer/", "http://srv/b", "http://x/from-server/b"},
		{"/outer/nested/", "http://up2/c", "http://up2/c"},
		{"/outer/?if=1", "http://srv/d", "http://x/from-server/d"},
	}
	for _, c := range cases {
		r := do(t, addr, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nX-To: %s\r\nConnection: close\r\n\r\n", c.uri, c.to))
		if r.header("Location") != c.location {
			t.Errorf("%s %s: Location %q, want %q", c.uri, c.to, r.header("Location"), c.location)
		}
	}
	// Without server rules, a nested proxy_pass keeps the outer default.
	_, addr = proxyServerWith(t, fmt.Sprintf("upstream up { server %s; }\nupstream up2 { server %s; }\n", be.addr(), be.addr()), `
  port_in_redirect off;
  location /outer/ {
    proxy_pass http://up/in/;
    location /outer/nested/ { proxy_pass http://up2; }
  }
  location /if/ { if ($arg_x) { proxy_pass http://up2; } }`)
	cases = []struct{ uri, to, location string }{
		{"/outer/", "http://up/in/e", "http://x/outer/e"},
		{"/outer/nested/", "http://up/in/f", "http://x/outer/f"},
		{"/outer/nested/", "http://up2/g", "http://up2/g"},
		{"/if/?x=1", "http://up2/h", "http://x/h"},
	}
	for _, c := range cases {
		r := do(t, addr, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nX-To: %s\r\nConnection: close\r\n\r\n", c.uri, c.to))
		if r.header("Location") != c.location {
			t.Errorf("%s %s: Location %q, want %q", c.uri, c.to, r.header("Location"), c.location)
		}
	}
}

func TestProxyRedirectConfigErrors(t *testing.T) {
	for _, c := range []struct{ loc, want string }{
		{`location / { proxy_redirect default; proxy_pass http://127.0.0.1:1; }`, `"proxy_redirect default" should be placed after the "proxy_pass" directive in `},
		{`location / { proxy_pass http://127.0.0.1:1; proxy_redirect ~(?<=x) /; }`, `regular expression "(?<=x)" is not supported`},
	} {
		dir := t.TempDir()
		cfg := loadConfig(t, dir, fmt.Sprintf("events {}\nhttp {\n server {\n  listen 127.0.0.1:%d;\n  %s\n }\n}\n", freePort(t), c.loc))
		_, err := New(cfg, Deps{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New: %v, want %q", c.loc, err, c.want)
		}
	}
}

// readChunk reads one chunk of a chunked body; more is false for the
// last (whose empty trailer it reads too).
func (c *client) readChunk() (string, bool) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read chunk size: %v", err)
	}
	n, err := strconv.ParseInt(strings.TrimRight(line, "\r\n"), 16, 64)
	if err != nil {
		c.t.Fatalf("chunk size %q: %v", line, err)
	}
	data := make([]byte, n+2)
	if _, err := io.ReadFull(c.br, data); err != nil {
		c.t.Fatalf("read chunk: %v", err)
	}
	return string(data[:n]), n > 0
}

// readHead reads a status line and headers.
func (c *client) readHead() rawResponse {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var r rawResponse
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read head: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return r
		}
		if r.status == "" {
			r.status = line
			continue
		}
		r.headers = append(r.headers, line)
	}
}

// streamingBackend writes the header and a first piece of the body, waits
// until the test releases it, then writes the rest.
func streamingBackend(t *testing.T, release chan struct{}) *kaBackend {
	b := startKABackend(t, "stream")
	b.serve = func(q kaRequest, w io.Writer) bool {
		accel := q.header("X-Want-Accel")
		if accel != "" {
			accel = "X-Accel-Buffering: " + accel + "\r\n"
		}
		if strings.Contains(q.line, "/length") {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\n%sContent-Length: 10\r\n\r\nfirst", accel)
			<-release
			io.WriteString(w, "-last")
			return false
		}
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n", accel)
		<-release
		io.WriteString(w, "5\r\n-last\r\n0\r\n\r\n")
		return false
	}
	return b
}

func TestProxyBufferingOff(t *testing.T) {
	release := make(chan struct{}, 10)
	be := streamingBackend(t, release)
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	_, addr := proxyServerWith(t, up, `
  location /off/ { `+kaUpstream+` proxy_buffering off; proxy_pass http://be; }
  location /on/ { `+kaUpstream+` proxy_pass http://be; }
  location /ignore/ { `+kaUpstream+` proxy_ignore_headers X-Accel-Buffering; proxy_pass http://be; }`)
	c := dial(t, "tcp", addr)

	// Chunked: the first chunk reaches the client while the backend waits.
	c.send("GET /off/ HTTP/1.1\r\nHost: x\r\n\r\n")
	h := c.readHead()
	if h.status != "HTTP/1.1 200 OK" || h.header("Transfer-Encoding") != "chunked" || h.header("Content-Length") != "" {
		t.Fatalf("head: %s", h)
	}
	if data, _ := c.readChunk(); data != "first" {
		t.Fatalf("first chunk %q", data)
	}
	release <- struct{}{}
	if data, _ := c.readChunk(); data != "-last" {
		t.Fatalf("second chunk %q", data)
	}
	if _, more := c.readChunk(); more {
		t.Fatal("no last chunk")
	}

	// With a length: the first bytes come before the rest exists.
	c.send("GET /off/length HTTP/1.1\r\nHost: x\r\n\r\n")
	if h := c.readHead(); h.header("Content-Length") != "10" {
		t.Fatalf("head: %s", h)
	}
	first := make([]byte, 5)
	if _, err := io.ReadFull(c.br, first); err != nil || string(first) != "first" {
		t.Fatalf("first bytes %q: %v", first, err)
	}
	release <- struct{}{}
	rest := make([]byte, 5)
	if _, err := io.ReadFull(c.br, rest); err != nil || string(rest) != "-last" {
		t.Fatalf("rest %q: %v", rest, err)
	}

	// X-Accel-Buffering: no turns buffering off for one response.
	c.send("GET /on/ HTTP/1.1\r\nHost: x\r\nX-Want-Accel: no\r\n\r\n")
	if h := c.readHead(); h.header("Transfer-Encoding") != "chunked" || h.header("X-Accel-Buffering") != "" {
		t.Fatalf("head: %s", h)
	}
	if data, _ := c.readChunk(); data != "first" {
		t.Fatalf("first chunk %q", data)
	}
	release <- struct{}{}
	c.readChunk()
	c.readChunk()
	// ... unless proxy_ignore_headers names it: the body is read whole.
	release <- struct{}{}
	c.send("GET /ignore/ HTTP/1.1\r\nHost: x\r\nX-Want-Accel: no\r\n\r\n")
	if r, _ := c.readResponse(false); r.body != "first-last" || r.header("Content-Length") != "10" {
		t.Errorf("ignored X-Accel-Buffering: %s", r)
	}
	if be.accepted() != 1 {
		t.Errorf("streamed responses used %d upstream connections, want 1", be.accepted())
	}
}

func TestProxyBufferingLargeBodies(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4096) // 64k, more than the 36k of buffers
	be := startKABackend(t, "be")
	be.serve = func(q kaRequest, w io.Writer) bool {
		if strings.Contains(q.line, "/chunked") {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(big), big)
		} else {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big)
		}
		return false
	}
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	_, addr := proxyServerWith(t, up, `
  location / { `+kaUpstream+` proxy_pass http://be; }
  location /small/ { `+kaUpstream+` proxy_buffers 2 64k; proxy_pass http://be; }`)
	c := dial(t, "tcp", addr)
	for _, s := range []struct{ uri, te, length string }{
		{"/chunked", "chunked", ""},
		{"/length", "", strconv.Itoa(len(big))},
		{"/small/chunked", "", strconv.Itoa(len(big))},
	} {
		c.send("GET " + s.uri + " HTTP/1.1\r\nHost: x\r\n\r\n")
		r, _ := c.readResponse(false)
		if r.body != big || r.header("Transfer-Encoding") != s.te || r.header("Content-Length") != s.length {
			t.Errorf("%s: %d bytes, Transfer-Encoding %q, Content-Length %q", s.uri, len(r.body), r.header("Transfer-Encoding"), r.header("Content-Length"))
		}
	}
	if be.accepted() != 1 {
		t.Errorf("%d upstream connections, want 1", be.accepted())
	}
}

func TestProxyBodyCutShort(t *testing.T) {
	be := startKABackend(t, "be")
	be.serve = func(q kaRequest, w io.Writer) bool {
		if strings.Contains(q.line, "/chunked") {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n")
		} else {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart")
		}
		return true
	}
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	rn, addr := proxyServerWith(t, up, `
  location / { `+kaUpstream+` proxy_pass http://be; }
  location /nb/ { `+kaUpstream+` proxy_buffering off; proxy_pass http://be; }`)
	for _, uri := range []string{"/length", "/chunked", "/nb/length", "/nb/chunked"} {
		c := dial(t, "tcp", addr)
		c.send("GET " + uri + " HTTP/1.1\r\nHost: x\r\n\r\n")
		r, raw := c.readResponse(false)
		// The header went out with the upstream's framing; the client gets
		// what came and the connection closes.
		if r.status != "HTTP/1.1 200 OK" || !r.closed || !strings.Contains(raw, "part") {
			t.Errorf("%s: %s (raw %q)", uri, r, raw)
		}
	}
	want := fmt.Sprintf(`"upstream":"http://%s/length","message":"upstream prematurely closed connection while reading upstream"`, be.addr())
	if !strings.Contains(rn.log.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, rn.log)
	}
}

func TestProxyHeaderDirectives(t *testing.T) {
	be := startKABackend(t, "be")
	be.serve = func(q kaRequest, w io.Writer) bool {
		server := "Server: up\r\n"
		if strings.Contains(q.line, "/noserver") {
			server = ""
		}
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\n%sDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Pad: p\r\nX-Secret: s\r\nX-Keep: k\r\nX-Accel-Charset: c\r\nContent-Length: 2\r\n\r\nok", server)
		return false
	}
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	_, addr := proxyServerWith(t, up, `
  proxy_hide_header X-Secret;
  location / { `+kaUpstream+` proxy_pass http://be; }
  location /pass/ { `+kaUpstream+` proxy_pass_header Server; proxy_pass_header X-Pad; proxy_pass_header X-Secret; proxy_pass http://be; }
  location /own/ { `+kaUpstream+` proxy_hide_header X-Keep; proxy_pass http://be; }`)
	headers := func(r rawResponse) string {
		var hs []string
		for _, h := range r.headers {
			if strings.HasPrefix(h, "Date: ") && h != "Date: Mon, 01 Jan 2024 00:00:00 GMT" {
				h = "Date: *"
			}
			hs = append(hs, h)
		}
		return strings.Join(hs, "\n")
	}
	cases := []struct{ uri, want string }{
		{"/", "Server: zonesync\nDate: *\nContent-Length: 2\nConnection: close\nX-Keep: k"},
		// proxy_pass_header lists add to the inherited hide list's
		// exceptions; a passed Server replaces the server's own, and when
		// the upstream sends none there is none.
		{"/pass/", "Date: *\nContent-Length: 2\nConnection: close\nServer: up\nX-Pad: p\nX-Secret: s\nX-Keep: k"},
		{"/pass/noserver", "Date: *\nContent-Length: 2\nConnection: close\nX-Pad: p\nX-Secret: s\nX-Keep: k"},
		// A level's own proxy_hide_header replaces the inherited list.
		{"/own/", "Server: zonesync\nDate: *\nContent-Length: 2\nConnection: close\nX-Secret: s"},
	}
	for _, c := range cases {
		if got := headers(get(t, addr, "x", c.uri)); got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.uri, got, c.want)
		}
	}
}

func TestProxyInterceptErrors(t *testing.T) {
	be := startKABackend(t, "be")
	be.serve = func(q kaRequest, w io.Writer) bool {
		status := strings.TrimPrefix(strings.Fields(q.line)[1], "/")
		status = strings.TrimPrefix(strings.TrimPrefix(status, "plain/"), "i/")
		code, _ := strconv.Atoi(status)
		body := "upstream " + status
		fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nX-Up: 1\r\nContent-Length: %d\r\n\r\n%s", code, statusText[code], len(body), body)
		return false
	}
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	_, addr := proxyServerWith(t, up, `
  error_page 404 /nf;
  error_page 500 =200 @fallback;
  location /i/ { `+kaUpstream+` proxy_intercept_errors on; proxy_pass http://be; }
  location /plain/ { `+kaUpstream+` proxy_pass http://be; }
  location = /nf { return 200 "our page"; }
  location @fallback { return 200 "fallback"; }`)
	cases := []struct{ uri, status, body string }{
		{"/i/404", "HTTP/1.1 404 Not Found", "our page"},
		{"/i/500", "HTTP/1.1 200 OK", "fallback"},
		// No error_page for 503: the upstream's answer is relayed.
		{"/i/503", "HTTP/1.1 503 Service Temporarily Unavailable", "upstream 503"},
		{"/plain/404", "HTTP/1.1 404 Not Found", "upstream 404"},
	}
	for _, c := range cases {
		r := get(t, addr, "x", c.uri)
		if r.status != c.status || r.body != c.body {
			t.Errorf("%s: %s", c.uri, r)
		}
	}
	// The upstream's body was not read: its connection was not kept.
	if be.accepted() != 3 {
		t.Errorf("%d upstream connections, want 3", be.accepted())
	}
}

// A forced shutdown does not wait for an upstream that is slow to send
// the rest of a streamed body.
func TestProxyStreamForcedShutdown(t *testing.T) {
	release := make(chan struct{})
	be := streamingBackend(t, release)
	t.Cleanup(func() { close(release) })
	rn, addr := proxyServerWith(t, fmt.Sprintf("upstream be { server %s; }\n", be.addr()),
		"location / { "+kaUpstream+" proxy_buffering off; proxy_pass http://be; }")
	c := dial(t, "tcp", addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.readHead()
	if data, _ := c.readChunk(); data != "first" {
		t.Fatalf("first chunk %q", data)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	shut := make(chan error, 1)
	go func() { shut <- rn.s.Shutdown(ctx) }()
	select {
	case err := <-shut:
		if err == nil {
			t.Errorf("Shutdown reported no forced close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the forced shutdown waits for the upstream")
	}
}

// TERM while a request waits for a slow upstream: the upstream connection
// closes with the client's, so that Shutdown does not wait for
// proxy_read_timeout.
func TestImmediateShutdownSlowUpstream(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	be := startKABackend(t, "slow")
	be.serve = func(kaRequest, io.Writer) bool {
		entered <- struct{}{}
		<-release
		return true
	}
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	up := fmt.Sprintf("upstream be { server %s; keepalive 2; }\n", be.addr())
	rn, addr := proxyServerWith(t, up, "location / { "+kaUpstream+" proxy_read_timeout 1h; proxy_pass http://be; }")
	c := dial(t, "tcp", addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	wait(t, entered, "the request to reach the backend")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	shut := make(chan error, 1)
	go func() { shut <- rn.s.Shutdown(ctx) }()
	select {
	case err := <-shut:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		unblock() // the request ends, and so does the test
		t.Fatal("Shutdown waits for the upstream")
	}
	if r := c.read(false); !r.none {
		t.Errorf("answer after an immediate shutdown: %s", r)
	}
}
