package grammar

import (
	"io"
	"strings"
)

// Print writes the statements of b as nginx configuration text, one per
// line, indented by depth. Reading the output back gives the same tree
// (names, arguments and nesting; not comments or line numbers).
func Print(w io.Writer, b *Body) error {
	var sb strings.Builder
	printBody(&sb, b, 0)
	_, err := io.WriteString(w, sb.String())
	return err
}

func printBody(sb *strings.Builder, b *Body, depth int) {
	for _, d := range b.Directives {
		sb.WriteString(strings.Repeat("    ", depth))
		sb.WriteString(Quote(d.Name))
		for _, a := range d.Args {
			sb.WriteByte(' ')
			sb.WriteString(Quote(a))
		}
		if d.Block == nil {
			sb.WriteString(";\n")
			continue
		}
		sb.WriteString(" {\n")
		printBody(sb, d.Block, depth+1)
		sb.WriteString(strings.Repeat("    ", depth))
		sb.WriteString("}\n")
	}
}

// Quote returns a word as nginx text that reads back as the same word: as
// it is when the lexer would keep it whole, else in double quotes with
// backslashes and double quotes escaped.
func Quote(w string) string {
	if w != "" && !needsQuotes(w) {
		return w
	}
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(w); i++ {
		if w[i] == '"' || w[i] == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(w[i])
	}
	sb.WriteByte('"')
	return sb.String()
}

// needsQuotes reports whether an unquoted w would not read back as w: it
// holds a byte that ends a word or starts something else, or starts with a
// byte that has a meaning at a token start.
func needsQuotes(w string) bool {
	switch w[0] {
	case '"', '\'', '#', ';', '{', '}':
		return true
	}
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case ' ', '\t', '\r', '\n', ';', '{', '\\':
			return true
		}
	}
	return false
}
