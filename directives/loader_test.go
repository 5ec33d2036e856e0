package directives

import (
	"os"
	"path/filepath"
	"testing"
)

// An include cycle is an error naming the file read again and the include
// that would read it (nginx itself recurses until it crashes).
func TestIncludeCycle(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	main := write("nginx.conf", "events {}\ninclude a.conf;\n")
	write("a.conf", "# a\ninclude b.conf;\n")
	b := write("b.conf", "\n\ninclude nginx.conf;\n")
	_, err := Load(Options{Prefix: dir + "/", ConfFile: main})
	want := `include cycle: "` + main + `" is already being read in ` + b + `:3`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// The same file included twice, not from itself, is no cycle.
	main2 := write("twice.conf", "events {}\ninclude c.conf;\ninclude c.conf;\n")
	write("c.conf", "# nothing\n")
	if _, err := Load(Options{Prefix: dir + "/", ConfFile: main2}); err != nil {
		t.Fatalf("a file included twice: %v", err)
	}
}
