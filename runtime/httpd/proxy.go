package httpd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
	"github.com/zonesync/zonesync/runtime/upstream"
)

// proxy_pass as ngx_http_proxy_module runs it over ngx_http_upstream: the
// request nginx builds (request line, Host: $proxy_host, Connection:
// close, proxy_set_header, the client's headers), the peer chosen by the
// upstream group, proxy_next_upstream on errors, timeouts and chosen
// statuses, 502/504 when no server answers, and the upstream's response
// relayed with nginx's header handling (proxy_hide_header,
// proxy_pass_header, proxy_redirect, proxy_intercept_errors). Connections
// to upstreams are kept alive with "keepalive" (upstream_keepalive.go);
// bodies are relayed as proxy_body.go says.

// The proxy_next_upstream conditions, with nginx's bits (slots.tsv).
const (
	ftError         = 0x2
	ftTimeout       = 0x4
	ftInvalidHeader = 0x8
	ftHTTP500       = 0x10
	ftHTTP502       = 0x20
	ftHTTP503       = 0x40
	ftHTTP504       = 0x80
	ftHTTP403       = 0x100
	ftHTTP404       = 0x200
	ftHTTP429       = 0x400
	ftNonIdempotent = 0x4000
)

// statusFailures are the statuses proxy_next_upstream may retry on, and
// the status nginx answers with when no server is left.
var statusFailures = []struct {
	status int
	ft     uint64
}{
	{500, ftHTTP500}, {502, ftHTTP502}, {503, ftHTTP503}, {504, ftHTTP504},
	{403, ftHTTP403}, {404, ftHTTP404}, {429, ftHTTP429},
}

// proxyImplemented are the proxy directives this core runs.
var proxyImplemented = []string{
	"proxy_pass", "upstream", "proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout",
	"proxy_next_upstream", "proxy_next_upstream_tries", "proxy_http_version", "proxy_set_header",
	"proxy_pass_request_headers", "proxy_pass_request_body", "sticky",
	"keepalive", "proxy_redirect", "proxy_buffering", "proxy_buffer_size", "proxy_buffers",
	"proxy_hide_header", "proxy_pass_header", "proxy_ignore_headers", "proxy_intercept_errors",
	"chunked_transfer_encoding", "ip_hash", "hash", "least_conn", "random",
}

// ignoreXAccelBuffering is proxy_ignore_headers X-Accel-Buffering's bit.
const ignoreXAccelBuffering = 128

// proxyHiddenHeaders are the upstream headers nginx does not pass unless
// proxy_pass_header names them.
var proxyHiddenHeaders = []string{"date", "server", "x-pad", "x-accel-expires", "x-accel-redirect",
	"x-accel-limit-rate", "x-accel-buffering", "x-accel-charset"}

// proxyConf is the proxy of one level.
type proxyConf struct {
	pass       *directives.ProxyPass
	group      *proxyGroup
	schema     string // "http://"
	hostHeader string // $proxy_host
	uri        string // the URI part of proxy_pass
	location   string // the prefix the URI part replaces; "" for other locations
	version    string // "HTTP/1.0" or "HTTP/1.1"
	headers    []proxyHeader
	setNames   map[string]bool // lower-cased names the client's headers may not repeat
	passHeads  bool
	passBody   bool
	next       uint64
	maxTries   int
	connect    time.Duration
	send       time.Duration
	read       time.Duration

	keep       *keepaliveCache // nil without keepalive in the upstream block
	redirects  []redirectRule  // nil with proxy_redirect off
	hide       map[string]bool // lower-case upstream headers not passed
	passServer bool            // proxy_pass_header Server: the upstream's replaces the server's own
	passDate   bool            // proxy_pass_header Date: likewise
	ignore     uint64          // proxy_ignore_headers
	intercept  bool            // proxy_intercept_errors
	buffering  bool            // proxy_buffering
	bufferSize int64           // what buffering holds in memory: proxy_buffer_size and proxy_buffers
	chunked    bool            // chunked_transfer_encoding
}

type proxyHeader struct {
	name  string
	value script.Value
	set   bool   // value is proxy_set_header's
	fixed string // the default headers' values, when value is nil
	dyn   func(r *request, body int64) (string, bool)
}

// proxyFor compiles the proxy of a level; nil when it has no proxy_pass.
func (b *builder) proxyFor(l *directives.Level, loc *directives.Location, st directives.Settings) (*proxyConf, error) {
	pp := st.ProxyPass
	if pp == nil {
		return nil, nil
	}
	if pp.Upstream == nil {
		return nil, fmt.Errorf(`proxy_pass with variables ("%s") is not supported`, pp.URL)
	}
	if pp.Scheme != "http" {
		return nil, fmt.Errorf(`proxy_pass to "%s" is not supported (only http://)`, pp.URL)
	}
	if b.groups == nil {
		b.groups = map[*directives.Upstream]*proxyGroup{}
	}
	g := b.groups[pp.Upstream]
	if g == nil {
		g = &proxyGroup{Group: upstream.New(pp.Upstream, b.s.now)}
		if g.Empty() {
			return nil, fmt.Errorf(`upstream "%s" has no address`, pp.Upstream.Name)
		}
		if k := g.HashKey(); k != "" {
			key := script.Compile(k)
			g.hashKey = &key
		}
		if err := b.stickyFor(g, pp.Upstream); err != nil {
			return nil, err
		}
		b.groups[pp.Upstream] = g
		if b.keep == nil {
			b.keep = map[*directives.Upstream]*keepaliveCache{}
		}
		b.keep[pp.Upstream] = b.s.keepaliveFor(pp.Upstream)
	}
	pc := &proxyConf{pass: pp, group: g, schema: "http://", uri: pp.URI,
		hostHeader: strings.TrimSuffix(pp.Host, ":80"),
		version:    "HTTP/1.0",
		passHeads:  getOr(l, "proxy_pass_request_headers", true),
		passBody:   getOr(l, "proxy_pass_request_body", true),
		next:       ftError | ftTimeout,
		maxTries:   getOr(l, "proxy_next_upstream_tries", 0),
		connect:    st.ProxyConnectTimeout,
		send:       st.ProxySendTimeout,
		read:       st.ProxyReadTimeout,
		setNames:   map[string]bool{},
		keep:       b.keep[pp.Upstream],
		intercept:  getOr(l, "proxy_intercept_errors", false),
		buffering:  getOr(l, "proxy_buffering", true),
		bufferSize: getOr(l, "proxy_buffer_size", int64(4096)),
		chunked:    getOr(l, "chunked_transfer_encoding", true),
	}
	bufs := getOr(l, "proxy_buffers", directives.SlotBufs{Num: 8, Size: 4096})
	pc.bufferSize += int64(bufs.Num) * bufs.Size
	var err error
	if pc.redirects, err = redirectsFor(l); err != nil {
		return nil, err
	}
	pc.hide = map[string]bool{}
	for _, h := range proxyHiddenHeaders {
		pc.hide[h] = true
	}
	for _, h := range listOf[string](l, "proxy_hide_header") {
		pc.hide[strings.ToLower(h)] = true
	}
	for _, h := range listOf[string](l, "proxy_pass_header") {
		delete(pc.hide, strings.ToLower(h))
	}
	pc.passServer, pc.passDate = !pc.hide["server"], !pc.hide["date"]
	switch m := l.Get("proxy_ignore_headers").(type) {
	case directives.SlotBitmask:
		pc.ignore = m.Mask
	case *directives.SlotBitmask:
		pc.ignore = m.Mask
	}
	if loc != nil && !loc.Regex && !loc.Named {
		pc.location = loc.Name
	}
	if getOr(l, "proxy_http_version", "1.0") == "1.1" {
		pc.version = "HTTP/1.1"
	}
	switch m := l.Get("proxy_next_upstream").(type) {
	case directives.SlotBitmask:
		pc.next = m.Mask
	case *directives.SlotBitmask:
		pc.next = m.Mask
	}
	for _, kv := range listOf[directives.SlotKeyVal](l, "proxy_set_header") {
		lower := strings.ToLower(kv.Key)
		if pc.setNames[lower] {
			continue
		}
		pc.setNames[lower] = true
		pc.headers = append(pc.headers, proxyHeader{name: kv.Key, value: script.Compile(kv.Value), set: true})
	}
	for _, d := range proxyDefaultHeaders {
		lower := strings.ToLower(d.name)
		if pc.setNames[lower] {
			continue
		}
		pc.setNames[lower] = true
		pc.headers = append(pc.headers, d)
	}
	return pc, nil
}

// proxyDefaultHeaders are the headers nginx sets unless proxy_set_header
// does: empty ones only keep the client's from being passed.
var proxyDefaultHeaders = []proxyHeader{
	{name: "Host", dyn: func(r *request, _ int64) (string, bool) { return r.conf.proxy.hostHeader, true }},
	{name: "Connection", fixed: "close"},
	{name: "Content-Length", dyn: func(r *request, n int64) (string, bool) {
		if n < 0 {
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	}},
	{name: "Transfer-Encoding"}, {name: "TE"}, {name: "Keep-Alive"}, {name: "Expect"}, {name: "Upgrade"},
}

// proxyURI is the URI the upstream gets: the client's as it came when
// proxy_pass has no URI part and the URI was not changed, else the
// (escaped) URI with the location prefix replaced by the URI part, and
// the arguments.
func (r *request) proxyURI(pc *proxyConf) string {
	if pc.uri == "" && r.unparsedValid() {
		return r.unparsed
	}
	rest := r.uri
	if pc.uri != "" && pc.location != "" && strings.HasPrefix(r.uri, pc.location) {
		rest = r.uri[len(pc.location):]
	}
	if r.internal || strings.Contains(r.unparsed, "%") {
		rest = escapeURI(rest)
	}
	u := pc.uri + rest
	if r.args != "" {
		u += "?" + r.args
	}
	return u
}

// unparsedValid approximates nginx's valid_unparsed_uri: no internal
// redirect and no rewrite changed the URI.
func (r *request) unparsedValid() bool {
	if r.internal || r.changes != maxURIChanges+1 {
		return false
	}
	p, _, _ := strings.Cut(r.unparsed, "?")
	if strings.Contains(p, "//") || strings.Contains(p, "/.") {
		return true // normalised by the parser, not changed by a rewrite
	}
	if d, err := url.PathUnescape(p); err == nil {
		return d == r.uri
	}
	return true
}

// escapeURI is ngx_escape_uri with NGX_ESCAPE_URI.
func escapeURI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '#' || c == '%' || c == '?' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// proxyRequest writes the bytes sent to the upstream to b.
func (r *request) proxyRequest(b *bytes.Buffer, pc *proxyConf, uri string, body []byte) {
	b.WriteString(r.method)
	b.WriteByte(' ')
	b.WriteString(uri)
	b.WriteByte(' ')
	b.WriteString(pc.version)
	b.WriteString("\r\n")
	n := int64(-1)
	if pc.passBody && (r.contentLength >= 0 || r.chunked) {
		n = int64(len(body))
	}
	for _, h := range pc.headers {
		var v string
		switch {
		case h.dyn != nil:
			var ok bool
			if v, ok = h.dyn(r, n); !ok {
				continue
			}
		case h.set:
			v = h.value.Eval(r)
		default:
			v = h.fixed
		}
		if v == "" {
			continue
		}
		writeField(b, h.name, v)
	}
	if pc.passHeads {
		var buf [64]byte
		for _, h := range r.headers {
			if pc.setNames[string(lowerKey(buf[:0], h.name))] {
				continue
			}
			writeField(b, h.name, h.value)
		}
	}
	b.WriteString("\r\n")
	if pc.passBody {
		b.Write(body)
	}
}

// upstreamTry is one attempt's result.
type upstreamTry struct {
	status      int       // the upstream's status, 0 when it did not answer
	ft          uint64    // the failure, 0 for a response to relay
	resp        *response // the response to relay
	err         error     // what failed
	phase       string    // "connecting to", "sending request to", "reading response header from"
	sent        bool      // the request was sent
	cached      bool      // the connection came from the keepalive cache
	peerFailed  bool      // a relayed status proxy_next_upstream names counts as the peer's failure
	intercepted bool      // proxy_intercept_errors: the status goes to error_page
}

// idempotent reports whether nginx may send a request to another server
// after it was sent to one (without non_idempotent).
func idempotent(method string) bool {
	return method != "POST" && method != "LOCK" && method != "PATCH"
}

// serveProxy is the proxy content handler.
func (r *request) serveProxy() outcome {
	pc := r.conf.proxy
	body, err := r.readBody()
	switch {
	case errors.Is(err, errBodyTooLarge):
		r.logError().Msg("client intended to send too large chunked body")
		r.keepalive = false
		return outcome{status: 413}
	case err != nil:
		return outcome{status: statusClose}
	}
	uri := r.proxyURI(pc)
	buf := getBuffer()
	defer putBuffer(buf)
	r.proxyRequest(buf, pc, uri, body)
	raw := buf.Bytes()
	pk := pc.group.Pick(pc.maxTries)
	if pc.group.hashKey != nil {
		pk.Key = pc.group.hashKey.Eval(r)
	}
	pk.Client = r.c.remote.Addr().Unmap()
	stickyID := r.stickyBegin(pc.group, pk)
	// $upstream_addr and $upstream_status: a value per try. Most requests
	// take one try, which these arrays hold without allocating.
	var addrsBuf, statusesBuf [2]string
	addrs, statuses := addrsBuf[:0], statusesBuf[:0]
	defer func() {
		r.setUpstreamVars(strings.Join(addrs, ", "), strings.Join(statuses, ", "))
	}()
	for {
		p := pk.Get()
		if p == nil {
			r.logError().Str("upstream", pc.schema+pc.group.Name+uri).Msg("no live upstreams while connecting to upstream")
			addrs = append(addrs, pc.group.Name)
			statuses = append(statuses, "502")
			return outcome{status: 502}
		}
		addrs = append(addrs, p.Name)
		try := r.proxyTry(pc, pk, p, raw, uri)
		if try.ft == 0 {
			// proxyTry gave the peer back, or the response does once its
			// body is relayed.
			statuses = append(statuses, statusCode(try.status))
			r.stickyDone(pc.group, stickyID, p, try.resp)
			if try.intercepted {
				return outcome{status: try.status}
			}
			return outcome{resp: try.resp}
		}
		status := 502
		switch try.ft {
		case ftTimeout, ftHTTP504:
			status = 504
		case ftHTTP500:
			status = 500
		case ftHTTP503:
			status = 503
		case ftHTTP403:
			status = 403
		case ftHTTP404:
			status = 404
		case ftHTTP429:
			status = 429
		}
		if try.status != 0 {
			statuses = append(statuses, statusCode(try.status))
		} else {
			statuses = append(statuses, statusCode(status))
		}
		upstreamURL := pc.schema + p.Name + uri
		if try.err != nil {
			r.logError().Str("upstream", upstreamURL).Msg(try.err.Error() + " while " + try.phase + " upstream")
		}
		failed := try.ft != ftHTTP403 && try.ft != ftHTTP404
		if pk.Free(p, failed) {
			r.logAt(r.c.s.log.Warn()).Str("upstream", upstreamURL).
				Msg("upstream server temporarily disabled while " + try.phase + " upstream")
		}
		if try.cached && try.ft == ftError {
			// A kept-alive connection the upstream closed meanwhile does
			// not use up a try (the server still counts the failure).
			pk.Tries++
		}
		if pk.Tries == 0 || pc.next&try.ft != try.ft ||
			(try.sent && !idempotent(r.method) && pc.next&ftNonIdempotent == 0) {
			return outcome{status: status}
		}
	}
}

// proxyTry sends the request to one peer and reads its response header;
// the body is read as proxy_body.go says. A status proxy_next_upstream
// names is a failure only while another try is left and the request may
// be sent again; else the response is relayed. When it returns a
// response, the peer is given back to the balancer (pk.Free) when the
// body has been relayed; on failures the caller does it.
func (r *request) proxyTry(pc *proxyConf, pk *upstream.Pick, p *upstream.Peer, raw []byte, uri string) upstreamTry {
	try := upstreamTry{phase: "connecting to"}
	var uc *upstreamConn
	for {
		var err error
		if uc, err = r.upstreamConnect(pc, p); err != nil {
			return failure(try, err, "connect() failed")
		}
		stale, err := uc.send(raw, pc.send)
		if stale {
			// The upstream closed the cached connection while it was idle:
			// it goes, nothing was sent, the next one is taken.
			uc.close()
			continue
		}
		try.cached = uc.cached
		try.phase = "sending request to"
		try.sent = true // as nginx's request_sent, from the first byte
		if err != nil {
			uc.close()
			return failure(try, err, "writev() failed")
		}
		break
	}
	try.phase = "reading response header from"
	var h upstreamHead
	err := r.readUpstreamHead(pc, uc.br, &h)
	if err != nil {
		uc.close()
		var he upstreamHeaderError
		if errors.As(err, &he) {
			try.ft, try.err = ftInvalidHeader, err
			return try
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			try.ft, try.err = ftError, errors.New("upstream prematurely closed connection")
			return try
		}
		return failure(try, err, "recv() failed")
	}
	try.status = h.status
	for _, sf := range statusFailures {
		if sf.status != h.status || pc.next&sf.ft == 0 {
			continue
		}
		mask := sf.ft
		if !idempotent(r.method) {
			mask |= ftNonIdempotent
		}
		if pk.Tries > 1 && pc.next&mask == mask {
			uc.close()
			try.ft = sf.ft
			return try
		}
		// nginx relays the response and still counts the failure.
		try.peerFailed = sf.ft != ftHTTP403 && sf.ft != ftHTTP404
		break
	}
	b := r.newUpstreamBody(pc, uc, &h, p.Name, uri)
	b.keep = b.keep && !try.peerFailed
	b.pick, b.peer, b.peerFailed = pk, p, try.peerFailed
	if h.status >= 300 && pc.intercept && r.hasErrorPage(h.status) {
		// The body is not read: only a response without one leaves the
		// connection reusable.
		b.done = b.kind == bodyNone
		b.Close()
		try.intercepted = true
		return try
	}
	try.resp = b.relay(&h)
	return try
}

// hasErrorPage reports whether the location has an error_page for a code,
// which proxy_intercept_errors sends the upstream's status to.
func (r *request) hasErrorPage(code int) bool {
	for _, ep := range r.conf.errorPages {
		for _, c := range ep.Codes {
			if c == code {
				return true
			}
		}
	}
	return false
}

// failure classifies a network error as nginx's error or timeout.
func failure(try upstreamTry, err error, call string) upstreamTry {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		try.ft, try.err = ftTimeout, errors.New("upstream timed out (110: Connection timed out)")
		return try
	}
	try.ft = ftError
	try.err = syscallError(err, call)
	return try
}

// syscallError words a failed call as nginx logs it: "recv() failed (104:
// Connection reset by peer)".
func syscallError(err error, call string) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return fmt.Errorf("%s (%d: %s)", call, int(errno), msg)
	}
	return fmt.Errorf("%s (%v)", call, err)
}

// upstreamHeaderError is a response header nginx refuses (ft
// invalid_header).
type upstreamHeaderError string

func (e upstreamHeaderError) Error() string { return string(e) }

// upstreamHead is an upstream response header as the proxy reads it.
type upstreamHead struct {
	resp      *response // the response with the headers nginx passes
	status    int
	closing   bool  // HTTP/1.0 or "Connection: close": the connection ends with the response
	chunked   bool  // "Transfer-Encoding: chunked"
	length    int64 // Content-Length; -1 without
	buffering int   // X-Accel-Buffering: 1 yes, -1 no, 0 absent or ignored
}

// readUpstreamHead reads the status line and headers with nginx's header
// handling: every header is first looked at (Content-Length,
// Transfer-Encoding, Connection, X-Accel-Buffering), then passed unless
// hidden (proxy_hide_header and nginx's defaults, less proxy_pass_header).
// Content-Type is taken out (the header filter writes it first);
// Content-Length, Transfer-Encoding, Connection and Keep-Alive are never
// passed; Location and Refresh go through proxy_redirect; a passed Server
// or Date replaces the server's own, and when passed but absent there is
// none. The others are kept in order. Location and Last-Modified stay
// where they are: nginx makes a relative Location absolute only when
// proxy_redirect rewrote it.
func (r *request) readUpstreamHead(pc *proxyConf, br *bufio.Reader, h *upstreamHead) error {
	lines := headLines{br: br}
	line, err := lines.responseLine()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/") || len(line) < 12 {
		return upstreamHeaderError("upstream sent no valid HTTP/1.0 header")
	}
	status, err := strconv.Atoi(line[9:12])
	if err != nil || status < 100 {
		return upstreamHeaderError("upstream sent no valid HTTP/1.0 header")
	}
	*h = upstreamHead{resp: newResponse(status), status: status, length: -1,
		closing: line[:8] < "HTTP/1.1"}
	resp := h.resp
	resp.statusLine = line[len("HTTP/1.x "):]
	resp.noServer, resp.noDate = pc.passServer, pc.passDate
	clear(r.upstreamHeaders) // a previous try's
	r.upstreamHeaders = r.upstreamHeaders[:0]
	if cap(r.upstreamHeaders) == 0 {
		r.upstreamHeaders = make([]header, 0, 8)
	}
	var buf [64]byte
	for {
		hl, err := lines.responseLine()
		if err != nil {
			return err
		}
		if hl == "" {
			break
		}
		name, value, ok := strings.Cut(hl, ":")
		if !ok {
			return upstreamHeaderError("upstream sent invalid header")
		}
		value = strings.TrimSpace(value)
		r.upstreamHeaders = append(r.upstreamHeaders, header{name: name, value: value})
		lower := lowerKey(buf[:0], name)
		if err := h.process(pc, lower, value); err != nil {
			return err
		}
		if pc.hide[string(lower)] {
			continue
		}
		switch string(lower) {
		case "content-type":
			resp.contentType = value
		case "content-length", "transfer-encoding", "connection", "keep-alive":
		case "location":
			if v, ok := r.rewriteRedirect(pc.redirects, value, 0); ok {
				resp.setLocation(v)
				continue
			}
			resp.addHeader(name, value)
		case "refresh":
			if i := refreshURL(value); i >= 0 {
				value, _ = r.rewriteRedirect(pc.redirects, value, i)
			}
			resp.addHeader(name, value)
		default:
			resp.addHeader(name, value)
		}
	}
	if h.chunked {
		h.length = -1
	}
	return nil
}

// readHeadLine reads one line of an upstream response head as a string
// of its own, without the CRs and LFs that end it; the header's name and
// value are cut from it. A line longer than the reader's buffer is
// collected whole.
func readHeadLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return "", err
	}
	return string(trimEOL(line)), nil
}

// process looks at one header before it is passed or hidden.
func (h *upstreamHead) process(pc *proxyConf, lower []byte, value string) error {
	switch string(lower) {
	case "content-length":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return upstreamHeaderError(`upstream sent invalid "Content-Length" header`)
		}
		h.length = n
	case "transfer-encoding":
		h.chunked = strings.Contains(strings.ToLower(value), "chunked")
	case "connection":
		if strings.Contains(strings.ToLower(value), "close") {
			h.closing = true
		}
	case "x-accel-buffering":
		if pc.ignore&ignoreXAccelBuffering != 0 {
			break
		}
		switch {
		case strings.EqualFold(value, "no"):
			h.buffering = -1
		case strings.EqualFold(value, "yes"):
			h.buffering = 1
		}
	}
	return nil
}
