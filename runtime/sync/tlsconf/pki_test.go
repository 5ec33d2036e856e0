package tlsconf

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The test PKI: two unrelated CAs, an intermediate CA under the first,
// node certificates, one revoked certificate and the first CA's CRL, all
// written as PEM files into a temporary folder.

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

type pki struct {
	dir    string
	now    time.Time
	serial int64
	ca     testCert // "Test CA": signs the nodes
	other  testCert // "Other CA": unrelated
	inter  testCert // intermediate under ca
}

// certSpec says what a certificate is made for.
type certSpec struct {
	cn        string
	dns       []string
	ips       []net.IP
	isCA      bool
	notBefore time.Time
	notAfter  time.Time
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), now: time.Now()}
	// The CAs are valid from a week back, so that tests can move the
	// verifying clock into the past.
	week := p.now.Add(-7 * 24 * time.Hour)
	p.ca = p.issue(t, certSpec{cn: "Test CA", isCA: true, notBefore: week}, nil)
	p.other = p.issue(t, certSpec{cn: "Other CA", isCA: true, notBefore: week}, nil)
	p.inter = p.issue(t, certSpec{cn: "Test Intermediate CA", isCA: true, notBefore: week}, &p.ca)
	p.writeCerts(t, "ca.pem", p.ca.cert)
	p.writeCerts(t, "other-ca.pem", p.other.cert)
	return p
}

// issue makes a certificate signed by parent (self-signed when nil).
func (p *pki) issue(t *testing.T, s certSpec, parent *testCert) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: s.cn},
		DNSNames:     s.dns,
		IPAddresses:  s.ips,
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = p.now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = p.now.Add(24 * time.Hour)
	}
	if s.isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: c, key: key}
}

// node issues a node certificate and writes NAME.crt (with the chain) and
// NAME.key; it returns the certificate.
func (p *pki) node(t *testing.T, name string, s certSpec, parent *testCert) testCert {
	t.Helper()
	c := p.issue(t, s, parent)
	chain := []*x509.Certificate{c.cert}
	if parent != nil && parent.cert != p.ca.cert && parent.cert != p.other.cert {
		chain = append(chain, parent.cert) // an intermediate is sent along
	}
	p.writeCerts(t, name+".crt", chain...)
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return c
}

// encryptedKey writes NAME.key again, as a PKCS#8 key encrypted with
// password (PBES2, PBKDF2-SHA256, AES-256-CBC, as openssl writes it).
func (p *pki) encryptedKey(t *testing.T, name string, c testCert, password string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, name+".key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: encryptPKCS8(t, der, password)}))
}

// crl writes FILE with a CRL of issuer listing the revoked certificates.
func (p *pki) crl(t *testing.T, file string, issuer testCert, revoked ...testCert) {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.cert.SerialNumber, RevocationTime: p.now.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                p.now.Add(-time.Hour),
		NextUpdate:                p.now.Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, issuer.cert, issuer.key)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, file, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

func (p *pki) writeCerts(t *testing.T, file string, certs ...*x509.Certificate) {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	p.write(t, file, b)
}

func (p *pki) write(t *testing.T, file string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, file), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (p *pki) path(file string) string { return filepath.Join(p.dir, file) }

// encryptPKCS8 wraps a PKCS#8 key in an EncryptedPrivateKeyInfo.
func encryptPKCS8(t *testing.T, der []byte, password string) []byte {
	t.Helper()
	salt, iv := make([]byte, 8), make([]byte, aes.BlockSize)
	rand.Read(salt)
	rand.Read(iv)
	const iter = 2048
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		t.Fatal(err)
	}
	pad := aes.BlockSize - len(der)%aes.BlockSize
	plain := append(append([]byte{}, der...), make([]byte, pad)...)
	for i := len(der); i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)

	null := asn1.RawValue{Tag: asn1.TagNull}
	kdfParams := mustMarshal(t, struct {
		Salt []byte
		Iter int
		PRF  pkix.AlgorithmIdentifier
	}{salt, iter, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, Parameters: null}})
	pbes2 := mustMarshal(t, struct {
		KDF    pkix.AlgorithmIdentifier
		Scheme pkix.AlgorithmIdentifier
	}{
		pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, Parameters: asn1.RawValue{FullBytes: mustMarshal(t, iv)}},
	})
	return mustMarshal(t, struct {
		Algorithm pkix.AlgorithmIdentifier
		Data      []byte
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, Parameters: asn1.RawValue{FullBytes: pbes2}}, ct})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
