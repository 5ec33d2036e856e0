package directives

import (
	"reflect"
	"testing"
	"time"
)

// zsStreamCases are stream configurations with nginx 1.22.1's message
// (checked with nginx -t when written; resolver's ipv4= and status_zone=
// are newer than 1.22 and follow current nginx); "" is a valid
// configuration.
var zsStreamCases = []struct{ name, conf, want string }{
	{"no listen", "stream { server { return x; } }", `no "listen" is defined for server in DIR/nginx.conf:2`},
	{"no handler", "stream { server { listen 1; } }", `no handler for server in DIR/nginx.conf:2`},
	{"unknown parameter", "stream { server { listen 1 bogus; return x; } }", `the invalid "bogus" parameter in DIR/nginx.conf:2`},
	{"default_server is not 1.22's", "stream { server { listen 1 default_server; return x; } }", `the invalid "default_server" parameter in DIR/nginx.conf:2`},
	{"bad backlog", "stream { server { listen 1 backlog=0; return x; } }", `invalid backlog "backlog=0" in DIR/nginx.conf:2`},
	{"bad rcvbuf", "stream { server { listen 1 rcvbuf=x; return x; } }", `invalid rcvbuf "rcvbuf=x" in DIR/nginx.conf:2`},
	{"bad sndbuf", "stream { server { listen 1 sndbuf=-1; return x; } }", `invalid sndbuf "sndbuf=-1" in DIR/nginx.conf:2`},
	{"bad fastopen", "stream { server { listen 1 fastopen=x; return x; } }", `invalid fastopen "fastopen=x" in DIR/nginx.conf:2`},
	{"bad ipv6only", "stream { server { listen [::]:1 ipv6only=ox; return x; } }", `invalid ipv6only flags "ox" in DIR/nginx.conf:2`},
	{"ipv6only not o", "stream { server { listen [::]:1 ipv6only=x; return x; } }", `the invalid "ipv6only=x" parameter in DIR/nginx.conf:2`},
	{"bad so_keepalive", "stream { server { listen 1 so_keepalive=::0; return x; } }", `invalid so_keepalive value: "::0" in DIR/nginx.conf:2`},
	{"udp backlog", "stream { server { listen 1 udp backlog=3 ssl; return x; } }", `"listen" directive "backlog" parameter is incompatible with "udp" in DIR/nginx.conf:2`},
	{"udp ssl", "stream { server { listen 1 udp ssl; return x; } }", `"listen" directive "ssl" parameter is incompatible with "udp" in DIR/nginx.conf:2`},
	{"udp proxy_protocol", "stream { server { listen 1 udp proxy_protocol; return x; } }", `"listen" directive "proxy_protocol" parameter is incompatible with "udp" in DIR/nginx.conf:2`},
	{"udp fastopen", "stream { server { listen 1 udp fastopen=3; return x; } }", `"listen" directive "fastopen" parameter is incompatible with "udp" in DIR/nginx.conf:2`},
	{"duplicate pair", "stream { server { listen 1234; return x; } server { listen 0.0.0.0:1234; return x; } }",
		`duplicate "0.0.0.0:1234" address and port pair in DIR/nginx.conf:2`},
	{"duplicate by name", "stream { server { listen 127.0.0.1:1234; return x; } server { listen localhost:1234; return x; } }",
		`duplicate "127.0.0.1:1234" address and port pair in DIR/nginx.conf:2`},
	{"duplicate unix", "stream { server { listen unix:/tmp/a; listen unix:/tmp/a; return x; } }",
		`duplicate "unix:/tmp/a" address and port pair in DIR/nginx.conf:2`},
	{"tcp and udp share a port", "stream { server { listen 1234; listen 1234 udp; return x; } }", ""},
	{"host not found", "stream { server { listen nosuch.zonesync.invalid:1; return x; } }",
		`host not found in "nosuch.zonesync.invalid:1" of the "listen" directive in DIR/nginx.conf:2`},
	{"bad port", "stream { server { listen 127.0.0.1:0; return x; } }", `invalid port in "127.0.0.1:0" of the "listen" directive in DIR/nginx.conf:2`},
	{"return twice", "stream { server { listen 1; return x; return y; } }", `"return" directive is duplicate in DIR/nginx.conf:2`},
	{"proxy_pass twice", "stream { server { listen 1; proxy_pass 1.2.3.4:5; proxy_pass 1.2.3.4:5; } }", `"proxy_pass" directive is duplicate in DIR/nginx.conf:2`},
	{"proxy_pass after return", "stream { server { listen 1; return x; proxy_pass 1.2.3.4:5; } }", ""},
	{"return after proxy_pass", "stream { server { listen 1; proxy_pass 1.2.3.4:5; return x; } }", ""},
	{"proxy_pass no port", "stream {\nserver { listen 1;\nproxy_pass backend; }\n}", `no port in upstream "backend" in DIR/nginx.conf:4`},
	{"proxy_pass upstream later", "stream { server { listen 1; proxy_pass backend; } upstream backend { server 1.2.3.4:5; } }", ""},
	{"proxy_pass upstream port", "stream { server { listen 1; proxy_pass bAckend:12; } upstream backend { server 1.2.3.4:5; } }",
		`upstream "bAckend" may not have port 12 in DIR/nginx.conf:2`},
	{"proxy_pass host not found", "stream { server { listen 1; proxy_pass nosuch.zonesync.invalid:5; } }",
		`host not found in upstream "nosuch.zonesync.invalid" in DIR/nginx.conf:2`},
	{"proxy_pass bad host", "stream { server { listen 1; proxy_pass http://1.2.3.4:5; } }", `invalid host in upstream "http://1.2.3.4:5" in DIR/nginx.conf:2`},
	{"proxy_pass variable", "stream { server { listen 1; proxy_pass $remote_addr:55; } }", ""},
	{"unknown variable", "stream { server { listen 1; return $http_host; } }", `unknown "http_host" variable`},
	{"map variable", "stream { map $remote_addr $dst { default 1; } server { listen 1; return \"${dst}$1\"; } }", ""},
	{"unclosed variable", "stream { server { listen 1; return \"${remote_addr\"; } }", `the closing bracket in "remote_addr" variable is missing in DIR/nginx.conf:2`},
	{"resolver bad valid", "stream { resolver 1.2.3.4 valid=x; }", `invalid parameter: valid=x in DIR/nginx.conf:2`},
	{"resolver bad ipv6", "stream { resolver 1.2.3.4 ipv6=x; }", `invalid parameter: ipv6=x in DIR/nginx.conf:2`},
	{"resolver both off", "stream { resolver 1.2.3.4 ipv4=off ipv6=off; }", `"ipv4" and "ipv6" cannot both be "off" in DIR/nginx.conf:2`},
	{"resolver bad port", "stream { resolver 1.2.3.4:0; }", `invalid port in resolver "1.2.3.4:0" in DIR/nginx.conf:2`},
	{"resolver bad host", "stream { resolver 1.2.3.4/24; }", `invalid host in resolver "1.2.3.4/24" in DIR/nginx.conf:2`},
	{"resolver not found", "stream { resolver nosuch.zonesync.invalid; }", `host not found in resolver "nosuch.zonesync.invalid" in DIR/nginx.conf:2`},
	{"resolver twice", "stream { resolver 1.2.3.4; resolver 1.2.3.5; }", `"resolver" directive is duplicate in DIR/nginx.conf:2`},
	{"resolver_timeout twice", "stream { resolver_timeout 1s; resolver_timeout 2s; }", `"resolver_timeout" directive is duplicate in DIR/nginx.conf:2`},
	{"deny bad", "stream { deny 1.2.3.4/33; }", `invalid parameter "1.2.3.4/33" in DIR/nginx.conf:2`},
	{"proxy_timeout bad", "stream { proxy_timeout x; }", `"proxy_timeout" directive invalid value in DIR/nginx.conf:2`},
}

func TestStreamMessages(t *testing.T) {
	for _, c := range zsStreamCases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := zsLoad(t, c.conf, nil)
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestStreamListen(t *testing.T) {
	conf := "stream { server { listen [::1]:80 udp reuseport rcvbuf=64k sndbuf=1m ipv6only=off; " +
		"listen 8080 ssl proxy_protocol backlog=100 so_keepalive=30m::10 fastopen=5; " +
		"ssl_certificate node.crt; ssl_certificate_key node.key; return x; } }"
	cfg := zsMust(t, conf, zsCertFiles())
	var srv *Level
	cfg.Main.Each(StreamServer, func(l *Level) { srv = l })
	ls := StreamListens(srv)
	a, b := ls[0], ls[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"text", a.Text, []string{"[::1]:80"}},
		{"udp", [2]bool{a.UDP, b.UDP}, [2]bool{true, false}},
		{"reuseport", a.Reuseport && a.Bind, true},
		{"bufs", [2]int64{a.Rcvbuf, a.Sndbuf}, [2]int64{64 << 10, 1 << 20}},
		{"ipv6only", a.IPv6Only, false},
		{"defaults", [3]int{a.Backlog, a.Fastopen, int(b.Rcvbuf)}, [3]int{511, -1, -1}},
		{"wildcard", b.Text, []string{"0.0.0.0:8080"}},
		{"ssl", b.SSL && b.ProxyProtocol, true},
		{"backlog", b.Backlog, 100},
		{"keepalive", [3]any{b.SoKeepalive, b.KeepIdle, b.KeepCnt}, [3]any{"tune", 30 * time.Minute, 10}},
		{"fastopen", b.Fastopen, 5},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestStreamResolver(t *testing.T) {
	conf := "stream { resolver 10.0.0.1 [::1]:5353 localhost valid=30s ipv6=off status_zone=dns; server { listen 1; return x; } }"
	cfg := zsMust(t, conf, nil)
	var srv *Level
	cfg.Main.Each(StreamServer, func(l *Level) { srv = l })
	r := srv.Get("resolver").(*StreamResolver)
	var addrs []string
	for _, a := range r.Addrs {
		addrs = append(addrs, a.String())
	}
	want := []string{"10.0.0.1:53", "[::1]:5353", "127.0.0.1:53"} // localhost may add [::1]:53
	if !reflect.DeepEqual(addrs[:min(3, len(addrs))], want) || r.Valid != 30*time.Second || !r.IPv4 || r.IPv6 || r.StatusZone != "dns" {
		t.Errorf("got %v %v ipv4=%v ipv6=%v zone=%q", addrs, r.Valid, r.IPv4, r.IPv6, r.StatusZone)
	}
	if got := srv.Get("resolver_timeout"); got != 30*time.Second {
		t.Errorf("resolver_timeout default %v", got)
	}
	if got := srv.Get("proxy_timeout"); got != 10*time.Minute {
		t.Errorf("proxy_timeout default %v", got)
	}
	if got := srv.Get("proxy_connect_timeout"); got != time.Minute {
		t.Errorf("proxy_connect_timeout default %v", got)
	}
}
