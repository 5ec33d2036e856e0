package httpd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNginxProxyKeepalive runs upstream keep-alive, proxy_redirect,
// unbuffered streaming and the header directives in nginx and in the
// core, each with its own backends, and compares the answers, how many
// connections each backend accepted and which request came on which, what
// the backends saw, and the error log.
func TestNginxProxyKeepalive(t *testing.T) {
	bin := nginxPath(t)
	http := `upstream ka { server {{KA}}; keepalive 2; }
  upstream st { server {{ST}}; keepalive 2; }
  upstream lru { server {{A}}; server {{B}}; keepalive 1; }
  upstream kr { server {{KR}}; keepalive 2; keepalive_requests 2; }
  upstream rd { server {{RD}}; keepalive 2; }
  upstream ch { server {{CH}}; keepalive 2; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  server {
    listen 127.0.0.1:{{PORT}};
    location /ka/ { proxy_pass http://ka; }
    location /ka10/ { proxy_http_version 1.0; proxy_pass http://ka; }
    location /kaclose/ { proxy_set_header Connection close; proxy_pass http://ka; }
    location /st/ { proxy_pass http://st; }
    location /lru/ { proxy_pass http://lru; }
    location /kr/ { proxy_pass http://kr; }
    location /rd/ { proxy_pass http://rd; }
    location /rdu/ { proxy_pass http://rd/x/; }
    location /rdoff/ { proxy_redirect off; proxy_pass http://rd; }
    location /rde/ {
      proxy_pass http://rd;
      proxy_redirect http://other/ /o/;
      proxy_redirect default;
      proxy_redirect ~^http://h([0-9]+)/(.*)$ http://$host:$1/$2;
    }
    location /outer/ {
      proxy_pass http://rd/in/;
      location /outer/nested/ { proxy_pass http://rd; }
    }
    location /if/ { if ($arg_x) { proxy_pass http://rd; } }
    location /ifin/ { proxy_pass http://rd/in2/; if ($arg_x) { proxy_pass http://rd; } }
    location /noabs/ { absolute_redirect off; proxy_pass http://rd/x/; }
    location /nb/ { proxy_buffering off; proxy_pass http://ch; }
    location /hide/ { proxy_pass_header Server; proxy_pass_header X-Pad; proxy_hide_header X-Secret; proxy_pass http://ch; }
    location /i/ { proxy_intercept_errors on; error_page 404 /nf; proxy_pass http://ch; }
    location = /nf { return 200 "our page"; }
  }`
	type exchange struct {
		reqs []string // sent on one connection
	}
	c := func(reqs ...string) exchange { return exchange{reqs: reqs} }
	get := func(uri string) string {
		return "GET " + uri + " HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
	}
	redir := func(uri, to string) string {
		return "GET " + uri + " HTTP/1.1\r\nHost: example.com\r\nX-To: " + to + "\r\nConnection: close\r\n\r\n"
	}
	kept := func(method, uri string) string { return method + " " + uri + " HTTP/1.1\r\nHost: example.com\r\n\r\n" }
	exchanges := []exchange{
		c(get("/ka/1")), c(get("/ka/2")), c(get("/ka/3")), c(get("/ka/4")), c(get("/ka/5")),
		c(kept("HEAD", "/ka/h"), kept("GET", "/ka/6"), "GET /ka/7 HTTP/1.0\r\n\r\n"),
		c(get("/ka10/1")), c(get("/ka10/2")), c(get("/kaclose/1")), c(get("/kaclose/2")),
		c(kept("GET", "/st/1"), kept("GET", "/st/2"), "POST /st/3 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhi", get("/st/4")),
		c(get("/lru/1")), c(get("/lru/2")), c(get("/lru/3")), c(get("/lru/4")),
		c(get("/kr/1")), c(get("/kr/2")), c(get("/kr/3")), c(get("/kr/4")), c(get("/kr/5")),
		c(redir("/rd/", "http://rd/a/b?c")), c(redir("/rd/", "http://other/a")), c(redir("/rd/", "/rel")),
		c(redir("/rdu/", "http://rd/x/y")), c(redir("/rdu/", "http://rd/z")),
		c(redir("/rdoff/", "http://rd/a")),
		c(redir("/rde/", "http://other/p")), c(redir("/rde/", "http://rd/q")), c(redir("/rde/", "http://h8080/r/s")),
		c(redir("/outer/", "http://rd/in/e")), c(redir("/outer/nested/", "http://rd/in/f")), c(redir("/outer/nested/", "http://rd/g")),
		c(redir("/if/?x=1", "http://rd/h")), c(redir("/ifin/?x=1", "http://rd/in2/k")), c(redir("/ifin/?x=1", "http://rd/l")),
		c(redir("/noabs/", "http://rd/x/w")),
		c(kept("GET", "/nb/1"), kept("HEAD", "/nb/2"), kept("GET", "/nb/3"), "GET /nb/4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
		c(get("/hide/srv")), c(get("/hide/nosrv")),
		c(kept("GET", "/i/404"), kept("GET", "/i/503"), get("/i/200")),
	}
	type result struct {
		answers []string
		seen    []string
		conns   []string
		errors  []string
	}
	run := func(name string) result {
		sd := side{name: name, dir: t.TempDir(), ports: []int{freePort(t)}}
		bes := map[string]*kaBackend{}
		for _, n := range []string{"KA", "A", "B", "KR"} {
			bes[n] = startKABackend(t, strings.ToLower(n))
		}
		bes["ST"] = staleBackend(t, "st")
		bes["RD"] = startKABackend(t, "rd")
		bes["RD"].serve = func(q kaRequest, w io.Writer) bool {
			to := q.header("X-To")
			fmt.Fprintf(w, "HTTP/1.1 302 Found\r\nLocation: %s\r\nRefresh: 3; url=%s\r\nContent-Length: 0\r\n\r\n", to, to)
			return q.wantsClose()
		}
		bes["CH"] = startKABackend(t, "ch")
		bes["CH"].serve = func(q kaRequest, w io.Writer) bool {
			path := strings.Fields(q.line)[1]
			switch {
			case strings.HasPrefix(path, "/hide/"):
				server := "Server: up\r\n"
				if path == "/hide/nosrv" {
					server = ""
				}
				fmt.Fprintf(w, "HTTP/1.1 200 OK\r\n%sX-Pad: p\r\nX-Secret: s\r\nX-Accel-Charset: c\r\nX-Keep: k\r\nContent-Length: 2\r\n\r\nok", server)
			case strings.HasPrefix(path, "/i/"):
				code, _ := strconv.Atoi(path[3:])
				body := "upstream " + path[3:]
				fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/x\r\nContent-Length: %d\r\n\r\n%s", code, statusText[code], len(body), body)
			case strings.HasPrefix(q.line, "HEAD "):
				io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-T: 1\r\n\r\n")
			default:
				io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-T: 1\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
			}
			return q.wantsClose()
		}
		names := []string{"KA", "ST", "A", "B", "KR", "RD", "CH"}
		vars := map[string]string{"PORT": strconv.Itoa(sd.ports[0]), "DIR": sd.dir}
		for _, n := range names {
			vars[n] = bes[n].addr()
		}
		conf := expand(strings.Replace(nginxPreamble, "{{HTTP}}", http, 1), vars)
		for _, sub := range []string{"logs", "tmp"} {
			os.MkdirAll(filepath.Join(sd.dir, sub), 0o755)
		}
		if err := os.WriteFile(filepath.Join(sd.dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		var rn *running
		if name == "nginx" {
			startNginx(t, bin, sd.dir, [][2]string{{"tcp", fmt.Sprintf("127.0.0.1:%d", sd.ports[0])}})
		} else {
			rn = startServer(t, sd.dir, conf, Deps{})
		}
		mask := func(s string) string {
			for _, n := range names {
				s = strings.ReplaceAll(s, bes[n].addr(), "{"+n+"}")
			}
			return s
		}
		var res result
		for _, ex := range exchanges {
			cl := dial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", sd.ports[0]))
			for _, req := range ex.reqs {
				cl.send(req)
				r, _ := cl.readResponse(strings.HasPrefix(req, "HEAD "))
				res.answers = append(res.answers, mask(sd.normalize(r)))
				if r.closed {
					break
				}
			}
		}
		for _, n := range names {
			var conns []string
			for _, q := range bes[n].requests() {
				conns = append(conns, fmt.Sprintf("%d/%d", q.conn, q.n))
				res.seen = append(res.seen, n+": "+mask(q.line+"\n"+strings.Join(q.head, "\n")+"\n\n"+q.body))
			}
			res.conns = append(res.conns, fmt.Sprintf("%s: %d connections: %s", n, bes[n].accepted(), strings.Join(conns, " ")))
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
		return res
	}
	ng, zs := run("nginx"), run("zonesync")
	if len(ng.answers) != len(zs.answers) {
		t.Fatalf("nginx gave %d answers, zonesync %d", len(ng.answers), len(zs.answers))
	}
	for i := range ng.answers {
		if ng.answers[i] != zs.answers[i] {
			t.Errorf("answer %d:\nzonesync\n%s\n\nnginx\n%s", i, zs.answers[i], ng.answers[i])
		}
	}
	for i := range ng.conns {
		if ng.conns[i] != zs.conns[i] {
			t.Errorf("connections:\nzonesync %s\nnginx    %s", zs.conns[i], ng.conns[i])
		}
	}
	if g, w := strings.Join(zs.seen, "\n--\n"), strings.Join(ng.seen, "\n--\n"); g != w {
		t.Errorf("backends saw from zonesync\n%s\n\nfrom nginx\n%s", g, w)
	}
	if len(ng.errors) != 2 {
		t.Errorf("nginx logged %d errors, want 2 (the stale connections)", len(ng.errors))
	}
	if g, w := strings.Join(zs.errors, "\n"), strings.Join(ng.errors, "\n"); g != w {
		t.Errorf("error log of zonesync\n%s\n\nof nginx\n%s", g, w)
	}
}
