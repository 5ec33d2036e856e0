package directives

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The mail proxy (ngx_mail_module and its core, ssl, pop3, imap, smtp,
// auth_http, proxy and realip modules, as nginx 1.22.1 has them): listen,
// protocol, auth_http, resolver, the capabilities and realip lists, the
// starttls switch, and the checks nginx makes when a mail server block
// and the mail block end. The one-word settings (timeouts, buffers, the
// *_auth bitmasks, the proxy flags) are slots (slots.tsv).
func init() {
	AddFinisher("server", Mail, mailServerDone)
	AddFinisher("mail", Main, mailDone)
	Register("listen", MailServer, Def{Set: setMailListen, Multi: true,
		Doc: "Address and port (or UNIX socket) the server accepts mail clients on; the port may give the protocol."})
	Register("protocol", MailServer, Def{Set: setMailProtocol, Multi: true,
		Doc: "Protocol of the server: smtp, imap or pop3."})
	Register("auth_http", Mail, Def{Set: setAuthHTTP, Multi: true, Inherit: true,
		Doc: "HTTP server that authenticates mail clients and names their backend; a later one replaces an earlier one."})
	Register("auth_http_header", Mail, Def{Set: setPair, Multi: true, Inherit: true,
		Doc: "Header added to each request to the auth_http server."})
	for _, name := range []string{"smtp_capabilities", "imap_capabilities", "pop3_capabilities"} {
		Register(name, Mail, Def{Set: setWords, Multi: true, Inherit: true,
			Doc: "Capabilities announced to clients; repeated directives add to the list."})
	}
	Register("resolver", Mail, Def{Set: setMailResolver, Inherit: true,
		Doc: "DNS servers used to find the client's host name (for SMTP), or off."})
	Register("set_real_ip_from", Mail, Def{Set: setMailRealIPFrom, Multi: true, Inherit: true,
		Doc: "Address, network, host name or unix: trusted to send the PROXY protocol header with the client's address."})
	Register("starttls", Mail, Def{Set: setStarttls, Inherit: true, Default: "off", DefaultDoc: "off",
		Doc: "STARTTLS (or STLS) support: off, on, or only (required before anything else)."})
	Register("ssl_password_file", Mail, Def{Set: setSSLPasswordFile, Inherit: true,
		Doc: "File of passphrases for the secret keys, one a line, tried in turn."})
	statementHooks = append(statementHooks, mailSSLOnHook)
}

// Mail protocols nginx knows, in the order of its modules, with the ports
// that give a server its protocol when it sets none.
var mailProtocols = []struct {
	name  string
	ports []int
}{
	{"pop3", []int{110, 995}},
	{"imap", []int{143, 993}},
	{"smtp", []int{25, 465, 587}},
}

// MailListen is one mail listen directive.
type MailListen struct {
	D    *grammar.Directive
	Addr value.Addr
	// Addrs are the socket addresses the directive stands for: every
	// address of a host name (IPv4 first) times every port of a range;
	// empty for a UNIX socket. Text gives each as nginx prints it.
	Addrs []netip.AddrPort
	Text  []string

	SSL, ProxyProtocol, Bind bool
	Backlog                  int   // backlog=, or backlogDefault
	Rcvbuf, Sndbuf           int64 // -1 when not set
	IPv6Only                 bool  // ipv6only=, on by default
	// SoKeepalive is "", "on", "off" or "tune" (idle:intvl:cnt given).
	SoKeepalive         string
	KeepIdle, KeepIntvl time.Duration
	KeepCnt             int
}

type mailListensKey struct{}

// setMailListen is ngx_mail_core_listen: the address (names are resolved
// now), each parameter in turn, then the address and port pairs already
// in use in the mail block.
func setMailListen(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	a, err := value.ParseURL(d.Args[0], value.URLOptions{Listen: true})
	if err != nil {
		return nil, d.Errorf(`%s in "%s" of the "listen" directive`, err, d.Args[0])
	}
	ln := &MailListen{D: d, Addr: a, Backlog: backlogDefault, Rcvbuf: -1, Sndbuf: -1, IPv6Only: true}
	if a.Unix {
		ln.Text = []string{"unix:" + a.Path}
	} else {
		ips, err := streamAddrIPs(a)
		if err != nil {
			return nil, d.Errorf(`host not found in "%s" of the "listen" directive`, d.Args[0])
		}
		last := max(a.LastPort, a.Port)
		for _, ip := range ips {
			for port := a.Port; port <= last; port++ {
				ap := netip.AddrPortFrom(ip, uint16(port))
				ln.Addrs = append(ln.Addrs, ap)
				ln.Text = append(ln.Text, ap.String())
			}
		}
	}
	for _, p := range d.Args[1:] {
		if err := ln.param(d, p); err != nil {
			return nil, err
		}
	}
	seen := State(ld, mailListensKey{}, func() *map[string]bool { return &map[string]bool{} })
	for _, t := range ln.Text {
		if (*seen)[t] {
			return nil, d.Errorf(`duplicate "%s" address and port pair`, t)
		}
		(*seen)[t] = true
	}
	return ln, nil
}

// param reads one mail listen parameter: the stream set without udp,
// reuseport and fastopen.
func (ln *MailListen) param(d *grammar.Directive, p string) error {
	name, val, hasVal := strings.Cut(p, "=")
	switch {
	case p == "bind":
		ln.Bind = true
	case p == "ssl":
		ln.SSL = true
	case p == "proxy_protocol":
		ln.ProxyProtocol = true
	case hasVal && name == "backlog":
		n, err := value.Number(val)
		if err != nil || n == 0 {
			return d.Errorf(`invalid backlog "%s"`, p)
		}
		ln.Backlog, ln.Bind = n, true
	case hasVal && (name == "rcvbuf" || name == "sndbuf"):
		n, err := value.Size(val)
		if err != nil {
			return d.Errorf(`invalid %s "%s"`, name, p)
		}
		if name == "rcvbuf" {
			ln.Rcvbuf = n
		} else {
			ln.Sndbuf = n
		}
		ln.Bind = true
	case strings.HasPrefix(p, "ipv6only=o"):
		switch p[len("ipv6only=o"):] {
		case "n":
			ln.IPv6Only = true
		case "ff":
			ln.IPv6Only = false
		default:
			return d.Errorf(`invalid ipv6only flags "%s"`, p[len("ipv6only="):])
		}
		ln.Bind = true
	case hasVal && name == "so_keepalive":
		if !ln.keepalive(val) {
			return d.Errorf(`invalid so_keepalive value: "%s"`, val)
		}
		ln.Bind = true
	default:
		return d.Errorf(`the invalid "%s" parameter`, p)
	}
	return nil
}

// keepalive reads so_keepalive=on|off|[idle]:[intvl]:[cnt]; at least one
// of the three must be set and not zero.
func (ln *MailListen) keepalive(v string) bool {
	if v == "on" || v == "off" {
		ln.SoKeepalive = v
		return true
	}
	parts := append(strings.SplitN(v, ":", 3), "", "")
	var err error
	if parts[0] != "" {
		if ln.KeepIdle, err = value.Sec(parts[0]); err != nil {
			return false
		}
	}
	if parts[1] != "" {
		if ln.KeepIntvl, err = value.Sec(parts[1]); err != nil {
			return false
		}
	}
	if parts[2] != "" {
		if ln.KeepCnt, err = value.Number(parts[2]); err != nil {
			return false
		}
	}
	ln.SoKeepalive = "tune"
	return ln.KeepIdle != 0 || ln.KeepIntvl != 0 || ln.KeepCnt != 0
}

// MailListens returns the listen directives of a mail server.
func MailListens(server *Level) []*MailListen {
	var out []*MailListen
	for _, v := range server.Own("listen") {
		out = append(out, v.V.(*MailListen))
	}
	return out
}

// setMailProtocol is ngx_mail_core_protocol: the name of a protocol, as
// written (no case folding). A later one replaces an earlier one.
func setMailProtocol(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	for _, p := range mailProtocols {
		if p.name == d.Args[0] {
			return p.name, nil
		}
	}
	return nil, d.Errorf(`unknown protocol "%s"`, d.Args[0])
}

// MailProtocol returns a mail server's protocol, "" when it has none:
// the last protocol directive; without one, the protocol of the first
// listen port that is some protocol's standard port.
func MailProtocol(server *Level) string {
	if p := server.Own("protocol"); len(p) > 0 {
		return p[len(p)-1].V.(string)
	}
	for _, ln := range MailListens(server) {
		for _, p := range mailProtocols {
			for _, port := range p.ports {
				if ln.Addr.Port == port {
					return p.name
				}
			}
		}
	}
	return ""
}

// AuthHTTP is the auth_http directive: the address of the authentication
// server and the URI requested from it.
type AuthHTTP struct {
	Addr value.Addr
	// Addrs are the socket addresses of the server (a name's addresses,
	// IPv4 first); empty for a UNIX socket.
	Addrs []netip.AddrPort
	// Host is the Host header sent: the host as written, or "localhost"
	// for a UNIX socket.
	Host string
	URI  string // "/" when none is given
}

// setAuthHTTP is ngx_mail_auth_http: an address with an optional
// "http://" and URI part, port 80 by default; host names are resolved now.
func setAuthHTTP(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	url := strings.TrimPrefix(d.Args[0], "http://")
	hostport, uri := splitURIPart(url)
	a, err := value.ParseURL(hostport, value.URLOptions{DefaultPort: 80})
	if err != nil {
		return nil, d.Errorf(`%s in auth_http "%s"`, err, url)
	}
	ah := AuthHTTP{Addr: a, Host: a.Host, URI: uri}
	switch {
	case a.Unix:
		ah.Host = "localhost"
	case a.IPv6:
		ah.Host = "[" + a.Host + "]"
	}
	if !a.Unix {
		ips, err := streamAddrIPs(a)
		if err != nil {
			return nil, d.Errorf(`host not found in auth_http "%s"`, url)
		}
		for _, ip := range ips {
			ah.Addrs = append(ah.Addrs, netip.AddrPortFrom(ip, uint16(a.Port)))
		}
	}
	if ah.URI == "" {
		ah.URI = "/"
	}
	return ah, nil
}

// splitURIPart cuts the URI off an address as nginx's URL parser does
// when a URI may follow: after the socket path's first ":" for a UNIX
// socket, from the first "/" after the "]" of an IPv6 literal, and from
// the first "/" or "?" otherwise.
func splitURIPart(s string) (addr, uri string) {
	switch {
	case len(s) >= 5 && strings.EqualFold(s[:5], "unix:"):
		if i := strings.IndexByte(s[5:], ':'); i >= 0 {
			return s[:5+i], s[5+i+1:]
		}
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return s, ""
		}
		if i := strings.IndexByte(s[end:], '/'); i >= 0 {
			return s[:end+i], s[end+i:]
		}
	default:
		if i := strings.IndexAny(s, "/?"); i >= 0 {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// setPair stores a directive's two words (auth_http_header name value).
func setPair(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	return [2]string{d.Args[0], d.Args[1]}, nil
}

// setWords stores a directive's words (the capabilities lists).
func setWords(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	return append([]string(nil), d.Args...), nil
}

// MailResolver is the mail resolver directive: Off for "resolver off",
// else the DNS servers, read as the stream resolver reads them.
type MailResolver struct {
	Off bool
	*StreamResolver
}

// setMailResolver is ngx_mail_core_resolver: "off" as the first word
// turns resolving off (the other words are not read).
func setMailResolver(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	if d.Args[0] == "off" {
		return MailResolver{Off: true}, nil
	}
	r, err := setStreamResolver(ld, l, d)
	if err != nil {
		return nil, err
	}
	return MailResolver{StreamResolver: r.(*StreamResolver)}, nil
}

// RealIPFrom is one set_real_ip_from: unix:, an address block, or the
// addresses of a host name (each a single-address block).
type RealIPFrom struct {
	Unix bool
	Nets []netip.Prefix
}

// setMailRealIPFrom is ngx_mail_realip_from: "unix:", an address or
// network (low bits set are warned about), else a host name resolved now.
func setMailRealIPFrom(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	arg := d.Args[0]
	if arg == "unix:" {
		return RealIPFrom{Unix: true}, nil
	}
	if p, low, err := value.ParseCIDR(arg); err == nil {
		if low {
			ld.Warn(d, `low address bits of %s are meaningless`, arg)
		}
		return RealIPFrom{Nets: []netip.Prefix{p}}, nil
	}
	ips, err := resolveHost(arg)
	if err != nil {
		return nil, d.Errorf(`host not found in set_real_ip_from "%s"`, arg)
	}
	var r RealIPFrom
	for _, ip := range ips {
		r.Nets = append(r.Nets, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return r, nil
}

// starttlsValues are the words of starttls, nginx's enum (any case).
var starttlsValues = []string{"off", "on", "only"}

// setStarttls is ngx_mail_ssl_starttls: the enum, then the conflict with
// an "ssl on" already set at the level.
func setStarttls(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	v := ""
	for _, w := range starttlsValues {
		if strings.EqualFold(w, d.Args[0]) && slotASCII(d.Args[0]) {
			v = w
		}
	}
	if v == "" {
		return nil, d.Errorf(`invalid value "%s"`, d.Args[0])
	}
	if on, _ := lastOwn(l, "ssl").(bool); on && v != "off" {
		return nil, d.Errorf(`"ssl" directive conflicts with "starttls"`)
	}
	mailSSLWhere(ld)[l] = d
	return v, nil
}

// mailSSLWhere maps a mail level to its last "ssl" or "starttls"
// directive: where nginx says a TLS server lacks its certificate.
func mailSSLWhere(ld *Loader) map[*Level]*grammar.Directive {
	type key struct{}
	return *State(ld, key{}, func() *map[*Level]*grammar.Directive { return &map[*Level]*grammar.Directive{} })
}

// mailSSLOnHook is the rest of ngx_mail_ssl_enable for the deprecated
// "ssl on|off" of mail (its value and warning are core.go's): "ssl on"
// conflicts with a starttls already enabled at the level.
func mailSSLOnHook(ld *Loader, l *Level, d *grammar.Directive) error {
	if d.Name != "ssl" || l.Ctx&(Mail|MailServer) == 0 {
		return nil
	}
	if st, _ := lastOwn(l, "starttls").(string); st != "" && st != "off" && strings.EqualFold(d.Args[0], "on") {
		return d.Errorf(`"starttls" directive conflicts with "ssl on"`)
	}
	mailSSLWhere(ld)[l] = d
	return nil
}

// lastOwn returns the last value of name set at l itself, or nil.
func lastOwn(l *Level, name string) any {
	own := l.Own(name)
	if len(own) == 0 {
		return nil
	}
	return own[len(own)-1].V
}

// mailServerDone is the check ngx_mail_core_server makes when the server
// block ends: a mail server must listen somewhere.
func mailServerDone(_ *Loader, srv *Level) error {
	if len(srv.Own("listen")) == 0 {
		return mailServerError(`no "listen" is defined for server`, srv)
	}
	return nil
}

// mailServerError is a message nginx logs while merging a mail server,
// located at the server's "{".
func mailServerError(msg string, srv *Level) error {
	return &grammar.Error{Msg: fmt.Sprintf("%s in %s:%d", msg, srv.Directive.File(), srv.Directive.Line)}
}

// mailMerges are the merge-time checks of the mail modules, in nginx's
// module order: each runs for every server before the next one runs.
// The pop3, imap, smtp, proxy and realip modules check nothing there.
var mailMerges = []func(ld *Loader, mail, srv *Level) error{
	mailCoreMerge,
	mailSSLMerge,
	mailAuthHTTPMerge,
}

// mailDone makes the checks of ngx_mail_block when the mail block ends.
func mailDone(ld *Loader, mail *Level) error {
	var servers []*Level
	for _, c := range mail.Children {
		if c.Ctx == MailServer {
			servers = append(servers, c)
		}
	}
	for _, merge := range mailMerges {
		for _, srv := range servers {
			if err := merge(ld, mail, srv); err != nil {
				return err
			}
		}
	}
	return nil
}

// mailCoreMerge: every server needs a protocol.
func mailCoreMerge(_ *Loader, _, srv *Level) error {
	if MailProtocol(srv) == "" {
		return mailServerError("unknown mail protocol for server", srv)
	}
	return nil
}

// mailAuthHTTPMerge: every server needs an auth_http, its own or the
// mail block's.
func mailAuthHTTPMerge(_ *Loader, _, srv *Level) error {
	if srv.Get("auth_http") == nil {
		return mailServerError(`no "auth_http" is defined for server`, srv)
	}
	return nil
}

// mailSSLMerge is ngx_mail_ssl_merge_conf's checks for a server that
// accepts TLS ("listen ... ssl", "ssl on" or starttls on|only): it needs a
// certificate and a key for each, and they must load, as must the cipher
// list, the client verification files and the session ticket keys.
func mailSSLMerge(ld *Loader, mail, srv *Level) error {
	mode, where := "", ""
	starttls, _ := srv.Get("starttls").(string)
	on, _ := lastOwn(srv, "ssl").(bool)
	if !srv.Has("ssl") {
		on, _ = lastOwn(mail, "ssl").(bool)
	}
	listen := hasSSLListen(srv)
	switch {
	case listen != nil:
		mode, where = "listen ... ssl", mailAt(listen)
	case on:
		mode = "ssl"
	case starttls != "off":
		mode = "starttls"
	default:
		return nil
	}
	if where == "" {
		at := mailSSLWhere(ld)
		d := at[srv]
		if d == nil {
			d = at[mail]
		}
		where = mailAt(d)
	}
	s := mailServerSSL(ld, srv)
	switch {
	case len(s.Certificates) == 0:
		return &grammar.Error{Msg: fmt.Sprintf(`no "ssl_certificate" is defined for the "%s" directive %s`, mode, where)}
	case len(s.CertificateKeys) == 0:
		return &grammar.Error{Msg: fmt.Sprintf(`no "ssl_certificate_key" is defined for the "%s" directive %s`, mode, where)}
	case len(s.CertificateKeys) < len(s.Certificates):
		return &grammar.Error{Msg: fmt.Sprintf(`no "ssl_certificate_key" is defined for certificate "%s" and the "%s" directive %s`,
			s.Certificates[len(s.Certificates)-1].Name, mode, where)}
	}
	if err := checkServerSSLFiles(s, false, true); err != nil {
		return err
	}
	return checkSessionTicketKeys(s, mail.Directive)
}

// mailAt is the "in FILE:LINE" of a directive, "in (null):0" for none,
// as nginx prints a location it never recorded.
func mailAt(d *grammar.Directive) string {
	if d == nil {
		return "in (null):0"
	}
	return fmt.Sprintf("in %s:%d", d.File(), d.Line)
}

// mailServerSSL gathers the effective ssl_* settings of a mail server:
// the mail module reads most of them with nginx's standard slots.
func mailServerSSL(ld *Loader, srv *Level) *ServerSSL {
	s := &ServerSSL{
		Ciphers:      "HIGH:!aNULL:!MD5",
		VerifyClient: "off",
		VerifyDepth:  1,
	}
	files := func(name string) []SSLFile {
		var out []SSLFile
		for _, v := range srv.Lookup(name) {
			out = append(out, sslFile(ld, v.V.(string)))
		}
		return out
	}
	file := func(name string) SSLFile {
		if v, ok := srv.Get(name).(string); ok {
			return sslFile(ld, v)
		}
		return SSLFile{}
	}
	s.Certificates, s.CertificateKeys = files("ssl_certificate"), files("ssl_certificate_key")
	s.SessionTicketKeys = files("ssl_session_ticket_key")
	s.ClientCertificate, s.TrustedCertificate, s.CRL = file("ssl_client_certificate"), file("ssl_trusted_certificate"), file("ssl_crl")
	if v, ok := srv.Get("ssl_ciphers").(string); ok {
		s.Ciphers = v
	}
	if v, ok := srv.Get("ssl_verify_client").(string); ok {
		s.VerifyClient = v
	}
	if v, ok := srv.Get("ssl_verify_depth").(int); ok {
		s.VerifyDepth = v
	}
	if p, ok := srv.Get("ssl_password_file").(SSLPasswords); ok {
		s.Passwords = p.List
	}
	s.CipherSuites = goCipherSuites(opensslCipherList(s.Ciphers))
	return s
}
