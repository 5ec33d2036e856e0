package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// countDirectives counts the statements in generated text: every directive
// ends with ";" or opens a block with "{". The generator never puts either
// character inside an argument.
func countDirectives(text string) int {
	return strings.Count(text, ";") + strings.Count(text, "{")
}

func TestServerBlockHasDirectivesPerServer(t *testing.T) {
	var buf bytes.Buffer
	b := bufio.NewWriter(&buf)
	writeServer(b, 7, 3)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := countDirectives(buf.String()); got != directivesPerServer {
		t.Errorf("server block has %d directives, directivesPerServer says %d:\n%s", got, directivesPerServer, buf.String())
	}
}

func TestDefaultSizeIsAbout150000Directives(t *testing.T) {
	var buf bytes.Buffer
	if err := write(&buf, options{servers: 10000, upstreams: 100}); err != nil {
		t.Fatal(err)
	}
	got := countDirectives(buf.String())
	if got < 150000 || got > 151000 {
		t.Errorf("default configuration has %d directives, want about 150,000", got)
	}
}

func TestOptionBounds(t *testing.T) {
	cases := []struct {
		name string
		opt  options
		ok   bool
	}{
		{"one server", options{servers: 1, upstreams: 1}, true},
		{"default", options{servers: 10000, upstreams: 100}, true},
		{"last free port", options{servers: maxPort - serverPortBase + 1, upstreams: 1}, true},
		{"past the last port", options{servers: maxPort - serverPortBase + 2, upstreams: 1}, false},
		{"no servers", options{servers: 0, upstreams: 1}, false},
		{"no upstreams", options{servers: 1, upstreams: 0}, false},
		{"upstreams reach server ports", options{servers: 1, upstreams: (serverPortBase-upstreamPortBase)/2 + 1}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.opt.check()
			if (err == nil) != c.ok {
				t.Errorf("check(%+v) = %v, want ok=%v", c.opt, err, c.ok)
			}
		})
	}
}

// TestRealNginxAcceptsOutput checks a small generated file with nginx -t, the
// same command bench/run.sh times. It is skipped where nginx is not installed.
func TestRealNginxAcceptsOutput(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not installed")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := run(options{servers: 20, upstreams: 4}, conf); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-p", dir+"/", "-c", conf, "-e", os.DevNull).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t failed: %v\n%s", err, out)
	}
	if want := "configuration file " + conf + " test is successful"; !strings.Contains(string(out), want) {
		t.Errorf("nginx -t output lacks %q:\n%s", want, out)
	}
}
