package upstream

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/testnet"
	"github.com/zonesync/zonesync/runtime/testnet/oracle"
)

// The differential test: the real nginx 1.22.1 proxies requests to four
// loopback backends that answer with their names, through one upstream
// per case, and each answer must be the backend a Group built from the
// same configuration picks for the same key or client address. The
// cases cover the first pick, the rehash past a down server, the retry
// after a refused connection (max_fails=0, so the server is never taken
// out and every request that lands on it retries), the fall back to the
// round robin after 20 misses, and the round robin of an empty key.

// diffServers are the server lines of the cases; B1..B4 are backends,
// DEAD a port nothing listens on.
const diffServers = `server 127.0.0.1:{{B1}};
    server 127.0.0.1:{{B2}} weight=2%s;
    server 127.0.0.1:{{B3}};
    server 127.0.0.1:{{B4}} weight=3;`

// diffUpstreams are the upstreams, by name: what each block holds.
var diffUpstreams = []struct{ name, block string }{
	{"hash", "hash $arg_k; " + fmt.Sprintf(diffServers, "")},
	{"ring", "hash $arg_k consistent; " + fmt.Sprintf(diffServers, "")},
	{"iphash", "ip_hash; " + fmt.Sprintf(diffServers, "")},
	{"hash_down", "hash $arg_k; " + fmt.Sprintf(diffServers, " down")},
	{"ring_down", "hash $arg_k consistent; " + fmt.Sprintf(diffServers, " down")},
	{"iphash_down", "ip_hash; " + fmt.Sprintf(diffServers, " down")},
	{"hash_dead", "hash $arg_k; " + strings.Replace(fmt.Sprintf(diffServers, " max_fails=0"), "{{B2}}", "{{DEAD}}", 1)},
	{"ring_dead", "hash $arg_k consistent; " + strings.Replace(fmt.Sprintf(diffServers, " max_fails=0"), "{{B2}}", "{{DEAD}}", 1)},
	{"iphash_dead", "ip_hash; " + strings.Replace(fmt.Sprintf(diffServers, " max_fails=0"), "{{B2}}", "{{DEAD}}", 1)},
	// a backup server listed before the method is accepted by nginx; the
	// hash never picks it, the round robin it falls back to does.
	{"hash_fallback", "server 127.0.0.1:{{B3}} backup; hash $arg_k; server 127.0.0.1:{{B1}} down; server 127.0.0.1:{{DEAD}} max_fails=0;"},
	{"ring_fallback", "server 127.0.0.1:{{B3}} backup; hash $arg_k consistent; server 127.0.0.1:{{B1}} down; server 127.0.0.1:{{DEAD}} max_fails=0;"},
	{"hash_empty", "hash $arg_k; " + fmt.Sprintf(diffServers, "")},
	{"ring_empty", "hash $arg_k consistent; " + fmt.Sprintf(diffServers, "")},
}

const diffConf = `pid {{DIR}}/logs/nginx.pid;
error_log {{DIR}}/logs/error.log;
events {}
http {
  access_log off;
  client_body_temp_path {{DIR}}/tmp/body;
  proxy_temp_path {{DIR}}/tmp/proxy;
  fastcgi_temp_path {{DIR}}/tmp/fastcgi;
  uwsgi_temp_path {{DIR}}/tmp/uwsgi;
  scgi_temp_path {{DIR}}/tmp/scgi;
{{UPSTREAMS}}
  server {
    listen 127.0.0.1:{{PORT}};
    {{LISTEN6}}
{{LOCATIONS}}
  }
}
`

// nginxBin returns the nginx binary, or skips the test.
func nginxBin(t *testing.T) string { return oracle.Binary(t) }

// backends starts one HTTP server per name on a loopback port; each
// answers every request with its name. It returns name -> port.
func backends(t *testing.T, names ...string) map[string]int {
	t.Helper()
	ports := map[string]int{}
	for _, name := range names {
		port := testnet.Port(t, "127.0.0.1")
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, name)
		})}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		ports[name] = port
	}
	return ports
}

// runNginx starts nginx in the foreground (one process) with dir's
// nginx.conf and waits until it accepts on addr.
func runNginx(t *testing.T, _ string, dir, addr string) {
	t.Helper()
	oracle.Start(t, dir, addr)
}

// ask sends GET uri to addr from the local address from (nil: any) and
// returns the body, or "status N" for an answer other than 200.
func ask(t *testing.T, from net.IP, addr, uri string) string {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != nil {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %v: %v", addr, from, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", uri)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "status " + strconv.Itoa(resp.StatusCode)
	}
	return string(body)
}

// simulate is what a proxy does with a Group for one request: it takes
// peers until one answers (the DEAD port refuses) and returns the name
// of the backend that answered.
func simulate(g *Group, names map[string]string, key string, client netip.Addr) string {
	pk := g.Pick(0)
	pk.Key, pk.Client = key, client
	for {
		p := pk.Get()
		if p == nil {
			return "status 502"
		}
		name := names[p.Name]
		if name != "dead" {
			pk.Free(p, false)
			return name
		}
		pk.Free(p, true)
		if pk.Tries == 0 {
			return "status 502"
		}
	}
}

// loadGroups loads a configuration with zonesync's loader and builds a
// Group for each http upstream.
func loadGroups(t *testing.T, file string, now func() time.Time) map[string]*Group {
	t.Helper()
	cfg, err := directives.Load(directives.Options{Prefix: filepath.Dir(file) + "/", ConfFile: file,
		Log: func(directives.Severity, error) {}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := cfg.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	gs := map[string]*Group{}
	for _, u := range directives.HTTPUpstreams(cfg.Main) {
		gs[u.Name] = New(u, now)
	}
	return gs
}

func ipv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func TestNginxDifferential(t *testing.T) {
	bin := nginxBin(t)
	dir := t.TempDir()
	for _, sub := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ports := backends(t, "b1", "b2", "b3", "b4")
	dead := testnet.Port(t, "127.0.0.1")
	port := testnet.Port(t, "127.0.0.1")
	names := map[string]string{fmt.Sprintf("127.0.0.1:%d", dead): "dead"}
	vars := map[string]string{"DIR": dir, "PORT": strconv.Itoa(port), "DEAD": strconv.Itoa(dead)}
	for name, p := range ports {
		names[fmt.Sprintf("127.0.0.1:%d", p)] = name
		vars[strings.ToUpper(name)] = strconv.Itoa(p)
	}
	port6 := 0
	if ipv6Loopback() {
		port6 = testnet.Port(t, "127.0.0.1")
		vars["LISTEN6"] = fmt.Sprintf("listen [::1]:%d;", port6)
	}
	var ups, locs strings.Builder
	for _, u := range diffUpstreams {
		fmt.Fprintf(&ups, "  upstream %s {\n    %s\n  }\n", u.name, u.block)
		fmt.Fprintf(&locs, "    location = /%s { proxy_pass http://%s; }\n", u.name, u.name)
	}
	vars["UPSTREAMS"], vars["LOCATIONS"] = ups.String(), locs.String()
	conf := diffConf
	for range 2 { // the upstreams hold {{B1}}...
		for k, v := range vars {
			conf = strings.ReplaceAll(conf, "{{"+k+"}}", v)
		}
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	groups := loadGroups(t, file, time.Now)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	runNginx(t, bin, dir, addr)

	var keys []string
	for i := range 200 {
		switch i % 4 {
		case 0:
			keys = append(keys, fmt.Sprintf("key-%d", i))
		case 1:
			keys = append(keys, fmt.Sprintf("user%d.example.com", i*7919))
		case 2:
			keys = append(keys, strconv.Itoa(i*104729))
		default:
			keys = append(keys, fmt.Sprintf("s_%x", i*2654435761))
		}
	}
	used := map[string]map[string]bool{} // upstream -> backends nginx used
	check := func(up, want, got, what string) {
		t.Helper()
		if used[up] == nil {
			used[up] = map[string]bool{}
		}
		used[up][want] = true
		if got != want {
			t.Errorf("%s %s: nginx answered from %s, the Group picks %s", up, what, want, got)
		}
	}
	for _, up := range []string{"hash", "ring", "hash_down", "ring_down", "hash_dead", "ring_dead", "hash_fallback", "ring_fallback"} {
		g := groups[up]
		if g.HashKey() != "$arg_k" {
			t.Fatalf("%s: HashKey = %q, want $arg_k", up, g.HashKey())
		}
		n := len(keys)
		if strings.HasSuffix(up, "_fallback") {
			n = 10
		}
		for _, k := range keys[:n] {
			check(up, ask(t, nil, addr, "/"+up+"?k="+k), simulate(g, names, k, netip.Addr{}), "key "+k)
		}
	}
	// the round robin of an empty key, from a fresh state on both sides.
	for _, up := range []string{"hash_empty", "ring_empty"} {
		var want, got []string
		for range 14 {
			want = append(want, ask(t, nil, addr, "/"+up+"?k="))
			got = append(got, simulate(groups[up], names, "", netip.Addr{}))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s with an empty key: nginx answered\n%s\nthe Group picks\n%s", up, want, got)
		}
	}
	// ip_hash from 127.A.B.1: each client its own /24.
	for i := range 120 {
		ip := net.IPv4(127, byte(1+i/40), byte(i*37%256), 1)
		client := netip.AddrFrom4([4]byte(ip.To4()))
		for _, up := range []string{"iphash", "iphash_down", "iphash_dead"} {
			check(up, ask(t, ip, addr, "/"+up), simulate(groups[up], names, "", client), "client "+ip.String())
		}
	}
	if port6 != 0 {
		for _, up := range []string{"iphash", "iphash_down", "iphash_dead"} {
			check(up, ask(t, nil, fmt.Sprintf("[::1]:%d", port6), "/"+up), simulate(groups[up], names, "", netip.IPv6Loopback()), "client ::1")
		}
	}
	// the cases must have exercised what they are about.
	for up, min := range map[string]int{"hash": 4, "ring": 4, "iphash": 4, "hash_down": 3, "ring_down": 3, "iphash_down": 3, "hash_dead": 3, "ring_dead": 3, "iphash_dead": 3} {
		if len(used[up]) < min {
			t.Errorf("%s: nginx used only %v", up, used[up])
		}
	}
	for _, up := range []string{"hash_fallback", "ring_fallback"} {
		if !used[up]["b3"] || len(used[up]) != 1 {
			t.Errorf("%s: nginx used %v, want the backup b3 only", up, used[up])
		}
	}
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
		t.Logf("nginx error log:\n%s", log)
	}
}
