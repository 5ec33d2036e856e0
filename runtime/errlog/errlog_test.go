package errlog

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zonesync/zonesync/directives"
)

var lineFormat = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (.*)$`)

func TestLineFormatAndLevels(t *testing.T) {
	var stderr bytes.Buffer
	file := filepath.Join(t.TempDir(), "error.log")
	l, err := New([]Target{{Level: directives.Warn}, {Path: file, Level: directives.Debug}}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	l.Logf(directives.Notice, "zone %q synced", "one")
	l.Logf(directives.Emerg, "bind() failed")
	zl := l.Zerolog()
	zl.Error().Msg("from zerolog")
	l.Close()

	got := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	want := [][2]string{{"emerg", "bind() failed"}, {"error", "from zerolog"}}
	if len(got) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(got), len(want), stderr.String())
	}
	for i, line := range got {
		m := lineFormat.FindStringSubmatch(line)
		if m == nil || m[1] != want[i][0] || m[2] != want[i][1] {
			t.Errorf("line %d = %q, want level %s message %q", i, line, want[i][0], want[i][1])
		}
	}
	b, _ := os.ReadFile(file)
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("file has %d lines, want 3 (notice included):\n%s", n, b)
	}
	if !strings.Contains(string(b), `[notice]`) || !strings.Contains(string(b), `zone "one" synced`) {
		t.Errorf("file lacks the notice line:\n%s", b)
	}
}

func TestReopenFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "error.log")
	l, err := New([]Target{{Path: file, Level: directives.Info}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Logf(directives.Info, "before")
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Logf(directives.Info, "after")
	old, _ := os.ReadFile(file + ".1")
	cur, _ := os.ReadFile(file)
	if !strings.Contains(string(old), "before") || strings.Contains(string(old), "after") {
		t.Errorf("rotated file: %q", old)
	}
	if !strings.Contains(string(cur), "after") {
		t.Errorf("new file: %q", cur)
	}
}

func TestOpenFailureIsNginxText(t *testing.T) {
	_, err := New([]Target{{Path: "/nonexistent/dir/error.log", Level: directives.Err}}, nil)
	if err == nil || err.Error() != `open() "/nonexistent/dir/error.log" failed (2: No such file or directory)` {
		t.Fatalf("got %v", err)
	}
}
