package conformance

import (
	"slices"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	got, err := splitArgs(`-t  -g 'pid logs/a.pid; worker_processes 2;' -c "$CASE/x y.conf" -q`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-t", "-g", "pid logs/a.pid; worker_processes 2;", "-c", "$CASE/x y.conf", "-q"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := splitArgs(`-g 'pid x;`); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}

func TestNormalize(t *testing.T) {
	in := "nginx: [emerg] open() \"/tmp/p1/logs/x\" failed in /repo/cases/a/nginx.conf:3\n" +
		"2026/08/21 10:00:01 [warn] 4242#4242: low address bits in /repo/cases/a/nginx.conf:4\n" +
		"zonesync: configuration file /repo/cases/a/nginx.conf test failed\n"
	want := "$PROG: [emerg] open() \"$PREFIX/logs/x\" failed in $CASE/nginx.conf:3\n" +
		"[warn] low address bits in $CASE/nginx.conf:4\n" +
		"$PROG: configuration file $CASE/nginx.conf test failed\n"
	if got := normalizeStderr(normalizePaths(in, "/repo/cases/a", "/tmp/p1")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\n", "a\nB\nc")
	want := "  a\n- b\n- c\n+ B\n+ c  (no newline at end)\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
