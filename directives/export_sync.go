package directives

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// Exported doors onto the TLS file readers of ssl.go for the zone_sync
// runtime (runtime/sync/tlsconf), which builds crypto/tls settings from the
// typed configuration. Each takes a file as ZoneSyncSSL and ServerSSL give
// it and fails with the message nginx gives for that file.

// SSLFileAt is the SSLFile of a full path as ZoneSyncSSL holds it ("data:"
// text stays inline).
func SSLFileAt(path string) SSLFile { return SSLFile{Name: path, Path: path} }

// LoadCertKey loads a certificate chain and its secret key, trying each
// passphrase in turn for an encrypted key, and checks that they belong
// together. A name with variables, which nginx loads per connection, is
// refused.
func LoadCertKey(cert, key SSLFile, passwords []string) (*tls.Certificate, error) {
	c, err := loadCertKey(cert, key, passwords)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, sslError(`certificate "%s" with variables is not supported by zonesync`, cert.Name)
	}
	return c, nil
}

// LoadCAFile reads a CA file (ssl_trusted_certificate,
// ssl_client_certificate, zone_sync_ssl_trusted_certificate) as
// SSL_CTX_load_verify_locations does; an empty name gives none.
func LoadCAFile(f SSLFile) ([]*x509.Certificate, error) {
	return loadCertsAndCRLs(f, "SSL_CTX_load_verify_locations")
}

// LoadCRLFile reads a CRL file (ssl_crl, zone_sync_ssl_crl) as
// X509_LOOKUP_load_file does: its revocation lists, and the certificates it
// may also hold (OpenSSL adds those to the trusted store). An empty name
// gives none.
func LoadCRLFile(f SSLFile) ([]*x509.RevocationList, []*x509.Certificate, error) {
	certs, err := loadCertsAndCRLs(f, "X509_LOOKUP_load_file")
	if err != nil || f.Name == "" {
		return nil, certs, err
	}
	b, err := sslReadFile(f)
	if err != nil {
		return nil, nil, err
	}
	var crls []*x509.RevocationList
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "X509 CRL" {
			continue
		}
		crl, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf(`X509_LOOKUP_load_file("%s") failed (SSL: %s)`, f.Path, sslBadASN1)
		}
		crls = append(crls, crl)
	}
	return crls, certs, nil
}

// TLSVersion returns the crypto/tls version of an OpenSSL protocol name
// ("TLSv1" ... "TLSv1.3"); SSLv2, SSLv3 and unknown names have none.
func TLSVersion(name string) (uint16, bool) {
	v, ok := tlsVersions[name]
	return v, ok
}
