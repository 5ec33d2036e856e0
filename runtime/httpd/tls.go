package httpd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/zonesync/zonesync/directives"
)

// TLS for "listen ... ssl": each server with ssl_certificate gets its
// crypto/tls setup (certificates, protocols, TLSv1.2 ciphers, session
// tickets, client verification); a connection starts with the default
// server's and switches to the server its SNI name selects, as
// ngx_http_ssl_servername does. Only HTTP/1.1 is offered by ALPN.

// tlsVersions maps nginx's protocol names to crypto/tls versions.
var tlsVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// buildTLS prepares the TLS of every address with ssl.
func (s *Server) buildTLS(cfg *directives.Config) error {
	perServer := map[*vserver]*tls.Config{}
	get := func(v *vserver) (*tls.Config, error) {
		if c, ok := perServer[v]; ok {
			return c, nil
		}
		c, err := serverTLS(cfg, v)
		if err != nil {
			return nil, err
		}
		perServer[v] = c
		return c, nil
	}
	for _, a := range s.addrs {
		if !a.ssl {
			continue
		}
		def, err := get(a.defaultSrv)
		if err != nil {
			return err
		}
		if def == nil {
			return fmt.Errorf(`no "ssl_certificate" is defined for the "listen ... ssl" directive of %s`, a.text)
		}
		byName := map[*vserver]*tls.Config{}
		for _, v := range a.servers {
			c, err := get(v)
			if err != nil {
				return err
			}
			if c != nil {
				byName[v] = c
			}
		}
		a := a
		base := def.Clone()
		base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
			if v := a.findServer(name, nil); v != nil {
				if c := byName[v]; c != nil {
					return c, nil
				}
			}
			return def, nil
		}
		a.tls = base
	}
	return nil
}

// serverTLS builds the TLS setup of one server, or nil when it has no
// certificate.
func serverTLS(cfg *directives.Config, v *vserver) (*tls.Config, error) {
	ss := directives.ServerSSLOf(cfg.Loader, v.conf.Level)
	if len(ss.Certificates) == 0 {
		return nil, nil
	}
	c := &tls.Config{NextProtos: []string{"http/1.1"}, SessionTicketsDisabled: !ss.SessionTickets}
	for i, cf := range ss.Certificates {
		if i >= len(ss.CertificateKeys) {
			return nil, fmt.Errorf(`no "ssl_certificate_key" is defined for certificate "%s"`, cf.Name)
		}
		kf := ss.CertificateKeys[i]
		if strings.Contains(cf.Name, "$") || strings.Contains(kf.Name, "$") {
			return nil, fmt.Errorf(`certificates with variables are not supported: "%s"`, cf.Name)
		}
		certPEM, err := readSSLFile(cf)
		if err != nil {
			return nil, fmt.Errorf(`cannot load certificate "%s": %v`, cf.Path, err)
		}
		keyPEM, err := readSSLFile(kf)
		if err != nil {
			return nil, fmt.Errorf(`cannot load certificate key "%s": %v`, kf.Path, err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf(`cannot load certificate "%s": %v`, cf.Path, err)
		}
		c.Certificates = append(c.Certificates, pair)
	}
	for _, p := range ss.Protocols {
		ver, ok := tlsVersions[p]
		if !ok {
			continue
		}
		if c.MinVersion == 0 || ver < c.MinVersion {
			c.MinVersion = ver
		}
		c.MaxVersion = max(c.MaxVersion, ver)
	}
	c.CipherSuites = ss.CipherSuites
	if err := clientVerification(c, ss); err != nil {
		return nil, err
	}
	return c, nil
}

// clientVerification applies ssl_verify_client: a failed verification
// fails the handshake (nginx answers with its 400 pages instead).
func clientVerification(c *tls.Config, ss *directives.ServerSSL) error {
	switch ss.VerifyClient {
	case "on":
		c.ClientAuth = tls.RequireAndVerifyClientCert
	case "optional":
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case "optional_no_ca":
		c.ClientAuth = tls.RequestClientCert
	default:
		return nil
	}
	pool := x509.NewCertPool()
	for _, f := range []directives.SSLFile{ss.ClientCertificate, ss.TrustedCertificate} {
		if f.Name == "" {
			continue
		}
		b, err := readSSLFile(f)
		if err != nil {
			return fmt.Errorf(`cannot load CA file "%s": %v`, f.Path, err)
		}
		pool.AppendCertsFromPEM(b)
	}
	c.ClientCAs = pool
	return nil
}

// readSSLFile reads a TLS file; "data:" names hold the PEM text.
func readSSLFile(f directives.SSLFile) ([]byte, error) {
	if rest, ok := strings.CutPrefix(f.Name, "data:"); ok {
		return []byte(rest), nil
	}
	return os.ReadFile(f.Path)
}
