package httpd

import (
	"bufio"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// HTTP/1.x requests as nginx 1.22 reads them (ngx_http_parse_request_line,
// ngx_http_parse_header_line, ngx_http_parse_complex_uri and the header
// handlers of ngx_http_request.c), with Debian's stricter checks of
// control characters, which the differential tests confirm.

// statusClose is nginx's 444: close the connection without a response.
const statusClose = 444

// Codes nginx uses inside before mapping them to a response.
const (
	statusHeaderTooLarge = 494 // sent as 400 with its own page
	statusPlainToHTTPS   = 497 // sent as 400 with its own page
)

// maxURIChanges is NGX_HTTP_MAX_URI_CHANGES: rewrites and internal
// redirects a request may go through.
const maxURIChanges = 10

type header struct{ name, value string }

// request is one HTTP request and what the phases learn about it.
type request struct {
	c     *conn
	ctx   context.Context
	start time.Time

	// The request line.
	line     string // $request
	method   string
	unparsed string // $request_uri
	uri      string
	args     string
	exten    string
	proto    string // "HTTP/1.1"; "" for HTTP/0.9
	version  int    // major*1000+minor; 9 for HTTP/0.9
	lineHost string // the host of an absolute URI

	// The headers.
	headers       []header
	host          string // the validated host: lower case, no port, no final dot
	hasHost       bool
	connClose     bool
	connKeepAlive bool
	contentLength int64 // -1 without Content-Length
	chunked       bool
	expect100     bool
	length        int64 // $request_length so far

	keepalive  bool
	srv        *vserver
	conf       *lconf
	captures   script.Match
	vars       map[string]string // set, map and keyval values, named captures
	status     int               // $status once known
	location   string            // a Location to send
	changes    int               // URI changes left
	uriChanged bool
	internal   bool // internal redirects may reach internal locations
	errorPage  bool // an error_page was already applied
	errStatus  int  // the status an error_page keeps or sets
	id         string

	parseErr     *parseError // the request could not be read
	expectTested bool        // "100 Continue" was sent or is not due

	upstreamHeaders []header // the last upstream response's, for $upstream_http_* and $upstream_cookie_*
	upstreamAddr    string   // $upstream_addr
	upstreamStatus  string   // $upstream_status

	bodyDone bool   // the body was read or discarded
	body     []byte // the body, when read
	sent     int64  // bytes sent, for logs
	bodySent int64
}

// parseError is a request that cannot be parsed: the status nginx answers
// with (400, 414, 494, 501, 505) and what it logs.
type parseError struct {
	status int
	msg    string
}

func (e *parseError) Error() string { return e.msg }

func bad(status int, msg string) *parseError { return &parseError{status: status, msg: msg} }

var errLineTooLong = errors.New("line too long")

// readLine reads one line, without its LF and an optional CR before it.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseRequestLine reads "METHOD URI [HTTP/x.y]".
func (r *request) parseRequestLine(line string, mergeSlashes bool) *parseError {
	r.line = line
	s := r.line
	i := 0
	for i < len(s) && s[i] != ' ' {
		c := s[i]
		if (c < 'A' || c > 'Z') && c != '_' && c != '-' {
			return bad(400, "client sent invalid method")
		}
		i++
	}
	if i == 0 || i == len(s) {
		return bad(400, "client sent invalid request")
	}
	r.method = s[:i]
	for i < len(s) && s[i] == ' ' {
		i++
	}
	end := i
	for end < len(s) && s[end] != ' ' {
		end++
	}
	target := s[i:end]
	if target == "" {
		return bad(400, "client sent invalid request")
	}
	rest := strings.TrimLeft(s[end:], " ")
	switch {
	case rest == "":
		if r.method != "GET" {
			return bad(400, "client sent invalid method in HTTP/0.9 request")
		}
		r.version = 9
	default:
		major, minor, ok := parseVersion(strings.TrimRight(rest, " "))
		if !ok {
			return bad(400, "client sent invalid request")
		}
		if major > 1 {
			return bad(505, "client sent unsupported HTTP version")
		}
		r.version = major*1000 + minor
		r.proto = strings.TrimRight(rest, " ")
	}
	return r.parseTarget(target, mergeSlashes)
}

// parseVersion reads "HTTP/major.minor" as nginx's parser does: the
// major starts with 1..9, and either number may have up to three digits
// (nginx checks the value before it adds a digit: "1.100" passes,
// "1.1000" does not).
func parseVersion(v string) (major, minor int, ok bool) {
	rest, found := strings.CutPrefix(v, "HTTP/")
	if !found {
		return 0, 0, false
	}
	maj, min, found := strings.Cut(rest, ".")
	if !found || maj == "" || min == "" || maj[0] == '0' || !digits(maj) || !digits(min) || len(maj) > 3 || len(min) > 3 {
		return 0, 0, false
	}
	major, _ = strconv.Atoi(maj)
	minor, _ = strconv.Atoi(min)
	return major, minor, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTarget reads the request target: a path, or an absolute URI whose
// host then stands for the Host header.
func (r *request) parseTarget(t string, mergeSlashes bool) *parseError {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 0x21 || c == 0x7f {
			return bad(400, "client sent invalid request")
		}
	}
	if t[0] != '/' {
		scheme, rest, ok := strings.Cut(t, "://")
		if !ok || scheme == "" || !isScheme(scheme) {
			return bad(400, "client sent invalid request")
		}
		hostEnd := strings.IndexAny(rest, "/?")
		if hostEnd < 0 {
			hostEnd = len(rest)
		}
		r.lineHost = rest[:hostEnd]
		if r.lineHost == "" || strings.Contains(r.lineHost, "@") {
			return bad(400, "client sent invalid request")
		}
		t = rest[hostEnd:]
		if t == "" || t[0] == '?' {
			t = "/" + t
		}
	}
	r.unparsed = t
	uri, args, exten, ok := normalizeURI(t, mergeSlashes)
	if !ok {
		return bad(400, "client sent invalid request")
	}
	r.uri, r.args, r.exten = uri, args, exten
	return nil
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if (c < 'a' || c > 'z') && (i == 0 || (c < '0' || c > '9') && c != '+' && c != '-' && c != '.') {
			return false
		}
	}
	return true
}

// URI states of normalizeURI.
const (
	uriUsual = iota
	uriSlash
	uriDot
	uriDotDot
)

// normalizeURI is ngx_http_parse_complex_uri: "%XX" is decoded (a decoded
// "/" or "." takes part in the path rules; a decoded "%", "#" or "?" is a
// plain character; "%00" is an error), "//" is merged, "/./" dropped and
// "/../" climbs one segment (above the root is an error). The query after
// the first "?" becomes the arguments, a "#" ends everything. exten is what
// follows the last "." of the last segment.
func normalizeURI(raw string, mergeSlashes bool) (uri, args, exten string, ok bool) {
	out := make([]byte, 0, len(raw))
	state, ext := uriUsual, -1
	climb := func() bool {
		u := len(out) - 4
		for ; u >= 0 && out[u] != '/'; u-- {
		}
		if u < 0 {
			return false
		}
		out = out[:u+1]
		return true
	}
	i := 0
loop:
	for i < len(raw) {
		ch := raw[i]
		i++
		if ch == '%' {
			if i+2 > len(raw) {
				return "", "", "", false
			}
			hi, okh := unhex(raw[i])
			lo, okl := unhex(raw[i+1])
			if !okh || !okl {
				return "", "", "", false
			}
			i += 2
			ch = hi<<4 | lo
			switch ch {
			case 0:
				return "", "", "", false
			case '%', '#', '?':
				out = append(out, ch)
				state = uriUsual
				continue
			}
		} else if ch == '?' || ch == '#' {
			switch state {
			case uriDot:
				out = out[:len(out)-1]
			case uriDotDot:
				if !climb() {
					return "", "", "", false
				}
			}
			state = uriUsual
			if ch == '?' {
				args = raw[i:]
				if h := strings.IndexByte(args, '#'); h >= 0 {
					args = args[:h]
				}
			}
			break loop
		}
		switch state {
		case uriUsual:
			switch ch {
			case '/':
				ext, state = -1, uriSlash
			case '.':
				ext = len(out) + 1
			}
			out = append(out, ch)
		case uriSlash:
			switch ch {
			case '/':
				if !mergeSlashes {
					out = append(out, ch)
				}
			case '.':
				state = uriDot
				out = append(out, ch)
			default:
				state = uriUsual
				out = append(out, ch)
			}
		case uriDot:
			switch ch {
			case '/':
				state = uriSlash
				out = out[:len(out)-1]
			case '.':
				state = uriDotDot
				out = append(out, ch)
			default:
				state = uriUsual
				out = append(out, ch)
			}
		case uriDotDot:
			if ch == '/' {
				if !climb() {
					return "", "", "", false
				}
				state = uriSlash
				continue
			}
			state = uriUsual
			out = append(out, ch)
		}
	}
	switch state {
	case uriDot:
		out = out[:len(out)-1]
	case uriDotDot:
		if !climb() {
			return "", "", "", false
		}
	}
	if ext >= 0 && ext <= len(out) {
		exten = string(out[ext:])
	}
	return string(out), args, exten, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return c | 0x20 - 'a' + 10, true
	}
	return 0, false
}

// extenOf is ngx_http_set_exten: what follows the last "." after the last
// "/".
func extenOf(uri string) string {
	for i := len(uri) - 1; i >= 0 && uri[i] != '/'; i-- {
		if uri[i] == '.' {
			if i > 0 && uri[i-1] == '/' {
				return ""
			}
			return uri[i+1:]
		}
	}
	return ""
}

// setURI changes the URI (a rewrite or an internal redirect).
func (r *request) setURI(uri string) {
	r.uri = uri
	r.exten = extenOf(uri)
}

// headerRules are the connection's header parsing settings.
type headerRules struct {
	underscores   bool
	ignoreInvalid bool
}

// parseHeader reads one header line; keep is false for a line nginx
// ignores (an invalid name with ignore_invalid_headers on). The name and
// the value are cut from line.
func parseHeader(line string, rules headerRules) (h header, keep bool, err *parseError) {
	name, value, _ := strings.Cut(line, ":")
	if len(name) == 0 {
		return h, false, bad(400, "client sent invalid header line")
	}
	valid := true
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c <= 0x20 || c == 0x7f:
			return h, false, bad(400, "client sent invalid header line")
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-':
		case c == '_':
			valid = valid && rules.underscores
		default:
			valid = false
		}
	}
	if strings.IndexByte(value, 0) >= 0 {
		return h, false, bad(400, "client sent invalid header line")
	}
	h = header{name: name, value: strings.Trim(value, " \t")}
	return h, valid || !rules.ignoreInvalid, nil
}

// validateHost is ngx_http_validate_host: the host without its port and
// final dot, lower-cased; ok is false for an empty host, "..", a "/" or a
// control character.
func validateHost(h string) (string, bool) {
	end := len(h)
	dot := -2
	literal, rest := false, false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '.':
			if dot == i-1 {
				return "", false
			}
			dot = i
		case c == ':':
			if !rest && !literal {
				end, rest = i, true
			}
		case c == '[':
			if i == 0 {
				literal = true
			}
		case c == ']':
			if literal && !rest {
				end, rest, literal = i+1, true, false
			}
		case c == '/' || c <= 0x20 || c == 0x7f:
			return "", false
		}
	}
	if dot == end-1 {
		end--
	}
	if end <= 0 {
		return "", false
	}
	return strings.ToLower(h[:end]), true
}

// lowerKey appends name in lower case to buf, as strings.ToLower writes
// it, for map lookups: m[string(lowerKey(buf[:0], name))] allocates
// nothing when buf is large enough.
func lowerKey(buf []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return append(buf, strings.ToLower(name)...)
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// headerValue returns the first header of a name (case-insensitive).
func (r *request) headerValue(name string) (string, bool) {
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

// uniqueHeaders are the headers checkHeader has seen, of those a request
// may have only once.
type uniqueHeaders uint8

const (
	seenHost uniqueHeaders = 1 << iota
	seenContentLength
	seenTransferEncoding
)

// checkHeader makes the checks nginx's header handlers make as each
// header is read: a valid and single Host, single Content-Length and
// Transfer-Encoding headers.
func (r *request) checkHeader(h header, seen *uniqueHeaders) *parseError {
	var buf [64]byte
	name := lowerKey(buf[:0], h.name)
	var once uniqueHeaders
	switch string(name) {
	case "host":
		once = seenHost
	case "content-length":
		once = seenContentLength
	case "transfer-encoding":
		once = seenTransferEncoding
	}
	if once != 0 {
		if *seen&once != 0 {
			return bad(400, `client sent duplicate header line: "`+h.name+`: `+h.value+`"`)
		}
		*seen |= once
	}
	if once == seenHost {
		host, ok := validateHost(h.value)
		if !ok {
			return bad(400, "client sent invalid host header")
		}
		r.hasHost = true
		if r.lineHost == "" {
			r.host = host
		}
	}
	return nil
}

// processHeaders makes the checks ngx_http_process_request_header makes
// once all headers are read.
func (r *request) processHeaders() *parseError {
	var seenLength, seenTE bool
	var te string
	r.contentLength = -1
	var buf [64]byte
	for _, h := range r.headers {
		switch string(lowerKey(buf[:0], h.name)) {
		case "content-length":
			seenLength = true
			n, err := strconv.ParseInt(h.value, 10, 64)
			if err != nil || n < 0 || !digits(h.value) {
				return bad(400, `client sent invalid "Content-Length" header`)
			}
			r.contentLength = n
		case "transfer-encoding":
			seenTE, te = true, h.value
		case "connection":
			v := strings.ToLower(h.value)
			switch {
			case strings.Contains(v, "close"):
				r.connClose = true
			case strings.Contains(v, "keep-alive"):
				r.connKeepAlive = true
			}
		case "expect":
			r.expect100 = strings.EqualFold(h.value, "100-continue")
		}
	}
	if r.lineHost != "" {
		host, ok := validateHost(r.lineHost)
		if !ok {
			return bad(400, "client sent invalid host in request line")
		}
		r.host = host
	}
	if !r.hasHost && r.version > 1000 {
		return bad(400, `client sent HTTP/1.1 request without "Host" header`)
	}
	if seenTE {
		if r.version < 1001 {
			return bad(400, `client sent "Transfer-Encoding" header with HTTP/1.0 request`)
		}
		if !strings.EqualFold(te, "chunked") {
			return bad(501, `client sent unknown "Transfer-Encoding": "`+te+`"`)
		}
		if seenLength {
			return bad(400, `client sent "Content-Length" and "Transfer-Encoding" headers at the same time`)
		}
		r.chunked = true
	}
	switch r.method {
	case "CONNECT":
		return bad(405, "client sent CONNECT method")
	case "TRACE":
		return bad(405, "client sent TRACE method")
	}
	return nil
}

// hasBody reports whether the request announces a body.
func (r *request) hasBody() bool { return r.chunked || r.contentLength > 0 }
