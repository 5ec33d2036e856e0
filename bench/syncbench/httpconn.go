package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds on what a server may send back, so a broken answer cannot make
// the client allocate without limit.
const (
	maxLine = 64 << 10 // one status or header line, one RESP line
	maxBody = 64 << 20 // one response body, one RESP bulk string
)

// httpConn is one keep-alive HTTP/1.1 connection that pipelines: it writes
// several requests at once, then reads their responses in order. When the
// server closes the connection (after keepalive_requests, or with
// "Connection: close") it dials again and resends the requests that got no
// response. Every read and write is bounded by deadline.
type httpConn struct {
	addr     string // host:port
	deadline time.Time
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
}

// httpResponse is the part of a response the commands look at.
type httpResponse struct {
	status int
	body   []byte
	close  bool // the server closes the connection after this response
}

func (c *httpConn) dial() error {
	wait := time.Until(c.deadline)
	if wait <= 0 {
		return fmt.Errorf("dial %s: %w", c.addr, errDeadline)
	}
	nc, err := net.DialTimeout("tcp", c.addr, wait)
	if err != nil {
		return err
	}
	if err := nc.SetDeadline(c.deadline); err != nil {
		nc.Close()
		return err
	}
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, maxLine)
	c.bw = bufio.NewWriterSize(nc, 64<<10)
	return nil
}

func (c *httpConn) drop() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// retryable errors mean the server closed the connection between two
// requests: the requests not answered yet go out again on a new one.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// roundTrips sends reqs, pipelined, and calls fn with each response in
// order. An error from fn stops it.
func (c *httpConn) roundTrips(reqs [][]byte, fn func(i int, r *httpResponse) error) error {
	done := 0
	silent := 0 // connections in a row that answered nothing
	for done < len(reqs) {
		if c.nc == nil {
			if silent >= 2 {
				return fmt.Errorf("%s closed two connections in a row without an answer", c.addr)
			}
			if err := c.dial(); err != nil {
				return err
			}
			silent++
		}
		var err error
		for _, r := range reqs[done:] {
			if _, err = c.bw.Write(r); err != nil {
				break
			}
		}
		if err == nil {
			err = c.bw.Flush()
		}
		if err != nil {
			c.drop()
			if retryable(err) {
				continue
			}
			return err
		}
		for done < len(reqs) {
			resp, err := readResponse(c.br)
			if err != nil {
				c.drop()
				if retryable(err) {
					break
				}
				return err
			}
			silent = 0
			if err := fn(done, &resp); err != nil {
				return err
			}
			done++
			if resp.close {
				c.drop()
				break
			}
		}
	}
	return nil
}

// roundTrip sends one request and returns its response.
func (c *httpConn) roundTrip(req []byte) (*httpResponse, error) {
	var out *httpResponse
	err := c.roundTrips([][]byte{req}, func(_ int, r *httpResponse) error {
		out = r
		return nil
	})
	return out, err
}

// request is an HTTP/1.1 request with a body when body is not nil.
func request(method, host, target string, body []byte) []byte {
	b := make([]byte, 0, 128+len(target)+len(body))
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// readLine reads one CRLF- (or LF-) terminated line without its ending.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", fmt.Errorf("a line longer than %d bytes", maxLine)
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// readResponse reads one response: status line, headers and a body framed
// by Content-Length, chunked encoding or the end of the connection.
func readResponse(br *bufio.Reader) (httpResponse, error) {
	var r httpResponse
	line, err := readLine(br)
	if err != nil {
		return r, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(rest) < 3 {
		return r, fmt.Errorf("malformed status line %q", line)
	}
	if r.status, err = strconv.Atoi(rest[:3]); err != nil {
		return r, fmt.Errorf("malformed status line %q", line)
	}
	r.close = proto == "HTTP/1.0"
	length, chunked := -1, false
	for {
		line, err := readLine(br)
		if err != nil {
			return r, unexpectedEOF(err)
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return r, fmt.Errorf("malformed header line %q", line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			if length, err = strconv.Atoi(value); err != nil || length < 0 || length > maxBody {
				return r, fmt.Errorf("content-length %q: not a length up to %d", value, maxBody)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		case "connection":
			switch strings.ToLower(value) {
			case "close":
				r.close = true
			case "keep-alive":
				r.close = false
			}
		}
	}
	switch {
	case r.status < 200 || r.status == 204 || r.status == 304:
	case chunked:
		r.body, err = readChunked(br)
	case length >= 0:
		r.body = make([]byte, length)
		_, err = io.ReadFull(br, r.body)
	default:
		r.body, err = io.ReadAll(io.LimitReader(br, maxBody))
		r.close = true
	}
	return r, unexpectedEOF(err)
}

func readChunked(br *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		sizeText, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 || int64(len(body))+size > maxBody {
			return nil, fmt.Errorf("chunk size %q: not a size up to %d in all", line, maxBody)
		}
		if size == 0 {
			for { // trailers, up to the empty line
				if line, err = readLine(br); err != nil || line == "" {
					return body, err
				}
			}
		}
		chunk := make([]byte, size+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		body = append(body, chunk[:size]...)
	}
}

// unexpectedEOF turns an EOF inside a response into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
