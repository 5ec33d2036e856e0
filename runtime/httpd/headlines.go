package httpd

import (
	"bufio"
	"bytes"
	"strings"
)

// headLines hands out the lines of a message head, a client's request or
// an upstream's response, read from br. When br holds complete lines
// already (usually the whole head came in one read) they are made one
// string, which the lines, and the header names and values cut from them,
// share: one allocation for the head instead of one per line. A line is
// consumed from br only when it is handed out, so that br, and what the
// connection counts as read, are where reading the lines one by one
// leaves them; lines held but not handed out stay in br.
type headLines struct {
	br   *bufio.Reader
	held string // complete lines taken from br's buffer, not handed out yet
}

// take hands out the next held line, with its LF; false when none is
// held. With nothing in br's buffer, it reads first (as reading the line
// would), so that the head's first line is held with the others; err is
// that read's failure.
func (h *headLines) take() (line string, ok bool, err error) {
	if h.held == "" {
		if h.br.Buffered() == 0 {
			if _, err := h.br.Peek(1); err != nil {
				return "", false, err
			}
		}
		h.hold()
		if h.held == "" {
			return "", false, nil
		}
	}
	n := strings.IndexByte(h.held, '\n') + 1
	line = h.held[:n]
	h.held = h.held[n:]
	h.br.Discard(n)
	return line, true, nil
}

// hold takes the complete lines br's buffer holds, up to the end of the
// head (the first empty line after a line with text) when it is there.
func (h *headLines) hold() {
	buf, _ := h.br.Peek(h.br.Buffered())
	end, text := 0, false
	for end < len(buf) {
		n := bytes.IndexByte(buf[end:], '\n')
		if n < 0 {
			break
		}
		empty := len(trimEOL(buf[end:end+n])) == 0
		end += n + 1
		if empty && text {
			break
		}
		text = text || !empty
	}
	if end > 0 {
		h.held = string(buf[:end])
	}
}

// headBuffered reports whether br holds a whole request head, as readHead
// reads it: empty lines ("\n" or "\r\n"), a line with text, more lines,
// then an empty line; reading it then needs nothing more from the
// connection.
func headBuffered(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	text := false
	for {
		n := bytes.IndexByte(buf, '\n')
		if n < 0 {
			return false
		}
		empty := n == 0 || n == 1 && buf[0] == '\r'
		if empty && text {
			return true
		}
		text = text || !empty
		buf = buf[n+1:]
	}
}

// requestLine returns the next line of a request head as readLine does:
// without its LF and one CR before it, errLineTooLong for a line longer
// than br's buffer.
func (h *headLines) requestLine() (string, error) {
	line, ok, err := h.take()
	if err != nil {
		return "", err
	}
	if !ok {
		b, err := readLine(h.br)
		return string(b), err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// responseLine returns the next line of an upstream response head as
// readHeadLine does: without the CRs and LFs that end it, whatever its
// length.
func (h *headLines) responseLine() (string, error) {
	line, ok, err := h.take()
	if err != nil {
		return "", err
	}
	if !ok {
		return readHeadLine(h.br)
	}
	return trimEOL(line), nil
}

// trimEOL drops the CRs and LFs that end s.
func trimEOL[T string | []byte](s T) T {
	n := len(s)
	for n > 0 && (s[n-1] == '\r' || s[n-1] == '\n') {
		n--
	}
	return s[:n]
}
