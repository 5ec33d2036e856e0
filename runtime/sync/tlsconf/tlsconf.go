// Package tlsconf turns the zone_sync TLS settings of a loaded
// configuration into crypto/tls configurations: the client side of the
// connections this node makes to other nodes (zone_sync_ssl_*), and the
// server side of the zone_sync server's "listen ... ssl" (ssl_*).
//
// Certificates are verified by zonesync itself rather than by crypto/tls,
// so that the checks are OpenSSL's as nginx sets them up: verify depth,
// CRLs for every certificate of the chain, the name checked as
// X509_check_host does, and nginx's messages for each failure.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// Client builds the TLS configuration of the connections this node makes
// to the other nodes. A nil *Client stands for zone_sync_ssl off.
type Client struct {
	// Now is the clock certificates and CRLs are checked against;
	// time.Now when nil.
	Now func() time.Time

	ssl     directives.ZoneSyncSSL
	cert    *tls.Certificate
	ver     *verifier
	options options
}

// NewClient loads the files of the effective zone_sync_ssl_* settings:
// the certificate and key (with the password file's passphrases), the
// trusted CAs and the CRL. It returns nil without zone_sync_ssl on.
func NewClient(s directives.ZoneSyncSSL) (*Client, error) {
	if !s.Enabled {
		return nil, nil
	}
	c := &Client{ssl: s}
	if s.MinVersion == 0 || s.MaxVersion == 0 || s.MinVersion > s.MaxVersion {
		return nil, fmt.Errorf(`no protocol zonesync supports is enabled by "zone_sync_ssl_protocols"`)
	}
	if len(s.CipherSuites) == 0 && s.MinVersion < tls.VersionTLS13 {
		return nil, fmt.Errorf(`no cipher in "%s" is supported by zonesync for TLSv1.2 and older`, s.Ciphers)
	}
	opts, err := parseOptions("zone_sync_ssl_conf_command", s.ConfCommands)
	if err != nil {
		return nil, err
	}
	c.options = opts
	if s.Certificate != "" {
		cert, err := directives.LoadCertKey(directives.SSLFileAt(s.Certificate), directives.SSLFileAt(s.CertificateKey), s.Passwords)
		if err != nil {
			return nil, err
		}
		c.cert = cert
	}
	if s.Verify {
		if s.TrustedCertificate == "" {
			return nil, fmt.Errorf(`no zone_sync_ssl_trusted_certificate for zone_sync_ssl_verify`)
		}
		v, err := newVerifier("upstream", []string{s.TrustedCertificate}, s.CRL, s.VerifyDepth, x509.ExtKeyUsageServerAuth)
		if err != nil {
			return nil, err
		}
		v.now = c.now
		c.ver = v
	}
	return c, nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Name is the name a connection to a node is verified against and, with
// zone_sync_ssl_server_name on, sent with SNI: zone_sync_ssl_name, or host
// (the host of the zone_sync_server entry, or the node's resolved address
// with resolve).
func (c *Client) Name(host string) string {
	if c.ssl.Name != "" {
		return c.ssl.Name
	}
	return host
}

// Config returns the configuration of one connection to the node host
// names (discovery.Member.Name). It is nil for a nil Client.
func (c *Client) Config(host string) *tls.Config {
	if c == nil {
		return nil
	}
	name := c.Name(host)
	cfg := &tls.Config{
		MinVersion:   c.ssl.MinVersion,
		MaxVersion:   c.ssl.MaxVersion,
		CipherSuites: c.ssl.CipherSuites,
		// The chain and the name are checked in VerifyConnection, the
		// way OpenSSL checks them for nginx; off checks nothing.
		InsecureSkipVerify: true,
		Time:               c.now,
		Renegotiation:      tls.RenegotiateNever,
	}
	if c.ssl.ServerName && sniName(name) {
		cfg.ServerName = name
	}
	if c.cert != nil {
		// OpenSSL sends the configured certificate whatever CA names the
		// server asks for; crypto/tls would send none that does not fit.
		cert := c.cert
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	if c.ver != nil {
		ver := c.ver
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ver.fail(errUnableToGetIssuer)
			}
			if err := ver.verify(cs.PeerCertificates); err != nil {
				return err
			}
			if !matchName(cs.PeerCertificates[0], name) {
				return &NameError{Name: name}
			}
			return nil
		}
	}
	c.options.apply(cfg)
	return cfg
}

// sniName reports a name SNI may carry: not empty and, as RFC 6066 says,
// not an address literal.
func sniName(name string) bool {
	if name == "" {
		return false
	}
	_, err := netip.ParseAddr(strings.Trim(name, "[]"))
	return err != nil
}

// Server builds the TLS configuration of the zone_sync server's
// "listen ... ssl": the connections other nodes make to this one.
type Server struct {
	// Now is the clock client certificates and CRLs are checked against;
	// time.Now when nil.
	Now func() time.Time

	cfg    *tls.Config
	verify string // off, on, optional, optional_no_ca
	ver    *verifier
}

// NewServer loads the files of a server's effective ssl_* settings: the
// certificates and keys (with ssl_password_file), and with
// ssl_verify_client the CA files (ssl_client_certificate,
// ssl_trusted_certificate) and ssl_crl.
func NewServer(s *directives.ServerSSL) (*Server, error) {
	if s == nil {
		return nil, nil
	}
	srv := &Server{verify: s.VerifyClient}
	cfg := &tls.Config{
		CipherSuites:           s.CipherSuites,
		SessionTicketsDisabled: !s.SessionTickets,
	}
	if len(s.Certificates) == 0 {
		return nil, fmt.Errorf(`no "ssl_certificate" is defined for the "listen ... ssl" directive`)
	}
	for i, cf := range s.Certificates {
		if i >= len(s.CertificateKeys) {
			return nil, fmt.Errorf(`no "ssl_certificate_key" is defined for certificate "%s"`, cf.Name)
		}
		cert, err := directives.LoadCertKey(cf, s.CertificateKeys[i], s.Passwords)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = append(cfg.Certificates, *cert)
	}
	if err := serverVersions(cfg, s); err != nil {
		return nil, err
	}
	opts, err := parseOptions("ssl_conf_command", s.ConfCommands)
	if err != nil {
		return nil, err
	}
	opts.apply(cfg)
	if s.VerifyClient != "off" {
		var cas []string
		for _, f := range []directives.SSLFile{s.ClientCertificate, s.TrustedCertificate} {
			if f.Name != "" {
				cas = append(cas, f.Path)
			}
		}
		v, err := newVerifier("client", cas, s.CRL.Path, s.VerifyDepth, x509.ExtKeyUsageClientAuth)
		if err != nil {
			return nil, err
		}
		v.now = srv.now
		srv.ver = v
		// ssl_client_certificate's CAs are named in the certificate
		// request; ssl_trusted_certificate's are not.
		if s.ClientCertificate.Name != "" {
			sent, err := directives.LoadCAFile(s.ClientCertificate)
			if err != nil {
				return nil, err
			}
			cfg.ClientCAs = x509.NewCertPool()
			for _, c := range sent {
				cfg.ClientCAs.AddCert(c)
			}
		}
		cfg.ClientAuth = tls.RequestClientCert
		cfg.VerifyConnection = srv.verifyClient
	}
	cfg.Time = srv.now
	srv.cfg = cfg
	return srv, nil
}

// serverVersions sets the versions ssl_protocols and the MinProtocol and
// MaxProtocol commands enable, and checks the cipher list leaves a suite
// for them.
func serverVersions(cfg *tls.Config, s *directives.ServerSSL) error {
	for _, p := range s.Protocols {
		v, ok := directives.TLSVersion(p)
		if !ok {
			continue
		}
		if cfg.MinVersion == 0 || v < cfg.MinVersion {
			cfg.MinVersion = v
		}
		cfg.MaxVersion = max(cfg.MaxVersion, v)
	}
	if cfg.MinVersion == 0 {
		return fmt.Errorf(`no protocol zonesync supports is enabled by "ssl_protocols"`)
	}
	for _, c := range s.ConfCommands {
		v, ok := directives.TLSVersion(c[1])
		switch strings.ToLower(c[0]) {
		case "minprotocol":
			if ok {
				cfg.MinVersion = max(cfg.MinVersion, v)
			}
		case "maxprotocol":
			if ok {
				cfg.MaxVersion = min(cfg.MaxVersion, v)
			}
		}
	}
	if cfg.MinVersion > cfg.MaxVersion {
		return fmt.Errorf(`"ssl_protocols" and "ssl_conf_command" leave no protocol enabled`)
	}
	if len(cfg.CipherSuites) == 0 && cfg.MinVersion < tls.VersionTLS13 {
		if cfg.MaxVersion < tls.VersionTLS13 {
			return fmt.Errorf(`no cipher in "%s" is supported by zonesync for TLSv1.2 and older`, s.Ciphers)
		}
		// No TLSv1.2 suite is left; crypto/tls would take an empty
		// list for its defaults, so TLSv1.2 and older are left out.
		cfg.MinVersion = tls.VersionTLS13
	}
	return nil
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Config returns the configuration for the listener (tls.NewListener or
// tls.Server). It is nil for a nil Server.
func (s *Server) Config() *tls.Config {
	if s == nil {
		return nil
	}
	return s.cfg.Clone()
}

// verifyClient is ngx_stream_ssl_handler's check of the client
// certificate: with "on" one is required; a certificate that was sent must
// verify, except that optional_no_ca lets an untrusted issuer through.
func (s *Server) verifyClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		if s.verify == "on" {
			return ErrNoClientCertificate
		}
		return nil
	}
	err := s.ver.verify(cs.PeerCertificates)
	if err != nil && s.verify == "optional_no_ca" && optionalErrors[err.Code] {
		return nil
	}
	if err != nil {
		return err
	}
	return nil
}

// newVerifier loads the CA files and the CRL file of a verifying side.
func newVerifier(side string, caFiles []string, crlFile string, depth int, usage x509.ExtKeyUsage) (*verifier, error) {
	v := &verifier{side: side, roots: x509.NewCertPool(), depth: depth, usage: usage}
	for _, f := range caFiles {
		certs, err := directives.LoadCAFile(directives.SSLFileAt(f))
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			v.roots.AddCert(c)
		}
	}
	if crlFile != "" {
		crls, certs, err := directives.LoadCRLFile(directives.SSLFileAt(crlFile))
		if err != nil {
			return nil, err
		}
		v.crls, v.checkCRL = crls, true
		for _, c := range certs {
			v.roots.AddCert(c)
		}
	}
	return v, nil
}

// options are the SSL_CONF "Options" settings crypto/tls can carry out.
type options struct {
	noTickets bool
}

// parseOptions reads the conf commands crypto/tls can honour. MinProtocol
// and MaxProtocol are applied with the versions; Ciphersuites can only
// name the TLSv1.3 suites Go always offers; Options values either change
// a setting crypto/tls has or match what it does anyway. Any other
// command is an error.
func parseOptions(directive string, cmds [][2]string) (options, error) {
	var o options
	for _, c := range cmds {
		switch strings.ToLower(c[0]) {
		case "minprotocol", "maxprotocol":
			if _, ok := directives.TLSVersion(c[1]); !ok && c[1] != "None" {
				return o, fmt.Errorf(`invalid value "%s" of %s "%s"`, c[1], directive, c[0])
			}
		case "ciphersuites":
			for _, s := range strings.Split(c[1], ":") {
				if !tls13Suites[s] {
					return o, fmt.Errorf(`invalid value "%s" of %s "%s"`, c[1], directive, c[0])
				}
			}
		case "options":
			for _, w := range strings.Split(c[1], ",") {
				w = strings.TrimSpace(w)
				switch {
				case w == "-SessionTicket":
					o.noTickets = true
				case w == "SessionTicket":
					o.noTickets = false
				case harmlessOptions[w]:
				default:
					return o, fmt.Errorf(`option "%s" of %s "%s" is not supported by zonesync`, w, directive, c[0])
				}
			}
		default:
			return o, fmt.Errorf(`%s "%s" is not supported by zonesync, only "MinProtocol", "MaxProtocol", "Ciphersuites" and "Options" are`, directive, c[0])
		}
	}
	return o, nil
}

func (o options) apply(cfg *tls.Config) {
	if o.noTickets {
		cfg.SessionTicketsDisabled = true
	}
}

// tls13Suites are the TLSv1.3 suites crypto/tls implements (and always
// offers).
var tls13Suites = map[string]bool{
	"TLS_AES_128_GCM_SHA256":       true,
	"TLS_AES_256_GCM_SHA384":       true,
	"TLS_CHACHA20_POLY1305_SHA256": true,
}

// harmlessOptions are Options values that crypto/tls already follows or
// that do not change what it does.
var harmlessOptions = map[string]bool{
	"NoRenegotiation": true, "-NoRenegotiation": true,
	"-Compression":     true,
	"ServerPreference": true, "-ServerPreference": true,
	"PrioritizeChaCha": true, "-PrioritizeChaCha": true,
	"MiddleboxCompat": true, "-MiddleboxCompat": true,
}
