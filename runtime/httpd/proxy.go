package httpd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
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
// relayed with nginx's header handling. The response is read whole before
// it is sent; connections to upstreams are never kept alive.

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
}

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
		if pp.Upstream.Balancer != "" {
			return nil, fmt.Errorf(`upstream "%s": "%s" is not supported`, pp.Upstream.Name, pp.Upstream.Balancer)
		}
		g = &proxyGroup{Group: upstream.New(pp.Upstream, b.s.now)}
		if g.Empty() {
			return nil, fmt.Errorf(`upstream "%s" has no address`, pp.Upstream.Name)
		}
		if err := b.stickyFor(g, pp.Upstream); err != nil {
			return nil, err
		}
		b.groups[pp.Upstream] = g
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

// proxyRequest builds the bytes sent to the upstream.
func (r *request) proxyRequest(pc *proxyConf, uri string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(r.method + " " + uri + " " + pc.version + "\r\n")
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
		b.WriteString(h.name + ": " + v + "\r\n")
	}
	if pc.passHeads {
		for _, h := range r.headers {
			if pc.setNames[strings.ToLower(h.name)] {
				continue
			}
			b.WriteString(h.name + ": " + h.value + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if pc.passBody {
		b.Write(body)
	}
	return b.Bytes()
}

// upstreamTry is one attempt's result.
type upstreamTry struct {
	status int       // the upstream's status, 0 when it did not answer
	ft     uint64    // the failure, 0 for a response to relay
	resp   *response // the response to relay
	err    error     // what failed
	phase  string    // "connecting to", "sending request to", "reading response header from"
	sent   bool      // the request was sent
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
	raw := r.proxyRequest(pc, uri, body)
	pk := pc.group.Pick(pc.maxTries)
	stickyID := r.stickyBegin(pc.group, pk)
	var addrs, statuses []string
	defer func() {
		r.setVar("upstream_addr", strings.Join(addrs, ", "))
		r.setVar("upstream_status", strings.Join(statuses, ", "))
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
		try := r.proxyTry(pc, p, raw, pk.Tries)
		if try.ft == 0 {
			statuses = append(statuses, strconv.Itoa(try.status))
			pk.Free(p, false)
			r.stickyDone(pc.group, stickyID, p, try.resp)
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
			statuses = append(statuses, strconv.Itoa(try.status))
		} else {
			statuses = append(statuses, strconv.Itoa(status))
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
		idempotent := r.method != "POST" && r.method != "LOCK" && r.method != "PATCH"
		if pk.Tries == 0 || pc.next&try.ft != try.ft ||
			(try.sent && !idempotent && pc.next&ftNonIdempotent == 0) {
			return outcome{status: status}
		}
	}
}

// proxyTry sends the request to one peer and reads its response.
// A status proxy_next_upstream names is a failure only while another try
// is left (triesLeft > 1); else the response is relayed.
func (r *request) proxyTry(pc *proxyConf, p *upstream.Peer, raw []byte, triesLeft int) upstreamTry {
	try := upstreamTry{phase: "connecting to"}
	d := net.Dialer{Timeout: pc.connect}
	nc, err := d.DialContext(r.ctx, p.Network, p.Addr)
	if err != nil {
		return failure(try, err, "connect() failed")
	}
	defer nc.Close()
	try.phase = "sending request to"
	nc.SetWriteDeadline(time.Now().Add(pc.send))
	if _, err := nc.Write(raw); err != nil {
		return failure(try, err, "writev() failed")
	}
	try.sent = true
	try.phase = "reading response header from"
	br := bufio.NewReader(deadlineConn{nc, pc.read})
	resp, status, err := r.readUpstreamHead(br)
	if err != nil {
		if errors.Is(err, errInvalidUpstreamHeader) {
			try.ft, try.err = ftInvalidHeader, err
			return try
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			try.ft, try.err = ftError, errors.New("upstream prematurely closed connection")
			return try
		}
		return failure(try, err, "recv() failed")
	}
	try.status = status
	for _, sf := range statusFailures {
		if sf.status == status && pc.next&sf.ft != 0 && triesLeft > 1 {
			try.ft = sf.ft
			return try
		}
	}
	try.phase = "reading upstream"
	if err := r.readUpstreamBody(br, resp); err != nil {
		r.logError().Str("upstream", pc.schema+p.Name).Msg("upstream prematurely closed connection while reading upstream")
	}
	try.resp = resp
	return try
}

// failure classifies a network error as nginx's error or timeout.
func failure(try upstreamTry, err error, call string) upstreamTry {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		try.ft, try.err = ftTimeout, errors.New("upstream timed out (110: Connection timed out)")
		return try
	}
	try.ft = ftError
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		try.err = fmt.Errorf("%s (%d: %s)", call, int(errno), msg)
		return try
	}
	try.err = fmt.Errorf("%s (%v)", call, err)
	return try
}

var errInvalidUpstreamHeader = errors.New("upstream sent no valid HTTP/1.0 header")

// hiddenUpstreamHeaders are the upstream headers nginx does not pass:
// proxy_hide_header's defaults and the ones the upstream module consumes.
var hiddenUpstreamHeaders = map[string]bool{
	"date": true, "server": true, "x-pad": true, "x-accel-expires": true, "x-accel-redirect": true,
	"x-accel-limit-rate": true, "x-accel-buffering": true, "x-accel-charset": true,
	"connection": true, "keep-alive": true,
}

// readUpstreamHead reads the status line and headers into a response,
// with nginx's header handling: Content-Type and Content-Length taken out
// (the header filter writes them first), the hidden headers dropped, the
// others kept in order. Location and Last-Modified stay where they are
// and as they are: nginx does not make a relative upstream redirect
// absolute.
func (r *request) readUpstreamHead(br *bufio.Reader) (*response, int, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, 0, err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "HTTP/") || len(line) < 12 {
		return nil, 0, errInvalidUpstreamHeader
	}
	status, err := strconv.Atoi(line[9:12])
	if err != nil || status < 100 {
		return nil, 0, errInvalidUpstreamHeader
	}
	resp := newResponse(status)
	r.upstreamHeaders = nil
	chunked := false
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return nil, 0, err
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, 0, errors.New("upstream sent invalid header")
		}
		value = strings.TrimSpace(value)
		r.upstreamHeaders = append(r.upstreamHeaders, header{name: name, value: value})
		switch lower := strings.ToLower(name); {
		case lower == "content-type":
			resp.contentType = value
		case lower == "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return nil, 0, errors.New("upstream sent invalid \"Content-Length\" header")
			}
			resp.length = n
		case lower == "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		case hiddenUpstreamHeaders[lower]:
		default:
			resp.addHeader(name, value)
		}
	}
	if chunked {
		resp.length = -2 // read as chunked
	}
	return resp, status, nil
}

// readUpstreamBody reads the body after the header: chunked, by length,
// or up to the close. The response then carries its length.
func (r *request) readUpstreamBody(br *bufio.Reader, resp *response) error {
	var body []byte
	var err error
	switch {
	case r.method == "HEAD" || resp.status == 204 || resp.status == 304 || resp.status < 200:
		if resp.length == -2 {
			resp.length = -1
		}
		return nil
	case resp.length == -2:
		body, err = io.ReadAll(httputil.NewChunkedReader(br))
	case resp.length >= 0:
		body = make([]byte, resp.length)
		var n int
		n, err = io.ReadFull(br, body)
		body = body[:n]
	default:
		body, err = io.ReadAll(br)
	}
	resp.body = body
	resp.length = int64(len(body))
	return err
}

// deadlineConn gives every read proxy_read_timeout.
type deadlineConn struct {
	nc      net.Conn
	timeout time.Duration
}

func (d deadlineConn) Read(p []byte) (int, error) {
	d.nc.SetReadDeadline(time.Now().Add(d.timeout))
	return d.nc.Read(p)
}
