package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI writes a CA, certificates it signs, one it revokes (with the
// CRL) and one signed by another CA, as PEM files in dir.
type testPKI struct {
	t      *testing.T
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newPKI(t *testing.T, dir, name string) *testPKI {
	t.Helper()
	p := &testPKI{t: t, dir: dir}
	p.caKey = mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.write(name+".crt", "CERTIFICATE", der)
	p.serial = 1
	return p
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *testPKI) write(name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// node issues a certificate for the loopback addresses, valid as a TLS
// server and client, and returns its serial.
func (p *testPKI) node(name string) *big.Int {
	p.serial++
	key := mustKey(p.t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.3"), net.ParseIP("127.0.0.4")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(name+".crt", "CERTIFICATE", der)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	p.write(name+".key", "PRIVATE KEY", kder)
	return tmpl.SerialNumber
}

func (p *testPKI) crl(name string, revoked ...*big.Int) {
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, p.ca, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(name, "X509 CRL", der)
}

// seed: "zone_sync_ssl_verify: Enables or disables verification of another
// cluster server certificate." and "zone_sync_ssl_crl: Specifies a file with
// revoked certificates (CRL) in the PEM format used to verify the
// certificate of another cluster server." A mutual-TLS cluster syncs; a
// node with a certificate from another CA, or a revoked one, is refused.
func TestClusterMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t, dir, "ca")
	pki.node("good1")
	pki.node("good2")
	revoked := pki.node("revoked")
	pki.crl("ca.crl", revoked)
	other := newPKI(t, dir, "other-ca")
	other.node("stranger")

	certs := []string{"good1", "good2", "stranger", "revoked"}
	tls := func(i int) (string, string, string) {
		name := filepath.Join(dir, certs[i])
		stream := fmt.Sprintf(`zone_sync_ssl on;
    zone_sync_ssl_certificate %[1]s.crt;
    zone_sync_ssl_certificate_key %[1]s.key;
    zone_sync_ssl_verify on;
    zone_sync_ssl_trusted_certificate %[2]s/ca.crt;
    zone_sync_ssl_crl %[2]s/ca.crl;`, name, dir)
		server := fmt.Sprintf(`ssl_certificate %[1]s.crt;
        ssl_certificate_key %[1]s.key;
        ssl_verify_client on;
        ssl_client_certificate %[2]s/ca.crt;
        ssl_crl %[2]s/ca.crl;`, name, dir)
		return stream, " ssl", server
	}
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 4), node: tls})
	startAll(nodes)
	good1, good2, stranger, revokedNode := nodes[0], nodes[1], nodes[2], nodes[3]

	good1.put("secret", "1")
	waitFor(t, "good2 to hold the key over mutual TLS", func() bool { return good2.get("secret") == "1" })
	stranger.put("from-stranger", "x")
	revokedNode.put("from-revoked", "x")
	waitFor(t, "good1 to refuse both certificates", func() bool {
		log := good1.log.String()
		return strings.Contains(log, "certificate revoked") && strings.Contains(log, "certificate verify")
	})
	good2.put("later", "2")
	waitFor(t, "good1 to hold good2's later write", func() bool { return good1.get("later") == "2" })
	for _, n := range []*clusterNode{good1, good2} {
		if n.get("from-stranger") != "" || n.get("from-revoked") != "" {
			t.Errorf("%s holds a write of a refused node", n.name)
		}
		if online(n) != 1 {
			t.Errorf("%s has %d nodes online, want 1", n.name, online(n))
		}
	}
	if stranger.get("secret") != "" || revokedNode.get("secret") != "" {
		t.Error("a refused node received the cluster's records")
	}
}
