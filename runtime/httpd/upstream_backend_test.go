package httpd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// kaBackend is an upstream server for the keep-alive and streaming tests:
// it serves several requests per connection, counts the connections it
// accepts, and lets the test script each answer.
type kaBackend struct {
	name string
	ln   net.Listener
	// serve answers one request; close ends the connection after it. The
	// default answers with the backend's name and keeps the connection
	// unless the request asks to close it (HTTP/1.0 without keep-alive, or
	// "Connection: close").
	serve func(req kaRequest, w io.Writer) (close bool)

	// ended receives the number of every connection that ends (the
	// client closed it or serve asked to).
	ended chan int

	mu    sync.Mutex
	conns int // connections accepted
	reqs  []kaRequest
	open  map[net.Conn]bool
	wg    sync.WaitGroup
}

// kaRequest is one request a kaBackend read.
type kaRequest struct {
	conn int // the connection's number, from 1
	n    int // the request's number on its connection, from 1
	line string
	head []string
	body string
}

// header returns a request header's value.
func (q kaRequest) header(name string) string {
	for _, h := range q.head {
		if k, v, ok := strings.Cut(h, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// wantsClose reports whether the request asks for the connection to end
// after the answer.
func (q kaRequest) wantsClose() bool {
	c := strings.ToLower(q.header("Connection"))
	if strings.HasSuffix(q.line, "HTTP/1.0") {
		return c != "keep-alive"
	}
	return c == "close"
}

func startKABackend(t *testing.T, name string) *kaBackend {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	b := &kaBackend{name: name, ln: ln, open: map[net.Conn]bool{}, ended: make(chan int, 100)}
	b.serve = b.answer
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.stop)
	return b
}

func (b *kaBackend) addr() string { return b.ln.Addr().String() }

// answer is the default serve: the name as the body.
func (b *kaBackend) answer(req kaRequest, w io.Writer) bool {
	closing := req.wantsClose()
	conn := ""
	if closing {
		conn = "Connection: close\r\n"
	}
	body := b.name
	if strings.HasPrefix(req.line, "HEAD ") {
		body = ""
	}
	fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s", len(b.name), conn, body)
	return closing
}

func (b *kaBackend) stop() {
	b.ln.Close()
	b.mu.Lock()
	for nc := range b.open {
		nc.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *kaBackend) accept() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns++
		n := b.conns
		b.open[nc] = true
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			defer func() {
				b.mu.Lock()
				delete(b.open, nc)
				b.mu.Unlock()
				nc.Close()
				select {
				case b.ended <- n:
				default:
				}
			}()
			b.serveConn(nc, n)
		}()
	}
}

func (b *kaBackend) serveConn(nc net.Conn, conn int) {
	br := bufio.NewReader(nc)
	for n := 1; ; n++ {
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		req, ok := readKARequest(br)
		if !ok {
			return
		}
		req.conn, req.n = conn, n
		b.mu.Lock()
		b.reqs = append(b.reqs, req)
		b.mu.Unlock()
		if b.serve(req, nc) {
			return
		}
	}
}

// readKARequest reads one request: its head and a body by Content-Length
// or chunked.
func readKARequest(br *bufio.Reader) (kaRequest, bool) {
	var req kaRequest
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return req, false
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if req.line == "" {
			req.line = line
			continue
		}
		req.head = append(req.head, line)
	}
	var body []byte
	var err error
	switch {
	case strings.EqualFold(req.header("Transfer-Encoding"), "chunked"):
		body, err = io.ReadAll(httputil.NewChunkedReader(br))
		if err == nil {
			_, err = br.ReadString('\n')
		}
	case req.header("Content-Length") != "":
		n, _ := strconv.Atoi(req.header("Content-Length"))
		body = make([]byte, n)
		_, err = io.ReadFull(br, body)
	}
	req.body = string(body)
	return req, err == nil
}

// accepted is how many connections the backend accepted.
func (b *kaBackend) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns
}

// requests returns what the backend read so far.
func (b *kaBackend) requests() []kaRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]kaRequest(nil), b.reqs...)
}

// readResponse reads one response off a client connection, decoding a
// chunked body; raw keeps the body as sent (with its chunk framing).
func (c *client) readResponse(head bool) (r rawResponse, raw string) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.br.ReadString('\n')
	if err != nil {
		if line == "" {
			return rawResponse{none: true, closed: true}, ""
		}
		c.t.Fatalf("read status line: %v (%q)", err, line)
	}
	r.status = strings.TrimRight(line, "\r\n")
	length := -1
	chunked := false
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read header: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		r.headers = append(r.headers, line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			length, _ = strconv.Atoi(v)
		}
		if line == "Transfer-Encoding: chunked" {
			chunked = true
		}
	}
	code := r.status[9:12]
	switch {
	case head || code == "204" || code == "304" || strings.HasPrefix(code, "1"):
	case chunked:
		body, framed, ok := readChunked(c.br)
		r.body, raw = body, framed
		if !ok {
			r.closed = true
			return r, raw
		}
	case length >= 0:
		buf := make([]byte, length)
		n, err := io.ReadFull(c.br, buf)
		r.body = string(buf[:n])
		if err != nil {
			r.closed = true
			return r, r.body
		}
		raw = r.body
	default:
		rest, _ := io.ReadAll(c.br)
		r.body = string(rest)
		r.closed = true
		return r, r.body
	}
	if r.header("Connection") == "close" {
		r.closed = c.waitEOF()
	}
	return r, raw
}

// readChunked reads a chunked body and the trailer section; ok is false
// when the connection ended before the last chunk.
func readChunked(br *bufio.Reader) (body, raw string, ok bool) {
	var b, framed strings.Builder
	for {
		line, err := br.ReadString('\n')
		framed.WriteString(line)
		if err != nil {
			return b.String(), framed.String(), false
		}
		n, err := strconv.ParseInt(strings.TrimRight(line, "\r\n"), 16, 64)
		if err != nil {
			return b.String(), framed.String(), false
		}
		if n == 0 {
			for {
				line, err := br.ReadString('\n')
				framed.WriteString(line)
				if err != nil {
					return b.String(), framed.String(), false
				}
				if strings.TrimRight(line, "\r\n") == "" {
					return b.String(), framed.String(), true
				}
			}
		}
		data := make([]byte, n+2)
		m, err := io.ReadFull(br, data)
		framed.Write(data[:m])
		b.Write(data[:min(int64(m), n)])
		if err != nil {
			return b.String(), framed.String(), false
		}
	}
}
