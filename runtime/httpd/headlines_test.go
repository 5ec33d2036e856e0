package httpd

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
)

// chunkReader returns its text n bytes per read.
type chunkReader struct {
	s string
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.s))
	copy(p, c.s[:k])
	c.s = c.s[k:]
	return k, nil
}

// headLines gives the lines, and leaves the reader where, reading line by
// line gives them and leaves it: whether the head came in one read or in
// pieces, with a body or a next request after it, with lines longer than
// the buffer.
func TestHeadLinesAsReadLine(t *testing.T) {
	heads := []string{
		"GET / HTTP/1.1\r\nHost: a\r\nX-Y: z \r\n\r\nbody",
		"\r\n\nGET / HTTP/1.1\nHost: a\n\nGET /next HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nA: \r\r\nB: c\r\n\r\r\n\r\nrest",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"GET /" + strings.Repeat("x", 100) + " HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nLong: " + strings.Repeat("y", 100) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nunfinished",
		"HTTP/1.0 200 OK\r\n\r\n",
	}
	const size = 64 // bufio's smallest buffer is 16; lines above are longer than 64
	for hi, head := range heads {
		for _, chunk := range []int{len(head), 1, 7, 30} {
			for _, response := range []bool{false, true} {
				name := fmt.Sprintf("head %d chunk %d response %v", hi, chunk, response)
				want := bufio.NewReaderSize(&chunkReader{head, chunk}, size)
				got := bufio.NewReaderSize(&chunkReader{head, chunk}, size)
				lines := headLines{br: got}
				for i := 0; ; i++ {
					var w, g string
					var werr, gerr error
					if response {
						w, werr = readHeadLine(want)
						g, gerr = lines.responseLine()
					} else {
						var b []byte
						b, werr = readLine(want)
						w = string(b)
						g, gerr = lines.requestLine()
					}
					if g != w || gerr != werr {
						t.Fatalf("%s, line %d: %q, %v; want %q, %v", name, i, g, gerr, w, werr)
					}
					if werr != nil {
						break
					}
					// What is left to read is the same.
					if wb, gb := want.Buffered(), got.Buffered(); wb != gb {
						t.Fatalf("%s, line %d: %d bytes buffered, want %d", name, i, gb, wb)
					}
					if w == "" && i > 0 {
						// The head is over: the rest is read as it is.
						wr, _ := io.ReadAll(want)
						gr, _ := io.ReadAll(got)
						if string(gr) != string(wr) {
							t.Fatalf("%s: after the head %q, want %q", name, gr, wr)
						}
						break
					}
				}
			}
		}
	}
}

// The lines of a head that came in one read share one string.
func TestHeadLinesOneString(t *testing.T) {
	const head = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n"
	var readers []*bufio.Reader // one for AllocsPerRun's warm-up, one for its run
	for range 2 {
		br := bufio.NewReader(strings.NewReader(head))
		br.Peek(1)
		readers = append(readers, br)
	}
	n := 0
	allocs := testing.AllocsPerRun(1, func() {
		lines := headLines{br: readers[n]}
		n++
		for i := 0; i < 4; i++ {
			if l, err := lines.requestLine(); err != nil || (l == "") != (i == 3) {
				t.Fatalf("line %d: %q, %v", i, l, err)
			}
		}
	})
	if n != 2 || allocs != 1 {
		t.Errorf("%v allocations for the head in %d runs, want 1", allocs, n)
	}
}

// headBuffered says whether readHead would read the whole head from the
// buffer, with readLine's idea of an empty line.
func TestHeadBuffered(t *testing.T) {
	for in, want := range map[string]bool{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n":      true,
		"GET / HTTP/1.1\nHost: a\n\nbody":        true,
		"\r\n\r\nGET / HTTP/1.1\r\n\r\n":         true,
		"GET / HTTP/1.1\r\nHost: a\r\n":          false,
		"GET / HTTP/1.1\r\nHost: a\r\n\r":        false,
		"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n":    false, // "\r" is a line with text for readLine
		"\r\n\r\n":                               false,
		"GET /\r\n":                              false,
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nX": true,
	} {
		br := bufio.NewReader(strings.NewReader(in))
		br.Peek(1)
		if got := headBuffered(br); got != want {
			t.Errorf("headBuffered(%q) = %v, want %v", in, got, want)
		}
	}
}
