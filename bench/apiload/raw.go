package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection that apiload writes and
// reads by hand, as redis-benchmark speaks Redis's protocol by hand: the
// client's own CPU cost stays small, so on a shared machine the server gets
// the cores. One request is outstanding at a time (no pipelining).
type rawConn struct {
	addr, host string
	timeout    time.Duration
	c          net.Conn
	r          *bufio.Reader
	req        []byte
}

// target splits an http:// URL into the address to dial, the Host header
// and the request path.
func target(raw string) (addr, host, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", err
	}
	if u.Scheme != "http" {
		return "", "", "", fmt.Errorf("only http:// URLs are supported: %s", raw)
	}
	addr = u.Host
	if u.Port() == "" {
		addr += ":80"
	}
	return addr, u.Host, u.RequestURI(), nil
}

func (rc *rawConn) dial() error {
	c, err := net.DialTimeout("tcp", rc.addr, rc.timeout)
	if err != nil {
		return err
	}
	rc.c, rc.r = c, bufio.NewReaderSize(c, 16<<10)
	return nil
}

func (rc *rawConn) close() {
	if rc.c != nil {
		rc.c.Close()
		rc.c = nil
	}
}

// roundTrip sends one request and reads the whole answer. A connection the
// server closed before the request is redialed once; one it closes after
// answering (Connection: close, keepalive_requests) is redialed next time.
func (rc *rawConn) roundTrip(method, path, body string) (status int, answer []byte, err error) {
	for attempt := 0; ; attempt++ {
		if rc.c == nil {
			if err := rc.dial(); err != nil {
				return 0, nil, err
			}
		}
		status, answer, closeAfter, err := rc.exchange(method, path, body)
		if err != nil {
			rc.close()
			if attempt == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				continue // the server closed an idle connection
			}
			return 0, nil, err
		}
		if closeAfter {
			rc.close()
		}
		return status, answer, nil
	}
}

func (rc *rawConn) exchange(method, path, body string) (int, []byte, bool, error) {
	rc.req = append(rc.req[:0], method...)
	rc.req = append(rc.req, ' ')
	rc.req = append(rc.req, path...)
	rc.req = append(rc.req, " HTTP/1.1\r\nHost: "...)
	rc.req = append(rc.req, rc.host...)
	if body != "" {
		rc.req = append(rc.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		rc.req = strconv.AppendInt(rc.req, int64(len(body)), 10)
	}
	rc.req = append(rc.req, "\r\n\r\n"...)
	rc.req = append(rc.req, body...)
	rc.c.SetDeadline(time.Now().Add(rc.timeout))
	if _, err := rc.c.Write(rc.req); err != nil {
		return 0, nil, false, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closeAfter := -1, false, false
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, val, _ := bytes.Cut(h, []byte(":"))
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(val)); err != nil {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", val)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(val, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(val, []byte("close"))
		}
	}
	var answer []byte
	switch {
	case chunked:
		answer, err = readChunked(rc.r)
	case length > 0:
		answer = make([]byte, length)
		_, err = io.ReadFull(rc.r, answer)
	case length < 0 && status != 204 && status != 304 && method != "HEAD":
		answer, err = io.ReadAll(rc.r) // ends with the connection
		closeAfter = true
	}
	return status, answer, closeAfter, err
}

func readChunked(r *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
		if err != nil || size < 0 || size > 1<<30 {
			return nil, fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for { // trailer
				l, err := r.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(bytes.TrimRight(l, "\r\n")) == 0 {
					return out, nil
				}
			}
		}
		chunk := make([]byte, size+2)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, err
		}
		out = append(out, chunk[:size]...)
	}
}
