package httpd

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/zone"
)

// cookieBackend is a backend whose responses carry a Set-Cookie.
func cookieBackend(t *testing.T, name, setCookie string) *backend {
	t.Helper()
	b := &backend{name: name, port: freePort(t), status: 200, stop: make(chan struct{}),
		reply: fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: backend\r\nSet-Cookie: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			setCookie, len(name), name)}
	ln, err := net.Listen("tcp", b.addr())
	if err != nil {
		t.Fatal(err)
	}
	b.ln = ln
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() {
		close(b.stop)
		ln.Close()
		b.wg.Wait()
	})
	return b
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// stickyServer runs an upstream block and a proxying location with the
// given deps; the clock is fixed.
func stickyServer(t *testing.T, upstream string, deps Deps) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf("error_log %s/logs/error.log;\nevents {}\nhttp {\n access_log off;\n %s\n server {\n  listen 127.0.0.1:%d;\n  location / { proxy_pass http://u; add_header X-Up-Server $upstream_http_server; }\n }\n}\n",
		dir, upstream, port)
	if deps.Now == nil {
		deps.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	}
	startServer(t, dir, conf, deps)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func getCookie(t *testing.T, addr, uri, cookie string) rawResponse {
	t.Helper()
	raw := "GET " + uri + " HTTP/1.0\r\nHost: x\r\n"
	if cookie != "" {
		raw += "Cookie: " + cookie + "\r\n"
	}
	return do(t, addr, raw+"\r\n")
}

func TestStickyCookie(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	dead := fmt.Sprintf("127.0.0.1:%d", deadPort(t))
	addr := stickyServer(t, fmt.Sprintf(`upstream u { server %s; server %s; server %s down;
  sticky cookie srv expires=1h domain=.example.com httponly secure samesite=lax path=/; }`,
		a.addr(), b.addr(), dead), Deps{})
	sa, sb := md5hex(a.addr()), md5hex(b.addr())
	want := "srv=%s; expires=Fri, 02-Jan-26 04:04:05 GMT; max-age=3600; domain=.example.com; httponly; secure; samesite=lax; path=/"

	// No cookie: the round robin chooses, and the cookie names its choice.
	r := getCookie(t, addr, "/", "")
	if r.body != "a" || r.header("Set-Cookie") != fmt.Sprintf(want, sa) {
		t.Fatalf("first: body %q, Set-Cookie %q", r.body, r.header("Set-Cookie"))
	}
	if r.header("X-Up-Server") != "backend" {
		t.Errorf("$upstream_http_server = %q, want backend", r.header("X-Up-Server"))
	}
	// The cookie binds: "a" again although the round robin's turn is b's.
	for range 3 {
		if r := getCookie(t, addr, "/", "x=1; srv="+sa); r.body != "a" || r.header("Set-Cookie") != fmt.Sprintf(want, sa) {
			t.Fatalf("bound to a: body %q, Set-Cookie %q", r.body, r.header("Set-Cookie"))
		}
	}
	for range 3 {
		if r := getCookie(t, addr, "/", "srv="+sb); r.body != "b" {
			t.Fatalf("bound to b: body %q", r.body)
		}
	}
	// An unknown value and a server that is down choose as if unbound
	// (TestStickyRoundRobin checks the order), and the cookie names the
	// choice.
	ids := map[string]string{"a": sa, "b": sb}
	for _, c := range []string{"srv=nope", "srv=" + md5hex(dead)} {
		r := getCookie(t, addr, "/", c)
		if ids[r.body] == "" || r.header("Set-Cookie") != fmt.Sprintf(want, ids[r.body]) {
			t.Fatalf("%s: body %q, Set-Cookie %q", c, r.body, r.header("Set-Cookie"))
		}
	}
}

func TestStickyCookieFailedServer(t *testing.T) {
	a := startBackend(t, "a")
	dead := fmt.Sprintf("127.0.0.1:%d", deadPort(t))
	addr := stickyServer(t, fmt.Sprintf("upstream u { server %s; server %s; sticky cookie srv expires=max; }", dead, a.addr()), Deps{})
	// Bound to the dead server: the connection fails, the next server
	// answers, and the cookie moves the client to it.
	r := getCookie(t, addr, "/", "srv="+md5hex(dead))
	if r.body != "a" || r.header("Set-Cookie") != "srv="+md5hex(a.addr())+"; expires=Thu, 31-Dec-37 23:55:55 GMT; max-age=315360000" {
		t.Fatalf("body %q, Set-Cookie %q", r.body, r.header("Set-Cookie"))
	}
	// The dead server is now out for fail_timeout: the bound request goes
	// straight to a.
	if r := getCookie(t, addr, "/", "srv="+md5hex(dead)); r.body != "a" {
		t.Fatalf("body %q", r.body)
	}
}

func TestStickyRoute(t *testing.T) {
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	addr := stickyServer(t, fmt.Sprintf("upstream u { server %s route=ra; server %s route=rb; server %s; sticky route $cookie_route $arg_route; }",
		a.addr(), b.addr(), c.addr()), Deps{})
	cases := []struct{ uri, cookie, want string }{
		{"/?route=rb", "", "b"},
		{"/?route=rb", "", "b"},
		{"/?route=rb", "route=ra", "a"}, // the first non-empty variable wins
		{"/?route=rb", "route=", "b"},   // an empty one is skipped
		{"/?route=" + md5hex(c.addr()), "", "c"},
		{"/?route=" + md5hex(a.addr()), "", "a"}, // a has a route: its MD5 is not its id
	}
	for i, tc := range cases {
		r := getCookie(t, addr, tc.uri, tc.cookie)
		if r.body != tc.want {
			t.Fatalf("case %d (%s, %q): body %q, want %q", i, tc.uri, tc.cookie, r.body, tc.want)
		}
		if r.header("Set-Cookie") != "" {
			t.Fatalf("case %d: route sets a cookie: %q", i, r.header("Set-Cookie"))
		}
	}
}

func newStickyStore(t *testing.T) *zone.Store {
	t.Helper()
	st, err := zone.New(zone.Config{Name: "sessions", Kind: zone.KindSticky, Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func stickyDeps(st *zone.Store) Deps {
	return Deps{StickyZone: func(name string) *zone.Store {
		if name == st.Name() {
			return st
		}
		return nil
	}}
}

const learnDirective = "sticky learn create=$upstream_cookie_session lookup=$cookie_session zone=sessions:1m;"

func TestStickyLearn(t *testing.T) {
	a, b := cookieBackend(t, "a", "session=abc; path=/"), startBackend(t, "b")
	st := newStickyStore(t)
	addr := stickyServer(t, fmt.Sprintf("upstream u { server %s; server %s; %s }", a.addr(), b.addr(), learnDirective), stickyDeps(st))

	if r := getCookie(t, addr, "/", ""); r.body != "a" || r.header("Set-Cookie") != "session=abc; path=/" {
		t.Fatalf("first: body %q, Set-Cookie %q", r.body, r.header("Set-Cookie"))
	}
	if sid, ok := st.Lookup("abc"); !ok || sid != md5hex(a.addr()) {
		t.Fatalf("learned %q %v, want %q", sid, ok, md5hex(a.addr()))
	}
	// The round robin's turn is b's; the session goes to a.
	for range 3 {
		if r := getCookie(t, addr, "/", "session=abc"); r.body != "a" {
			t.Fatalf("session: body %q", r.body)
		}
	}
	// b sets no cookie: nothing is learned from its responses.
	if r := getCookie(t, addr, "/", ""); r.body != "b" {
		t.Fatalf("no session: body %q", r.body)
	}
	if r := getCookie(t, addr, "/", "session=other"); r.body != "a" {
		t.Fatalf("unknown session: body %q", r.body)
	}
	if _, ok := st.Lookup("other"); ok {
		t.Fatalf("an unknown lookup session was created")
	}
}

func TestStickyLearnDeadServer(t *testing.T) {
	b := startBackend(t, "b")
	dead := fmt.Sprintf("127.0.0.1:%d", deadPort(t))
	st := newStickyStore(t)
	if err := st.Learn("abc", md5hex(dead)); err != nil {
		t.Fatal(err)
	}
	addr := stickyServer(t, fmt.Sprintf("upstream u { server %s; server %s; %s }", dead, b.addr(), learnDirective), stickyDeps(st))
	// The learned server fails: b answers, and the known session follows
	// it.
	if r := getCookie(t, addr, "/", "session=abc"); r.body != "b" {
		t.Fatalf("body %q", r.body)
	}
	if sid, _ := st.Lookup("abc"); sid != md5hex(b.addr()) {
		t.Fatalf("session points at %q, want b's %q", sid, md5hex(b.addr()))
	}
}

// TestStickyLearnSharedZone stands two servers in for two nodes whose
// zone is synced: a session learned through one is honoured by the other.
func TestStickyLearnSharedZone(t *testing.T) {
	a, b := cookieBackend(t, "a", "session=abc"), startBackend(t, "b")
	st := newStickyStore(t)
	one := stickyServer(t, fmt.Sprintf("upstream u { server %s; server %s; %s }", a.addr(), b.addr(), learnDirective), stickyDeps(st))
	// The other lists b first: its round robin starts with b.
	two := stickyServer(t, fmt.Sprintf("upstream u { server %s; server %s; %s }", b.addr(), a.addr(), learnDirective), stickyDeps(st))

	if r := getCookie(t, one, "/", ""); r.body != "a" {
		t.Fatalf("learn through one: body %q", r.body)
	}
	if r := getCookie(t, two, "/", "session=abc"); r.body != "a" {
		t.Fatalf("session through two: body %q", r.body)
	}
	if r := getCookie(t, two, "/", ""); r.body != "b" {
		t.Fatalf("two's round robin: body %q, want b", r.body)
	}
	if n := strings.Count(strings.Join(a.requests(), "\n"), "GET /"); n != 2 {
		t.Fatalf("a got %d requests, want 2", n)
	}
}

func TestStickyLearnNeedsZone(t *testing.T) {
	dir := t.TempDir()
	a := startBackend(t, "a")
	conf := fmt.Sprintf("events {}\nhttp {\n upstream u { server %s; %s }\n server {\n  listen 127.0.0.1:%d;\n  location / { proxy_pass http://u; }\n }\n}\n",
		a.addr(), learnDirective, freePort(t))
	cfg := loadConfig(t, dir, conf)
	_, err := New(cfg, Deps{})
	if err == nil || err.Error() != `upstream "u": sticky zone "sessions" has no store` {
		t.Fatalf("New: %v", err)
	}
}

func TestStickyRouteBackup(t *testing.T) {
	b1, b2 := startBackend(t, "b1"), startBackend(t, "b2")
	dead := fmt.Sprintf("127.0.0.1:%d", deadPort(t))
	addr := stickyServer(t, fmt.Sprintf("upstream u { server %s; server %s backup; server %s backup route=two; sticky route $arg_r; }",
		dead, b1.addr(), b2.addr()), Deps{})
	// The primary server fails; among the backup servers the bound one
	// is chosen.
	for range 2 {
		if r := getCookie(t, addr, "/?r=two", ""); r.body != "b2" {
			t.Fatalf("body %q, want b2", r.body)
		}
	}
}
