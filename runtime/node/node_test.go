package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx/nginx-plus-go-client/v2/client"
	"github.com/zonesync/zonesync/runtime/testnet"
)

// freePort returns a port on 127.0.0.1 for a server to bind (see testnet).
func freePort(t *testing.T) int { return testnet.Port(t, "127.0.0.1") }

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// testNode runs a node in this process with injected signals.
type testNode struct {
	t       *testing.T
	dir     string
	conf    string
	port    int
	signals chan os.Signal
	done    chan int
	log     *syncBuffer
}

const nodeConf = `
error_log stderr info;
pid %[1]s/zonesync.pid;
events {}
http {
    access_log off;
    keyval_zone zone=one:1m timeout=1h state=%[1]s/one.json;
    %[3]s
    server {
        listen 127.0.0.1:%[2]d;
        location /api/ { api write=on; }
        location / { return 200 "ok\n"; }
    }
}
`

func startNode(t *testing.T, extra string) *testNode {
	t.Helper()
	n := &testNode{t: t, dir: t.TempDir(), port: freePort(t), signals: make(chan os.Signal, 4), done: make(chan int, 1), log: newSyncBuffer()}
	n.conf = filepath.Join(n.dir, "nginx.conf")
	n.write(extra)
	ready := make(chan struct{})
	go func() {
		n.done <- Run(Options{Prefix: n.dir + "/", ConfFile: n.conf, Stderr: n.log, Signals: n.signals, Ready: ready})
	}()
	select {
	case <-ready:
	case code := <-n.done:
		t.Fatalf("node exited with %d:\n%s", code, n.log.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("node did not start:\n%s", n.log.String())
	}
	t.Cleanup(func() { n.stop(syscall.SIGTERM) })
	return n
}

func (n *testNode) write(extra string) {
	n.t.Helper()
	if err := os.WriteFile(n.conf, []byte(fmt.Sprintf(nodeConf, n.dir, n.port, extra)), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// stop signals the node and waits for it to exit.
func (n *testNode) stop(sig os.Signal) int {
	select {
	case code := <-n.done:
		n.done <- code
		return code
	default:
	}
	n.signals <- sig
	select {
	case code := <-n.done:
		n.done <- code
		return code
	case <-time.After(15 * time.Second):
		n.t.Fatalf("node did not stop on %v", sig)
		return -1
	}
}

func (n *testNode) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", n.port, path) }

func (n *testNode) client() *client.NginxClient {
	n.t.Helper()
	c, err := client.NewNginxClient(n.url("/api"), client.WithAPIVersion(9))
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for sync
	}
}

func TestOfficialClientAgainstNode(t *testing.T) {
	n := startNode(t, "")
	c := n.client()
	ctx := context.Background()
	if err := c.AddKeyValPair(ctx, "one", "10.0.0.1", "blocked"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddKeyValPair(ctx, "one", "10.0.0.1", "again"); err == nil {
		t.Fatal("adding an existing key must fail")
	}
	if err := c.ModifyKeyValPair(ctx, "one", "10.0.0.1", "changed"); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetKeyValPairs(ctx, "one")
	if err != nil || got["10.0.0.1"] != "changed" {
		t.Fatalf("GetKeyValPairs = %v, %v", got, err)
	}
	if err := c.DeleteKeyValuePair(ctx, "one", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetKeyValPairs(ctx, "nosuch"); err == nil {
		t.Fatal("an unknown zone must fail")
	}
	if _, err := c.GetStats(ctx); err != nil {
		t.Fatalf("GetStats: %v", err)
	}
	if code := n.stop(syscall.SIGQUIT); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReloadKeepsZonesAndRefusesBadConfig(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()
	if err := n.client().AddKeyValPair(ctx, "one", "k", "v"); err != nil {
		t.Fatal(err)
	}
	// A good reload that adds a zone: "one" keeps its pair.
	n.write("keyval_zone zone=two:1m;")
	n.signals <- syscall.SIGHUP
	eventually(t, "the reload", func() bool { return strings.Contains(n.log.String(), "reconfiguring") && zoneExists(n, "two") })
	if got, _ := n.client().GetKeyValPairs(ctx, "one"); got["k"] != "v" {
		t.Fatalf("zone one lost its pair across the reload: %v", got)
	}
	// A bad configuration is logged and the node keeps serving.
	os.WriteFile(n.conf, []byte("events {}\nhttp { bogus; }\n"), 0o644)
	n.signals <- syscall.SIGHUP
	eventually(t, "the refused reload", func() bool { return strings.Contains(n.log.String(), `unknown directive "bogus"`) })
	if code, body := get(t, n.url("/")); code != 200 || body != "ok\n" {
		t.Fatalf("after a bad reload: %d %q", code, body)
	}
	if got, _ := n.client().GetKeyValPairs(ctx, "one"); got["k"] != "v" {
		t.Fatalf("zone one lost its pair after a bad reload: %v", got)
	}
}

func zoneExists(n *testNode, name string) bool {
	code, _ := getQuiet(n.url("/api/9/http/keyvals/" + name))
	return code == 200
}

func getQuiet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestStateFileWrittenOnStopAndRead(t *testing.T) {
	n := startNode(t, "")
	if err := n.client().AddKeyValPair(context.Background(), "one", "kept", "yes"); err != nil {
		t.Fatal(err)
	}
	if code := n.stop(syscall.SIGQUIT); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, err := os.ReadFile(filepath.Join(n.dir, "one.json"))
	if err != nil || !strings.Contains(string(b), "kept") {
		t.Fatalf("state file: %q %v", b, err)
	}
}

func TestCorruptStateFileIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "one.json")
	os.WriteFile(state, []byte("{not json"), 0o644)
	n := &testNode{t: t, dir: dir, port: freePort(t), signals: make(chan os.Signal, 4), done: make(chan int, 1), log: newSyncBuffer()}
	n.conf = filepath.Join(dir, "nginx.conf")
	n.write("")
	ready := make(chan struct{})
	go func() {
		n.done <- Run(Options{Prefix: dir + "/", ConfFile: n.conf, Stderr: n.log, Signals: n.signals, Ready: ready})
	}()
	<-ready
	defer n.stop(syscall.SIGTERM)
	matches, _ := filepath.Glob(state + ".corrupt-*")
	if len(matches) != 1 {
		t.Fatalf("corrupt state file not moved aside: %v\n%s", matches, n.log.String())
	}
	if b, _ := os.ReadFile(matches[0]); string(b) != "{not json" {
		t.Fatalf("moved file changed: %q", b)
	}
	if !strings.Contains(n.log.String(), "[error]") {
		t.Fatalf("no error logged:\n%s", n.log.String())
	}
}

// The deny-list pattern users write: an address posted to a keyval zone
// through the API is refused on the next request, and allowed again once
// the pair is deleted.
func TestDenyListThroughAPI(t *testing.T) {
	app := freePort(t)
	n := startNode(t, fmt.Sprintf(`keyval_zone zone=deny:1m type=ip;
    keyval $remote_addr $blocked zone=deny;
    server {
        listen 127.0.0.1:%d;
        location / {
            if ($blocked) {
                return 403;
            }
            return 200 "app\n";
        }
    }`, app))
	appURL := fmt.Sprintf("http://127.0.0.1:%d/", app)
	ctx := context.Background()
	if code, _ := get(t, appURL); code != 200 {
		t.Fatalf("before the deny-list entry: %d, want 200", code)
	}
	if err := n.client().AddKeyValPair(ctx, "deny", "127.0.0.0/8", "1"); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, appURL); code != 403 {
		t.Fatalf("a blocked client got %d, want 403", code)
	}
	if err := n.client().DeleteKeyValuePair(ctx, "deny", "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, appURL); code != 200 {
		t.Fatalf("an unblocked client got %d, want 200", code)
	}
}

// A reload lets the old configuration's requests in flight finish, as
// nginx's old workers do, while the new configuration serves new ones on
// the same socket.
func TestReloadFinishesRequestsInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	}))
	defer backend.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	proxyPort := freePort(t)
	extra := func(zone string) string {
		return fmt.Sprintf(`%s
    server {
        listen 127.0.0.1:%d;
        location / { proxy_pass %s; }
    }`, zone, proxyPort, backend.URL)
	}
	n := startNode(t, extra(""))
	type answer struct {
		code int
		body string
		err  error
	}
	slow := make(chan answer, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/slow", proxyPort))
		if err != nil {
			slow <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- answer{resp.StatusCode, string(b), err}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the backend")
	}
	n.write(extra("keyval_zone zone=two:1m;"))
	n.signals <- syscall.SIGHUP
	eventually(t, "the reload", func() bool { return zoneExists(n, "two") })
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/fast", proxyPort)); code != 200 || body != "done /fast" {
		t.Fatalf("a new request after the reload: %d %q", code, body)
	}
	close(release)
	select {
	case a := <-slow:
		if a.err != nil || a.code != 200 || a.body != "done /slow" {
			t.Fatalf("the request in flight during the reload: %d %q %v", a.code, a.body, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight never finished")
	}
}
