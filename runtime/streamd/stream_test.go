package streamd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/testnet"
	"github.com/zonesync/zonesync/runtime/testnet/oracle"
)

// freePort returns a port on 127.0.0.1 for a server to bind (see testnet).
func freePort(t testing.TB) int { return testnet.Port(t, "127.0.0.1") }

func loadConfig(t testing.TB, dir, text string) *directives.Config {
	t.Helper()
	for _, sub := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := directives.Load(directives.Options{Prefix: dir + "/", ConfFile: file})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, text)
	}
	if err := cfg.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	return cfg
}

type running struct {
	s    *Server
	done chan struct{}
}

func startServer(t testing.TB, dir, text string, deps Deps) *running {
	t.Helper()
	s, err := New(loadConfig(t, dir, text), deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	rn := &running{s: s, done: make(chan struct{})}
	go func() {
		s.Serve()
		close(rn.done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case <-rn.done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return rn
}

// readAll connects, sends nothing, and reads what the server sends until
// it closes.
func readAll(t testing.TB, network, addr string, tlsName string) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var r io.Reader = c
	if tlsName != "" {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: tlsName})
		if err := tc.Handshake(); err != nil {
			return "handshake failed"
		}
		r = tc
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return string(b) + "(" + err.Error() + ")"
	}
	return string(b)
}

const preamble = `pid {{DIR}}/logs/nginx.pid;
error_log {{DIR}}/logs/error.log;
events {}
`

func selfSigned(t testing.TB, name string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// TestNginxStream runs the same stream configuration in nginx and here
// and compares what a client receives.
func TestNginxStream(t *testing.T) {
	oracle.Binary(t)
	load := oracle.LoadStream(t)
	cert, key := selfSigned(t, "s.test")
	const body = `stream {
  map $remote_addr $where { 127.0.0.1 "local"; default "other"; }
  map $remote_addr $port_kind { ~^(\d+)\. "octet-$1"; }
  server { listen 127.0.0.1:{{P1}}; set $x "set-$where"; return "proto=$protocol ra=$remote_addr sa=$server_addr sp=$server_port x=$x status=$status kind=$port_kind cap=$1\n"; }
  server { listen 127.0.0.1:{{P2}}; deny 127.0.0.1; return "denied\n"; }
  server { listen 127.0.0.1:{{P3}}; allow 127.0.0.0/8; deny all; return "allowed\n"; }
  server { listen unix:{{DIR}}/s.sock; return "unix ra=$remote_addr sa=$server_addr sp=[$server_port]\n"; }
  server { listen 127.0.0.1:{{P4}} ssl; ssl_certificate s.crt; ssl_certificate_key s.key; return "tls $ssl_server_name\n"; }
  server { listen {{P5}}; return "wildcard $server_addr\n"; }
  server { listen 127.0.0.1:{{P5}}; return "specific $server_addr\n"; }
  allow all;
}`
	type sideT struct {
		dir   string
		ports []int
	}
	prep := func() sideT {
		sd := sideT{dir: t.TempDir()}
		for range 5 {
			sd.ports = append(sd.ports, freePort(t))
		}
		os.WriteFile(filepath.Join(sd.dir, "s.crt"), []byte(cert), 0o644)
		os.WriteFile(filepath.Join(sd.dir, "s.key"), []byte(key), 0o600)
		return sd
	}
	conf := func(sd sideT, head string) string {
		s := head + preamble + body
		s = strings.ReplaceAll(s, "{{DIR}}", sd.dir)
		for i, p := range sd.ports {
			s = strings.ReplaceAll(s, fmt.Sprintf("{{P%d}}", i+1), strconv.Itoa(p))
		}
		return s
	}
	ng, zs := prep(), prep()
	os.WriteFile(filepath.Join(ng.dir, "nginx.conf"), []byte(conf(ng, load)), 0o644)
	oracle.Start(t, ng.dir, fmt.Sprintf("127.0.0.1:%d", ng.ports[0]))
	startServer(t, zs.dir, conf(zs, ""), Deps{})

	norm := func(sd sideT, s string) string {
		for _, p := range sd.ports {
			s = strings.ReplaceAll(s, strconv.Itoa(p), "{PORT}")
		}
		return strings.ReplaceAll(s, sd.dir, "{DIR}")
	}
	for _, c := range []struct {
		name, network, host string
		port                int // index, -1 for the UNIX socket
		tls                 string
	}{
		{"return with variables", "tcp", "127.0.0.1", 0, ""},
		{"deny", "tcp", "127.0.0.1", 1, ""},
		{"allow", "tcp", "127.0.0.1", 2, ""},
		{"unix", "unix", "", -1, ""},
		{"tls", "tcp", "127.0.0.1", 3, "s.test"},
		{"specific address", "tcp", "127.0.0.1", 4, ""},
		{"wildcard address", "tcp", "127.0.0.2", 4, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := func(sd sideT) string {
				if c.port < 0 {
					return filepath.Join(sd.dir, "s.sock")
				}
				return net.JoinHostPort(c.host, strconv.Itoa(sd.ports[c.port]))
			}
			want := norm(ng, readAll(t, c.network, addr(ng), c.tls))
			got := norm(zs, readAll(t, c.network, addr(zs), c.tls))
			if got != want {
				t.Errorf("zonesync sends %q\nnginx sends    %q", got, want)
			}
		})
	}
}

type fakeZone struct {
	mu     sync.Mutex
	values map[string]string
}

func (z *fakeZone) Match(key string) ([]byte, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	v, ok := z.values[key]
	return []byte(v), ok
}

// The stream deny-list: a keyval variable maps the client to a verdict.
func TestKeyvalStream(t *testing.T) {
	port := freePort(t)
	zone := &fakeZone{values: map[string]string{"127.0.0.1": "blocked"}}
	startServer(t, t.TempDir(), fmt.Sprintf(`
events {}
stream {
  keyval_zone zone=verdicts:1m;
  keyval $remote_addr $verdict zone=verdicts;
  map $verdict $reply { blocked "go away\n"; default "hello\n"; }
  server { listen 127.0.0.1:%d; return $reply; }
}`, port), Deps{Zone: func(name string) KeyvalLookup {
		if name == "verdicts" {
			return zone
		}
		return nil
	}})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if got := readAll(t, "tcp", addr, ""); got != "go away\n" {
		t.Fatalf("blocked: %q", got)
	}
	zone.mu.Lock()
	delete(zone.values, "127.0.0.1")
	zone.mu.Unlock()
	if got := readAll(t, "tcp", addr, ""); got != "hello\n" {
		t.Fatalf("allowed: %q", got)
	}
}

func TestSkippedAndUnsupported(t *testing.T) {
	port, syncPort := freePort(t), freePort(t)
	rn := startServer(t, t.TempDir(), fmt.Sprintf(`
events {}
stream {
  server { listen 127.0.0.1:%d; return "x"; }
  server {
    listen 127.0.0.1:%d;
    zone_sync;
    zone_sync_server 127.0.0.1:%d;
  }
  server { listen 127.0.0.1:%d; pass 127.0.0.1:9; }
}`, port, syncPort, syncPort, freePort(t)), Deps{})
	sk := rn.s.Skipped()
	if len(sk) != 2 || !strings.HasPrefix(sk[0].Reason, "zone_sync") || sk[0].Server.Directive.Line != 5 ||
		!strings.Contains(sk[1].Reason, "pass is not implemented") {
		t.Fatalf("Skipped: %+v", sk)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", syncPort)); err == nil {
		c.Close()
		t.Fatal("the zone_sync address is bound by the stream core")
	}
	if len(rn.s.Addrs()) != 1 {
		t.Fatalf("Addrs: %v", rn.s.Addrs())
	}
	impl := rn.s.Implemented()
	if !impl["return"] || !impl["proxy_pass"] || !impl["access_log"] || impl["pass"] || impl["zone_sync"] {
		t.Fatalf("Implemented: %v", impl)
	}

	cfg := loadConfig(t, t.TempDir(), fmt.Sprintf(`
events {}
stream { server { listen 127.0.0.1:%d udp; return "x"; } }`, freePort(t)))
	if _, err := New(cfg, Deps{Log: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), `"udp" parameter of "listen" is not supported`) {
		t.Fatalf("udp: %v", err)
	}
}

func TestStreamListenError(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	p := busy.Addr().(*net.TCPAddr).Port
	s, err := New(loadConfig(t, t.TempDir(), fmt.Sprintf(`
events {}
stream { server { listen 127.0.0.1:%d; return "x"; } }`, p)), Deps{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("bind() to 127.0.0.1:%d failed (98: Address already in use)", p)
	if err := s.Listen(); err == nil || err.Error() != want {
		t.Fatalf("Listen: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A session stuck in its TLS handshake is closed by an immediate
// shutdown.
func TestStreamImmediateShutdown(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, "s.test")
	os.WriteFile(filepath.Join(dir, "s.crt"), []byte(cert), 0o644)
	os.WriteFile(filepath.Join(dir, "s.key"), []byte(key), 0o600)
	s, err := New(loadConfig(t, dir, fmt.Sprintf(`
events {}
stream { server { listen 127.0.0.1:%d ssl; ssl_certificate s.crt; ssl_certificate_key s.key; return "x"; } }`, port)), Deps{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(); close(done) }()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session did not start")
		}
		tm := time.NewTimer(time.Millisecond)
		<-tm.C
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with an ended context returned nil")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}
