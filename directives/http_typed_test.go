package directives

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// loadHTTP loads an http block body (with events) from a temp folder and
// runs the checks; it returns the config or the first error's text.
func loadHTTP(t *testing.T, body string) (*Config, string, []string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte("events {}\nhttp {\n"+body+"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warns []string
	o := Options{Prefix: dir + "/", ConfFile: file, Test: true, Log: func(s Severity, err error) {
		warns = append(warns, "["+s.String()+"] "+strings.ReplaceAll(err.Error(), file, "F"))
	}}
	c, err := Load(o)
	if err == nil {
		err = c.Check()
	}
	if err != nil {
		return nil, strings.ReplaceAll(strings.ReplaceAll(err.Error(), file, "F"), dir, "D"), warns
	}
	return c, "", warns
}

func mustLoad(t *testing.T, body string) *Config {
	t.Helper()
	c, msg, _ := loadHTTP(t, body)
	if msg != "" {
		t.Fatalf("load: %s", msg)
	}
	return c
}

func TestHTTPServersInheritance(t *testing.T) {
	c := mustLoad(t, `
    root /srv/www;
    add_header X-A 1;
    keepalive_timeout 30s 20;
    allow 10.0.0.0/8;
    deny all;
    server {
        listen 127.0.0.1:8080 default_server;
        server_name Example.COM *.example.org;
        add_header X-B 2 always;
        location / {
            index a.html;
            location /api/ {
                proxy_pass http://127.0.0.1:9000;
                allow 192.168.0.0/16;
            }
        }
        location = /exact {
            alias /data/x;
            return 204;
        }
        location @named {
            keepalive_timeout 5s;
        }
    }`)
	servers := HTTPServers(c.Main)
	if len(servers) != 1 {
		t.Fatalf("got %d servers", len(servers))
	}
	s := servers[0]
	if len(s.Listen) != 1 || s.Listen[0].Addrs[0] != "127.0.0.1:8080" || !s.Listen[0].DefaultServer {
		t.Errorf("listen: %+v", s.Listen)
	}
	if want := []ServerName{{Name: "example.com"}, {Name: "*.example.org"}}; !slices.Equal(s.Names, want) {
		t.Errorf("names: %+v", s.Names)
	}
	if s.Root != "/srv/www" {
		t.Errorf("server root %q", s.Root)
	}
	if s.KeepaliveTimeout != (KeepaliveTimeout{30 * time.Second, 20 * time.Second}) {
		t.Errorf("keepalive: %+v", s.KeepaliveTimeout)
	}
	// add_header: the server's own list replaces the http one.
	if len(s.AddHeaders) != 1 || s.AddHeaders[0] != (Header{"X-B", "2", true}) {
		t.Errorf("server headers: %+v", s.AddHeaders)
	}
	if len(s.Locations) != 3 {
		t.Fatalf("got %d locations", len(s.Locations))
	}
	root, exact, named := s.Locations[0], s.Locations[1], s.Locations[2]
	if !slices.Equal(root.Index, []string{"a.html"}) || root.Root != "/srv/www" {
		t.Errorf("/: index %v root %q", root.Index, root.Root)
	}
	if len(root.Access) != 2 || !root.Access[0].Net.IsValid() || !root.Access[1].Deny || !root.Access[1].All {
		t.Errorf("/ access: %+v", root.Access)
	}
	api := root.Locations[0]
	if api.Name != "/api/" || api.ProxyPass == nil || api.ProxyPass.Upstream.Port != 9000 {
		t.Errorf("/api/: %+v", api.ProxyPass)
	}
	if len(api.Access) != 1 || api.Access[0].Net.String() != "192.168.0.0/16" {
		t.Errorf("/api/ access (own list only): %+v", api.Access)
	}
	if !slices.Equal(api.Index, []string{"a.html"}) || api.ProxyReadTimeout != 60*time.Second {
		t.Errorf("/api/ inherits index %v, default read timeout %v", api.Index, api.ProxyReadTimeout)
	}
	if !exact.Exact || exact.Alias != "/data/x" || exact.Root != "" || exact.Return.Code != 204 {
		t.Errorf("= /exact: %+v", exact.Settings)
	}
	if !named.Named || named.KeepaliveTimeout.Timeout != 5*time.Second {
		t.Errorf("@named: %+v", named.KeepaliveTimeout)
	}
	if s.AccessLogs[0].Path != "logs/access.log" || s.ClientBodyBufferSize != 16384 || s.DefaultType != "text/plain" {
		t.Errorf("defaults: %+v %d %q", s.AccessLogs, s.ClientBodyBufferSize, s.DefaultType)
	}
}

func TestHTTPDefaultListen(t *testing.T) {
	c := mustLoad(t, `server { server_name a; }`)
	s := HTTPServers(c.Main)[0]
	port := "8000"
	if os.Geteuid() == 0 {
		port = "80"
	}
	if len(s.Listen) != 1 || s.Listen[0].Addrs[0] != "0.0.0.0:"+port || s.Listen[0].D != nil {
		t.Errorf("default listen: %+v", s.Listen)
	}
	c = mustLoad(t, `server { listen 127.0.0.1:8080; }`)
	if n := HTTPServers(c.Main)[0].Names; len(n) != 1 || n[0].Name != "" {
		t.Errorf("default name: %+v", n)
	}
}

func TestListenParameters(t *testing.T) {
	c := mustLoad(t, `server { listen [::1]:8443 ssl http2 proxy_protocol reuseport backlog=100 rcvbuf=8k sndbuf=16k ipv6only=on so_keepalive=30s:10s:3 fastopen=5 deferred quic; ssl_reject_handshake on; }`)
	l := HTTPServers(c.Main)[0].Listen[0]
	want := Listen{D: l.D, Addr: l.Addr, Addrs: []string{"[::1]:8443"}, SSL: true, HTTP2: true, QUIC: true,
		ProxyProtocol: true, ReusePort: true, Bind: true, Deferred: true, Backlog: 100, Rcvbuf: 8192,
		Sndbuf: 16384, IPv6Only: 1, FastOpen: 5, SoKeepalive: 1, KeepIdle: 30 * time.Second,
		KeepIntvl: 10 * time.Second, KeepCnt: 3, Set: true}
	if !reflect.DeepEqual(*l, want) {
		t.Errorf("got  %+v\nwant %+v", *l, want)
	}
}

// The messages of the http family, as nginx 1.22.1 prints them (checked
// with nginx -t; Plus-only ones follow NGINX Plus's documentation).
var httpMessageCases = []struct{ body, want string }{
	{`server { listen 80 foo; }`, `invalid parameter "foo" in F:3`},
	{`server { listen 0; }`, `invalid port in "0" of the "listen" directive in F:3`},
	{`server { listen 80 backlog=0; }`, `invalid backlog "backlog=0" in F:3`},
	{`server { listen 80 so_keepalive=x; }`, `invalid so_keepalive value: "x" in F:3`},
	{`server { listen 80; listen 80; }`, `a duplicate listen 0.0.0.0:80 in F:3`},
	{`server { listen 80 default; } server { listen 80 default_server; }`, `a duplicate default server for 0.0.0.0:80 in F:3`},
	{`server { listen 80 reuseport; } server { listen 80 backlog=5; }`, `duplicate listen options for 0.0.0.0:80 in F:3`},
	{`server { listen 80 ssl; }`, `no "ssl_certificate" is defined for the "listen ... ssl" directive in F:3`},
	{`server { server_name *; }`, `server name "*" is invalid in F:3`},
	{`server { server_name a*b; } server { }`, `invalid server name or wildcard "a*b" on 0.0.0.0:` + defPort()},
	{`server { location /a { location /b {} } }`, `location "/b" is outside location "/a" in F:3`},
	{`server { location = /a { location /a/b {} } }`, `location "/a/b" cannot be inside the exact location "/a" in F:3`},
	{`server { location /a { location @b {} } }`, `named location "@b" can be on the server level only in F:3`},
	{`server { location /a {} location ^~ /a {} }`, `duplicate location "/a" in F:3`},
	{`server { location x y {} }`, `invalid location modifier "x" in F:3`},
	{`server { location ~ "a)" {} }`, `pcre2_compile() failed: unmatched closing parenthesis in "a)" at ")" in F:3`},
	{`server { location / { alias /a; root /b; } }`, `"root" directive is duplicate, "alias" directive was specified earlier in F:3`},
	{`server { return 1000; }`, `invalid return code "1000" in F:3`},
	{`server { if ($a ! b) {} }`, `unexpected "!" in condition in F:3`},
	{`server { if (a) {} }`, `invalid condition "a" in F:3`},
	{`server { set a b; }`, `invalid variable name "a" in F:3`},
	{`server { set $uri b; }`, `the duplicate "uri" variable in F:3`},
	{`server { return 200 ${uri; }`, `the closing bracket in "uri" variable is missing in F:3`},
	{`map $uri $a { a b c; }`, `invalid number of the map parameters in F:3`},
	{`map $uri $a { a b; A c; }`, `conflicting parameter "a" in F:3`},
	{`map $uri $a { default a; default b; }`, `duplicate default map parameter in F:3`},
	{`split_clients $uri $a { x a; }`, `invalid percent value "x" in F:3`},
	{`geo $a { x 1; }`, `invalid network "x" in F:3`},
	{`allow example;`, `invalid parameter "example" in F:3`},
	{`add_header X y z;`, `invalid parameter "z" in F:3`},
	{`server { error_page 99 /x; }`, `value "99" must be between 300 and 599 in F:3`},
	{`server { error_page 499 /x; }`, `invalid value "499" in F:3`},
	{`access_log logs/a.log foo;`, `unknown log format "foo" in F:3`},
	{`access_log logs/a.log combined flush=1s;`, `no buffer is defined for access_log "logs/a.log" in F:3`},
	{`access_log nosuch/a.log;`, `open() "D/nosuch/a.log" failed (2: No such file or directory)`},
	{`log_format combined a;`, `duplicate "log_format" name "combined" in F:3`},
	{`log_format x escape=foo a;`, `unknown log format escaping "foo" in F:3`},
	{`keepalive_timeout 10 abc;`, `"keepalive_timeout" directive invalid value in F:3`},
	{`resolver 127.0.0.1 valid=abc;`, `invalid parameter: valid=abc in F:3`},
	{`upstream u {
}`, `no servers are inside upstream in F:4`},
	{`upstream u { server 127.0.0.1 weight=0; }`, `invalid parameter "weight=0" in F:3`},
	{`upstream u { ip_hash; server 127.0.0.1 backup; }`, `balancing method does not support parameter "backup" in F:3`},
	{`upstream u { server 127.0.0.1; } upstream u { server 127.0.0.2; }`, `duplicate upstream "u" in F:3`},
	{`upstream u { server 127.0.0.1; zone z 1k; }`, `zone "z" is too small in F:3`},
	{`upstream u { server 127.0.0.1; keepalive 0; }`, `invalid value "0" in "keepalive" directive in F:3`},
	{`upstream u { server 127.0.0.1; } server { location / { proxy_pass http://u:8080; } }`, `upstream "u" may not have port 8080 in F:3`},
	{`server { location / { proxy_pass http://u:8080; } } upstream u { server 127.0.0.1; }`, `upstream "u" may not have port 8080 in F:3`},
	{`server { location / { proxy_pass ftp://a; } }`, `invalid URL prefix in F:3`},
	{`server { location / { proxy_pass http://127.0.0.1:99999/x; } }`, `invalid port in upstream "127.0.0.1:99999/x" in F:3`},
	{`server { location ~ /a { proxy_pass http://127.0.0.1/x; } }`, `"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block in F:3`},
	{`limit_req_zone $binary_remote_addr zone=one:8k rate=1r/s;`, `zone "zone=one:8k" is too small in F:3`},
	{`limit_req_zone $binary_remote_addr zone=one:1m rate=1r/x;`, `invalid rate "rate=1r/x" in F:3`},
	{`limit_req_zone $binary_remote_addr rate=1r/s zone=:1m;`, `"limit_req_zone" must have "zone" parameter in F:3`},
	{`limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s foo;`, `invalid parameter "foo" in F:3`},
	{`limit_req_zone $a zone=one:1m rate=1r/s; limit_req_zone $b zone=one:1m rate=1r/s;`, `limit_req_zone "one" is already bound to key "$a" in F:3`},
	{`limit_req_zone $a zone=one:1m rate=1r/s; server { limit_req zone=one burst=0; }`, `invalid burst value "burst=0" in F:3`},
	{`limit_req_zone $a zone=one:1m rate=1r/s; server { limit_req zone=one; limit_req zone=one; }`, `"limit_req" directive is duplicate in F:3`},
	{`server { limit_req burst=5; }`, `"limit_req" must have "zone" parameter in F:3`},
	{`server { limit_req zone=nosuch; }`, `zero size shared memory zone "nosuch"`},
	{`server { location /api { api write=maybe; } }`, `invalid value "write=maybe" in F:3`},
	{`upstream u { server 127.0.0.1; sticky learn create=$a lookup=$b zone=s:1m timeout=0; }`, `"sticky" directive invalid timeout in F:3`},
	{`upstream u { server 127.0.0.1; sticky learn create=$a zone=s:1m; }`, `"sticky" directive "lookup" parameter is not specified in F:3`},
	{`upstream u { server 127.0.0.1; sticky learn create=a lookup=$b zone=s:1m; }`, `"sticky" directive missing variable in the "create" parameter in F:3`},
	{`upstream u { server 127.0.0.1; sticky learn create=$a lookup=$b zone=s:1k; }`, `"sticky" directive zone is too small in F:3`},
	{`upstream u { server 127.0.0.1; sticky foo x; }`, `unknown parameter "foo" in F:3`},
	{`upstream u { server 127.0.0.1; sticky cookie c expires=x; }`, `"sticky" directive invalid "expires" parameter value in F:3`},
	{`upstream u { server 127.0.0.1; sticky learn create=$a lookup=$b zone=s:1m; } upstream v { server 127.0.0.1; sticky learn create=$a lookup=$b zone=s:1m; }`, `sticky zone "s" is already used in upstream "u" in F:3`},
}

func defPort() string {
	if os.Geteuid() == 0 {
		return "80"
	}
	return "8000"
}

func TestHTTPMessages(t *testing.T) {
	for _, c := range httpMessageCases {
		_, got, _ := loadHTTP(t, c.body)
		if got != c.want {
			t.Errorf("%s\n got: %s\nwant: %s", c.body, got, c.want)
		}
	}
}

func TestHTTPWarnings(t *testing.T) {
	for _, c := range []struct {
		body string
		want []string
	}{
		{`server { server_name .a.com; } server { server_name *.a.com a.com; }`, []string{
			`[warn] conflicting server name "*.a.com" on 0.0.0.0:` + defPort() + `, ignored`,
			`[warn] conflicting server name "a.com" on 0.0.0.0:` + defPort() + `, ignored`}},
		{`server { listen 127.0.0.1:8080; server_name x; } server { listen 127.0.0.1:8081; server_name x; }`, nil},
		{`allow 10.0.0.1/8;`, []string{`[warn] low address bits of 10.0.0.1/8 are meaningless in F:3`}},
		{`index a /b c;`, []string{`[warn] only the last index in "index" directive should be absolute in F:3`}},
		{`types { a b c; a b; }`, []string{`[warn] duplicate extension "b", content type: "a", previous content type: "a" in F:3`}},
		{`upstream u { least_conn; ip_hash; server 127.0.0.1; }`, []string{`[warn] load balancing method redefined in F:3`}},
		{`geo $g { 10.0.0.0/8 1; 10.0.0.0/8 2; }`, []string{`[warn] duplicate network "10.0.0.0/8", value: "2", old value: "1" in F:3`}},
	} {
		_, msg, warns := loadHTTP(t, c.body)
		if msg != "" || !slices.Equal(warns, c.want) {
			t.Errorf("%s\n got: %q %q\nwant: %q", c.body, msg, warns, c.want)
		}
	}
}

func TestZonesOfHTTP(t *testing.T) {
	c := mustLoad(t, `
    limit_req_zone $binary_remote_addr zone=req:1m rate=30r/m sync;
    upstream u {
        zone ups 64k;
        server 127.0.0.1:8081 weight=2 max_fails=3 fail_timeout=5s backup;
        server 127.0.0.1:8082 route=a drain slow_start=10s max_conns=7;
        sticky learn create=$upstream_cookie_sid lookup=$cookie_sid zone=sess:1m timeout=1h header sync;
    }
    server {
        listen 127.0.0.1:8080;
        location / { limit_req zone=req burst=5 delay=2; proxy_pass http://u; }
        location /api { api write=on; }
    }
}
stream {
    server { listen 127.0.0.1:12345; zone_sync; zone_sync_server 127.0.0.1:12345; }`)
	zs := ZonesOf(c.Loader)
	req, ups, sess := zs.Find("req", ZoneLimitReq, ""), zs.Find("ups", ZoneOther, "http upstream"), zs.Find("sess", ZoneSticky, "")
	if req == nil || !req.Sync || req.Size != 1<<20 || req.Params.(*LimitReqZone).Rate.String() != "30r/m" {
		t.Errorf("req zone: %+v", req)
	}
	if ups == nil || ups.Sync || ups.Size != 64<<10 {
		t.Errorf("upstream zone: %+v", ups)
	}
	if sess == nil || !sess.Sync || sess.Size != 1<<20 {
		t.Errorf("sticky zone: %+v", sess)
	}
	us := HTTPUpstreams(c.Main)
	if len(us) != 1 || len(us[0].Servers) != 2 {
		t.Fatalf("upstreams: %+v", us)
	}
	s0, s1 := us[0].Servers[0], us[0].Servers[1]
	if s0.Weight != 2 || s0.MaxFails != 3 || s0.FailTimeout != 5*time.Second || !s0.Backup || s0.Addrs[0] != "127.0.0.1:8081" {
		t.Errorf("server 0: %+v", s0)
	}
	if s1.Route != "a" || !s1.Drain || s1.SlowStart != 10*time.Second || s1.MaxConns != 7 || s1.Weight != 1 {
		t.Errorf("server 1: %+v", s1)
	}
	st := StickyOf(us[0])
	if st == nil || st.Method != "learn" || st.Timeout != time.Hour || !st.Header || !st.Sync ||
		!slices.Equal(st.Create, []string{"upstream_cookie_sid"}) || !slices.Equal(st.Lookup, []string{"cookie_sid"}) {
		t.Errorf("sticky: %+v", st)
	}
	s := HTTPServers(c.Main)[0]
	lr := s.Locations[0].LimitReqs
	if len(lr) != 1 || lr[0].Zone != req || lr[0].Burst != 5 || lr[0].Delay != 2 {
		t.Errorf("limit_req: %+v", lr)
	}
	if s.Locations[0].ProxyPass.Upstream != us[0] {
		t.Errorf("proxy_pass does not use the upstream block")
	}
	if a := s.Locations[1].API; a == nil || !a.Write {
		t.Errorf("api: %+v", a)
	}
}
