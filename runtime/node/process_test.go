package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds cmd/zonesync once for the process tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zonesync")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/zonesync")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs the binary on the test node's configuration and
// waits until it answers.
func startProcess(t *testing.T, bin string, n *testNode) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-p", n.dir+"/", "-c", n.conf)
	cmd.Stderr = n.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	eventually(t, "the node to answer", func() bool { code, _ := getQuiet(n.url("/")); return code == 200 })
	return cmd
}

// TestStateSurvivesKill9: a pair written through the API is in the state
// file within the documented delay, so a node killed with SIGKILL and
// started again still has it.
func TestStateSurvivesKill9(t *testing.T) {
	bin := buildBinary(t)
	n := &testNode{t: t, dir: t.TempDir(), port: freePort(t), log: newSyncBuffer()}
	n.conf = filepath.Join(n.dir, "nginx.conf")
	n.write("")
	cmd := startProcess(t, bin, n)

	ctx := context.Background()
	for i := 0; i < 100; i++ {
		if err := n.client().AddKeyValPair(ctx, "one", fmt.Sprintf("key%d", i), "value"); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(n.dir, "one.json")
	written := time.Now()
	eventually(t, "the state file", func() bool {
		b, _ := os.ReadFile(state)
		return strings.Contains(string(b), `"key99"`)
	})
	t.Logf("state file holds every pair %v after the last write", time.Since(written).Round(time.Millisecond))

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	startProcess(t, bin, n)
	got, err := n.client().GetKeyValPairs(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got["key0"] != "value" || got["key99"] != "value" {
		t.Fatalf("after kill -9 and restart the zone holds %d pairs", len(got))
	}
}

// TestSignalsThroughPidFile: -s reload, reopen and quit reach the node
// through its pid file, as nginx's -s does.
func TestSignalsThroughPidFile(t *testing.T) {
	bin := buildBinary(t)
	n := &testNode{t: t, dir: t.TempDir(), port: freePort(t), log: newSyncBuffer()}
	n.conf = filepath.Join(n.dir, "nginx.conf")
	n.write("")
	cmd := startProcess(t, bin, n)
	signal := func(name string) {
		t.Helper()
		out, err := exec.Command(bin, "-p", n.dir+"/", "-c", n.conf, "-s", name).CombinedOutput()
		if err != nil {
			t.Fatalf("-s %s: %v\n%s", name, err, out)
		}
	}
	signal("reload")
	eventually(t, "the reload", func() bool { return strings.Contains(n.log.String(), "reconfiguring") })
	signal("reopen")
	eventually(t, "the reopen", func() bool { return strings.Contains(n.log.String(), "reopening logs") })
	signal("quit")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("node exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("node did not stop on -s quit")
	}
	if _, err := os.Stat(filepath.Join(n.dir, "zonesync.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}
