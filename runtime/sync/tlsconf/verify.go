package tlsconf

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// OpenSSL's verify result codes (X509_V_ERR_*) for the failures zonesync
// tells apart, with OpenSSL 3.0's texts: nginx logs a failed check as
// "(code:text)".
const (
	errUnspecified         = 1
	errNoCRL               = 3
	errCRLSignature        = 8
	errCertNotYetValid     = 9
	errCertExpired         = 10
	errCRLNotYetValid      = 11
	errCRLExpired          = 12
	errSelfSigned          = 18
	errSelfSignedInChain   = 19
	errNoLocalIssuer       = 20
	errChainTooLong        = 22
	errRevoked             = 23
	errInvalidCA           = 24
	errPathLengthExceeded  = 25
	errInvalidPurpose      = 26
	errPermittedViolation  = 47
	errUnableToGetIssuer   = 2
	errUnableToVerifyFirst = 21
)

var verifyTexts = map[int]string{
	errUnspecified:         "unspecified certificate verification error",
	errUnableToGetIssuer:   "unable to get issuer certificate",
	errNoCRL:               "unable to get certificate CRL",
	errCRLSignature:        "CRL signature failure",
	errCertNotYetValid:     "certificate is not yet valid",
	errCertExpired:         "certificate has expired",
	errCRLNotYetValid:      "CRL is not yet valid",
	errCRLExpired:          "CRL has expired",
	errSelfSigned:          "self-signed certificate",
	errSelfSignedInChain:   "self-signed certificate in certificate chain",
	errNoLocalIssuer:       "unable to get local issuer certificate",
	errUnableToVerifyFirst: "unable to verify the first certificate",
	errChainTooLong:        "certificate chain too long",
	errRevoked:             "certificate revoked",
	errInvalidCA:           "invalid CA certificate",
	errPathLengthExceeded:  "path length constraint exceeded",
	errInvalidPurpose:      "unsupported certificate purpose",
	errPermittedViolation:  "permitted subtree violation",
}

// optionalErrors are the failures "ssl_verify_client optional_no_ca"
// lets through: the ones that only say the issuer is not trusted.
var optionalErrors = map[int]bool{
	errSelfSigned:          true,
	errSelfSignedInChain:   true,
	errUnableToGetIssuer:   true,
	errNoLocalIssuer:       true,
	errUnableToVerifyFirst: true,
}

// VerifyError is a peer certificate that failed verification. Its text is
// nginx's: "upstream SSL certificate verify error: (23:certificate
// revoked)" for the node zonesync connects to, "client SSL certificate
// verify error: (...)" for a node that connects to this one.
type VerifyError struct {
	// Side is "upstream" (the certificate of a node this one connects to)
	// or "client" (of a node that connected).
	Side string
	// Code is OpenSSL's X509_V_ERR_* number, Text its description.
	Code int
	Text string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s SSL certificate verify error: (%d:%s)", e.Side, e.Code, e.Text)
}

// NameError is a certificate of a node this one connects to that does not
// match the expected name.
type NameError struct{ Name string }

func (e *NameError) Error() string {
	return fmt.Sprintf(`upstream SSL certificate does not match "%s"`, e.Name)
}

// ErrNoClientCertificate is a node that connected without the certificate
// "ssl_verify_client on" requires.
var ErrNoClientCertificate = errors.New("client sent no required SSL certificate")

// verifier checks a peer's certificate chain as OpenSSL does with the
// settings nginx gives it: trusted CAs, depth, CRLs.
type verifier struct {
	side  string
	roots *x509.CertPool // never nil: a nil pool would mean the system's
	// crls are the revocation lists; checkCRL is set when a CRL file is
	// configured, and then every certificate of the chain needs one
	// (nginx sets X509_V_FLAG_CRL_CHECK_ALL).
	crls     []*x509.RevocationList
	checkCRL bool
	// depth is the verify depth: the chain, trust anchor included, may
	// hold depth+1 certificates.
	depth int
	usage x509.ExtKeyUsage
	now   func() time.Time
}

func (v *verifier) fail(code int) *VerifyError {
	return &VerifyError{Side: v.side, Code: code, Text: verifyTexts[code]}
}

// verify checks the certificates a peer sent (leaf first).
func (v *verifier) verify(certs []*x509.Certificate) *VerifyError {
	now := v.now()
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{v.usage},
	})
	if err != nil {
		return v.fail(chainErrorCode(err, certs, now))
	}
	chain := chains[0]
	for _, c := range chains[1:] {
		if len(c) < len(chain) {
			chain = c
		}
	}
	if len(chain) > v.depth+1 {
		return v.fail(errChainTooLong)
	}
	if v.checkCRL {
		if code := v.revocation(chain, now); code != 0 {
			return v.fail(code)
		}
	}
	return nil
}

// chainErrorCode maps a crypto/x509 failure to OpenSSL's code.
func chainErrorCode(err error, certs []*x509.Certificate, now time.Time) int {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			if invalid.Cert != nil && now.Before(invalid.Cert.NotBefore) {
				return errCertNotYetValid
			}
			return errCertExpired
		case x509.NotAuthorizedToSign:
			return errInvalidCA
		case x509.TooManyIntermediates:
			return errPathLengthExceeded
		case x509.IncompatibleUsage:
			return errInvalidPurpose
		case x509.CANotAuthorizedForThisName, x509.NameConstraintsWithoutSANs:
			return errPermittedViolation
		}
		return errUnspecified
	case errors.As(err, &unknown):
		if len(certs) == 1 && selfSigned(certs[0]) {
			return errSelfSigned
		}
		for _, c := range certs[1:] {
			if selfSigned(c) {
				return errSelfSignedInChain
			}
		}
		return errNoLocalIssuer
	}
	return errUnspecified
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// revocation checks every certificate of a verified chain against the
// CRLs, as OpenSSL with X509_V_FLAG_CRL_CHECK_ALL: each needs a current
// CRL signed by its issuer (the trust anchor's is its own), and must not
// be listed in it. It returns 0 or the code of the first failure.
func (v *verifier) revocation(chain []*x509.Certificate, now time.Time) int {
	for i, c := range chain {
		issuer := c
		if i+1 < len(chain) {
			issuer = chain[i+1]
		}
		code := errNoCRL
		var crl *x509.RevocationList
		for _, l := range v.crls {
			if !bytes.Equal(l.RawIssuer, c.RawIssuer) {
				continue
			}
			if l.CheckSignatureFrom(issuer) != nil {
				code = errCRLSignature
				continue
			}
			crl = l
			break
		}
		if crl == nil {
			return code
		}
		switch {
		case now.Before(crl.ThisUpdate):
			return errCRLNotYetValid
		case !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate):
			return errCRLExpired
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return errRevoked
			}
		}
	}
	return 0
}

// matchName is ngx_ssl_check_host (X509_check_host): the name matches a
// DNS subjectAltName (with a leading "*." wildcard), an IP address
// subjectAltName, or, in a certificate without DNS names, the subject's
// common name.
func matchName(c *x509.Certificate, name string) bool {
	if name == "" {
		return false
	}
	if c.VerifyHostname(name) == nil {
		return true
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		for _, d := range c.DNSNames {
			if strings.EqualFold(d, ip.String()) || strings.EqualFold(d, name) {
				return true
			}
		}
		return false
	}
	if len(c.DNSNames) == 0 && c.Subject.CommonName != "" {
		return hostMatches(c.Subject.CommonName, name)
	}
	return false
}

// hostMatches compares a certificate name with a host name, case
// insensitively, with a "*." wildcard standing for one leftmost label.
func hostMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(strings.TrimSuffix(pattern, ".")), strings.ToLower(strings.TrimSuffix(host, "."))
	if pattern == host {
		return true
	}
	rest, ok := strings.CutPrefix(pattern, "*.")
	if !ok {
		return false
	}
	_, hostRest, ok := strings.Cut(host, ".")
	return ok && hostRest == rest && strings.Contains(rest, ".")
}
