package directives

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/directives.md")

// TestReference keeps docs/directives.md in step with the table.
func TestReference(t *testing.T) {
	var b bytes.Buffer
	if err := Reference(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "directives.md")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("docs/directives.md is out of date: run go test ./directives -run TestReference -update")
	}
	for _, name := range []string{"zone_sync_interval", "keyval_zone", "limit_req_zone", "listen"} {
		if !bytes.Contains(have, []byte("\n### "+name+"\n")) {
			t.Errorf("reference has no entry for %s", name)
		}
	}
}

var nginxBlock = regexp.MustCompile("(?s)```nginx\n(.*?)```")

// TestDocExamples loads every ```nginx block of docs/*.md as a whole
// configuration: the examples in the documentation must pass -t.
func TestDocExamples(t *testing.T) {
	pages, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	n := 0
	for _, page := range pages {
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range nginxBlock.FindAllSubmatch(src, -1) {
			n++
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
			conf := filepath.Join(dir, "nginx.conf")
			os.WriteFile(conf, m[1], 0o644)
			cfg, err := Load(Options{Prefix: dir + "/", ConfFile: conf, Test: true})
			if err == nil {
				err = cfg.Check()
			}
			if err != nil {
				t.Errorf("%s example %d: %v\n%s", filepath.Base(page), i+1, err, strings.TrimSpace(string(m[1])))
			}
		}
	}
	t.Logf("%d examples checked", n)
}
