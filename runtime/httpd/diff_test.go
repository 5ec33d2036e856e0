package httpd

import (
	"strings"
	"testing"
)

// Differential tests: each group's configuration runs in nginx and in
// zonesync, and every exchange must read the same on both (see
// nginx_test.go for what is normalized).

// rq builds a raw request: the request line, then headers ("Host: t" is
// added unless one is given), then an optional body after "\n\n".
func rq(line string, headers ...string) string {
	var b strings.Builder
	b.WriteString(line + "\r\n")
	hasHost := false
	body := ""
	for _, h := range headers {
		if v, ok := strings.CutPrefix(h, "\n\n"); ok {
			body = v
			continue
		}
		hasHost = hasHost || strings.HasPrefix(strings.ToLower(h), "host:")
		b.WriteString(h + "\r\n")
	}
	if !hasHost && strings.HasSuffix(line, "HTTP/1.1") {
		b.WriteString("Host: t\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

func one(name, req string) diffCase { return diffCase{name: name, reqs: []string{req}} }

func TestNginxLocations(t *testing.T) {
	runDiff(t, diffGroup{name: "locations", http: `
  server {
    listen 127.0.0.1:{{PORT}};
    server_name t;
    location = / { return 200 "exact root\n"; }
    location / { return 200 "prefix root $uri\n"; }
    location /a/ { return 200 "prefix a\n"; }
    location /a/b/ { return 200 "prefix a/b\n"; }
    location ^~ /static/ { return 200 "noregex static\n"; }
    location ~ \.php$ { return 200 "regex php $uri\n"; }
    location ~* \.(GIF|png)$ { return 200 "caseless image\n"; }
    location ~ ^/a/(.+)\.txt$ { return 200 "regex txt $1\n"; }
    location = /exact { return 200 "exact\n"; }
    location /exact { return 200 "prefix exact\n"; }
    location /outer/ {
      location /outer/inner/ { return 200 "nested inner\n"; }
      location ~ \.html$ { return 200 "nested regex $uri\n"; }
      return 200 "outer\n";
    }
    location ^~ /n/ {
      location ~ \.php$ { return 200 "nested php under noregex\n"; }
      return 200 "n\n";
    }
    location ~ ^/re/(?<word>[a-z]+) {
      location ~ /deep$ { return 200 "deep in regex $word\n"; }
      return 200 "regex named $word $1\n";
    }
    location /case { return 200 "case prefix\n"; }
  }`, cases: []diffCase{
		one("exact root", rq("GET / HTTP/1.1")),
		one("prefix root", rq("GET /zzz HTTP/1.1")),
		one("longest prefix", rq("GET /a/b/c HTTP/1.1")),
		one("shorter prefix", rq("GET /a/x HTTP/1.1")),
		one("regex over prefix", rq("GET /a/b/x.php HTTP/1.1")),
		one("noregex", rq("GET /static/x.php HTTP/1.1")),
		one("caseless regex", rq("GET /img/X.gif HTTP/1.1")),
		one("case-sensitive regex", rq("GET /img/x.PHP HTTP/1.1")),
		one("first regex wins", rq("GET /a/x.txt HTTP/1.1")),
		one("exact beats prefix", rq("GET /exact HTTP/1.1")),
		one("prefix of exact", rq("GET /exact/more HTTP/1.1")),
		one("nested prefix", rq("GET /outer/inner/x HTTP/1.1")),
		one("nested regex", rq("GET /outer/x.html HTTP/1.1")),
		one("outer", rq("GET /outer/x HTTP/1.1")),
		one("server regex after nested", rq("GET /outer/inner/x.php HTTP/1.1")),
		one("nested regex under noregex", rq("GET /n/x.php HTTP/1.1")),
		one("regex with nested regex", rq("GET /re/abc/deep HTTP/1.1")),
		one("regex named capture", rq("GET /re/abc/x HTTP/1.1")),
		one("prefix is case-sensitive", rq("GET /CASE HTTP/1.1")),
		one("normalized URI", rq("GET /x/../a//b/./c%2Fd HTTP/1.1")),
		one("dot segments above root", rq("GET /a/../../b HTTP/1.1")),
		one("encoded dots", rq("GET /a/%2e%2e/static/x.php HTTP/1.1")),
	}})
}

func TestNginxRewrite(t *testing.T) {
	runDiff(t, diffGroup{name: "rewrite", http: `
  server {
    listen 127.0.0.1:{{PORT}};
    server_name t;
    set $srv "server-level";
    if ($arg_srv) { return 200 "server if $arg_srv $srv\n"; }
    location /vars {
      return 200 "uri=$uri args=$args req=$request_uri method=$request_method scheme=$scheme host=$host sn=$server_name proto=$server_protocol isargs=$is_args status=$status a=$arg_a c=$cookie_c h=$http_x_test request=$request doc=$document_uri ra=$remote_addr sa=$server_addr cl=$content_length ct=$content_type qs=$query_string srv=$srv\n";
    }
    location /if {
      set $x "";
      if ($arg_v) { set $x "truthy"; }
      if ($arg_v = 0) { set $x "zero"; }
      if ($arg_v != "b") { set $x "$x-notb"; }
      if ($http_user_agent ~* ^curl/(\d+)) { set $x "$x-curl$1"; }
      if ($uri ~ ^/if/(?<tail>.*)$) { set $x "$x-tail:$tail"; }
      if ($arg_v !~ ^[a-z]+$) { set $x "$x-nonalpha"; }
      return 200 "x=$x\n";
    }
    location /ifconf {
      add_header X-Loc loc;
      if ($arg_in) { add_header X-If if; }
      return 200 "ifconf\n";
    }
    location /fs {
      root {{DIR}}/html;
      set $r "";
      if (-f $request_filename) { set $r "file"; }
      if (-d $request_filename) { set $r "dir"; }
      if (!-e $request_filename) { set $r "none"; }
      return 200 "fs=$r\n";
    }
    location /ret {
      location /ret/301 { return 301 /target?x=1; }
      location /ret/302 { return 302 http://example.com/$arg_to; }
      location /ret/url { return https://example.org/p; }
      location /ret/303 { return 303 /see; }
      location /ret/307 { return 307 /tmp; }
      location /ret/308 { return 308 /perm; }
      location /ret/444 { return 444; }
      location /ret/200 { return 200; }
      location /ret/204 { return 204; }
      location /ret/text404 { return 404 "not here\n"; }
      location /ret/empty404 { return 404 ""; }
      location /ret/418 { return 418; }
      location /ret/503 { return 503; }
      location /ret/html.html { return 200 "typed\n"; }
      location /ret/var { set $v ""; return 404 "$v"; }
    }
    location /brk {
      set $a 1;
      break;
      set $a 2;
      return 200 "never\n";
    }
    location /rw {
      rewrite ^/rw/last/(.*)$ /dest/$1 last;
      rewrite ^/rw/break/(.*)$ /other/$1 break;
      rewrite ^/rw/redir/(.*)$ /r/$1 redirect;
      rewrite ^/rw/perm/(.*)$ http://example.com/p/$1 permanent;
      rewrite ^/rw/args/(.*)$ /dest/$1?new=1 last;
      rewrite ^/rw/noargs/(.*)$ /dest/$1? last;
      rewrite ^/rw/chain/(.*)$ /rw/last/$1;
      return 200 "rw fallthrough $uri\n";
    }
    location /dest/ { return 200 "dest uri=$uri args=$args\n"; }
    location /loop { rewrite ^ /loop last; }
  }`, files: map[string]string{"html/fs/file": "f", "html/fs/dir/": ""}, cases: []diffCase{
		one("variables", rq("GET /vars/p?a=1&b=2 HTTP/1.1", "Host: Example.COM:8080", "X-Test: yes", "Cookie: c=3; d=4")),
		one("variables HTTP/1.0", rq("GET /vars HTTP/1.0")),
		one("variables absolute URI", rq("GET http://Abs.Example/vars?q HTTP/1.1")),
		one("server if", rq("GET /vars?srv=on HTTP/1.1")),
		one("if truthy", rq("GET /if/rest?v=a HTTP/1.1", "User-Agent: curl/8.1")),
		one("if zero", rq("GET /if/x?v=0 HTTP/1.1")),
		one("if empty", rq("GET /if HTTP/1.1")),
		one("if b", rq("GET /if/q?v=b HTTP/1.1")),
		one("if conf", rq("GET /ifconf?in=1 HTTP/1.1")),
		one("if conf not taken", rq("GET /ifconf HTTP/1.1")),
		one("file test", rq("GET /fs/file HTTP/1.1")),
		one("dir test", rq("GET /fs/dir HTTP/1.1")),
		one("missing test", rq("GET /fs/nothing HTTP/1.1")),
		one("301 relative", rq("GET /ret/301 HTTP/1.1")),
		one("301 relative, no host", rq("GET /ret/301 HTTP/1.0")),
		one("302 absolute", rq("GET /ret/302?to=x HTTP/1.1")),
		one("return url", rq("GET /ret/url HTTP/1.1")),
		one("303", rq("GET /ret/303 HTTP/1.1")),
		one("307", rq("GET /ret/307 HTTP/1.1")),
		one("308", rq("GET /ret/308 HTTP/1.1")),
		one("444", rq("GET /ret/444 HTTP/1.1")),
		one("200 empty", rq("GET /ret/200 HTTP/1.1")),
		one("204", rq("GET /ret/204 HTTP/1.1")),
		one("404 text", rq("GET /ret/text404 HTTP/1.1")),
		one("404 empty text", rq("GET /ret/empty404 HTTP/1.1")),
		one("418", rq("GET /ret/418 HTTP/1.1")),
		one("503", rq("GET /ret/503 HTTP/1.1")),
		one("type by extension", rq("GET /ret/html.html HTTP/1.1")),
		one("text with variables only", rq("GET /ret/var HTTP/1.1")),
		one("HEAD", rq("HEAD /ret/text404 HTTP/1.1")),
		one("break", rq("GET /brk HTTP/1.1")),
		one("rewrite last", rq("GET /rw/last/x?q=1 HTTP/1.1")),
		one("rewrite break", rq("GET /rw/break/x HTTP/1.1")),
		one("rewrite redirect", rq("GET /rw/redir/x?q=1 HTTP/1.1")),
		one("rewrite permanent", rq("GET /rw/perm/x HTTP/1.1")),
		one("rewrite args", rq("GET /rw/args/x?old=2 HTTP/1.1")),
		one("rewrite drop args", rq("GET /rw/noargs/x?old=2 HTTP/1.1")),
		one("rewrite chain", rq("GET /rw/chain/y HTTP/1.1")),
		one("rewrite no match", rq("GET /rw/none HTTP/1.1")),
		one("rewrite cycle", rq("GET /loop HTTP/1.1")),
	}})
}

func TestNginxServerNames(t *testing.T) {
	runDiff(t, diffGroup{name: "names", ports: 2, http: `
  server { listen 127.0.0.1:{{PORT}}; server_name a.test; return 200 "A $server_name $host\n"; }
  server { listen 127.0.0.1:{{PORT}}; return 200 "EMPTY [$server_name] [$host]\n"; }
  server { listen 127.0.0.1:{{PORT}}; server_name *.wild.test .dot.test mail.* ~^(?<sub>[a-z]+)\.re\.test$; return 200 "W $server_name $host $sub $1\n"; }
  server { listen 127.0.0.1:{{PORT}}; server_name *.deep.wild.test; return 200 "DEEP $server_name\n"; }
  server { listen 127.0.0.1:{{PORT}}; server_name ~^www\d\.x$ ~^www.\.x$; return 200 "RX $server_name\n"; }
  server { listen 127.0.0.1:{{PORT2}}; server_name one; return 200 "P2 first\n"; }
  server { listen 127.0.0.1:{{PORT2}} default_server; server_name two .Two.TEST; return 200 "P2 default $server_name\n"; }
  `, cases: []diffCase{
		one("exact", rq("GET / HTTP/1.1", "Host: a.test")),
		one("case and trailing dot", rq("GET / HTTP/1.1", "Host: A.TEST.")),
		one("with port", rq("GET / HTTP/1.1", "Host: a.test:99")),
		one("unknown is default", rq("GET / HTTP/1.1", "Host: zzz")),
		one("leading wildcard", rq("GET / HTTP/1.1", "Host: b.wild.test")),
		one("longest wildcard", rq("GET / HTTP/1.1", "Host: x.deep.wild.test")),
		one("wildcard needs a label", rq("GET / HTTP/1.1", "Host: wild.test")),
		one("dot form itself", rq("GET / HTTP/1.1", "Host: dot.test")),
		one("dot form sub", rq("GET / HTTP/1.1", "Host: q.dot.test")),
		one("trailing wildcard", rq("GET / HTTP/1.1", "Host: mail.example.org")),
		one("regex", rq("GET / HTTP/1.1", "Host: foo.re.test")),
		one("regex order", rq("GET / HTTP/1.1", "Host: www1.x")),
		one("no host is the empty name", rq("GET / HTTP/1.0")),
		one("empty host header", rq("GET / HTTP/1.1", "Host:")),
		{name: "default_server", port: 1, reqs: []string{rq("GET / HTTP/1.1", "Host: zzz")}},
		{name: "first is not default", port: 1, reqs: []string{rq("GET / HTTP/1.1", "Host: one")}},
		{name: "dot form is lower-cased", port: 1, reqs: []string{rq("GET / HTTP/1.1", "Host: x.two.test")}},
	}})
}

func TestNginxErrors(t *testing.T) {
	runDiff(t, diffGroup{name: "errors", http: `
  server {
    listen 127.0.0.1:{{PORT}};
    server_name t;
    location /deny { deny 127.0.0.1; return 200 "no\n"; }
    location /allow { allow 127.0.0.0/8; deny all; return 200 "allowed\n"; }
    location /denyall { allow 10.0.0.0/8; deny all; return 200 "no\n"; }
    location /inherit {
      deny all;
      location /inherit/ok { allow all; return 200 "inner allow\n"; }
      return 200 "no\n";
    }
    location /small { client_max_body_size 10; return 200 "small\n"; }
    location /big { client_max_body_size 0; return 200 "big\n"; }
    location /ep {
      error_page 404 /ep-target;
      error_page 403 =200 /ep-target;
      error_page 418 @named;
      error_page 503 http://example.com/down;
      error_page 500 = /ep-status;
      location /ep/404 { return 404; }
      location /ep/403 { return 403; }
      location /ep/418 { return 418; }
      location /ep/503 { return 503; }
      location /ep/500 { return 500; }
    }
    location = /ep-target { return 200 "target $uri $request_method $status\n"; }
    location = /ep-status { return 202 "accepted\n"; }
    location @named { return 200 "named $uri\n"; }
    location /hdr {
      add_header X-Always a always;
      add_header X-Plain p;
      add_header X-Var "$uri";
      add_header X-Empty "$arg_none";
      location /hdr/404 { return 404; }
      location /hdr/ok { return 200 "ok\n"; }
      location /hdr/own { add_header X-Own o; return 200 "own\n"; }
      location /hdr/302 { return 302 /x; }
      return 200 "hdr\n";
    }
    location /int { internal; return 200 "internal\n"; }
    location /ka { keepalive_timeout 0; return 200 "no keepalive\n"; }
    location /kah { keepalive_timeout 30 20; return 200 "keepalive header\n"; }
    location / { return 200 "root $request_method\n"; }
  }`, cases: []diffCase{
		one("deny", rq("GET /deny HTTP/1.1")),
		one("allow", rq("GET /allow HTTP/1.1")),
		one("deny all", rq("GET /denyall HTTP/1.1")),
		one("nested allow", rq("GET /inherit/ok HTTP/1.1")),
		one("inherited deny", rq("GET /inherit/x HTTP/1.1")),
		one("413", rq("POST /small HTTP/1.1", "Content-Length: 11", "\n\nhello world")),
		one("413 not over", rq("POST /small HTTP/1.1", "Content-Length: 10", "\n\nhelloworld")),
		one("no limit", rq("POST /big HTTP/1.1", "Content-Length: 5", "\n\nhello")),
		one("error_page uri", rq("GET /ep/404 HTTP/1.1")),
		one("error_page =200", rq("POST /ep/403 HTTP/1.1", "Content-Length: 0")),
		one("error_page named", rq("GET /ep/418 HTTP/1.1")),
		one("error_page redirect", rq("GET /ep/503 HTTP/1.1")),
		one("error_page =", rq("GET /ep/500 HTTP/1.1")),
		one("add_header 404", rq("GET /hdr/404 HTTP/1.1")),
		one("add_header 200", rq("GET /hdr/ok HTTP/1.1")),
		one("add_header own", rq("GET /hdr/own HTTP/1.1")),
		one("add_header 302", rq("GET /hdr/302 HTTP/1.1")),
		one("internal", rq("GET /int HTTP/1.1")),
		one("keepalive_timeout 0", rq("GET /ka HTTP/1.1")),
		one("keepalive header", rq("GET /kah HTTP/1.1")),
		{name: "keep-alive", reqs: []string{rq("GET /a HTTP/1.1"), rq("HEAD /b HTTP/1.1"), rq("GET /c HTTP/1.0"), rq("GET /d HTTP/1.1")}},
		{name: "HTTP/1.0 keep-alive", reqs: []string{rq("GET /a HTTP/1.0", "Connection: keep-alive"), rq("GET /b HTTP/1.1", "Connection: close")}},
		{name: "pipelined", reqs: []string{rq("GET /a HTTP/1.1") + rq("GET /b HTTP/1.1"), ""}},
		{name: "body discarded", reqs: []string{rq("POST /x HTTP/1.1", "Content-Length: 5", "\n\nhello"), rq("GET /y HTTP/1.1")}},
		{name: "chunked body discarded", reqs: []string{rq("POST /x HTTP/1.1", "Transfer-Encoding: chunked", "\n\n5\r\nhello\r\n0\r\n\r\n"), rq("GET /y HTTP/1.1")}},
		{name: "expect continue", reqs: []string{rq("POST /x HTTP/1.1", "Content-Length: 2", "Expect: 100-continue"), ""}},
		one("HTTP/0.9", "GET /x\r\n"),
		one("no host", "GET / HTTP/1.1\r\nX: y\r\n\r\n"),
		one("lowercase method", rq("get / HTTP/1.1")),
		one("unknown method", rq("FOO / HTTP/1.1")),
		one("HTTP/2.0", rq("GET / HTTP/2.0")),
		one("HTTP/1.10", rq("GET / HTTP/1.10")),
		one("HTTP/1.100", rq("GET / HTTP/1.100", "Host: t")),
		one("HTTP/1.1000", rq("GET / HTTP/1.1000", "Host: t")),
		one("HTTP/10.0", rq("GET / HTTP/10.0", "Host: t")),
		one("bad version", rq("GET / HTTP/0.9")),
		one("asterisk", rq("GET * HTTP/1.1")),
		one("control char", rq("GET /a\x01 HTTP/1.1")),
		one("null byte", rq("GET /a%00 HTTP/1.1")),
		one("bad escape", rq("GET /a%zz HTTP/1.1")),
		one("duplicate host", rq("GET / HTTP/1.1", "Host: a", "Host: b")),
		one("invalid host", rq("GET / HTTP/1.1", "Host: a/b")),
		one("bad content-length", rq("GET / HTTP/1.1", "Content-Length: x")),
		one("two content-lengths", rq("GET / HTTP/1.1", "Content-Length: 0", "Content-Length: 0")),
		one("unknown transfer-encoding", rq("POST / HTTP/1.1", "Transfer-Encoding: gzip")),
		one("transfer-encoding on 1.0", rq("POST / HTTP/1.0", "Transfer-Encoding: chunked")),
		one("TRACE", rq("TRACE / HTTP/1.1")),
		one("space in header name", rq("GET / HTTP/1.1", "Bad Name: x")),
		one("header without colon", rq("GET / HTTP/1.1", "Weird")),
		one("underscore header ignored", rq("GET / HTTP/1.1", "X_Y: 1")),
		one("long URI", rq("GET /"+strings.Repeat("a", 9000)+" HTTP/1.1")),
		one("long header", rq("GET / HTTP/1.1", "X: "+strings.Repeat("a", 9000))),
		one("plain 404", rq("GET /none HTTP/1.1")),
	}})
}

// A server-level return runs before the location's keep-alive checks.
func TestNginxKeepalive(t *testing.T) {
	three := rq("GET / HTTP/1.1") + rq("GET / HTTP/1.1") + rq("GET / HTTP/1.1")
	runDiff(t, diffGroup{name: "keepalive", ports: 3, http: `
  keepalive_requests 2;
  server { listen 127.0.0.1:{{PORT}}; return 200 "server level\n"; }
  server { listen 127.0.0.1:{{PORT2}}; keepalive_timeout 0; return 200 "server level\n"; }
  server { listen 127.0.0.1:{{PORT3}}; location / { return 200 "location $connection_requests\n"; } }`,
		cases: []diffCase{
			{name: "requests limit skipped", reqs: []string{three, "", ""}},
			{name: "timeout 0 still closes", port: 1, reqs: []string{three, "", ""}},
			{name: "requests limit", port: 2, reqs: []string{three, "", ""}},
		}})
}
