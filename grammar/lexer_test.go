package grammar

import (
	"strings"
	"testing"
)

// tokens lexes src and renders the stream compactly: words in brackets,
// terminators as themselves, errors as "!line:msg".
func tokens(src string) string {
	lx := NewLexer([]byte(src), FileMode)
	var out []string
	for {
		t := lx.Next()
		switch t.Kind {
		case EOF:
			return strings.Join(out, " ")
		case Word:
			out = append(out, "["+t.Value+"]")
		case Semicolon:
			out = append(out, ";")
		case BlockStart:
			out = append(out, "{")
		case BlockEnd:
			out = append(out, "}")
		case ErrorToken:
			out = append(out, "!"+itoa(t.Line)+":"+t.Value)
		}
	}
}

func itoa(n int) string {
	var b []byte
	for n >= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(append([]byte{byte('0' + n)}, b...))
}

// Each case is a rule of ngx_conf_read_token (nginx-config-language.md §1.3).
var lexCases = []struct{ name, src, want string }{
	{"words end at space, semicolon and brace", "a b;c{}", "[a] [b] ; [c] { }"},
	{"close brace does not end a word", "a 64};", "[a] [64}] ;"},
	{"terminators at token start", "a;\n{", "[a] ; !2:unexpected \"{\""},
	{"semicolon with no words", ";", `!1:unexpected ";"`},
	{"close brace after words", "a }", `[a] !1:unexpected "}"`},
	{"hash starts a comment only at token start", "a#b c#;\n#x\nd;", "[a#b] [c#] ; [d] ;"},
	{"comment ends at newline", "a # b ; {\n;", "[a] ;"},
	{"quotes open only at token start", `a"b c'd;`, `[a"b] [c'd] ;`},
	{"quoted words keep spaces and braces", `"a b;{}#" 'c"d';`, `[a b;{}#] [c"d] ;`},
	{"after a quote: space", `"a" b;`, "[a] [b] ;"},
	{"after a quote: semicolon", `"a";`, "[a] ;"},
	{"after a quote: brace", `"a"{}`, "[a] { }"},
	{"after a quote: paren starts a word", `if ($a = "x") {}`, "[if] [($a] [=] [x] [)] { }"},
	{"after a quote: other byte", `"a"d;`, `[a] !1:unexpected "d"`},
	{"after a quote: second quote", `"a""b";`, `[a] !1:unexpected """`},
	{"after a quote: close brace", `"a"}`, `[a] !1:unexpected "}"`},
	{"escapes in quotes", `"\"\'\\\n\t\r\$\a";`, "[\"'\\\n\t\r\\$\\a] ;"},
	{"escapes outside quotes", `a\;b c\ d e\{f;`, `[a\;b] [c\ d] [e\{f] ;`},
	{"variable braces stay in a word", "a ${x}y b${c};", "[a] [${x}y] [b${c}] ;"},
	{"dollar brace at token start", "${a};", "[${a}] ;"},
	{"brace not after dollar ends the word", "a $x{", "[a] [$x] {"},
	{"CR is whitespace", "a\r\nb;\r\n", "[a] [b] ;"},
	{"UTF-8 names", "имя значение;", "[имя] [значение] ;"},
	{"quoted directive name", `"events" '1';`, "[events] [1] ;"},
	{"empty quoted word", `"";`, "[] ;"},
	{"end of file inside a statement", "a b", `[a] !1:unexpected end of file, expecting ";" or "}"`},
	{"end of file inside quotes", "a \"b\n\n", `[a] !3:unexpected end of file, expecting ";" or "}"`},
	{"end of file after backslash", `a \`, `[a] !1:unexpected end of file, expecting ";" or "}"`},
	{"end of file in a comment", "a;\n# x", "[a] ;"},
	{"newlines inside quotes are counted", "a \"\n\n\"b;", "[a] [\n\n] !3:unexpected \"b\""},
}

func TestLexer(t *testing.T) {
	for _, c := range lexCases {
		t.Run(c.name, func(t *testing.T) {
			if got := tokens(c.src); got != c.want {
				t.Errorf("lex %q\n got: %s\nwant: %s", c.src, got, c.want)
			}
		})
	}
}

// TestTooLongParameter checks the 4096-byte buffer rule: a token that still
// goes on when it fills the whole buffer is an error, reported at the line
// the token started on.
func TestTooLongParameter(t *testing.T) {
	long := strings.Repeat("x", bufferSize)
	cases := []struct{ name, src, want string }{
		{"unquoted", "a\n" + long + " b;", "[a] !2:too long parameter \"xxxxxxxxxx...\" started"},
		{"double quoted", "a\n\"" + long + "\";", `[a] !2:too long parameter, probably missing terminating """ character`},
		{"single quoted", "a '" + long + "';", `[a] !1:too long parameter, probably missing terminating "'" character`},
		{"comment", "#" + long + "\na;", "!1:too long parameter \"#xxxxxxxxx...\" started"},
		{"one byte shorter fits", long[1:] + ";", "[" + long[1:] + "] ;"},
		{"whitespace runs are fine", "a" + strings.Repeat(" ", 3*bufferSize) + "b;", "[a] [b] ;"},
		{"at end of file the end wins", "a " + long, `[a] !1:unexpected end of file, expecting ";" or "}"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := tokens(c.src)
			if got != c.want {
				if len(got) > 200 {
					got = got[:200] + "..."
				}
				t.Errorf("got:  %s\nwant: %.200s", got, c.want)
			}
		})
	}
}

func TestParamMode(t *testing.T) {
	lx := NewLexer([]byte("daemon off"), ParamMode)
	lx.Next()
	if tok := lx.Next(); tok.Kind != ErrorToken || tok.Value != `unexpected end of parameter, expecting ";"` {
		t.Fatalf("got %+v", tok)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:    `plain`,
		`\"\'\\`:   `"'\`,
		`\n\t\r`:   "\n\t\r",
		`\a\$\;`:   `\a\$\;`,
		`\\\\`:     `\\`,
		`x\\n`:     `x\n`,
		`trail\\`:  `trail\`,
		`mid\xend`: `mid\xend`,
	} {
		if got := unescape([]byte(in)); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
