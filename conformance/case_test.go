package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	casesDir = "cases"
	// sourcePlus marks a hand-written expected file; -update never touches it.
	sourcePlus  = "plus"
	caseTimeout = 10 * time.Second
	// defaultArgs is used when a case has no args file.
	defaultArgs = "-t -p $PREFIX/ -c $CASE/nginx.conf -e /dev/null"
)

// running bounds how many cases run at once, whatever -parallel says.
var running = make(chan struct{}, 2)

// A testCase is one folder under cases/.
type testCase struct {
	name string
	dir  string // absolute
	args string // one line with $CASE and $PREFIX placeholders
	// expected is the golden file's text ("" when missing) and source its
	// second line without "source " ("" when missing or malformed).
	expected string
	source   string
	// zonesyncExpected, when the case has an expected.zonesync file, is
	// what zonesync prints instead of nginx's recording: a deliberate
	// difference, whose reason is in the case's diverges file and which
	// docs/differences.md lists.
	zonesyncExpected string
}

// result is what one run of a program printed, normalized.
type result struct {
	exit           int
	stderr, stdout string
}

func (c testCase) expectedPath() string { return filepath.Join(c.dir, "expected") }

// diverges reports whether the case has a diverges file: zonesync differs
// from nginx there on purpose.
func (c testCase) diverges() bool {
	_, err := os.Stat(filepath.Join(c.dir, "diverges"))
	return err == nil
}

// loadCases reads every case folder, in name order.
func loadCases(t *testing.T) []testCase {
	t.Helper()
	entries, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir, err := filepath.Abs(filepath.Join(casesDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		c := testCase{name: e.Name(), dir: dir, args: defaultArgs}
		if b, err := os.ReadFile(filepath.Join(dir, "args")); err == nil {
			c.args = strings.TrimSpace(string(b))
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(c.expectedPath()); err == nil {
			c.expected = string(b)
			c.source = sourceOf(c.expected)
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "expected.zonesync")); err == nil {
			c.zonesyncExpected = string(b)
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	return cases
}

var header = regexp.MustCompile(`^exit -?\d+\nsource (\S+)\n`)

// sourceOf returns the recording source named in an expected file's header.
func sourceOf(expected string) string {
	m := header.FindStringSubmatch(expected)
	if m == nil {
		return ""
	}
	return m[1]
}

// render lays out a result as an expected file.
func render(source string, r result) string {
	return fmt.Sprintf("exit %d\nsource %s\n--- stderr\n%s--- stdout\n%s", r.exit, source, r.stderr, r.stdout)
}

// run runs program with the case's arguments in a fresh prefix directory
// holding an empty logs/ folder, and returns its normalized output.
func (c testCase) run(t *testing.T, program string) result {
	t.Helper()
	prefix := t.TempDir()
	if err := os.Mkdir(filepath.Join(prefix, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	words, err := splitArgs(c.args)
	if err != nil {
		t.Fatalf("args: %v", err)
	}
	placeholders := strings.NewReplacer("$CASE", c.dir, "$PREFIX", prefix)
	for i, w := range words {
		words[i] = placeholders.Replace(w)
	}

	running <- struct{}{}
	defer func() { <-running }()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, words...)
	cmd.Dir = prefix
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v", program, caseTimeout)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("cannot run %s: %v", program, err)
	}
	return result{
		exit:   cmd.ProcessState.ExitCode(),
		stderr: normalizeStderr(normalizePaths(stderr.String(), c.dir, prefix)),
		stdout: normalizePaths(stdout.String(), c.dir, prefix),
	}
}

// splitArgs splits an args line at spaces; '...' and "..." group words
// literally (no escapes), as in a shell.
func splitArgs(line string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c in %q", quote, line)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
