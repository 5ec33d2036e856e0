package streamd

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/testnet/oracle"
)

// startNginx runs the real nginx with the configuration in dir/nginx.conf
// until the test ends, once ready answers on probe; it skips the test
// without nginx or its stream module.
func startNginx(t *testing.T, dir, conf, probe string) {
	t.Helper()
	oracle.Binary(t)
	load := oracle.LoadStream(t)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(load+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The probe is a server whose content is "return", so that it leaves
	// nothing behind in the upstream's state.
	oracle.Start(t, dir, probe)
}

// echoSession sends send, reads as many bytes back and closes.
func echoSession(t testing.TB, addr, send string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(send))
	b := make([]byte, len(send))
	n, err := io.ReadFull(c, b)
	if err != nil {
		return string(b[:n]) + "(" + err.Error() + ")"
	}
	return string(b)
}

// TestNginxProxy runs the same stream proxy configuration in nginx and
// here, against the same backends, and compares what the clients
// receive, the access log and the error log: round robin order with
// weights, failover on a refused port, no live upstreams, backup,
// echo with the client closing, proxy_half_close, a variable target,
// proxy_timeout and proxy_connect_timeout.
func TestNginxProxy(t *testing.T) {
	a, b, c := namer(t, "a"), namer(t, "b"), namer(t, "c")
	e, quiet, hole := echo(t), silent(t), blackhole(t)
	dead, dead2 := refused(t), refused(t)
	const nports = 12
	body := `pid {{DIR}}/logs/nginx.pid;
error_log {{DIR}}/logs/error.log info;
events {}
stream {
  log_format t '$status $upstream_addr sent=$bytes_sent recv=$bytes_received us=$upstream_bytes_sent ur=$upstream_bytes_received uc=$upstream_connect_time uf=$upstream_first_byte_time';
  access_log {{DIR}}/access.log t;
  proxy_timeout 300ms;
  proxy_connect_timeout 300ms;
  upstream rr { server {{A}} weight=5; server {{B}}; server {{C}}; }
  upstream fo { server {{DEAD}}; server {{B}}; }
  upstream dead { server {{DEAD}}; server {{DEAD2}}; }
  upstream bk { server {{DEAD}}; server {{C}} backup; }
  map $server_port $target { {{P6}} rr; {{P7}} {{A}}; default nosuch; }
  server { listen 127.0.0.1:{{P0}}; return "ready"; access_log off; }
  server { listen 127.0.0.1:{{P1}}; proxy_pass rr; }
  server { listen 127.0.0.1:{{P2}}; proxy_pass fo; }
  server { listen 127.0.0.1:{{P3}}; proxy_pass dead; }
  server { listen 127.0.0.1:{{P4}}; proxy_pass {{E}}; }
  server { listen 127.0.0.1:{{P5}}; proxy_pass {{E}}; proxy_half_close on; }
  server { listen 127.0.0.1:{{P6}}; listen 127.0.0.1:{{P7}}; listen 127.0.0.1:{{P8}}; proxy_pass $target; }
  server { listen 127.0.0.1:{{P9}}; proxy_pass {{Q}}; }
  server { listen 127.0.0.1:{{P10}}; proxy_pass {{HOLE}}; }
  server { listen 127.0.0.1:{{P11}}; proxy_pass bk; }
}
`
	type side struct {
		dir   string
		ports []int
	}
	prep := func() side {
		sd := side{dir: t.TempDir()}
		for range nports {
			sd.ports = append(sd.ports, freePort(t))
		}
		return sd
	}
	conf := func(sd side) string {
		s := body
		for i := nports - 1; i >= 0; i-- {
			s = strings.ReplaceAll(s, fmt.Sprintf("{{P%d}}", i), strconv.Itoa(sd.ports[i]))
		}
		for k, v := range map[string]string{"{{DIR}}": sd.dir, "{{A}}": a.addr, "{{B}}": b.addr, "{{C}}": c.addr,
			"{{E}}": e.addr, "{{Q}}": quiet.addr, "{{HOLE}}": hole, "{{DEAD}}": dead, "{{DEAD2}}": dead2} {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	ng, zs := prep(), prep()
	startNginx(t, ng.dir, conf(ng), fmt.Sprintf("127.0.0.1:%d", ng.ports[0]))
	zlog, zbuf := errorLog(t)
	rn := startServer(t, zs.dir, conf(zs), Deps{Log: zlog})

	type step struct {
		port       int
		send       string
		closeWrite bool
		echo       bool
	}
	steps := []step{{port: 1}, {port: 1}, {port: 1}, {port: 1}, {port: 1}, {port: 1}, {port: 1},
		{port: 2}, {port: 2}, {port: 3}, {port: 3},
		{port: 4, send: "ping\n", echo: true}, {port: 5, send: "hello\n", closeWrite: true},
		{port: 6}, {port: 7}, {port: 8}, {port: 9, send: "hi"}, {port: 10}, {port: 11}, {port: 11}}
	run := func(sd side, idle func()) []string {
		var out []string
		for _, st := range steps {
			addr := fmt.Sprintf("127.0.0.1:%d", sd.ports[st.port])
			if st.echo {
				// The client closes first: the session ends after the
				// client has its answer, and the next one waits for it
				// so that the logs keep the sessions' order.
				out = append(out, echoSession(t, addr, st.send))
				idle()
				continue
			}
			out = append(out, dialSession(t, addr, st.send, st.closeWrite))
		}
		return out
	}
	want, got := run(ng, func() {}), run(zs, func() { waitIdle(t, rn.s) })
	for i := range steps {
		if got[i] != want[i] {
			t.Errorf("session %d (server %d): zonesync sends %q, nginx %q", i+1, steps[i].port, got[i], want[i])
		}
	}

	accessLog := func(sd side) string {
		b, _ := os.ReadFile(filepath.Join(sd.dir, "access.log"))
		return timeValue.ReplaceAllString(string(b), "T")
	}
	if g, w := accessLog(zs), accessLog(ng); g != w {
		t.Errorf("access log differs:\nzonesync:\n%s\nnginx:\n%s", g, w)
	}

	nginxLog, _ := os.ReadFile(filepath.Join(ng.dir, "logs", "error.log"))
	g, w := errorLines(zs.ports, zs.dir, zbuf.lines()), errorLines(ng.ports, ng.dir, strings.Split(logPrefix.ReplaceAllString(string(nginxLog), "$1 "), "\n"))
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("error log differs:\nzonesync:\n%s\nnginx:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// waitIdle waits until the server has no session left.
func waitIdle(t testing.TB, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("sessions are still running")
		}
		tm := time.NewTimer(time.Millisecond)
		<-tm.C
	}
}

var (
	connNumber  = regexp.MustCompile(`\*\d+ `)
	localPort   = regexp.MustCompile(`(client|proxy) 127\.0\.0\.1:\d+ connected`)
	listenPorts = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
)

// errorLines are a session log's lines with what differs between two
// runs masked: connection numbers (nginx counts its upstream connections
// too), the local ports of connections, and the listening ports.
func errorLines(ports []int, dir string, lines []string) []string {
	index := map[string]int{}
	for i, p := range ports {
		index[strconv.Itoa(p)] = i
	}
	var out []string
	probe := fmt.Sprintf("127.0.0.1:%d", ports[0])
	for _, l := range lines {
		if !connNumber.MatchString(l) || strings.Contains(l, probe) {
			continue
		}
		l = connNumber.ReplaceAllString(l, "*N ")
		l = localPort.ReplaceAllString(l, "$1 ADDR connected")
		l = listenPorts.ReplaceAllStringFunc(l, func(s string) string {
			if i, ok := index[s[len("127.0.0.1:"):]]; ok {
				return fmt.Sprintf("127.0.0.1:{P%d}", i)
			}
			return s
		})
		out = append(out, strings.ReplaceAll(l, dir, "{DIR}"))
	}
	return out
}
