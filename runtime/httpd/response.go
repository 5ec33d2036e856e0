package httpd

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Responses as nginx's header filter writes them, in its order: the status
// line (always "HTTP/1.1"), Server, Date, Content-Type, Content-Length,
// Last-Modified, a relative Location made absolute, Connection,
// Keep-Alive, then the other headers in the order they were added. Error
// responses carry nginx's built-in pages, with "zonesync" where nginx
// writes "nginx".

// ServerToken is the Server header and the signature of error pages. It
// never carries a version, whatever server_tokens says.
const ServerToken = "zonesync"

// statusText is nginx 1.22's status lines; other codes have none
// ("HTTP/1.1 418 ").
var statusText = map[int]string{
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
	301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other", 304: "Not Modified",
	307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
	405: "Not Allowed", 406: "Not Acceptable", 408: "Request Time-out", 409: "Conflict", 410: "Gone",
	411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
	414: "Request-URI Too Large", 415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
	421: "Misdirected Request", 429: "Too Many Requests",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Temporarily Unavailable", 504: "Gateway Time-out", 505: "HTTP Version Not Supported",
	507: "Insufficient Storage",
}

// statusCodes are the codes up to 599 as text, for $upstream_status
// and the status line (no allocation per response).
var statusCodes = func() (t [600]string) {
	for c := 100; c < len(t); c++ {
		t[c] = strconv.Itoa(c)
	}
	return t
}()

// statusCode is a status code as text.
func statusCode(c int) string {
	if c >= 100 && c < len(statusCodes) {
		return statusCodes[c]
	}
	return strconv.Itoa(c)
}

// errorPage is one of nginx's built-in pages: the title, the heading and
// an optional line under it.
type errorPage struct{ title, h1, extra string }

// errorPages are the codes nginx has a page for. 494 to 497 are nginx's
// own codes, sent with status 400; 498 gets the 404 page.
var errorPages = map[int]errorPage{}

func init() {
	plain := []int{301, 303, 307, 308, 400, 402, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416,
		421, 429, 500, 501, 502, 503, 504, 505, 507}
	for _, c := range plain {
		t := strconv.Itoa(c) + " " + statusText[c]
		errorPages[c] = errorPage{title: t, h1: t}
	}
	errorPages[302] = errorPage{title: "302 Found", h1: "302 Found"}
	errorPages[401] = errorPage{title: "401 Authorization Required", h1: "401 Authorization Required"}
	errorPages[498] = errorPages[404]
	for c, extra := range map[int]string{
		494: "Request Header Or Cookie Too Large",
		495: "The SSL certificate error",
		496: "No required SSL certificate was sent",
		497: "The plain HTTP request was sent to HTTPS port",
	} {
		errorPages[c] = errorPage{title: "400 " + extra, h1: "400 Bad Request", extra: extra}
	}
}

// pageTail ends every error page.
const pageTail = "<hr><center>" + ServerToken + "</center>\r\n</body>\r\n</html>\r\n"

// body renders a page.
func (p errorPage) body() []byte {
	var b bytes.Buffer
	b.WriteString("<html>\r\n<head><title>" + p.title + "</title></head>\r\n<body>\r\n<center><h1>" + p.h1 + "</h1></center>\r\n")
	if p.extra != "" {
		b.WriteString("<center>" + p.extra + "</center>\r\n")
	}
	b.WriteString(pageTail)
	return b.Bytes()
}

// response is what a request answers.
type response struct {
	status       int
	contentType  string
	length       int64 // -1: no Content-Length
	lastModified time.Time
	location     string // the Location header, "" without one
	locIndex     int    // where Location sits among headers
	headers      []header
	body         []byte
	file         *os.File // a file sent after body
	acceptRanges bool     // "Accept-Ranges: bytes" after the other headers
	headerOnly   bool
	noKeepalive  bool
	special      bool // an error page: the status is final
	// For proxied responses: the upstream's status line ("302 Found"),
	// passed as it came unless the status changes; the body streamed
	// after the header (the length may be unknown), sent with chunked
	// transfer encoding when chunked; noServer and noDate leave out the
	// server's own Server and Date (proxy_pass_header passes the
	// upstream's).
	statusLine       string
	stream           bodyStream
	chunked          bool
	noServer, noDate bool
}

// bodyStream is a body written while it is produced; Close is called
// once the response is done, whether the body was written or not.
type bodyStream interface {
	WriteTo(w io.Writer) (int64, error)
	Close()
}

func newResponse(status int) *response {
	return &response{status: status, length: -1, locIndex: -1}
}

// addHeader appends a header.
func (resp *response) addHeader(name, value string) {
	resp.headers = append(resp.headers, header{name: name, value: value})
}

// setLocation adds the Location header at the current position.
func (resp *response) setLocation(v string) {
	resp.location = v
	resp.locIndex = len(resp.headers)
	resp.addHeader("Location", v)
}

// textResponse is ngx_http_send_response for a code and a text: the body
// with the type of the URI's extension or default_type.
func (r *request) textResponse(status int, text string) *response {
	resp := newResponse(status)
	resp.contentType = r.contentType()
	resp.body = []byte(text)
	resp.length = int64(len(text))
	return resp
}

// contentType is ngx_http_set_content_type: the type of the URI's
// extension (ignoring case), else default_type.
func (r *request) contentType() string {
	if r.exten != "" {
		if t, ok := r.conf.types[strings.ToLower(r.exten)]; ok {
			return t
		}
	}
	return r.conf.defaultType
}

// specialResponse is ngx_http_special_response_handler's answer: nginx's
// page for the code (the 494 to 497 pages with status 400), a bare status
// for codes without a page, and no keep-alive after the errors nginx
// closes on.
func (r *request) specialResponse(code int) *response {
	resp := newResponse(code)
	resp.special = true
	switch code {
	case 400, 413, 414, 494, 495, 496, 497, 500:
		resp.noKeepalive = true
	}
	switch code {
	case 494, 495, 496, 497:
		resp.status = 400
	}
	if r.location != "" {
		resp.setLocation(r.location)
	}
	switch {
	case code == 201:
		resp.headerOnly = true
		resp.length = 0
	case code == 204:
	default:
		if p, ok := errorPages[code]; ok {
			resp.body = p.body()
			resp.contentType = "text/html"
		}
		resp.length = int64(len(resp.body))
	}
	return resp
}

// addHeaderStatuses are the codes add_header applies to without "always".
var addHeaderStatuses = map[int]bool{200: true, 201: true, 204: true, 206: true, 301: true, 302: true,
	303: true, 304: true, 307: true, 308: true}

// applyAddHeaders is the headers filter: add_header values are computed
// now; an empty value adds nothing.
func (r *request) applyAddHeaders(resp *response) {
	if r.conf == nil {
		return
	}
	for _, h := range r.conf.addHeaders {
		if !h.always && !addHeaderStatuses[resp.status] {
			continue
		}
		if v := h.value.Eval(r); v != "" {
			resp.addHeader(h.name, v)
		}
	}
}

// writeHeader renders the status line and headers. Each piece is written
// to b as it is, without building strings first: this runs for every
// response.
func (r *request) writeHeader(b *bytes.Buffer, resp *response) {
	if resp.status == 204 {
		resp.headerOnly = true
		resp.contentType = ""
		resp.length = -1
		resp.lastModified = time.Time{}
	}
	if resp.status == 304 {
		resp.headerOnly = true
	}
	b.WriteString("HTTP/1.1 ")
	if resp.statusLine != "" {
		b.WriteString(resp.statusLine)
	} else {
		b.WriteString(statusCode(resp.status))
		b.WriteByte(' ')
		b.WriteString(statusText[resp.status])
	}
	b.WriteString("\r\n")
	if !resp.noServer {
		b.WriteString("Server: " + ServerToken + "\r\n")
	}
	if !resp.noDate {
		writeField(b, "Date", r.c.s.httpDate(r.c.s.now()))
	}
	if resp.contentType != "" {
		writeField(b, "Content-Type", resp.contentType)
	}
	if resp.length >= 0 {
		b.WriteString("Content-Length: ")
		b.Write(strconv.AppendInt(b.AvailableBuffer(), resp.length, 10))
		b.WriteString("\r\n")
	}
	if !resp.lastModified.IsZero() {
		writeField(b, "Last-Modified", resp.lastModified.UTC().Format(http.TimeFormat))
	}
	skip := -1
	if resp.locIndex >= 0 && strings.HasPrefix(resp.location, "/") && r.conf.absoluteRedirect {
		skip = resp.locIndex
		writeField(b, "Location", r.absoluteLocation(resp.location))
	}
	if resp.chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if r.keepalive {
		b.WriteString("Connection: keep-alive\r\n")
		if t := r.conf.st.KeepaliveTimeout.Header; t > 0 {
			b.WriteString("Keep-Alive: timeout=")
			b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(t/time.Second), 10))
			b.WriteString("\r\n")
		}
	} else {
		b.WriteString("Connection: close\r\n")
	}
	for i, h := range resp.headers {
		if i == skip {
			continue
		}
		writeField(b, h.name, h.value)
	}
	b.WriteString("\r\n")
}

// writeField writes one "Name: value" line.
func writeField(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteString("\r\n")
}

// httpDate is the Date header's value at t. As nginx formats it once a
// second (ngx_cached_http_time), the text is kept for the second it
// names; connections share it.
func (s *Server) httpDate(t time.Time) string {
	sec := t.Unix()
	if d := s.date.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &cachedDate{sec: sec, text: t.UTC().Format(http.TimeFormat)}
	s.date.Store(d)
	return d.text
}

// cachedDate is a Date header's value and the second it names.
type cachedDate struct {
	sec  int64
	text string
}

// absoluteLocation makes a relative redirect absolute as the header
// filter does: the scheme, the host (server_name with
// server_name_in_redirect, else the request's host, else the local
// address) and the port unless it is the scheme's default.
func (r *request) absoluteLocation(loc string) string {
	scheme := "http"
	if r.c.tls != nil {
		scheme = "https"
	}
	host := r.host
	switch {
	case r.conf.serverNameInRedirect:
		host = r.srv.name
	case host == "":
		host = r.c.serverAddr()
	}
	port := ""
	if r.conf.portInRedirect {
		p := r.c.serverPort()
		if p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
			port = ":" + p
		}
	}
	return scheme + "://" + host + port + loc
}
