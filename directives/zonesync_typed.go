package directives

import (
	"crypto/tls"
	"strings"
	"time"

	"github.com/zonesync/zonesync/grammar"
)

// Typed views of the loaded configuration for the zone_sync runtime: the
// sync endpoint with every setting merged (server over stream over the
// default), and the keyval zones.

// ZoneSync is the node's zone_sync setup: the stream server that has
// zone_sync, with its effective settings.
type ZoneSync struct {
	// Server is the stream server level with zone_sync.
	Server *Level
	// Listen are the server's listen directives: where other nodes
	// connect.
	Listen []StreamListen
	// Servers are the zone_sync_server entries; Resolve is set when the
	// one entry has the resolve parameter.
	Servers []ZoneSyncServer
	Resolve bool

	Interval             time.Duration
	ConnectTimeout       time.Duration
	ConnectRetryInterval time.Duration
	Timeout              time.Duration
	Buffers              ZoneSyncBuffers
	// RecvBufferSize is zone_sync_recv_buffer_size, by default the
	// number × size of the effective zone_sync_buffers.
	RecvBufferSize int64

	// SSL is the TLS of outgoing connections to other nodes.
	SSL ZoneSyncSSL
	// InboundSSL is the TLS of connections other nodes make to this one
	// ("listen ... ssl" and the ssl_* directives); nil without it.
	InboundSSL *ServerSSL

	// Resolver is the server's effective resolver (its own or the
	// stream block's), nil when there is none.
	Resolver        *StreamResolver
	ResolverTimeout time.Duration
}

// ZoneSyncSSL is the effective zone_sync_ssl_* setup. File settings are
// full paths ("" when not set).
type ZoneSyncSSL struct {
	Enabled            bool
	Certificate        string
	CertificateKey     string
	PasswordFile       string
	Passwords          []string
	TrustedCertificate string
	CRL                string
	// Name is zone_sync_ssl_name; "" means the host of the
	// zone_sync_server entry (or the resolved address with resolve).
	Name        string
	ServerName  bool
	Verify      bool
	VerifyDepth int
	Protocols   []string
	Ciphers     string
	// CipherSuites are Ciphers as Go's TLSv1.2-and-older suite IDs.
	CipherSuites []uint16
	// MinVersion and MaxVersion are the crypto/tls versions Protocols and
	// the MinProtocol/MaxProtocol commands leave enabled (Go cannot leave
	// a version out between the two).
	MinVersion   uint16
	MaxVersion   uint16
	ConfCommands [][2]string

	protocolsMin uint16 // the lowest version Protocols alone enables
}

// ZoneSyncOf returns the zone_sync setup of a configuration, or nil when
// no stream server has zone_sync.
func ZoneSyncOf(main *Level) *ZoneSync {
	var srv *Level
	main.Each(StreamServer, func(l *Level) {
		if srv == nil && l.Has("zone_sync") {
			srv = l
		}
	})
	if srv == nil {
		return nil
	}
	z := &ZoneSync{
		Server:               srv,
		Interval:             srv.Get("zone_sync_interval").(time.Duration),
		ConnectTimeout:       srv.Get("zone_sync_connect_timeout").(time.Duration),
		ConnectRetryInterval: srv.Get("zone_sync_connect_retry_interval").(time.Duration),
		Timeout:              srv.Get("zone_sync_timeout").(time.Duration),
		Buffers:              srv.Get("zone_sync_buffers").(ZoneSyncBuffers),
		SSL:                  zoneSyncSSLOf(srv),
		ResolverTimeout:      srv.Get("resolver_timeout").(time.Duration),
	}
	for _, ln := range StreamListens(srv) {
		z.Listen = append(z.Listen, *ln)
	}
	for _, s := range zoneSyncServers(srv) {
		z.Servers = append(z.Servers, *s)
		z.Resolve = z.Resolve || s.Resolve
	}
	z.RecvBufferSize = int64(z.Buffers.Number) * z.Buffers.Size
	if n, ok := srv.Get("zone_sync_recv_buffer_size").(int64); ok {
		z.RecvBufferSize = n
	}
	z.Resolver, _ = srv.Get("resolver").(*StreamResolver)
	if hasSSLListen(srv) != nil {
		z.InboundSSL = ServerSSLOf(nil, srv)
	}
	return z
}

// zoneSyncSSLOf merges the zone_sync_ssl_* settings of a server.
func zoneSyncSSLOf(srv *Level) ZoneSyncSSL {
	s := ZoneSyncSSL{
		Enabled:            srv.Get("zone_sync_ssl").(bool),
		Certificate:        sslFileOf(nil, srv, "zone_sync_ssl_certificate").Path,
		CertificateKey:     sslFileOf(nil, srv, "zone_sync_ssl_certificate_key").Path,
		TrustedCertificate: sslFileOf(nil, srv, "zone_sync_ssl_trusted_certificate").Path,
		CRL:                sslFileOf(nil, srv, "zone_sync_ssl_crl").Path,
		ServerName:         srv.Get("zone_sync_ssl_server_name").(bool),
		Verify:             srv.Get("zone_sync_ssl_verify").(bool),
		VerifyDepth:        srv.Get("zone_sync_ssl_verify_depth").(int),
		Protocols:          srv.Get("zone_sync_ssl_protocols").([]string),
		Ciphers:            srv.Get("zone_sync_ssl_ciphers").(string),
	}
	s.Name, _ = srv.Get("zone_sync_ssl_name").(string)
	if p, ok := srv.Get("zone_sync_ssl_password_file").(SSLPasswords); ok {
		s.PasswordFile, s.Passwords = p.File.Path, p.List
	}
	for _, v := range srv.Lookup("zone_sync_ssl_conf_command") {
		s.ConfCommands = append(s.ConfCommands, v.V.([2]string))
	}
	s.CipherSuites = goCipherSuites(opensslCipherList(s.Ciphers))
	for _, p := range s.Protocols {
		v, ok := tlsVersions[p]
		if !ok {
			continue
		}
		if s.MinVersion == 0 || v < s.MinVersion {
			s.MinVersion = v
		}
		s.MaxVersion = max(s.MaxVersion, v)
	}
	s.protocolsMin = s.MinVersion
	for _, c := range s.ConfCommands {
		v, ok := tlsVersions[c[1]]
		if !ok {
			continue
		}
		switch strings.ToLower(c[0]) {
		case "minprotocol":
			s.MinVersion = max(s.MinVersion, v)
		case "maxprotocol":
			s.MaxVersion = min(s.MaxVersion, v)
		}
	}
	return s
}

// KeyvalZone is a keyval_zone: the Params of a ZoneKeyvalHTTP or
// ZoneKeyvalStream zone.
type KeyvalZone struct {
	D      *grammar.Directive
	Name   string
	Size   int64
	Stream bool // declared in stream (else in http)
	// State is the state= file as written and StatePath its full path
	// (relative to the prefix); both "" without state=.
	State     string
	StatePath string
	// Timeout is how long a key lives; 0 without timeout= (keys never
	// expire).
	Timeout time.Duration
	// Type is "string", "ip" or "prefix".
	Type string
	Sync bool
}

// KeyvalVar is a keyval directive: $Variable is looked up by Key in Zone.
type KeyvalVar struct {
	D        *grammar.Directive
	Key      string // may hold variables
	Variable string // without the "$"
	Zone     string
	Stream   bool
}

// Keyvals returns the keyval zones of a configuration, http and stream,
// in the order they were declared.
func Keyvals(ld *Loader) []*KeyvalZone {
	var out []*KeyvalZone
	for _, z := range ZonesOf(ld).List {
		if kz, ok := z.Params.(*KeyvalZone); ok {
			out = append(out, kz)
		}
	}
	return out
}

// KeyvalVariables returns the keyval directives of a configuration, in
// order.
func KeyvalVariables(ld *Loader) []*KeyvalVar {
	return keyvalStateOf(ld).vars
}

// TLSConfig returns the crypto/tls client settings the directives fix
// (versions and TLSv1.2 suites); certificates and roots are the runtime's
// to load from the paths.
func (s ZoneSyncSSL) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: s.MinVersion, MaxVersion: s.MaxVersion, CipherSuites: s.CipherSuites}
}
