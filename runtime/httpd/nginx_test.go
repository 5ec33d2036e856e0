package httpd

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/testnet/oracle"
)

// The differential harness: the same configuration runs in the real nginx
// (when the binary is installed) and in this core, on different ports, and
// the same raw requests must get the same answers. nginx's "Server: nginx"
// and the "<hr><center>nginx</center>" signature of its error pages read
// as zonesync's, ports read as {PORT}, and the Date is masked.

// nginxPreamble wraps a test's http block contents; DIR is the prefix of
// the side the configuration is written for.
const nginxPreamble = `pid {{DIR}}/logs/nginx.pid;
error_log {{DIR}}/logs/error.log;
events {}
http {
  server_tokens off;
  access_log off;
  client_body_temp_path {{DIR}}/tmp/body;
  proxy_temp_path {{DIR}}/tmp/proxy;
  fastcgi_temp_path {{DIR}}/tmp/fastcgi;
  uwsgi_temp_path {{DIR}}/tmp/uwsgi;
  scgi_temp_path {{DIR}}/tmp/scgi;
{{HTTP}}
}
`

// nginxPath returns the nginx binary, or skips the test.
func nginxPath(t testing.TB) string { return oracle.Binary(t) }

// startNginx runs nginx in the foreground with the configuration of dir
// and waits until every address (network, address) accepts connections.
func startNginx(t testing.TB, _ string, dir string, addrs [][2]string) {
	t.Helper()
	var ready []string
	for _, a := range addrs {
		if a[0] == "unix" {
			ready = append(ready, "unix:"+a[1])
		} else {
			ready = append(ready, a[1])
		}
	}
	oracle.Start(t, dir, ready...)
}

// waitABit pauses between two polls of an outside process.
func waitABit(d time.Duration) {
	t := time.NewTimer(d)
	<-t.C
}

// side is one of the two servers of a differential test.
type side struct {
	name  string
	dir   string
	ports []int
}

// normalize makes a response comparable across the two sides.
func (sd side) normalize(r rawResponse) string {
	fix := func(s string) string {
		for _, p := range sd.ports {
			s = strings.ReplaceAll(s, strconv.Itoa(p), "{PORT}")
		}
		return strings.ReplaceAll(s, sd.dir, "{DIR}")
	}
	if sd.name == "nginx" {
		grow := 0
		if strings.Contains(r.body, "<hr><center>nginx</center>") {
			r.body = strings.ReplaceAll(r.body, "<hr><center>nginx</center>", "<hr><center>"+ServerToken+"</center>")
			grow = len(ServerToken) - len("nginx")
		}
		hs := append([]string(nil), r.headers...)
		for i, h := range hs {
			switch {
			case h == "Server: nginx":
				hs[i] = "Server: " + ServerToken
			case strings.HasPrefix(h, "Content-Length: ") && grow != 0:
				n, _ := strconv.Atoi(h[len("Content-Length: "):])
				hs[i] = "Content-Length: " + strconv.Itoa(n+grow)
			}
		}
		r.headers = hs
	}
	for i, h := range r.headers {
		r.headers[i] = fix(h)
	}
	r.status, r.body = fix(r.status), fix(r.body)
	return r.String()
}

// diffCase is one exchange: raw requests sent on one connection, each
// answer read in turn.
type diffCase struct {
	name string
	reqs []string
	unix bool   // over the UNIX socket {{DIR}}/http.sock
	port int    // which port (0 for {{PORT}}, 1 for {{PORT2}}...)
	host string // the address to dial, 127.0.0.1 unless set
	tls  bool   // over TLS; the first answer says which certificate came
	sni  string // the TLS server name
}

// diffGroup is a configuration and the exchanges run against it.
type diffGroup struct {
	name  string
	http  string // the http block's contents; {{PORT}} {{PORT2}} {{DIR}}
	ports int
	files map[string]string // files to create under the prefix
	unix  bool
	cases []diffCase
}

// fileTime is the modification time of the files both sides serve.
var fileTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// prepare writes a side's configuration and files.
func (g diffGroup) prepare(t *testing.T, sd side) string {
	t.Helper()
	vars := map[string]string{"DIR": sd.dir}
	for i, p := range sd.ports {
		key := "PORT"
		if i > 0 {
			key = fmt.Sprintf("PORT%d", i+1)
		}
		vars[key] = strconv.Itoa(p)
	}
	for name, body := range g.files {
		path := filepath.Join(sd.dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, fileTime, fileTime); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(sd.dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := expand(strings.Replace(nginxPreamble, "{{HTTP}}", g.http, 1), vars)
	if err := os.WriteFile(filepath.Join(sd.dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// exchange runs a case against one side.
func (c diffCase) exchange(t *testing.T, sd side) []string {
	t.Helper()
	host := c.host
	if host == "" {
		host = "127.0.0.1"
	}
	network, addr := "tcp", net.JoinHostPort(host, strconv.Itoa(sd.ports[c.port]))
	if c.unix {
		network, addr = "unix", filepath.Join(sd.dir, "http.sock")
	}
	cl := dial(t, network, addr)
	var out []string
	if c.tls {
		tc := tls.Client(cl.nc, &tls.Config{InsecureSkipVerify: true, ServerName: c.sni})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		st := tc.ConnectionState()
		out = append(out, "certificate: "+st.PeerCertificates[0].Subject.CommonName+" "+tls.VersionName(st.Version))
		cl.nc, cl.br = tc, bufio.NewReader(tc)
	}
	for _, req := range c.reqs {
		cl.send(req)
		r := cl.read(strings.HasPrefix(req, "HEAD "))
		out = append(out, sd.normalize(r))
		if r.closed {
			break
		}
	}
	// Wait until the server is done with the connection, access log
	// lines written: half-close it and read to its end, so that the next
	// case's lines come after this one's on both sides.
	if cw, ok := cl.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		cl.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, cl.br)
	}
	return out
}

// runDiff runs a group against nginx and zonesync, and returns the two
// sides for further checks.
func runDiff(t *testing.T, g diffGroup) (ng, zs side) {
	bin := nginxPath(t)
	nports := max(g.ports, 1)
	mk := func(name string) side {
		sd := side{name: name, dir: t.TempDir()}
		for range nports {
			sd.ports = append(sd.ports, freePort(t))
		}
		return sd
	}
	ng, zs = mk("nginx"), mk("zonesync")
	g.prepare(t, ng)
	// nginx binds every socket before it accepts on any: the first port
	// (always on 127.0.0.1) says it is ready.
	startNginx(t, bin, ng.dir, [][2]string{{"tcp", fmt.Sprintf("127.0.0.1:%d", ng.ports[0])}})
	conf := g.prepare(t, zs)
	rn := startServer(t, zs.dir, conf, Deps{})
	for _, c := range g.cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.exchange(t, ng)
			got := c.exchange(t, zs)
			if strings.Join(got, "\n----\n") != strings.Join(want, "\n----\n") {
				t.Errorf("zonesync answers\n%s\n\nnginx answers\n%s", strings.Join(got, "\n----\n"), strings.Join(want, "\n----\n"))
			}
		})
	}
	if t.Failed() {
		t.Logf("zonesync log:\n%s", rn.log)
	}
	return ng, zs
}
