package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// compare fails t with a line diff when got is not byte for byte expected.
func compare(t *testing.T, expected, got string) {
	t.Helper()
	if got != expected {
		t.Errorf("output differs from expected (- expected, + got):\n%s", lineDiff(expected, got))
	}
}

// diffContext is how many unchanged lines are shown around a change.
const diffContext = 3

type diffLine struct {
	op   byte // ' ', '-' or '+'
	text string
}

// lineDiff returns the changed lines of a and b with some context, from a
// longest-common-subsequence alignment; outputs are small, so O(n*m) is fine.
func lineDiff(a, b string) string {
	x, y := splitLines(a), splitLines(b)
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var lines []diffLine
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, diffLine{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, diffLine{'-', x[i]})
			i++
		default:
			lines = append(lines, diffLine{'+', y[j]})
			j++
		}
	}
	return showChanges(lines)
}

// splitLines splits s after each newline, keeping the newlines.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// showChanges prints the changed lines and diffContext lines around them;
// "..." stands for the unchanged lines left out.
func showChanges(lines []diffLine) string {
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.op != ' ' {
			for c := max(0, k-diffContext); c <= min(len(lines)-1, k+diffContext); c++ {
				show[c] = true
			}
		}
	}
	var sb strings.Builder
	skipped := false
	for k, l := range lines {
		if !show[k] {
			skipped = true
			continue
		}
		if skipped {
			sb.WriteString("  ...\n")
			skipped = false
		}
		fmt.Fprintf(&sb, "%c %s\n", l.op, visible(l.text))
	}
	if skipped {
		sb.WriteString("  ...\n")
	}
	return sb.String()
}

// visible shows a line without its newline, quoted when it holds control
// bytes, and marks a last line that has no newline.
func visible(line string) string {
	text, hasNewline := strings.CutSuffix(line, "\n")
	if strings.ContainsFunc(text, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		text = strconv.Quote(text)
	}
	if !hasNewline {
		text += "  (no newline at end)"
	}
	return text
}
