package accesslog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// The escape= modes of log_format, as nginx writes a value.
func TestEscape(t *testing.T) {
	for _, c := range []struct {
		mode, in string
		found    bool
		want     string
	}{
		{"default", `a"b\c`, true, `a\x22b\x5Cc`},
		{"default", "tab\there\xff", true, `tab\x09here\xFF`},
		{"default", "", false, "-"},
		{"default", "", true, ""},
		{"json", "q\"\\\n\r\t\b\f\x01é", true, `q\"\\\n\r\t\b\f\u0001é`},
		{"json", "", false, ""},
		{"none", "raw\"\n", false, "raw\"\n"},
	} {
		if got := Escape(c.mode, c.in, c.found); got != c.want {
			t.Errorf("Escape(%s, %q, %v) = %q, want %q", c.mode, c.in, c.found, got, c.want)
		}
	}
}

type env map[string]string

func (e env) Var(name string) string { return e[name] }
func (e env) Capture(int) string     { return "" }

// Files opens each path once, appends lines whole, reports nginx's open()
// error and closes twice without harm.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	var fs Files
	a, err := fs.Open(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fs.Open(filepath.Join(dir, "access.log"))
	if a != b {
		t.Fatal("one path opened twice")
	}
	f := &Format{Value: script.Compile(`$remote_addr "$http_x"`), Escape: "default"}
	line := f.Line(env{"remote_addr": "127.0.0.1"}, func(name, v string) bool { return v != "" || name == "remote_addr" })
	a.Write(line)
	b.Write(line)
	fs.Close()
	fs.Close()
	got, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	if want := strings.Repeat("127.0.0.1 \"-\"\n", 2); string(got) != want {
		t.Fatalf("log %q, want %q", got, want)
	}
	if _, err := fs.Open(filepath.Join(dir, "no/such/dir/x.log")); err == nil ||
		!strings.HasPrefix(err.Error(), `open() "`+dir+`/no/such/dir/x.log" failed (2: No such file or directory)`) {
		t.Fatalf("open error: %v", err)
	}
	if !Unwritable("syslog:server=unix:/dev/log") || !Unwritable("/var/log/$host.log") || Unwritable("/var/log/a.log") {
		t.Fatal("Unwritable")
	}
}
