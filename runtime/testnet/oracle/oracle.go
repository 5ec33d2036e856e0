// Package oracle runs the real nginx beside zonesync in differential
// tests: the nginx on PATH (Debian's, in CI), one process in the
// foreground, stopped when the test ends. A test without nginx (or without
// the module it needs) is skipped, not failed.
package oracle

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/testnet"
)

// StreamModule is Debian's stream module, which a configuration with a
// stream block must load.
const StreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// Binary returns the nginx on PATH, or in /usr/sbin or /usr/local/sbin
// (not on every user's PATH); without one the test is skipped.
func Binary(t testing.TB) string {
	t.Helper()
	if bin, err := exec.LookPath("nginx"); err == nil {
		return bin
	}
	for _, c := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	t.Skip("nginx is not installed: differential test skipped")
	return ""
}

// LoadStream returns the load_module line of the stream module; without
// the module the test is skipped.
func LoadStream(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(StreamModule); err != nil {
		t.Skip("nginx's stream module is not installed: differential test skipped")
	}
	return "load_module " + StreamModule + ";\n"
}

// Nginx is a running nginx.
type Nginx struct {
	Dir string // its prefix, holding nginx.conf and logs/
	out testnet.Buffer
}

// ErrorLog returns what nginx wrote to logs/error.log so far.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "logs", "error.log"))
	return string(b)
}

// Start runs nginx with dir/nginx.conf and dir as its prefix (logs/ and
// tmp/ are created) until the test ends, and waits until every ready
// address ("host:port" for TCP, "unix:PATH") accepts a connection, at
// most 10 s. If nginx
// exits or does not get ready, the test fails with nginx's output and
// error log. A ready probe should be a server that keeps no state (one
// answering with return), as its connection is accepted and closed.
func Start(t testing.TB, dir string, ready ...string) *Nginx {
	t.Helper()
	bin := Binary(t)
	for _, sub := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n := &Nginx{Dir: dir}
	cmd := exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"),
		"-e", filepath.Join(dir, "logs", "error.log"), "-g", "daemon off; master_process off;")
	cmd.Stdout, cmd.Stderr = &n.out, &n.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range ready {
		for {
			network, a := "tcp", addr
			if path, ok := strings.CutPrefix(addr, "unix:"); ok {
				network, a = "unix", path
			}
			c, err := net.DialTimeout(network, a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("nginx exited: %v\n%s%s", err, n.out.String(), n.ErrorLog())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx does not accept on %s within 10 s\n%s%s", addr, n.out.String(), n.ErrorLog())
			}
			tm := time.NewTimer(2 * time.Millisecond) // polling a process that is starting
			<-tm.C
		}
	}
	return n
}
