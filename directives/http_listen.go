package directives

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// listen and server_name of http servers, and the checks nginx makes on
// them: duplicate listens when they are read, conflicting names when the
// http block ends.

func init() {
	registerHTTP("listen", Def{Set: setListen, Multi: true, DefaultDoc: "*:80 | *:8000",
		Doc: "Address and port of the virtual server, with socket options."})
}

// Listen is one listen directive (or the default one of a server that has
// none). A host name can stand for several addresses: Addrs holds them all.
type Listen struct {
	D     *grammar.Directive // nil for the default listen
	Addr  value.Addr         // as written
	Addrs []string           // the socket addresses, as nginx prints them: "0.0.0.0:80", "[::1]:80", "unix:/p"

	DefaultServer bool
	SSL           bool
	HTTP2         bool
	QUIC          bool
	ProxyProtocol bool
	ReusePort     bool
	Bind          bool
	Deferred      bool
	Backlog       int   // 511 unless set
	Rcvbuf        int64 // -1 unless set
	Sndbuf        int64 // -1 unless set
	IPv6Only      int   // 0 unset, 1 on, 2 off
	FastOpen      int   // -1 unless set
	AcceptFilter  string
	SoKeepalive   int // 0 unset, 1 on, 2 off
	KeepIdle      time.Duration
	KeepIntvl     time.Duration
	KeepCnt       int
	// Set marks options that need a socket of their own: nginx refuses two
	// listens with such options on one address.
	Set bool
}

// listenBacklog is NGX_LISTEN_BACKLOG on Linux.
const listenBacklog = 511

func newListen(d *grammar.Directive) *Listen {
	return &Listen{D: d, Backlog: listenBacklog, Rcvbuf: -1, Sndbuf: -1, FastOpen: -1}
}

// defaultListen is the listen of a server that has none: *:80 when run as
// root, *:8000 otherwise.
func defaultListen(server *grammar.Directive) *Listen {
	port := 8000
	if os.Geteuid() == 0 {
		port = 80
	}
	ln := newListen(nil)
	ln.Addr = value.Addr{Host: "*", IP: netip.IPv4Unspecified(), Port: port, HasPort: true, Wildcard: true}
	ln.Addrs = []string{"0.0.0.0:" + strconv.Itoa(port)}
	return ln
}

// listenParams are listen's flag parameters, each with what it sets.
var listenParams = map[string]func(*Listen){
	"default_server": func(l *Listen) { l.DefaultServer = true },
	"default":        func(l *Listen) { l.DefaultServer = true },
	"bind":           func(l *Listen) { l.Bind, l.Set = true, true },
	"deferred":       func(l *Listen) { l.Deferred, l.Bind, l.Set = true, true, true },
	"reuseport":      func(l *Listen) { l.ReusePort, l.Bind, l.Set = true, true, true },
	"ssl":            func(l *Listen) { l.SSL = true },
	"http2":          func(l *Listen) { l.HTTP2 = true },
	"quic":           func(l *Listen) { l.QUIC = true },
	"proxy_protocol": func(l *Listen) { l.ProxyProtocol = true },
}

// listenValueParams are listen's name=value parameters.
var listenValueParams = []struct {
	prefix string
	set    func(l *Listen, v string) bool
	msg    string // nginx's message; %s is the whole parameter
}{
	{"backlog=", func(l *Listen, v string) bool {
		n, err := value.Number(v)
		l.Backlog = n
		return err == nil && n != 0
	}, `invalid backlog "%[1]s"`},
	{"rcvbuf=", func(l *Listen, v string) bool {
		n, err := value.Size(v)
		l.Rcvbuf = n
		return err == nil
	}, `invalid rcvbuf "%[1]s"`},
	{"sndbuf=", func(l *Listen, v string) bool {
		n, err := value.Size(v)
		l.Sndbuf = n
		return err == nil
	}, `invalid sndbuf "%[1]s"`},
	{"fastopen=", func(l *Listen, v string) bool {
		n, err := value.Number(v)
		l.FastOpen = n
		return err == nil
	}, `invalid fastopen "%[1]s"`},
	{"ipv6only=", func(l *Listen, v string) bool {
		switch v {
		case "on":
			l.IPv6Only = 1
		case "off":
			l.IPv6Only = 2
		default:
			return false
		}
		return true
	}, `invalid parameter "%[1]s"`},
	{"so_keepalive=", setSoKeepalive, `invalid so_keepalive value: "%[2]s"`},
}

// setListen is ngx_http_core_listen.
func setListen(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	ln := newListen(d)
	a, err := value.ParseURL(d.Args[0], value.URLOptions{Listen: true, DefaultPort: 80})
	if err != nil {
		return nil, d.Errorf(`%s in "%s" of the "listen" directive`, err, d.Args[0])
	}
	ln.Addr = a
	if ln.Addrs, err = listenAddrs(a); err != nil {
		return nil, d.Errorf(`%s in "%s" of the "listen" directive`, err, d.Args[0])
	}
	for _, p := range d.Args[1:] {
		if err := ln.param(ld, d, p); err != nil {
			return nil, err
		}
	}
	extOf(l).listens = append(extOf(l).listens, ln)
	if err := httpStateOf(ld).addListen(l, ln); err != nil {
		return nil, err
	}
	return ln, nil
}

// param reads one listen parameter after the address.
func (ln *Listen) param(ld *Loader, d *grammar.Directive, p string) error {
	if set, ok := listenParams[p]; ok {
		set(ln)
		return nil
	}
	if strings.HasPrefix(p, "accept_filter=") {
		// Linux has no accept filters; nginx says so and goes on.
		ld.logf(Emerg, d.Errorf(`accept filters "%s" are not supported on this platform, ignored`, p))
		return nil
	}
	for _, vp := range listenValueParams {
		v, ok := strings.CutPrefix(p, vp.prefix)
		if !ok {
			continue
		}
		if !vp.set(ln, v) {
			return d.Errorf(vp.msg, p, v)
		}
		if vp.prefix == "ipv6only=" && !ln.Addr.IPv6 {
			ln.IPv6Only = 0 // ignored on an IPv4 address
			return nil
		}
		ln.Set, ln.Bind = true, true
		return nil
	}
	return d.Errorf(`invalid parameter "%s"`, p)
}

// setSoKeepalive reads so_keepalive=on|off|[idle]:[intvl]:[cnt].
func setSoKeepalive(l *Listen, v string) bool {
	switch v {
	case "on":
		l.SoKeepalive = 1
		return true
	case "off":
		l.SoKeepalive = 2
		return true
	}
	parts := strings.SplitN(v, ":", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	var err error
	if parts[0] != "" {
		if l.KeepIdle, err = value.Sec(parts[0]); err != nil {
			return false
		}
	}
	if parts[1] != "" {
		if l.KeepIntvl, err = value.Sec(parts[1]); err != nil {
			return false
		}
	}
	if parts[2] != "" {
		if l.KeepCnt, err = value.Number(parts[2]); err != nil {
			return false
		}
	}
	l.SoKeepalive = 1
	return l.KeepIdle != 0 || l.KeepIntvl != 0 || l.KeepCnt != 0
}

// errHostNotFound is the resolver's failure, worded as nginx's.
type hostNotFound struct{}

func (hostNotFound) Error() string { return "host not found" }

// listenAddrs returns the socket addresses of a listen address, resolving
// a host name (only a name: literals are never looked up).
func listenAddrs(a value.Addr) ([]string, error) {
	switch {
	case a.Unix:
		return []string{"unix:" + a.Path}, nil
	case a.IP.IsValid():
		return []string{netip.AddrPortFrom(a.IP, uint16(a.Port)).String()}, nil
	}
	ips, err := resolveHost(a.Host)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip, uint16(a.Port)).String())
	}
	return out, nil
}

// resolveHost looks a host name up as nginx's ngx_inet_resolve_host does
// (getaddrinfo: IPv4 addresses first), failing with "host not found".
func resolveHost(host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, hostNotFound{}
	}
	var v4, v6 []netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	return slices.Compact(append(v4, v6...)), nil
}

// listenAddr is one socket address of the http block and the servers that
// listen on it, as ngx_http_conf_addr_t.
type listenAddr struct {
	text          string
	port          string // family and port: the key of nginx's ports array
	wildcard      bool
	opt           *Listen
	servers       []*Level
	defaultServer *Level
	ssl           bool
}

// addListen is ngx_http_add_listen: it files the server under each
// address of the listen, with nginx's checks for duplicates.
func (st *httpState) addListen(server *Level, ln *Listen) error {
	for _, text := range ln.Addrs {
		key := text
		if ln.QUIC {
			key += "/udp" // a QUIC listen is a UDP socket beside the TCP one
		}
		a := st.addrs[key]
		if a == nil {
			a = &listenAddr{text: text, port: portKey(key), wildcard: ln.Addr.Wildcard, opt: ln}
			st.addrs[key] = a
			st.addrOrder = append(st.addrOrder, a)
		} else {
			if slices.Contains(a.servers, server) {
				return listenErr(ln, server, `a duplicate listen %s`, text)
			}
			hadDefault := a.defaultServer != nil
			if ln.Set {
				if a.opt.Set {
					return listenErr(ln, server, `duplicate listen options for %s`, text)
				}
				a.opt = ln
			}
			if ln.DefaultServer && hadDefault {
				return listenErr(ln, server, `a duplicate default server for %s`, text)
			}
		}
		a.servers = append(a.servers, server)
		a.ssl = a.ssl || ln.SSL
		if ln.DefaultServer {
			a.defaultServer = server
		}
	}
	return nil
}

func listenErr(ln *Listen, server *Level, format string, args ...any) error {
	d := ln.D
	if d == nil {
		return &grammar.Error{Msg: sprintf(format, args...), File: server.Directive.File(), Line: server.Directive.Block.EndLine}
	}
	return d.Errorf(format, args...)
}

// portKey is the address family and port of a socket address text.
func portKey(text string) string {
	if strings.HasPrefix(text, "unix:") {
		return "unix"
	}
	i := strings.LastIndexByte(text, ':')
	if strings.HasPrefix(text, "[") {
		return "6" + text[i:]
	}
	return "4" + text[i:]
}

// defaultOf returns the default server of an address: the one marked
// default_server, else the first.
func (a *listenAddr) defaultOf() *Level {
	if a.defaultServer != nil {
		return a.defaultServer
	}
	return a.servers[0]
}

// ServerName is one name of server_name.
type ServerName struct {
	Name  string // lower-cased; for a regex, the pattern without "~"
	Regex bool
}

// setServerName is ngx_http_core_server_name.
func setServerName(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	var names []ServerName
	for _, arg := range d.Args {
		if (strings.HasPrefix(arg, "*") && (len(arg) < 3 || arg[1] != '.')) || arg == "." {
			return nil, d.Errorf(`server name "%s" is invalid`, arg)
		}
		if strings.Contains(arg, "/") {
			ld.Warn(d, `server name "%s" has suspicious symbols`, arg)
		}
		n := ServerName{Name: arg}
		switch {
		case strings.EqualFold(arg, "$hostname"):
			h, _ := os.Hostname()
			n.Name = strings.ToLower(h)
		case strings.HasPrefix(arg, "~"):
			if len(arg) == 1 {
				return nil, d.Errorf(`empty regex in server name "%s"`, arg)
			}
			if err := checkRegex(d, arg[1:]); err != nil {
				return nil, err
			}
			n.Name, n.Regex = arg[1:], true
		default:
			n.Name = strings.ToLower(arg)
		}
		names = append(names, n)
	}
	extOf(l).names = append(extOf(l).names, names...)
	return names, nil
}

// nameHash is the part of ngx_hash_add_key that finds conflicts among
// server names: exact names, "*.head" / ".head" wildcards and "tail.*".
type nameHash struct {
	exact, head, tail map[string]bool
}

// add files a name; it returns "busy" for a conflict and "invalid" for a
// name that is no valid wildcard.
func (h *nameHash) add(key string) string {
	stars := strings.Count(key, "*")
	if stars > 1 || strings.Contains(key, "..") || strings.Contains(key, "\x00") {
		return "invalid"
	}
	switch {
	case len(key) > 1 && key[0] == '.':
		if h.exact[key[1:]] {
			return "busy"
		}
		h.exact[key[1:]] = true
		return addOnce(h.head, key[1:])
	case len(key) > 2 && strings.HasPrefix(key, "*."):
		return addOnce(h.head, key[2:])
	case len(key) > 2 && strings.HasSuffix(key, ".*"):
		return addOnce(h.tail, key[:len(key)-2])
	case stars > 0:
		return "invalid"
	}
	return addOnce(h.exact, key)
}

func addOnce(m map[string]bool, k string) string {
	if m[k] {
		return "busy"
	}
	m[k] = true
	return ""
}

// checkServerNames is the part of ngx_http_optimize_servers that builds the
// name hashes of each address shared by several servers.
func (st *httpState) checkServerNames(ld *Loader) error {
	for _, a := range st.sortedAddrs() {
		if len(a.servers) < 2 {
			continue
		}
		h := nameHash{exact: map[string]bool{}, head: map[string]bool{}, tail: map[string]bool{}}
		for _, srv := range a.servers {
			for _, n := range extOf(srv).names {
				if n.Regex {
					continue
				}
				switch h.add(n.Name) {
				case "invalid":
					return &grammar.Error{Msg: sprintf(`invalid server name or wildcard "%s" on %s`, n.Name, a.text)}
				case "busy":
					ld.logf(Warn, &grammar.Error{Msg: sprintf(`conflicting server name "%s" on %s, ignored`, n.Name, a.text)})
				}
			}
		}
	}
	return nil
}

// sortedAddrs lists the addresses port by port (in the order ports were
// first used), bound addresses first and wildcards last within a port, as
// ngx_http_optimize_servers walks them.
func (st *httpState) sortedAddrs() []*listenAddr {
	var ports []string
	byPort := map[string][]*listenAddr{}
	for _, a := range st.addrOrder {
		if _, ok := byPort[a.port]; !ok {
			ports = append(ports, a.port)
		}
		byPort[a.port] = append(byPort[a.port], a)
	}
	rank := func(a *listenAddr) int {
		switch {
		case a.wildcard:
			return 2
		case a.opt.Bind:
			return 0
		}
		return 1
	}
	var out []*listenAddr
	for _, p := range ports {
		as := byPort[p]
		slices.SortStableFunc(as, func(x, y *listenAddr) int { return rank(x) - rank(y) })
		out = append(out, as...)
	}
	return out
}

// checkListenSSL is ngx_http_ssl_init's check: the default server of an
// address with "listen ... ssl" must have a certificate.
func (st *httpState) checkListenSSL() error {
	for _, a := range st.addrOrder {
		if !a.ssl {
			continue
		}
		srv := a.defaultOf()
		if len(srv.Lookup("ssl_certificate")) > 0 || sslRejectsHandshake(srv) {
			continue
		}
		d := srv.Directive
		return &grammar.Error{Msg: sprintf(`no "ssl_certificate" is defined for the "listen ... ssl" directive in %s:%d`, d.File(), d.Line)}
	}
	return nil
}

func sslRejectsHandshake(srv *Level) bool {
	for cur := srv; cur != nil; cur = cur.Parent {
		if vs := cur.Own("ssl_reject_handshake"); len(vs) > 0 {
			on, _ := vs[len(vs)-1].V.(bool)
			if !on {
				if args, ok := vs[len(vs)-1].V.([]string); ok {
					on = len(args) == 1 && strings.EqualFold(args[0], "on")
				}
			}
			return on
		}
	}
	return false
}

// loadServerCertificates is the part of the ssl module's server merge that
// loads each server's certificates and keys. The text up to "failed" is
// nginx's; the OpenSSL detail in parentheses is reproduced for a missing
// or unreadable file, a file with no PEM block and a key that does not
// match; for other failures (a damaged certificate, an encrypted key) it is
// Go's crypto/tls error instead of OpenSSL's.
func loadServerCertificates(ld *Loader, st *httpState) error {
	for _, srv := range st.servers {
		certs, keys := srv.Lookup("ssl_certificate"), srv.Lookup("ssl_certificate_key")
		if len(certs) == 0 {
			continue
		}
		if len(keys) < len(certs) {
			return &grammar.Error{Msg: sprintf(`no "ssl_certificate_key" is defined for certificate "%s"`, sslFileValue(ld, certs[len(certs)-1].V).Name)}
		}
		passwords := ServerSSLOf(ld, srv).Passwords
		for i, c := range certs {
			cert, key := sslFileValue(ld, c.V), sslFileValue(ld, keys[i].V)
			if strings.HasPrefix(cert.Name, "data:") {
				continue
			}
			if _, err := loadCertKey(cert, key, passwords); err != nil {
				return err
			}
		}
	}
	return nil
}
