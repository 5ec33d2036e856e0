package httpd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// The api directive's content handler: the request, with its body read
// (within client_max_body_size), is handed to the node's net/http handler;
// the answer is buffered and sent with nginx's headers. Flush and Hijack
// are not offered.

// serveAPI runs the location's API handler.
func (r *request) serveAPI() outcome {
	body, err := r.readBody()
	switch {
	case errors.Is(err, errBodyTooLarge):
		r.logError().Msg("client intended to send too large chunked body")
		r.keepalive = false
		return outcome{status: 413}
	case err != nil:
		return outcome{status: statusClose}
	}
	req := r.httpRequest(body)
	w := &apiWriter{header: http.Header{}}
	if !r.c.s.runHandler(r, r.conf.api, w, req) {
		return outcome{status: 500}
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	resp := newResponse(status)
	resp.body = w.body.Bytes()
	resp.length = int64(len(resp.body))
	resp.contentType = w.header.Get("Content-Type")
	if resp.contentType == "" && len(resp.body) > 0 {
		resp.contentType = http.DetectContentType(resp.body)
	}
	keys := make([]string, 0, len(w.header))
	for k := range w.header {
		switch k {
		case "Content-Type", "Content-Length", "Date", "Server", "Connection", "Transfer-Encoding", "Keep-Alive":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range w.header[k] {
			resp.addHeader(k, v)
		}
	}
	return outcome{resp: resp}
}

// runHandler calls a handler; ok is false when it panicked (the request
// then ends with a 500).
func (s *Server) runHandler(r *request, h http.Handler, w *apiWriter, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.logError().Interface("panic", p).Msg("api handler failed")
			ok = false
		}
	}()
	h.ServeHTTP(w, req)
	return true
}

// httpRequest presents the request to a net/http handler.
func (r *request) httpRequest(body []byte) *http.Request {
	u, err := url.ParseRequestURI(r.unparsed)
	if err != nil {
		u = &url.URL{Path: r.uri, RawQuery: r.args}
	}
	h := http.Header{}
	for _, hd := range r.headers {
		h.Add(hd.name, hd.value)
	}
	proto, major, minor := r.proto, r.version/1000, r.version%1000
	if r.version == 9 {
		proto, major, minor = "HTTP/0.9", 0, 9
	}
	host, _ := r.headerValue("host")
	if r.lineHost != "" {
		host = r.lineHost
	}
	req := &http.Request{
		Method:        r.method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          host,
		RemoteAddr:    r.clientAddr(),
		RequestURI:    r.unparsed,
	}
	if r.c.tls != nil {
		st := r.c.tls.ConnectionState()
		req.TLS = &st
	}
	return req.WithContext(r.ctx)
}

// clientAddr is the client as "ip:port" ("unix:" for a UNIX socket).
func (r *request) clientAddr() string {
	if !r.c.remote.IsValid() {
		return "unix:"
	}
	return net.JoinHostPort(r.c.remoteAddr(), strconv.Itoa(int(r.c.remote.Port())))
}

// apiWriter buffers a handler's answer.
type apiWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *apiWriter) Header() http.Header { return w.header }

func (w *apiWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *apiWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
