package directives

import (
	"crypto/tls"
	"net/netip"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The 21 zone_sync directives of NGINX Plus's ngx_stream_zone_sync_module,
// with the checks zonesync makes when it loads them. Where NGINX Plus's own
// wording is not public the messages are zonesync's, in nginx's style; see
// docs/zonesync-checks.md.
func init() {
	Register("zone_sync", StreamServer, Def{Set: setZoneSync,
		Doc: "Enables the synchronization of shared memory zones with the nodes named by zone_sync_server; the server is the node's sync endpoint."})
	Register("zone_sync_server", StreamServer, Def{Set: setZoneSyncServer, Multi: true,
		Doc: "Address (host:port, [IPv6]:port or unix:path) of a cluster node; with resolve, a name re-resolved at run time that stands for every node."})
	Register("zone_sync_buffers", Stream, Def{Set: setZoneSyncBuffers, Inherit: true,
		Default: ZoneSyncBuffers{Number: 8, Size: int64(pageSize)}, DefaultDoc: "8 4k|8k",
		Doc: "Number and size of the per-zone buffers used to push zone contents; one buffer must hold any entry."})
	Register("zone_sync_connect_retry_interval", Stream, Def{Set: setMsec, Inherit: true, Default: time.Second, DefaultDoc: "1s",
		Doc: "Interval between connection attempts to another node."})
	Register("zone_sync_connect_timeout", Stream, Def{Set: setMsec, Inherit: true, Default: 5 * time.Second, DefaultDoc: "5s",
		Doc: "Timeout for establishing a connection to another node."})
	Register("zone_sync_interval", Stream, Def{Set: setMsec, Inherit: true, Default: time.Second, DefaultDoc: "1s",
		Doc: "Interval for polling updates in a shared memory zone."})
	Register("zone_sync_recv_buffer_size", Stream, Def{Set: setSize, Inherit: true, DefaultDoc: "4k|8k",
		Doc: "Per-connection receive buffer; by default zone_sync_buffers number × size, and never smaller than one buffer."})
	Register("zone_sync_timeout", Stream, Def{Set: setMsec, Inherit: true, Default: 5 * time.Second, DefaultDoc: "5s",
		Doc: "Maximum time between two successive reads or writes on a connection to another node."})
	Register("zone_sync_ssl", Stream, Def{Set: setFlag, Inherit: true, Default: false, DefaultDoc: "off",
		Doc: "TLS for connections to other nodes."})
	Register("zone_sync_ssl_certificate", Stream, Def{Set: setSSLFile, Inherit: true,
		Doc: "Client certificate (PEM) presented to other nodes."})
	Register("zone_sync_ssl_certificate_key", Stream, Def{Set: setSSLFile, Inherit: true,
		Doc: "Secret key (PEM) of zone_sync_ssl_certificate."})
	Register("zone_sync_ssl_ciphers", Stream, Def{Set: setString, Inherit: true, Default: "DEFAULT", DefaultDoc: "DEFAULT",
		Doc: "Enabled ciphers, in OpenSSL's cipher-list syntax; zonesync uses the ones Go's crypto/tls implements."})
	Register("zone_sync_ssl_conf_command", Stream, Def{Set: setZoneSyncConfCommand, Multi: true, Inherit: true,
		Doc: "OpenSSL configuration command; zonesync honours MinProtocol, MaxProtocol, Ciphersuites and Options."})
	Register("zone_sync_ssl_crl", Stream, Def{Set: setSSLFile, Inherit: true,
		Doc: "Revoked certificates (PEM) used to verify other nodes."})
	Register("zone_sync_ssl_name", Stream, Def{Set: setString, Inherit: true, DefaultDoc: "host from zone_sync_server",
		Doc: "Name used to verify other nodes' certificates and sent with SNI."})
	Register("zone_sync_ssl_password_file", Stream, Def{Set: setSSLPasswordFile, Inherit: true,
		Doc: "File of passphrases for the secret key, one a line, tried in turn."})
	Register("zone_sync_ssl_protocols", Stream, Def{Set: setSSLProtocols, Multi: true, Inherit: true,
		Default: []string{"TLSv1.2", "TLSv1.3"}, DefaultDoc: "TLSv1.2 TLSv1.3",
		Doc: "Enabled protocol versions for connections to other nodes."})
	Register("zone_sync_ssl_server_name", Stream, Def{Set: setFlag, Inherit: true, Default: false, DefaultDoc: "off",
		Doc: "Send the server name with SNI."})
	Register("zone_sync_ssl_trusted_certificate", Stream, Def{Set: setSSLFile, Inherit: true,
		Doc: "CA certificates (PEM) used to verify other nodes."})
	Register("zone_sync_ssl_verify", Stream, Def{Set: setFlag, Inherit: true, Default: false, DefaultDoc: "off",
		Doc: "Verify other nodes' certificates."})
	Register("zone_sync_ssl_verify_depth", Stream, Def{Set: setNumber, Inherit: true, Default: 1, DefaultDoc: "1",
		Doc: "Verification depth of other nodes' certificate chains."})
	AddCheck(PhaseInitConf, checkSyncedZones)
}

// zoneSyncState is the one zone_sync server of a configuration.
type zoneSyncState struct {
	first  *grammar.Directive
	server *Level
}

type zoneSyncKey struct{}

func zoneSyncStateOf(ld *Loader) *zoneSyncState {
	return State(ld, zoneSyncKey{}, func() *zoneSyncState { return &zoneSyncState{} })
}

// setZoneSync makes the server the node's sync endpoint. A configuration
// has one zone_sync server: a second one is "is duplicate", as NGINX Plus
// says when an Ingress Controller snippet adds one to the generated
// config.
func setZoneSync(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	st := zoneSyncStateOf(ld)
	if st.first != nil {
		return nil, Msg("is duplicate")
	}
	st.first, st.server = d, l
	return true, nil
}

// ZoneSyncServer is one zone_sync_server directive.
type ZoneSyncServer struct {
	D *grammar.Directive
	// Addr is the address as written: host and mandatory port, [IPv6]:port
	// or unix:path.
	Addr    value.Addr
	Resolve bool
	// Nodes are the addresses a static entry stands for (a name is
	// resolved when the configuration is read, and may give several); for
	// resolve they are looked up at run time and Nodes is empty unless
	// the host is an address literal.
	Nodes []netip.AddrPort
}

// String writes the address as zone_sync_server takes it.
func (s ZoneSyncServer) String() string { return s.Addr.String() }

// setZoneSyncServer reads "address [resolve]", and checks that the nodes
// are given either as one resolve entry or as static entries, each once.
func setZoneSyncServer(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	s := &ZoneSyncServer{D: d}
	if len(d.Args) == 2 {
		if d.Args[1] != "resolve" {
			return nil, d.Errorf(`invalid parameter "%s"`, d.Args[1])
		}
		s.Resolve = true
	}
	arg := d.Args[0]
	a, err := value.ParseURL(arg, value.URLOptions{RequirePort: true})
	switch {
	case err == value.ErrNoPort:
		return nil, d.Errorf(`no port in "%s" of the "zone_sync_server" directive`, arg)
	case err != nil:
		return nil, d.Errorf(`%s in "%s" of the "zone_sync_server" directive`, err, arg)
	case a.Unix && s.Resolve:
		return nil, d.Errorf(`"resolve" cannot be used with the UNIX-domain socket "%s" of the "zone_sync_server" directive`, arg)
	}
	s.Addr = a
	if !a.Unix && (!s.Resolve || a.IP.IsValid()) {
		ips, err := streamAddrIPs(a)
		if err != nil {
			return nil, d.Errorf(`host not found in "%s" of the "zone_sync_server" directive`, arg)
		}
		for _, ip := range ips {
			s.Nodes = append(s.Nodes, netip.AddrPortFrom(ip, uint16(a.Port)))
		}
	}
	var prev []*ZoneSyncServer
	for _, v := range l.Own("zone_sync_server") {
		prev = append(prev, v.V.(*ZoneSyncServer))
	}
	for _, p := range prev {
		if p.Resolve || s.Resolve {
			return nil, d.Errorf(`a "zone_sync_server" with the "resolve" parameter must be the only one in a server`)
		}
	}
	seen := map[string]bool{}
	for _, p := range prev {
		for _, k := range p.nodeKeys() {
			seen[k] = true
		}
	}
	for _, k := range s.nodeKeys() {
		if seen[k] {
			return nil, d.Errorf(`duplicate zone_sync_server node "%s"`, k)
		}
		seen[k] = true
	}
	return s, nil
}

// nodeKeys names the nodes of an entry for the duplicate check: each
// address:port it stands for, or the socket path.
func (s *ZoneSyncServer) nodeKeys() []string {
	if s.Addr.Unix {
		return []string{"unix:" + s.Addr.Path}
	}
	if len(s.Nodes) == 0 {
		return []string{strings.ToLower(s.Addr.String())}
	}
	var out []string
	for _, n := range s.Nodes {
		out = append(out, n.String())
	}
	return out
}

// ZoneSyncBuffers is zone_sync_buffers: number and size of the buffers.
type ZoneSyncBuffers struct {
	Number int
	Size   int64
}

// setZoneSyncBuffers is nginx's bufs slot: a positive number and size.
func setZoneSyncBuffers(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	n, err := value.Number(d.Args[0])
	if err != nil || n == 0 {
		return nil, Msg("invalid value")
	}
	size, err := value.Size(d.Args[1])
	if err != nil || size == 0 {
		return nil, Msg("invalid value")
	}
	return ZoneSyncBuffers{Number: n, Size: size}, nil
}

// zoneSyncConfCommands are the OpenSSL configuration commands zonesync can
// carry out with Go's crypto/tls, each with a check of its value.
var zoneSyncConfCommands = map[string]func(string) bool{
	"minprotocol": validTLSVersionName,
	"maxprotocol": validTLSVersionName,
	"ciphersuites": func(v string) bool {
		for _, s := range strings.Split(v, ":") {
			if !tls13Suites[s] {
				return false
			}
		}
		return v != ""
	},
	"options": func(v string) bool {
		for _, o := range strings.Split(v, ",") {
			if !zoneSyncOptions[strings.TrimSpace(o)] {
				return false
			}
		}
		return true
	},
}

// tls13Suites are the TLSv1.3 suites Go implements; Go always offers all
// of them, so Ciphersuites can name them but not leave one out.
var tls13Suites = map[string]bool{
	"TLS_AES_128_GCM_SHA256":       true,
	"TLS_AES_256_GCM_SHA384":       true,
	"TLS_CHACHA20_POLY1305_SHA256": true,
}

// zoneSyncOptions are the SSL_CONF "Options" values that change nothing
// Go's client does differently, or that match what it does.
var zoneSyncOptions = map[string]bool{
	"SessionTicket": true, "-SessionTicket": true,
	"NoRenegotiation": true, "-NoRenegotiation": true,
	"-Compression":     true,
	"ServerPreference": true, "-ServerPreference": true,
	"PrioritizeChaCha": true, "-PrioritizeChaCha": true,
	"MiddleboxCompat": true, "-MiddleboxCompat": true,
}

// tlsVersions maps OpenSSL protocol names to crypto/tls versions; SSLv2
// and SSLv3 have none.
var tlsVersions = map[string]uint16{
	"TLSv1":   0x0301,
	"TLSv1.1": 0x0302,
	"TLSv1.2": 0x0303,
	"TLSv1.3": 0x0304,
}

func validTLSVersionName(v string) bool {
	_, ok := tlsVersions[v]
	return ok || v == "None"
}

// setZoneSyncConfCommand accepts the commands Go's TLS client can honour
// and refuses the rest, which NGINX Plus would hand to OpenSSL.
func setZoneSyncConfCommand(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	check := zoneSyncConfCommands[strings.ToLower(d.Args[0])]
	if check == nil {
		return nil, d.Errorf(`zone_sync_ssl_conf_command "%s" is not supported, only "MinProtocol", "MaxProtocol", "Ciphersuites" and "Options" are`, d.Args[0])
	}
	if !check(d.Args[1]) {
		return nil, d.Errorf(`invalid value "%s" of zone_sync_ssl_conf_command "%s"`, d.Args[1], d.Args[0])
	}
	return [2]string{d.Args[0], d.Args[1]}, nil
}

// zoneSyncMerge makes the checks of the zone_sync server when the stream
// block ends: it needs nodes, a resolver for resolve, a receive buffer
// that holds one push buffer, and with zone_sync_ssl a TLS setup Go can
// carry out with files that load.
func zoneSyncMerge(srv *Level) error {
	zs := srv.Own("zone_sync")
	if len(zs) == 0 {
		return nil
	}
	for _, h := range []string{"proxy_pass", "return", "pass"} {
		if srv.Has(h) {
			return zs[0].D.Errorf(`"zone_sync" cannot be used with "%s" in one server`, h)
		}
	}
	servers := zoneSyncServers(srv)
	if len(servers) == 0 {
		return zs[0].D.Errorf(`no "zone_sync_server" is defined for the "zone_sync" directive`)
	}
	if servers[0].Resolve && srv.Get("resolver") == nil {
		return servers[0].D.Errorf(`no "resolver" is defined in the "stream" block to resolve "%s"`, servers[0].Addr.Host)
	}
	bufs := srv.Get("zone_sync_buffers").(ZoneSyncBuffers)
	if vs := srv.Lookup("zone_sync_recv_buffer_size"); len(vs) > 0 {
		if recv := vs[len(vs)-1]; recv.V.(int64) < bufs.Size {
			return recv.D.Errorf(`"zone_sync_recv_buffer_size" must be equal to or greater than the size of one of the "zone_sync_buffers"`)
		}
	}
	if !srv.Get("zone_sync_ssl").(bool) {
		return nil
	}
	return zoneSyncSSLCheck(srv)
}

// zoneSyncServers returns the zone_sync_server entries of a server.
func zoneSyncServers(srv *Level) []*ZoneSyncServer {
	var out []*ZoneSyncServer
	for _, v := range srv.Own("zone_sync_server") {
		out = append(out, v.V.(*ZoneSyncServer))
	}
	return out
}

// zoneSyncSSLCheck is what the proxy modules' outgoing TLS setup checks,
// for zone_sync: the client certificate and key load, verification has a
// CA file, and the protocols and ciphers leave Go something to use.
func zoneSyncSSLCheck(srv *Level) error {
	s := zoneSyncSSLOf(srv)
	last := func(name string) *grammar.Directive {
		if vs := srv.Lookup(name); len(vs) > 0 && vs[len(vs)-1].D != nil {
			return vs[len(vs)-1].D
		}
		return srv.Own("zone_sync")[0].D
	}
	if s.protocolsMin == 0 {
		return last("zone_sync_ssl_protocols").Errorf(`no protocol zonesync supports is enabled by "zone_sync_ssl_protocols"`)
	}
	if s.MinVersion > s.MaxVersion {
		return last("zone_sync_ssl_conf_command").Errorf(`"zone_sync_ssl_protocols" and "zone_sync_ssl_conf_command" leave no protocol enabled`)
	}
	suites := opensslCipherList(s.Ciphers)
	if len(suites) == 0 {
		return sslCipherError(s.Ciphers)
	}
	if len(s.CipherSuites) == 0 && s.MinVersion < tls.VersionTLS13 {
		return last("zone_sync_ssl_ciphers").Errorf(`no cipher in "%s" is supported by zonesync for TLSv1.2 and older`, s.Ciphers)
	}
	if s.Certificate != "" {
		if s.CertificateKey == "" {
			return last("zone_sync_ssl_certificate").Errorf(`no "zone_sync_ssl_certificate_key" is defined for certificate "%s"`,
				sslFileOf(nil, srv, "zone_sync_ssl_certificate").Name)
		}
		cert := sslFileOf(nil, srv, "zone_sync_ssl_certificate")
		key := sslFileOf(nil, srv, "zone_sync_ssl_certificate_key")
		if _, err := loadCertKey(cert, key, s.Passwords); err != nil {
			return err
		}
	}
	if s.Verify {
		if s.TrustedCertificate == "" {
			return last("zone_sync_ssl_verify").Errorf(`no zone_sync_ssl_trusted_certificate for zone_sync_ssl_verify`)
		}
		if err := loadVerifyLocations(sslFileOf(nil, srv, "zone_sync_ssl_trusted_certificate")); err != nil {
			return err
		}
		if err := loadCRL(sslFileOf(nil, srv, "zone_sync_ssl_crl")); err != nil {
			return err
		}
	}
	return nil
}

// checkSyncedZones is the check NGINX Plus makes when it creates zones: a
// zone with "sync" is only synced by a zone_sync server.
func checkSyncedZones(ld *Loader) error {
	if zoneSyncStateOf(ld).server != nil {
		return nil
	}
	for _, z := range ZonesOf(ld).List {
		if z.Sync && z.Declared != nil {
			return z.Declared.Errorf(`the "sync" parameter of zone "%s" requires a stream server with "zone_sync"`, z.Name)
		}
	}
	return nil
}
