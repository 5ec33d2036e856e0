package conformance

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	update          = flag.Bool("update", false, "rewrite the expected files of nginx-recorded cases from the nginx on PATH")
	updateDivergent = flag.Bool("update-divergent", false, "rewrite expected.zonesync of the cases that have a diverges file, from zonesync")
)

// minCorpusSize is the number of cases the corpus is meant to reach.
const minCorpusSize = 200

// TestNginxRecordings checks that every case recorded from nginx still gives
// the recorded output with the nginx on PATH; with -update it records them.
func TestNginxRecordings(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not on PATH: recordings cannot be checked (Debian: apt-get install nginx-core libnginx-mod-stream libnginx-mod-mail)")
	}
	version, err := nginxVersion(nginx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			switch {
			case c.source == sourcePlus:
				t.Skip("hand-written NGINX Plus case")
			case *update:
			case c.source == "":
				t.Fatal(noExpected(c.name))
			case c.source != version:
				t.Skipf("recorded from %s, the nginx on PATH is %s", c.source, version)
			}
			got := render(version, c.run(t, nginx))
			if *update {
				if err := os.WriteFile(c.expectedPath(), []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			compare(t, c.expected, got)
		})
	}
}

// TestZonesync runs every case through zonesync and compares its normalized
// output with the expected file byte for byte.
func TestZonesync(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "zonesync")
	build := exec.Command("go", "build", "-o", bin, "./cmd/zonesync")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build failed: %v\n%s", err, out)
	}
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.source == "" {
				t.Fatal(noExpected(c.name))
			}
			if *updateDivergent && c.diverges() {
				got := render(sourceZonesync, c.run(t, bin))
				if err := os.WriteFile(filepath.Join(c.dir, "expected.zonesync"), []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if c.zonesyncExpected != "" {
				compare(t, c.zonesyncExpected, render(sourceZonesync, c.run(t, bin)))
				return
			}
			compare(t, c.expected, render(c.source, c.run(t, bin)))
		})
	}
}

// sourceZonesync heads an expected.zonesync file.
const sourceZonesync = "zonesync"

// TestDivergences checks that every deliberate difference from nginx says
// why, and is listed in docs/differences.md.
func TestDivergences(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "differences.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range loadCases(t) {
		if c.zonesyncExpected == "" {
			continue
		}
		if sourceOf(c.zonesyncExpected) != sourceZonesync {
			t.Errorf("%s: expected.zonesync must start with \"exit N\" and \"source zonesync\"", c.name)
		}
		if b, err := os.ReadFile(filepath.Join(c.dir, "diverges")); err != nil || len(strings.TrimSpace(string(b))) == 0 {
			t.Errorf("%s: expected.zonesync needs a diverges file saying why", c.name)
		}
		if !strings.Contains(string(doc), "`"+c.name+"`") {
			t.Errorf("%s: docs/differences.md does not list this case", c.name)
		}
	}
}

// TestCorpusSize keeps the corpus from shrinking below its target.
func TestCorpusSize(t *testing.T) {
	if n := len(loadCases(t)); n < minCorpusSize {
		t.Errorf("the corpus has %d cases, want at least %d", n, minCorpusSize)
	}
}

var caseName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)

// TestCaseLayout checks what every case folder must hold.
func TestCaseLayout(t *testing.T) {
	for _, c := range loadCases(t) {
		if !caseName.MatchString(c.name) {
			t.Errorf("%s: a case is named group-description in lower case, like lex-unexpected-brace", c.name)
		}
		if _, err := os.Stat(filepath.Join(c.dir, "nginx.conf")); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.expected != "" && c.source == "" {
			t.Errorf("%s: expected does not start with \"exit N\" and \"source S\" lines", c.name)
		}
	}
}

func noExpected(name string) string {
	return "no expected file: record it with go test ./conformance -run 'TestNginxRecordings/" + name + "$' -update"
}

// nginxVersion returns the recording source of the nginx binary, e.g. "nginx-1.22.1".
func nginxVersion(nginx string) (string, error) {
	out, err := exec.Command(nginx, "-v").CombinedOutput()
	if err != nil {
		return "", err
	}
	_, v, ok := strings.Cut(strings.TrimSpace(string(out)), "nginx version: nginx/")
	if !ok || v == "" {
		return "", errors.New("cannot read the version from nginx -v: " + string(out))
	}
	return "nginx-" + v, nil
}
