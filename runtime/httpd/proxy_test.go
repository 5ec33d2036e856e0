package httpd

import (
	"bufio"
	"encoding/json"
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
)

// backend is an upstream server started by a test: it records the
// request head it gets and answers with its name.
type backend struct {
	name   string
	port   int
	ln     net.Listener
	status int    // the status it answers with; 200 unless set
	silent bool   // accept and never answer
	reply  string // a raw answer to send instead of the usual one

	mu   sync.Mutex
	seen []string // request heads, one string each
	wg   sync.WaitGroup
	stop chan struct{}
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name, port: freePort(t), status: 200, stop: make(chan struct{})}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", b.port))
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

func (b *backend) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

func (b *backend) accept() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer nc.Close()
			b.serve(nc)
		}()
	}
}

func (b *backend) serve(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	var head []string
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		head = append(head, line)
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			length, _ = strconv.Atoi(v)
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return
	}
	if length > 0 {
		head = append(head, "", string(body))
	}
	b.mu.Lock()
	b.seen = append(b.seen, strings.Join(head, "\n"))
	b.mu.Unlock()
	if b.silent {
		<-b.stop
		return
	}
	if b.reply != "" {
		io.WriteString(nc, b.reply)
		return
	}
	text := b.name
	fmt.Fprintf(nc, "HTTP/1.1 %d %s\r\nServer: backend\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\nX-Backend: %s\r\n\r\n%s",
		b.status, statusText[b.status], len(text), b.name, text)
}

func (b *backend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// deadPort is a port nothing listens on.
func deadPort(t *testing.T) int { return freePort(t) }

// proxyServer runs http contents in the core on a fresh port.
func proxyServer(t *testing.T, http string) (*running, string) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf("error_log %s/logs/error.log;\nevents {}\nhttp {\n access_log off;\n server {\n  listen 127.0.0.1:%d;\n%s\n }\n}\n",
		dir, port, http)
	rn := startServer(t, dir, conf, Deps{})
	return rn, fmt.Sprintf("127.0.0.1:%d", port)
}

func TestProxyRoundRobinWeights(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	up := fmt.Sprintf("upstream u { server %s weight=3; server %s; }\n", a.addr(), b.addr())
	_, addr := proxyServerWith(t, up, "location / { proxy_pass http://u; }")
	var order string
	for range 8 {
		r := get(t, addr, "x", "/")
		order += r.body
	}
	// nginx's smooth weighted round robin over 3:1.
	if order != "aabaaaba" {
		t.Fatalf("order = %q, want aabaaaba", order)
	}
}

// proxyServerWith is proxyServer with an upstream block before the
// server.
func proxyServerWith(t *testing.T, upstreams, server string) (*running, string) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf("error_log %s/logs/error.log;\nevents {}\nhttp {\n access_log off;\n %s\n server {\n  listen 127.0.0.1:%d;\n%s\n }\n}\n",
		dir, upstreams, port, server)
	rn := startServer(t, dir, conf, Deps{})
	return rn, fmt.Sprintf("127.0.0.1:%d", port)
}

func TestProxyDeadBackendSkipped(t *testing.T) {
	dead := deadPort(t)
	live := startBackend(t, "live")
	up := fmt.Sprintf("upstream u { server 127.0.0.1:%d; server %s; }\n", dead, live.addr())
	rn, addr := proxyServerWith(t, up, `location / { proxy_pass http://u; add_header X-Up "$upstream_addr|$upstream_status"; }`)
	r := get(t, addr, "example.com", "/p?q=1")
	if r.status != "HTTP/1.1 200 OK" || r.body != "live" {
		t.Fatalf("got %s", r)
	}
	want := fmt.Sprintf("127.0.0.1:%d, %s|502, 200", dead, live.addr())
	if got := r.header("X-Up"); got != want {
		t.Errorf("X-Up = %q, want %q", got, want)
	}
	log := rn.log.String()
	for _, s := range []string{
		`"message":"connect() failed (111: Connection refused) while connecting to upstream"`,
		fmt.Sprintf(`"upstream":"http://127.0.0.1:%d/p?q=1"`, dead),
		`"request":"GET /p?q=1 HTTP/1.1"`, `"host":"example.com"`,
		`upstream server temporarily disabled while connecting to upstream`,
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %s:\n%s", s, log)
		}
	}
	// The dead server failed max_fails=1 times: it is skipped for
	// fail_timeout (10s), the next requests go straight to the live one.
	for range 3 {
		r := get(t, addr, "example.com", "/")
		if got := r.header("X-Up"); got != live.addr()+"|200" {
			t.Errorf("X-Up = %q, want the live server only", got)
		}
	}
}

func TestProxyAllDead(t *testing.T) {
	d1, d2 := deadPort(t), deadPort(t)
	up := fmt.Sprintf("upstream u { server 127.0.0.1:%d; server 127.0.0.1:%d; }\n", d1, d2)
	rn, addr := proxyServerWith(t, up, fmt.Sprintf(`location / { proxy_pass http://u; add_header X-Up "$upstream_addr|$upstream_status" always; }
  location /one/ { proxy_pass http://127.0.0.1:%d; }`, d1))
	r := get(t, addr, "x", "/")
	if r.status != "HTTP/1.1 502 Bad Gateway" {
		t.Fatalf("got %s", r)
	}
	if got, want := r.header("X-Up"), fmt.Sprintf("127.0.0.1:%d, 127.0.0.1:%d|502, 502", d1, d2); got != want {
		t.Errorf("X-Up = %q, want %q", got, want)
	}
	// Both are now out for fail_timeout: nginx finds no live upstream.
	r = get(t, addr, "x", "/")
	if r.status != "HTTP/1.1 502 Bad Gateway" || r.header("X-Up") != "u|502" {
		t.Errorf("second request: %s", r)
	}
	if !strings.Contains(rn.log.String(), `"message":"no live upstreams while connecting to upstream"`) {
		t.Errorf("log:\n%s", rn.log)
	}
	// A single server is never taken out: every request tries it.
	for range 2 {
		if r := get(t, addr, "x", "/one/"); r.status != "HTTP/1.1 502 Bad Gateway" {
			t.Errorf("single server: %s", r)
		}
	}
	if n := strings.Count(rn.log.String(), fmt.Sprintf(`"upstream":"http://127.0.0.1:%d/one/"`, d1)); n != 2 {
		t.Errorf("single server tried %d times, want 2", n)
	}
}

func TestProxyTimeout(t *testing.T) {
	slow := startBackend(t, "slow")
	slow.silent = true
	rn, addr := proxyServer(t, fmt.Sprintf("location / { proxy_read_timeout 50ms; proxy_pass http://%s; }", slow.addr()))
	r := get(t, addr, "x", "/")
	if r.status != "HTTP/1.1 504 Gateway Time-out" {
		t.Fatalf("got %s", r)
	}
	if !strings.Contains(rn.log.String(), "upstream timed out (110: Connection timed out) while reading response header from upstream") {
		t.Errorf("log:\n%s", rn.log)
	}
}

func TestProxyNextUpstreamStatus(t *testing.T) {
	bad, good := startBackend(t, "bad"), startBackend(t, "good")
	bad.status = 500
	up := fmt.Sprintf("upstream u { server %s; server %s; }\nupstream v { server %s; }\n", bad.addr(), good.addr(), bad.addr())
	_, addr := proxyServerWith(t, up, `
  location / { proxy_next_upstream error http_500; proxy_pass http://u; add_header X-S $upstream_status; }
  location /plain/ { proxy_pass http://v; }
  location /tries/ { proxy_next_upstream http_500; proxy_next_upstream_tries 1; proxy_pass http://u; }`)
	r := get(t, addr, "x", "/")
	if r.body != "good" || r.header("X-S") != "500, 200" {
		t.Errorf("got %s", r)
	}
	// Without http_500 (or on the last try) the 500 is relayed.
	r = get(t, addr, "x", "/plain/")
	if r.status != "HTTP/1.1 500 Internal Server Error" || r.body != "bad" {
		t.Errorf("relayed: %s", r)
	}
}

func TestProxyURI(t *testing.T) {
	be := startBackend(t, "be")
	_, addr := proxyServer(t, fmt.Sprintf(`
  location /a/ { proxy_pass http://%[1]s/x/; }
  location /b/ { proxy_pass http://%[1]s; }
  location = /e { proxy_pass http://%[1]s/z; }
  location /c { proxy_pass http://%[1]s/; }
  location /r/ { rewrite ^/r/(.*)$ /s/$1 break; proxy_pass http://%[1]s; }
  location /rr/ { rewrite ^/rr/(.*)$ /t/$1 break; proxy_pass http://%[1]s/u/; }`, be.addr()))
	cases := []struct{ uri, want string }{
		{"/a/foo?q=1", "GET /x/foo?q=1 HTTP/1.0"},
		{"/a/", "GET /x/ HTTP/1.0"},
		{"/a/%41b", "GET /x/Ab HTTP/1.0"},
		{"/a/sp%20ace", "GET /x/sp%20ace HTTP/1.0"},
		{"/b/%41b?x=%20", "GET /b/%41b?x=%20 HTTP/1.0"},
		{"/b//double/./dot", "GET /b//double/./dot HTTP/1.0"},
		{"/e?k", "GET /z?k HTTP/1.0"},
		{"/cfoo", "GET /foo HTTP/1.0"},
		{"/r/one?a=b", "GET /s/one?a=b HTTP/1.0"},
		{"/rr/two", "GET /u//t/two HTTP/1.0"},
	}
	for i, c := range cases {
		r := get(t, addr, "x", c.uri)
		if r.status != "HTTP/1.1 200 OK" {
			t.Fatalf("%s: %s", c.uri, r)
		}
		seen := be.requests()
		if len(seen) != i+1 {
			t.Fatalf("%s: backend saw %d requests", c.uri, len(seen))
		}
		if line, _, _ := strings.Cut(seen[i], "\n"); line != c.want {
			t.Errorf("%s: backend got %q, want %q", c.uri, line, c.want)
		}
	}
}

func TestProxyHeaders(t *testing.T) {
	be := startBackend(t, "be")
	_, addr := proxyServer(t, fmt.Sprintf(`
  location / { proxy_pass http://%[1]s; }
  location /set/ { proxy_set_header X-Real-IP $remote_addr; proxy_set_header User-Agent ""; proxy_set_header Host $host; proxy_http_version 1.1; proxy_pass http://%[1]s; }`, be.addr()))
	req := "GET /h HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nConnection: keep-alive\r\nKeep-Alive: 300\r\nTE: trailers\r\nX-A: 1\r\n\r\n"
	c := dial(t, "tcp", addr)
	c.send(req)
	r := c.read(false)
	if r.status != "HTTP/1.1 200 OK" {
		t.Fatalf("got %s", r)
	}
	// nginx's header handling of the response: its own Server and Date,
	// the upstream's Connection dropped, the rest in order.
	wantResp := []string{"Server: " + ServerToken, "Content-Type: text/plain", "Content-Length: 2", "Connection: keep-alive", "X-Backend: be"}
	var got []string
	for _, h := range r.headers {
		if !strings.HasPrefix(h, "Date: ") {
			got = append(got, h)
		}
	}
	if strings.Join(got, "\n") != strings.Join(wantResp, "\n") {
		t.Errorf("response headers:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantResp, "\n"))
	}
	c.send(strings.Replace(req, "/h", "/set/h", 1) + "")
	c.read(false)
	c.send("POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
	c.read(false)
	seen := be.requests()
	want := []string{
		"GET /h HTTP/1.0\nHost: " + be.addr() + "\nConnection: close\nUser-Agent: t\nX-A: 1",
		"GET /set/h HTTP/1.1\nX-Real-IP: 127.0.0.1\nHost: example.com\nConnection: close\nX-A: 1",
		"POST /b HTTP/1.0\nHost: " + be.addr() + "\nConnection: close\nContent-Length: 3\n\nabc",
	}
	if strings.Join(seen, "\n--\n") != strings.Join(want, "\n--\n") {
		t.Errorf("backend saw\n%s\nwant\n%s", strings.Join(seen, "\n--\n"), strings.Join(want, "\n--\n"))
	}
}

// TestNginxProxy runs the same proxy configuration in nginx and in the
// core, each with its own backends, and compares what the backends see,
// the round-robin order and the answers.
func TestNginxProxy(t *testing.T) {
	bin := nginxPath(t)
	http := `upstream u { server {{A}} weight=3; server {{B}}; }
  upstream d { server 127.0.0.1:{{DEAD}}; server {{C}}; }
  upstream bk { server 127.0.0.1:{{DEAD}}; server {{A}} down; server {{C}} backup; }
  server {
    listen 127.0.0.1:{{PORT}};
    location / { proxy_pass http://u; }
    location /x/ { proxy_pass http://u/y/; }
    location /set/ { proxy_set_header X-Real-IP $remote_addr; proxy_set_header User-Agent ""; proxy_http_version 1.1; proxy_pass http://u; }
    location /dead/ { proxy_pass http://d; }
    location /bk/ { proxy_pass http://bk; }
    location /none/ { proxy_pass http://127.0.0.1:{{DEAD}}; }
    location /raw/ { proxy_pass http://{{R}}; }
    location /if/ { proxy_pass http://{{C}}; if ($arg_x) { add_header X-If 1; } }
    location /if2/ { if ($arg_x) { proxy_pass http://{{C}}; } }
    location /slow/ { proxy_read_timeout 100ms; proxy_pass http://{{S}}; }
  }`
	reqs := []string{
		"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nConnection: close\r\n\r\n",
		"GET /x/a%41?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /set/p HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nKeep-Alive: 1\r\nTE: x\r\nExpect: y\r\nUpgrade: z\r\nX-B: 2\r\nConnection: close\r\n\r\n",
		"POST /x/b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
		"HEAD / HTTP/1.0\r\n\r\n",
		"GET /// HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /x/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /x/../x/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /dead/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /bk/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /bk/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /none/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /raw/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /raw/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET /if/?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /if/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /if2/?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		"GET /slow/?a HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
	}
	type result struct {
		answers []string
		seen    []string
		errors  []string
	}
	run := func(name string) result {
		sd := side{name: name, dir: t.TempDir(), ports: []int{freePort(t)}}
		a, b, c, sl := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c"), startBackend(t, "s")
		sl.silent = true
		raw := startBackend(t, "r")
		raw.reply = "HTTP/1.1 404 Not Found\r\nServer: x\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Accel-Foo: y\r\nKeep-Alive: timeout=5\r\nSet-Cookie: a=1\r\n" +
			"Location: /moved\r\nLast-Modified: Fri, 01 Mar 2024 12:00:00 GMT\r\nContent-Length: 3\r\nContent-Type: text/x\r\nX-Z: 1\r\nConnection: close\r\n\r\nabc"
		dead := deadPort(t)
		var rn *running
		vars := map[string]string{"A": a.addr(), "B": b.addr(), "C": c.addr(), "S": sl.addr(), "R": raw.addr(), "DEAD": strconv.Itoa(dead),
			"PORT": strconv.Itoa(sd.ports[0]), "DIR": sd.dir}
		conf := expand(strings.Replace(nginxPreamble, "{{HTTP}}", http, 1), vars)
		for _, sub := range []string{"logs", "tmp"} {
			os.MkdirAll(filepath.Join(sd.dir, sub), 0o755)
		}
		if err := os.WriteFile(filepath.Join(sd.dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "nginx" {
			startNginx(t, bin, sd.dir, [][2]string{{"tcp", fmt.Sprintf("127.0.0.1:%d", sd.ports[0])}})
		} else {
			rn = startServer(t, sd.dir, conf, Deps{})
		}
		var res result
		mask := func(s string) string {
			for k, v := range map[string]string{"{A}": a.addr(), "{B}": b.addr(), "{C}": c.addr(), "{S}": sl.addr(), "{R}": raw.addr(), "{DEAD}": strconv.Itoa(dead)} {
				s = strings.ReplaceAll(s, v, k)
			}
			return s
		}
		for _, req := range reqs {
			r := do(t, fmt.Sprintf("127.0.0.1:%d", sd.ports[0]), req)
			res.answers = append(res.answers, mask(sd.normalize(r)))
		}
		if name == "nginx" {
			lg, _ := os.ReadFile(filepath.Join(sd.dir, "logs", "error.log"))
			res.errors = nginxErrorLines(string(lg))
		} else {
			res.errors = coreErrorLines(t, rn.log.String())
		}
		for i := range res.errors {
			res.errors[i] = mask(res.errors[i])
		}
		for _, be := range []*backend{a, b, c, sl, raw} {
			for _, s := range be.requests() {
				res.seen = append(res.seen, be.name+": "+mask(s))
			}
		}
		return res
	}
	ng, zs := run("nginx"), run("zonesync")
	for i := range reqs {
		if ng.answers[i] != zs.answers[i] {
			t.Errorf("request %d %q:\nzonesync answers\n%s\n\nnginx answers\n%s", i, reqs[i], zs.answers[i], ng.answers[i])
		}
	}
	if g, w := strings.Join(zs.seen, "\n--\n"), strings.Join(ng.seen, "\n--\n"); g != w {
		t.Errorf("backends saw from zonesync\n%s\n\nfrom nginx\n%s", g, w)
	}
	if len(ng.errors) != 4 {
		t.Errorf("nginx logged %d errors, want 4 (three refused connections, one timeout)", len(ng.errors))
	}
	if g, w := strings.Join(zs.errors, "\n"), strings.Join(ng.errors, "\n"); g != w {
		t.Errorf("error log of zonesync\n%s\n\nof nginx\n%s", g, w)
	}
}

// nginxErrorLines are the messages of nginx's error log lines from
// "[error]" on, without the pid and connection number.
func nginxErrorLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		i := strings.Index(l, "[error] ")
		if i < 0 {
			continue
		}
		rest := l[i+len("[error] "):]
		if j := strings.Index(rest, " *"); j >= 0 {
			if k := strings.IndexByte(rest[j+2:], ' '); k >= 0 {
				rest = rest[j+2+k+1:]
			}
		}
		out = append(out, rest)
	}
	return out
}

// coreErrorLines formats the core's error entries as nginx writes them.
func coreErrorLines(t *testing.T, log string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if e["level"] != "error" {
			continue
		}
		s := fmt.Sprintf("%s, client: %s, server: %s, request: \"%s\"", e["message"], e["client"], e["server"], e["request"])
		if u, ok := e["upstream"]; ok {
			s += fmt.Sprintf(", upstream: \"%s\"", u)
		}
		if h, ok := e["host"]; ok {
			s += fmt.Sprintf(", host: \"%s\"", h)
		}
		out = append(out, s)
	}
	return out
}

func TestProxyResponseBodies(t *testing.T) {
	chunked, closed := startBackend(t, "chunked"), startBackend(t, "closed")
	chunked.reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-T: 1\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	closed.reply = "HTTP/1.0 201 Created\r\nContent-Type: text/y\r\n\r\nuntil the end"
	_, addr := proxyServer(t, fmt.Sprintf(`
  location /c/ { proxy_pass http://%s; add_header X-A "$upstream_addr $upstream_status"; }
  location /e/ { proxy_pass http://%s; }`, chunked.addr(), closed.addr()))
	r := get(t, addr, "x", "/c/")
	if r.body != "abcde" || r.header("Content-Length") != "5" || r.header("Transfer-Encoding") != "" || r.header("X-T") != "1" {
		t.Errorf("chunked: %s", r)
	}
	if got, want := r.header("X-A"), chunked.addr()+" 200"; got != want {
		t.Errorf("X-A = %q, want %q", got, want)
	}
	r = get(t, addr, "x", "/e/")
	if r.status != "HTTP/1.1 201 Created" || r.body != "until the end" || r.header("Content-Type") != "text/y" {
		t.Errorf("read to the close: %s", r)
	}
}

func TestProxyBackup(t *testing.T) {
	primary, spare := startBackend(t, "primary"), startBackend(t, "spare")
	dead := deadPort(t)
	up := fmt.Sprintf("upstream u { server %s; server 127.0.0.1:%d; server %s backup; }\n", primary.addr(), dead, spare.addr())
	_, addr := proxyServerWith(t, up, "location / { proxy_pass http://u; }")
	var got []string
	for range 4 {
		got = append(got, get(t, addr, "x", "/").body)
	}
	// The backup serves only while no primary server is left: the live
	// primary is always there, the dead one is skipped after it failed.
	if strings.Join(got, " ") != "primary primary primary primary" {
		t.Errorf("got %v", got)
	}
	if len(spare.requests()) != 0 {
		t.Errorf("the backup got requests")
	}
	up = fmt.Sprintf("upstream u { server 127.0.0.1:%d; server %s down; server %s backup; }\n", dead, primary.addr(), spare.addr())
	_, addr = proxyServerWith(t, up, "location / { proxy_pass http://u; }")
	if r := get(t, addr, "x", "/"); r.body != "spare" {
		t.Errorf("with the primaries down or dead: %s", r)
	}
}
