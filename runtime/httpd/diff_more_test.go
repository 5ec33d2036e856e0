package httpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNginxMaps(t *testing.T) {
	runDiff(t, diffGroup{name: "maps", http: `
  map $http_x_key $mapped {
    default "def";
    exact "E";
    ~^re(\d+)$ "R$1";
    ~*^CI "caseless";
    Upper "upper-key";
    \default "escaped";
    src "from $uri";
  }
  map $host $hostmap {
    hostnames;
    default "none";
    example.com "exact";
    *.example.com "wild";
    .dotted.org "dotted";
    mail.* "tail";
  }
  map $arg_n $nodefault {
    one 1;
  }
  server {
    listen 127.0.0.1:{{PORT}};
    location /set { set $mapped "overridden"; return 200 "m=$mapped\n"; }
    location / { return 200 "m=$mapped h=$hostmap n=[$nodefault] c=$1\n"; }
  }`, cases: []diffCase{
		one("default", rq("GET / HTTP/1.1")),
		one("exact", rq("GET / HTTP/1.1", "X-Key: exact")),
		one("exact ignores case", rq("GET / HTTP/1.1", "X-Key: EXACT")),
		one("key lower-cased", rq("GET / HTTP/1.1", "X-Key: upper")),
		one("regex capture", rq("GET / HTTP/1.1", "X-Key: re42")),
		one("regex case-sensitive", rq("GET / HTTP/1.1", "X-Key: RE42")),
		one("caseless regex", rq("GET / HTTP/1.1", "X-Key: cix")),
		one("escaped default key", rq("GET / HTTP/1.1", "X-Key: default")),
		one("value with variable", rq("GET /p/q HTTP/1.1", "X-Key: src")),
		one("hostnames exact", rq("GET / HTTP/1.1", "Host: example.com")),
		one("hostnames wildcard", rq("GET / HTTP/1.1", "Host: a.b.example.com")),
		one("hostnames dot", rq("GET / HTTP/1.1", "Host: dotted.org")),
		one("hostnames dot sub", rq("GET / HTTP/1.1", "Host: x.dotted.org")),
		one("hostnames tail", rq("GET / HTTP/1.1", "Host: mail.example.net")),
		one("no default", rq("GET /?n=one HTTP/1.1")),
		one("no default miss", rq("GET /?n=two HTTP/1.1")),
		one("set overrides", rq("GET /set HTTP/1.1", "X-Key: exact")),
	}})
}

func TestNginxStatic(t *testing.T) {
	runDiff(t, diffGroup{name: "static", http: `
  server {
    listen 127.0.0.1:{{PORT}};
    root html;
    location / { }
    location /noidx/ { index none.html; }
    location /multi/ { index a.html b.html; }
    location /alias/ { alias {{DIR}}/other/; }
    location /typed/ {
      types { text/x-foo foo; application/x-bar bar BAZ; }
      default_type application/octet-stream;
    }
    location /noetag/ { etag off; }
    location /try/ { try_files $uri $uri/ /try/fallback.txt?from=$uri; }
    location /trycode/ { try_files $uri =418; }
    location /trynamed/ { try_files /nothing @tn; }
    location @tn { return 200 "named fallback $uri\n"; }
    location /hdr/ { add_header X-Static yes; }
  }`, files: map[string]string{
		"html/index.html":         "<p>index</p>\n",
		"html/a.txt":              "plain text\n",
		"html/page.html":          "<p>page</p>\n",
		"html/img.GIF":            "GIF89a",
		"html/dir/index.html":     "dir index\n",
		"html/sub/":               "",
		"html/noidx/none.html":    "none\n",
		"html/multi/b.html":       "second index\n",
		"html/typed/x.foo":        "foo\n",
		"html/typed/x.baz":        "baz\n",
		"html/typed/x.unknown":    "unknown\n",
		"html/noetag/f.txt":       "no etag\n",
		"html/hdr/f.txt":          "header\n",
		"html/try/here.txt":       "here\n",
		"html/try/fallback.txt":   "fallback\n",
		"html/try/sub/index.html": "sub index\n",
		"html/trycode/x":          "x\n",
		"other/aliased.txt":       "aliased\n",
		"html/.hidden":            "hidden\n",
		"html/space name.txt":     "space\n",
		"html/percent%name.txt":   "percent\n",
		"html/question?name.txt":  "question\n",
	}, cases: []diffCase{
		one("index", rq("GET / HTTP/1.1")),
		one("file", rq("GET /a.txt HTTP/1.1")),
		one("html type", rq("GET /page.html HTTP/1.1")),
		one("type ignores case", rq("GET /img.GIF HTTP/1.1")),
		one("HEAD file", rq("HEAD /a.txt HTTP/1.1")),
		one("folder redirect", rq("GET /dir?x=1 HTTP/1.1")),
		one("folder index", rq("GET /dir/ HTTP/1.1")),
		one("no index forbidden", rq("GET /sub/ HTTP/1.1")),
		one("missing folder", rq("GET /nothing/ HTTP/1.1")),
		one("missing file", rq("GET /nothing HTTP/1.1")),
		one("index directive", rq("GET /noidx/ HTTP/1.1")),
		one("second index", rq("GET /multi/ HTTP/1.1")),
		one("POST file", rq("POST /a.txt HTTP/1.1", "Content-Length: 0")),
		one("PUT file", rq("PUT /a.txt HTTP/1.1", "Content-Length: 0")),
		one("DELETE folder", rq("DELETE / HTTP/1.1")),
		one("if-modified-since", rq("GET /a.txt HTTP/1.1", "If-Modified-Since: Fri, 01 Mar 2024 12:00:00 GMT")),
		one("if-modified-since other", rq("GET /a.txt HTTP/1.1", "If-Modified-Since: Fri, 01 Mar 2024 11:00:00 GMT")),
		one("if-none-match", rq("GET /a.txt HTTP/1.1", `If-None-Match: "65e1c340-b"`)),
		one("if-none-match star", rq("GET /a.txt HTTP/1.1", `If-None-Match: *`)),
		one("if-match fails", rq("GET /a.txt HTTP/1.1", `If-Match: "nope"`)),
		one("if-unmodified-since fails", rq("GET /a.txt HTTP/1.1", "If-Unmodified-Since: Fri, 01 Mar 2024 11:00:00 GMT")),
		one("alias", rq("GET /alias/aliased.txt HTTP/1.1")),
		one("types block", rq("GET /typed/x.foo HTTP/1.1")),
		one("types upper-case extension", rq("GET /typed/x.baz HTTP/1.1")),
		one("default_type", rq("GET /typed/x.unknown HTTP/1.1")),
		one("etag off", rq("GET /noetag/f.txt HTTP/1.1")),
		one("add_header on a file", rq("GET /hdr/f.txt HTTP/1.1")),
		one("dot file", rq("GET /.hidden HTTP/1.1")),
		one("try_files file", rq("GET /try/here.txt HTTP/1.1")),
		one("try_files folder", rq("GET /try/sub HTTP/1.1")),
		one("try_files folder with slash", rq("GET /try/sub/ HTTP/1.1")),
		one("try_files fallback", rq("GET /try/none?a=1 HTTP/1.1")),
		one("try_files code", rq("GET /trycode/none HTTP/1.1")),
		one("try_files code found", rq("GET /trycode/x HTTP/1.1")),
		one("try_files named", rq("GET /trynamed/x HTTP/1.1")),
		one("encoded space", rq("GET /space%20name.txt HTTP/1.1")),
		one("encoded percent", rq("GET /percent%25name.txt HTTP/1.1")),
		one("encoded question mark", rq("GET /question%3Fname.txt HTTP/1.1")),
		one("range", rq("GET /a.txt HTTP/1.1", "Range: bytes=0-3")),
		one("suffix range", rq("GET /a.txt HTTP/1.1", "Range: bytes=-3")),
		one("open range", rq("GET /a.txt HTTP/1.1", "Range: bytes=5-")),
		one("range past the end", rq("GET /a.txt HTTP/1.1", "Range: bytes=0-100")),
		one("range with spaces", rq("GET /a.txt HTTP/1.1", "Range: Bytes= 1 - 2 ")),
		one("unsatisfiable range", rq("GET /hdr/f.txt HTTP/1.1", "Range: bytes=20-30")),
		one("bad range", rq("GET /a.txt HTTP/1.1", "Range: bytes=x")),
		one("reversed range", rq("GET /a.txt HTTP/1.1", "Range: bytes=3-1")),
		one("if-range mismatch", rq("GET /a.txt HTTP/1.1", "Range: bytes=0-1", `If-Range: "nope"`)),
		one("if-range match", rq("GET /a.txt HTTP/1.1", "Range: bytes=0-1", `If-Range: "65e1c340-b"`)),
		one("if-range date", rq("GET /a.txt HTTP/1.1", "Range: bytes=0-1", "If-Range: Fri, 01 Mar 2024 12:00:00 GMT")),
		one("HEAD range", rq("HEAD /a.txt HTTP/1.1", "Range: bytes=0-1")),
	}})
}

// ipv6Loopback reports whether [::1] can be bound.
func ipv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func TestNginxAddresses(t *testing.T) {
	v6, v6wild := "", ""
	if ipv6Loopback() {
		v6 = "listen [::1]:{{PORT2}};"
		v6wild = `server { listen [::]:{{PORT3}}; return 200 "v6 wildcard $server_addr\n"; }`
	}
	g := diffGroup{name: "addresses", ports: 3, http: `
  server {
    listen unix:{{DIR}}/http.sock;
    ` + v6 + `
    location /unix { allow unix:; deny all; return 200 "unix allowed\n"; }
    location /ipv4only { allow 127.0.0.1; deny all; return 200 "v4\n"; }
    location /redirect { return 302 /there; }
    location / { return 200 "ra=$remote_addr sa=$server_addr sp=$server_port host=$host\n"; }
  }
  server { listen {{PORT3}}; return 200 "wildcard $server_addr\n"; }
  server { listen 127.0.0.1:{{PORT3}}; return 200 "specific $server_addr\n"; }
  server { listen 127.0.0.1:{{PORT}}; return 200 "first port\n"; }
  ` + v6wild,
		cases: []diffCase{
			{name: "unix", unix: true, reqs: []string{rq("GET / HTTP/1.1")}},
			{name: "unix without host", unix: true, reqs: []string{rq("GET / HTTP/1.0")}},
			{name: "allow unix", unix: true, reqs: []string{rq("GET /unix HTTP/1.1")}},
			{name: "ipv4 rule on unix", unix: true, reqs: []string{rq("GET /ipv4only HTTP/1.1")}},
			{name: "redirect over unix", unix: true, reqs: []string{rq("GET /redirect HTTP/1.1")}},
			{name: "specific address", port: 2, reqs: []string{rq("GET / HTTP/1.1")}},
			{name: "wildcard address", port: 2, host: "127.0.0.2", reqs: []string{rq("GET / HTTP/1.1")}},
			{name: "first port", reqs: []string{rq("GET / HTTP/1.1")}},
		}}
	if v6 != "" {
		g.cases = append(g.cases,
			diffCase{name: "ipv6", port: 1, host: "::1", reqs: []string{rq("GET / HTTP/1.1")}},
			diffCase{name: "ipv6 deny", port: 1, host: "::1", reqs: []string{rq("GET /unix HTTP/1.1")}},
			diffCase{name: "ipv6 redirect without host", port: 1, host: "::1", reqs: []string{rq("GET /redirect HTTP/1.0")}},
			diffCase{name: "ipv6 wildcard beside ipv4 wildcard", port: 2, host: "::1", reqs: []string{rq("GET / HTTP/1.1")}},
		)
	}
	runDiff(t, g)
}

// selfSigned returns a PEM certificate and key for a name.
func selfSigned(t testing.TB, name string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func TestNginxTLS(t *testing.T) {
	aCert, aKey := selfSigned(t, "a.test")
	bCert, bKey := selfSigned(t, "b.test")
	runDiff(t, diffGroup{name: "tls", ports: 2, http: `
  server {
    listen 127.0.0.1:{{PORT}} ssl;
    server_name a.test;
    ssl_certificate a.crt;
    ssl_certificate_key a.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /redirect { return 301 /x; }
    location / { return 200 "A scheme=$scheme https=$https host=$host\n"; }
  }
  server {
    listen 127.0.0.1:{{PORT}} ssl;
    server_name b.test;
    ssl_certificate b.crt;
    ssl_certificate_key b.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    return 200 "B scheme=$scheme https=$https\n";
  }
  server {
    listen 127.0.0.1:{{PORT2}} ssl;
    ssl_certificate a.crt;
    ssl_certificate_key a.key;
    ssl_protocols TLSv1.2;
    return 200 "tls12\n";
  }`, files: map[string]string{"a.crt": aCert, "a.key": aKey, "b.crt": bCert, "b.key": bKey},
		cases: []diffCase{
			{name: "default certificate", tls: true, reqs: []string{rq("GET / HTTP/1.1")}},
			{name: "sni a", tls: true, sni: "a.test", reqs: []string{rq("GET / HTTP/1.1", "Host: a.test")}},
			{name: "sni b", tls: true, sni: "b.test", reqs: []string{rq("GET / HTTP/1.1", "Host: b.test")}},
			{name: "sni b host a", tls: true, sni: "b.test", reqs: []string{rq("GET / HTTP/1.1", "Host: a.test")}},
			{name: "https redirect", tls: true, sni: "a.test", reqs: []string{rq("GET /redirect HTTP/1.1", "Host: a.test")}},
			{name: "protocols", tls: true, port: 1, reqs: []string{rq("GET / HTTP/1.1")}},
			{name: "plain HTTP to HTTPS port", reqs: []string{rq("GET / HTTP/1.1")}},
		}})
}

func TestNginxAccessLog(t *testing.T) {
	g := diffGroup{name: "access_log", http: `
  log_format test '$remote_addr "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length [$arg_q] $request_method';
  log_format js escape=json '{"uri":"$uri","ua":"$http_user_agent","ref":"$http_referer"}';
  server {
    listen 127.0.0.1:{{PORT}};
    access_log logs/test.log test;
    access_log logs/json.log js;
    location /off { access_log off; return 200 "off\n"; }
    location /if { access_log logs/if.log test if=$arg_log; return 200 "if\n"; }
    location / { return 200 "logged\n"; }
  }`, cases: []diffCase{
		one("plain", rq("GET /a?q=1 HTTP/1.1", "User-Agent: t/1", `Referer: http://r/"x"`)),
		one("escaped", rq("GET /b%22c HTTP/1.1", "User-Agent: quote\" back\\ ctl\x01 high\xc3\xa9")),
		one("error", rq("GET /c HTTP/1.1", "Host: a/b")),
		one("not logged", rq("GET /off HTTP/1.1")),
		one("if false", rq("GET /if HTTP/1.1")),
		one("if true", rq("GET /if?log=1 HTTP/1.1")),
		one("post", rq("POST /d HTTP/1.1", "Content-Length: 3", "\n\nabc")),
	}}
	ng, zs := runDiff(t, g)
	for _, f := range []struct {
		name  string
		lines int
	}{{"test.log", 4}, {"json.log", 4}, {"if.log", 1}} {
		want := readLogs(t, filepath.Join(ng.dir, "logs", f.name), f.lines)
		for i, l := range want {
			// nginx's error page is 3 bytes shorter: "nginx" for "zonesync".
			want[i] = strings.Replace(l, `" 400 150 "`, `" 400 153 "`, 1)
		}
		got := readLogs(t, filepath.Join(zs.dir, "logs", f.name), f.lines)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: zonesync logs\n%s\nnginx logs\n%s", f.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// readLogs waits until a log file has n lines (the server writes it
// after it answers) and returns them.
func readLogs(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) > 0 && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d lines, want %d:\n%s", path, len(lines), n, b)
		}
		waitABit(2 * time.Millisecond)
	}
}

func TestNginxRedirectSettings(t *testing.T) {
	runDiff(t, diffGroup{name: "redirects", http: `
  server {
    listen 127.0.0.1:{{PORT}};
    server_name main.test alias.test;
    location /plain { return 301 /p; }
    location /sn { server_name_in_redirect on; return 301 /p; }
    location /noport { port_in_redirect off; return 302 /p; }
    location /relative { absolute_redirect off; return 302 /p; }
    location /dir { root html; }
    location /args { set $args "a=1&b=2"; return 200 "args=$args arg_b=$arg_b isargs=$is_args req=$request_uri\n"; }
  }`, files: map[string]string{"html/dir/sub/x": "x"}, cases: []diffCase{
		one("plain", rq("GET /plain HTTP/1.1", "Host: Alias.Test:1234")),
		one("server_name_in_redirect", rq("GET /sn HTTP/1.1", "Host: alias.test")),
		one("port_in_redirect off", rq("GET /noport HTTP/1.1", "Host: alias.test")),
		one("absolute_redirect off", rq("GET /relative HTTP/1.1")),
		one("folder redirect", rq("GET /dir/sub?q=1 HTTP/1.1", "Host: alias.test")),
		one("set args", rq("GET /args?z=9 HTTP/1.1")),
	}})
}
