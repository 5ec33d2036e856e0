package grammar

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2"
)

// The same grammar as File/Body/Directive, declared for participle alone,
// with no Parseable fast path: the reference the fast path must agree with.
type declFile struct {
	Directives []*declDirective `parser:"@@*"`
}

type declDirective struct {
	Name string           `parser:"@Word"`
	Args []string         `parser:"@Word*"`
	Open bool             `parser:"( ';' | @'{'"`
	Body []*declDirective `parser:"@@* '}' )"`
}

var declParser = participle.MustBuild[declFile](participle.Lexer(Definition))

// render gives a tree a canonical text form for comparisons.
func render(b *Body) string {
	var sb strings.Builder
	if err := Print(&sb, b); err != nil {
		panic(err)
	}
	return sb.String()
}

func renderDecl(ds []*declDirective, depth int, sb *strings.Builder) {
	for _, d := range ds {
		sb.WriteString(strings.Repeat("    ", depth))
		sb.WriteString(Quote(d.Name))
		for _, a := range d.Args {
			sb.WriteString(" " + Quote(a))
		}
		if !d.Open {
			sb.WriteString(";\n")
			continue
		}
		sb.WriteString(" {\n")
		renderDecl(d.Body, depth+1, sb)
		sb.WriteString(strings.Repeat("    ", depth) + "}\n")
	}
}

// hasError reports whether parsing stopped early anywhere in b.
func hasError(b *Body) bool {
	if b.Err != nil {
		return true
	}
	for _, d := range b.Directives {
		if d.Block != nil && (!d.Block.Closed || hasError(d.Block)) {
			return true
		}
	}
	return false
}

// corpus returns every configuration file of the conformance suite.
func corpus(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	root := filepath.Join("..", "conformance", "cases")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".conf") {
			return err
		}
		src, err := os.ReadFile(path)
		files[path] = src
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

// TestFastPathMatchesDeclaredGrammar parses every corpus file that has no
// syntax error with both the Parseable fast path and the purely declared
// participle grammar, and requires the same tree.
func TestFastPathMatchesDeclaredGrammar(t *testing.T) {
	n := 0
	for path, src := range corpus(t) {
		f := Parse(path, src)
		if hasError(&f.Body) {
			continue
		}
		decl, err := declParser.ParseBytes(path, src)
		if err != nil {
			t.Errorf("%s: declared grammar failed where the fast path did not: %v", path, err)
			continue
		}
		var sb strings.Builder
		renderDecl(decl.Directives, 0, &sb)
		if got, want := render(&f.Body), sb.String(); got != want {
			t.Errorf("%s: fast path and declared grammar differ\nfast:\n%s\ndeclared:\n%s", path, got, want)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d corpus files parsed cleanly; the corpus is missing?", n)
	}
}

// TestRoundTrip: parse, print, parse again gives the same tree for every
// corpus file that parses.
func TestRoundTrip(t *testing.T) {
	for path, src := range corpus(t) {
		f := Parse(path, src)
		if hasError(&f.Body) {
			continue
		}
		printed := render(&f.Body)
		again := Parse(path, []byte(printed))
		if hasError(&again.Body) {
			t.Errorf("%s: printed form does not parse: %v\n%s", path, again.Body.Err, printed)
			continue
		}
		if got := render(&again.Body); got != printed {
			t.Errorf("%s: round trip changed the tree\nfirst:\n%s\nsecond:\n%s", path, printed, got)
		}
	}
}

func TestParseErrorsKeepEarlierStatements(t *testing.T) {
	cases := []struct {
		name, src string
		want      string // rendered statements before the error
		err       string
	}{
		{"close brace at top level", "a;\n}\n", "a;\n", `unexpected "}" in f:2`},
		{"end of file in a block", "a {\n b;\n", "a {\n    b;\n}\n", `unexpected end of file, expecting "}" in f:3`},
		{"lexer error mid statement", "a;\nb \"x\"y;", "a;\n", `unexpected "y" in f:2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Parse("f", []byte(c.src))
			if got := render(&f.Body); got != c.want {
				t.Errorf("statements: got %q want %q", got, c.want)
			}
			err := firstError(&f.Body)
			if err == nil || err.Error() != c.err {
				t.Errorf("error: got %v want %s", err, c.err)
			}
		})
	}
}

func firstError(b *Body) *Error {
	for _, d := range b.Directives {
		if d.Block != nil {
			if e := firstError(d.Block); e != nil {
				return e
			}
		}
	}
	return b.Err
}

func TestParamText(t *testing.T) {
	f := ParseParam("daemon off; worker_processes 2;")
	if got := render(&f.Body); got != "daemon off;\nworker_processes 2;\n" || f.Body.Err != nil {
		t.Fatalf("got %q, %v", got, f.Body.Err)
	}
	f = ParseParam("events { }")
	if f.Body.Err == nil || f.Body.Err.Error() != "block directives are not supported in -g option in command line" {
		t.Fatalf("got %v", f.Body.Err)
	}
}

func FuzzParse(f *testing.F) {
	for _, src := range corpus(f) {
		f.Add(src)
	}
	for _, c := range lexCases {
		f.Add([]byte(c.src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file := Parse("fuzz", src)
		if hasError(&file.Body) {
			return
		}
		printed := render(&file.Body)
		again := Parse("fuzz", []byte(printed))
		if hasError(&again.Body) || render(&again.Body) != printed {
			t.Fatalf("round trip failed for %q:\n%s", src, printed)
		}
		decl, err := declParser.ParseBytes("fuzz", src)
		if err != nil {
			t.Fatalf("declared grammar rejects %q: %v", src, err)
		}
		var sb strings.Builder
		renderDecl(decl.Directives, 0, &sb)
		if sb.String() != printed {
			t.Fatalf("fast path and declared grammar differ on %q", src)
		}
	})
}

func FuzzLexer(f *testing.F) {
	for _, c := range lexCases {
		f.Add([]byte(c.src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lx := NewLexer(src, FileMode)
		for i := 0; i <= len(src)+2; i++ {
			tok := lx.Next()
			if tok.Kind == EOF || tok.Kind == ErrorToken {
				if tok.Line < 1 || tok.Line > bytes.Count(src, []byte("\n"))+1 {
					t.Fatalf("line %d out of range", tok.Line)
				}
				return
			}
		}
		t.Fatalf("lexer did not end within %d tokens", len(src)+2)
	})
}
