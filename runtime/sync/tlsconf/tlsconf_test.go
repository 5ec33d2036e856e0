package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// loadZoneSync loads a configuration whose zone_sync server has the given
// directives (file names relative to the PKI folder) and returns its
// zone_sync setup. The server listens with ssl only when the lines set
// ssl_certificate.
func loadZoneSync(t *testing.T, p *pki, lines ...string) *directives.ZoneSync {
	t.Helper()
	listen := "listen 127.0.0.1:12345;"
	for _, l := range lines {
		if strings.HasPrefix(l, "ssl_certificate ") {
			listen = "listen 127.0.0.1:12345 ssl;"
		}
	}
	body := strings.Join(lines, "\n")
	conf := "events {}\nstream {\nserver {\n" + listen + "\nzone_sync;\nzone_sync_server 127.0.0.1:12346;\n" + body + "\n}\n}\n"
	file := filepath.Join(p.dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := directives.Load(directives.Options{Prefix: p.dir + "/", ConfFile: file, Test: true})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, conf)
	}
	z := directives.ZoneSyncOf(cfg.Main)
	if z == nil {
		t.Fatal("no zone_sync server")
	}
	return z
}

// client and server build the two sides from configuration lines.
func client(t *testing.T, p *pki, lines ...string) *Client {
	t.Helper()
	c, err := NewClient(loadZoneSync(t, p, append([]string{"zone_sync_ssl on;"}, lines...)...).SSL)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func server(t *testing.T, p *pki, lines ...string) *Server {
	t.Helper()
	z := loadZoneSync(t, p, lines...)
	if z.InboundSSL == nil {
		t.Fatal("no listen ... ssl")
	}
	s, err := NewServer(z.InboundSSL)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	return s
}

// outcome is what both ends of one connection saw.
type outcome struct {
	serverErr, clientErr error
	server, client       tls.ConnectionState
}

// ok reports a connection both sides accepted.
func (o outcome) ok() bool { return o.serverErr == nil && o.clientErr == nil }

// connect makes one TLS connection over 127.0.0.1: the server completes
// the handshake and writes "ok", the client completes its handshake and
// reads it (with TLSv1.3 a refused client certificate shows on this read).
func connect(t *testing.T, srv, cli *tls.Config) outcome {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var o outcome
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			o.serverErr = err
			return
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, srv)
		defer tc.Close()
		if o.serverErr = tc.Handshake(); o.serverErr != nil {
			return
		}
		o.server = tc.ConnectionState()
		_, o.serverErr = tc.Write([]byte("ok"))
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, cli)
	if o.clientErr = tc.Handshake(); o.clientErr == nil {
		o.client = tc.ConnectionState()
		buf := make([]byte, 2)
		if _, o.clientErr = io.ReadFull(tc, buf); o.clientErr == nil && string(buf) != "ok" {
			o.clientErr = errors.New("read " + string(buf))
		}
	}
	tc.Close()
	<-done
	return o
}

// verifyCode returns the OpenSSL code of a VerifyError, or -1.
func verifyCode(err error, side string) int {
	var ve *VerifyError
	if errors.As(err, &ve) && ve.Side == side {
		return ve.Code
	}
	return -1
}

// nodePKI is the usual cluster: nodes a and b from the Test CA, a node
// from the Other CA, a revoked node, and the Test CA's CRL.
func nodePKI(t *testing.T) (*pki, map[string]testCert) {
	t.Helper()
	p := newPKI(t)
	n := map[string]testCert{
		"a":       p.node(t, "a", certSpec{cn: "node-a", dns: []string{"node-a.example"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}}, &p.ca),
		"b":       p.node(t, "b", certSpec{cn: "node-b", dns: []string{"node-b.example"}}, &p.ca),
		"foreign": p.node(t, "foreign", certSpec{cn: "node-x", dns: []string{"node-a.example"}}, &p.other),
		"revoked": p.node(t, "revoked", certSpec{cn: "node-r", dns: []string{"node-a.example"}}, &p.ca),
	}
	p.crl(t, "crl.pem", p.ca, n["revoked"])
	p.crl(t, "other-crl.pem", p.other)
	return p, n
}

// mtlsServer is node a's zone_sync server requiring client certificates.
func mtlsServer(t *testing.T, p *pki, cert string, extra ...string) *Server {
	return server(t, p, append([]string{
		"ssl_certificate " + cert + ".crt;", "ssl_certificate_key " + cert + ".key;",
		"ssl_verify_client on;", "ssl_client_certificate ca.pem;", "ssl_crl crl.pem;",
	}, extra...)...)
}

// mtlsClient is node b connecting with its certificate, verifying the
// server against the Test CA and its CRL.
func mtlsClient(t *testing.T, p *pki, cert string, extra ...string) *Client {
	return client(t, p, append([]string{
		"zone_sync_ssl_certificate " + cert + ".crt;", "zone_sync_ssl_certificate_key " + cert + ".key;",
		"zone_sync_ssl_verify on;", "zone_sync_ssl_trusted_certificate ca.pem;", "zone_sync_ssl_crl crl.pem;",
	}, extra...)...)
}

func TestMutualTLS(t *testing.T) {
	p, _ := nodePKI(t)
	o := connect(t, mtlsServer(t, p, "a").Config(), mtlsClient(t, p, "b").Config("node-a.example"))
	if !o.ok() {
		t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
	}
	if got := o.server.PeerCertificates[0].Subject.CommonName; got != "node-b" {
		t.Errorf("server saw client %q, want node-b", got)
	}
	if got := o.client.PeerCertificates[0].Subject.CommonName; got != "node-a" {
		t.Errorf("client saw server %q, want node-a", got)
	}
	if o.client.Version != tls.VersionTLS13 {
		t.Errorf("version %x, want TLSv1.3 (the default TLSv1.2 TLSv1.3)", o.client.Version)
	}
}

// The default name is the host of zone_sync_server; an address is checked
// against the certificate's IP addresses.
func TestVerifyAddressName(t *testing.T) {
	p, _ := nodePKI(t)
	o := connect(t, mtlsServer(t, p, "a").Config(), mtlsClient(t, p, "b").Config("127.0.0.1"))
	if !o.ok() {
		t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
	}
	o = connect(t, mtlsServer(t, p, "a").Config(), mtlsClient(t, p, "b").Config("127.0.0.2"))
	var ne *NameError
	if !errors.As(o.clientErr, &ne) || ne.Name != "127.0.0.2" {
		t.Fatalf("client error %v, want a name mismatch", o.clientErr)
	}
}

func TestClientFromOtherCARefused(t *testing.T) {
	p, _ := nodePKI(t)
	o := connect(t, mtlsServer(t, p, "a").Config(), mtlsClient(t, p, "foreign").Config("node-a.example"))
	if got := verifyCode(o.serverErr, "client"); got != errNoLocalIssuer {
		t.Fatalf("server error %v, want (20:unable to get local issuer certificate)", o.serverErr)
	}
	if o.clientErr == nil {
		t.Fatal("client was not refused")
	}
	if want := "client SSL certificate verify error: (20:unable to get local issuer certificate)"; o.serverErr.Error() != want {
		t.Errorf("message %q, want %q", o.serverErr, want)
	}
}

func TestServerFromOtherCARefused(t *testing.T) {
	p, _ := nodePKI(t)
	o := connect(t, mtlsServer(t, p, "foreign").Config(), mtlsClient(t, p, "b").Config("node-a.example"))
	if got := verifyCode(o.clientErr, "upstream"); got != errNoLocalIssuer {
		t.Fatalf("client error %v, want (20:unable to get local issuer certificate)", o.clientErr)
	}
	if o.serverErr == nil {
		t.Fatal("server completed the connection")
	}
}

func TestRevokedRefused(t *testing.T) {
	p, _ := nodePKI(t)
	t.Run("revoked client", func(t *testing.T) {
		o := connect(t, mtlsServer(t, p, "a").Config(), mtlsClient(t, p, "revoked").Config("node-a.example"))
		if got := verifyCode(o.serverErr, "client"); got != errRevoked {
			t.Fatalf("server error %v, want (23:certificate revoked)", o.serverErr)
		}
		if o.clientErr == nil {
			t.Fatal("client was not refused")
		}
	})
	t.Run("revoked server", func(t *testing.T) {
		o := connect(t, mtlsServer(t, p, "revoked").Config(), mtlsClient(t, p, "b").Config("node-a.example"))
		if want := "upstream SSL certificate verify error: (23:certificate revoked)"; o.clientErr == nil || o.clientErr.Error() != want {
			t.Fatalf("client error %v, want %q", o.clientErr, want)
		}
	})
	t.Run("no CRL for the issuer", func(t *testing.T) {
		// With a CRL file, every certificate of the chain needs a CRL
		// of its issuer (nginx sets X509_V_FLAG_CRL_CHECK_ALL).
		cli := client(t, p, "zone_sync_ssl_certificate b.crt;", "zone_sync_ssl_certificate_key b.key;",
			"zone_sync_ssl_verify on;", "zone_sync_ssl_trusted_certificate ca.pem;", "zone_sync_ssl_crl other-crl.pem;")
		o := connect(t, mtlsServer(t, p, "a").Config(), cli.Config("node-a.example"))
		if got := verifyCode(o.clientErr, "upstream"); got != errNoCRL {
			t.Fatalf("client error %v, want (3:unable to get certificate CRL)", o.clientErr)
		}
	})
}

func TestNameAndSNI(t *testing.T) {
	p, _ := nodePKI(t)
	srv := server(t, p, "ssl_certificate a.crt;", "ssl_certificate_key a.key;")
	t.Run("wrong name refused", func(t *testing.T) {
		cli := client(t, p, "zone_sync_ssl_verify on;", "zone_sync_ssl_trusted_certificate ca.pem;",
			"zone_sync_ssl_name wrong.example;", "zone_sync_ssl_server_name on;")
		o := connect(t, srv.Config(), cli.Config("node-a.example"))
		if want := `upstream SSL certificate does not match "wrong.example"`; o.clientErr == nil || o.clientErr.Error() != want {
			t.Fatalf("client error %v, want %q", o.clientErr, want)
		}
		if o.serverErr == nil {
			t.Fatal("server completed the connection")
		}
	})
	t.Run("zone_sync_ssl_name overrides the host", func(t *testing.T) {
		cli := client(t, p, "zone_sync_ssl_verify on;", "zone_sync_ssl_trusted_certificate ca.pem;",
			"zone_sync_ssl_name node-a.example;", "zone_sync_ssl_server_name on;")
		o := connect(t, srv.Config(), cli.Config("10.1.2.3"))
		if !o.ok() {
			t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
		}
		if o.server.ServerName != "node-a.example" {
			t.Errorf("SNI %q, want node-a.example", o.server.ServerName)
		}
	})
	t.Run("no SNI with server_name off", func(t *testing.T) {
		cli := client(t, p, "zone_sync_ssl_verify on;", "zone_sync_ssl_trusted_certificate ca.pem;")
		o := connect(t, srv.Config(), cli.Config("node-a.example"))
		if !o.ok() {
			t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
		}
		if o.server.ServerName != "" {
			t.Errorf("SNI %q sent with zone_sync_ssl_server_name off", o.server.ServerName)
		}
	})
	t.Run("no SNI for an address", func(t *testing.T) {
		cli := client(t, p, "zone_sync_ssl_server_name on;")
		if cfg := cli.Config("127.0.0.1"); cfg.ServerName != "" {
			t.Errorf("SNI %q for an address", cfg.ServerName)
		}
	})
	t.Run("verify off accepts any certificate", func(t *testing.T) {
		foreign := server(t, p, "ssl_certificate foreign.crt;", "ssl_certificate_key foreign.key;")
		o := connect(t, foreign.Config(), client(t, p, "zone_sync_ssl_name nobody.example;").Config("x"))
		if !o.ok() {
			t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
		}
	})
}

func TestVerifyDepth(t *testing.T) {
	p, _ := nodePKI(t)
	// deep.crt holds the leaf and the intermediate; the root alone is
	// trusted, so the chain has three certificates.
	p.node(t, "deep", certSpec{cn: "node-d", dns: []string{"node-a.example"}}, &p.inter)
	for _, tc := range []struct {
		depth string
		want  int // OpenSSL code, 0 for success
	}{
		{"", errChainTooLong}, // the default is 1: leaf and trust anchor only
		{"1", errChainTooLong},
		{"2", 0},
	} {
		t.Run("upstream depth "+tc.depth, func(t *testing.T) {
			lines := []string{"zone_sync_ssl_verify on;", "zone_sync_ssl_trusted_certificate ca.pem;"}
			if tc.depth != "" {
				lines = append(lines, "zone_sync_ssl_verify_depth "+tc.depth+";")
			}
			srv := server(t, p, "ssl_certificate deep.crt;", "ssl_certificate_key deep.key;")
			o := connect(t, srv.Config(), client(t, p, lines...).Config("node-a.example"))
			if got := verifyCode(o.clientErr, "upstream"); tc.want == 0 && !o.ok() || tc.want != 0 && got != tc.want {
				t.Fatalf("client error %v, want code %d", o.clientErr, tc.want)
			}
		})
		t.Run("client depth "+tc.depth, func(t *testing.T) {
			lines := []string{"ssl_certificate a.crt;", "ssl_certificate_key a.key;", "ssl_verify_client on;", "ssl_trusted_certificate ca.pem;", "ssl_client_certificate ca.pem;"}
			if tc.depth != "" {
				lines = append(lines, "ssl_verify_depth "+tc.depth+";")
			}
			cli := client(t, p, "zone_sync_ssl_certificate deep.crt;", "zone_sync_ssl_certificate_key deep.key;")
			o := connect(t, server(t, p, lines...).Config(), cli.Config("node-a.example"))
			if got := verifyCode(o.serverErr, "client"); tc.want == 0 && !o.ok() || tc.want != 0 && got != tc.want {
				t.Fatalf("server error %v, want code %d", o.serverErr, tc.want)
			}
		})
	}
}

func TestEncryptedKeyWithPasswordFile(t *testing.T) {
	p, n := nodePKI(t)
	p.encryptedKey(t, "b", n["b"], "s3cret")
	p.encryptedKey(t, "a", n["a"], "s3cret")
	p.write(t, "passwords", []byte("wrong\ns3cret\n"))
	srv := mtlsServer(t, p, "a", "ssl_password_file passwords;")
	cli := mtlsClient(t, p, "b", "zone_sync_ssl_password_file passwords;")
	o := connect(t, srv.Config(), cli.Config("node-a.example"))
	if !o.ok() {
		t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
	}
	if got := o.server.PeerCertificates[0].Subject.CommonName; got != "node-b" {
		t.Errorf("server saw client %q", got)
	}

	// Without the right passphrase the key does not load, with
	// OpenSSL's message.
	s := loadZoneSync(t, p, "zone_sync_ssl on;", "zone_sync_ssl_certificate b.crt;", "zone_sync_ssl_certificate_key b.key;",
		"zone_sync_ssl_password_file passwords;").SSL
	s.Passwords = []string{"wrong"}
	_, err := NewClient(s)
	if err == nil || !strings.Contains(err.Error(), `cannot load certificate key "`+p.path("b.key")+`": PEM_read_bio_PrivateKey() failed`) ||
		!strings.HasSuffix(err.Error(), "maybe wrong password)") {
		t.Fatalf("error %v", err)
	}
}

func TestVerifyClientModes(t *testing.T) {
	p, _ := nodePKI(t)
	base := []string{"ssl_certificate a.crt;", "ssl_certificate_key a.key;"}
	plain := client(t, p)
	foreign := client(t, p, "zone_sync_ssl_certificate foreign.crt;", "zone_sync_ssl_certificate_key foreign.key;")
	good := client(t, p, "zone_sync_ssl_certificate b.crt;", "zone_sync_ssl_certificate_key b.key;")
	for _, tc := range []struct {
		name  string
		lines []string
		cli   *Client
		want  error // nil, ErrNoClientCertificate, or a *VerifyError
	}{
		{"on without a certificate", []string{"ssl_verify_client on;", "ssl_client_certificate ca.pem;"}, plain, ErrNoClientCertificate},
		{"on with a good certificate", []string{"ssl_verify_client on;", "ssl_client_certificate ca.pem;"}, good, nil},
		{"on with trusted_certificate", []string{"ssl_verify_client on;", "ssl_client_certificate other-ca.pem;", "ssl_trusted_certificate ca.pem;"}, good, nil},
		{"optional without a certificate", []string{"ssl_verify_client optional;", "ssl_client_certificate ca.pem;"}, plain, nil},
		{"optional with an untrusted certificate", []string{"ssl_verify_client optional;", "ssl_client_certificate ca.pem;"}, foreign,
			&VerifyError{Side: "client", Code: errNoLocalIssuer, Text: "unable to get local issuer certificate"}},
		{"optional_no_ca with an untrusted certificate", []string{"ssl_verify_client optional_no_ca;"}, foreign, nil},
		{"optional_no_ca with a revoked certificate", []string{"ssl_verify_client optional_no_ca;", "ssl_trusted_certificate ca.pem;", "ssl_crl crl.pem;"},
			client(t, p, "zone_sync_ssl_certificate revoked.crt;", "zone_sync_ssl_certificate_key revoked.key;"),
			&VerifyError{Side: "client", Code: errRevoked, Text: "certificate revoked"}},
		{"off ignores the certificate", nil, foreign, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := connect(t, server(t, p, append(base, tc.lines...)...).Config(), tc.cli.Config("node-a.example"))
			switch want := tc.want.(type) {
			case nil:
				if !o.ok() {
					t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
				}
			case *VerifyError:
				var ve *VerifyError
				if !errors.As(o.serverErr, &ve) || *ve != *want {
					t.Fatalf("server error %v, want %v", o.serverErr, want)
				}
			default:
				if !errors.Is(o.serverErr, want) {
					t.Fatalf("server error %v, want %v", o.serverErr, want)
				}
			}
			if tc.want != nil && o.clientErr == nil {
				t.Fatal("client was not refused")
			}
		})
	}
}

func TestProtocolsAndCiphers(t *testing.T) {
	p, _ := nodePKI(t)
	srv := server(t, p, "ssl_certificate a.crt;", "ssl_certificate_key a.key;")
	for _, tc := range []struct {
		name        string
		lines       []string
		wantVersion uint16
		wantSuite   uint16
	}{
		{"TLSv1.2 only", []string{"zone_sync_ssl_protocols TLSv1.2;"}, tls.VersionTLS12, 0},
		{"MaxProtocol", []string{"zone_sync_ssl_conf_command MaxProtocol TLSv1.2;"}, tls.VersionTLS12, 0},
		{"cipher list", []string{"zone_sync_ssl_protocols TLSv1.2;", "zone_sync_ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384;"},
			tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"cipher keywords", []string{"zone_sync_ssl_protocols TLSv1.2;", "zone_sync_ssl_ciphers ECDHE+CHACHA20;"},
			tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := connect(t, srv.Config(), client(t, p, tc.lines...).Config("node-a.example"))
			if !o.ok() {
				t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
			}
			if o.client.Version != tc.wantVersion {
				t.Errorf("version %x, want %x", o.client.Version, tc.wantVersion)
			}
			if tc.wantSuite != 0 && o.client.CipherSuite != tc.wantSuite {
				t.Errorf("suite %s, want %s", tls.CipherSuiteName(o.client.CipherSuite), tls.CipherSuiteName(tc.wantSuite))
			}
		})
	}
	t.Run("no common protocol", func(t *testing.T) {
		tls13 := server(t, p, "ssl_certificate a.crt;", "ssl_certificate_key a.key;", "ssl_protocols TLSv1.3;")
		o := connect(t, tls13.Config(), client(t, p, "zone_sync_ssl_protocols TLSv1.2;").Config("node-a.example"))
		if o.serverErr == nil || o.clientErr == nil {
			t.Fatalf("connected with TLSv1.2 to a TLSv1.3 server")
		}
	})
	t.Run("server MinProtocol", func(t *testing.T) {
		s := server(t, p, "ssl_certificate a.crt;", "ssl_certificate_key a.key;", "ssl_conf_command MinProtocol TLSv1.3;")
		if cfg := s.Config(); cfg.MinVersion != tls.VersionTLS13 || cfg.MaxVersion != tls.VersionTLS13 {
			t.Errorf("versions %x..%x", cfg.MinVersion, cfg.MaxVersion)
		}
	})
	t.Run("Options -SessionTicket", func(t *testing.T) {
		if cfg := client(t, p, "zone_sync_ssl_conf_command Options -SessionTicket;").Config("x"); !cfg.SessionTicketsDisabled {
			t.Error("session tickets still enabled")
		}
		s := server(t, p, "ssl_certificate a.crt;", "ssl_certificate_key a.key;", "ssl_session_tickets off;")
		if !s.Config().SessionTicketsDisabled {
			t.Error("ssl_session_tickets off left tickets on")
		}
	})
	t.Run("server command Go cannot carry out", func(t *testing.T) {
		z := loadZoneSync(t, p, "ssl_certificate a.crt;", "ssl_certificate_key a.key;", "ssl_conf_command Curves X25519;")
		_, err := NewServer(z.InboundSSL)
		if want := `ssl_conf_command "Curves" is not supported by zonesync, only "MinProtocol", "MaxProtocol", "Ciphersuites" and "Options" are`; err == nil || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
}

func TestDisabled(t *testing.T) {
	p, _ := nodePKI(t)
	c, err := NewClient(loadZoneSync(t, p).SSL)
	if err != nil || c != nil {
		t.Fatalf("NewClient with zone_sync_ssl off: %v, %v", c, err)
	}
	if c.Config("x") != nil {
		t.Fatal("a nil Client gave a TLS configuration")
	}
	if s, err := NewServer(nil); s != nil || err != nil || s.Config() != nil {
		t.Fatal("NewServer(nil) gave a server")
	}
}

func TestExpiredPeer(t *testing.T) {
	p, _ := nodePKI(t)
	p.node(t, "old", certSpec{cn: "node-old", dns: []string{"node-a.example"},
		notBefore: p.now.Add(-48 * time.Hour), notAfter: p.now.Add(-24 * time.Hour)}, &p.ca)
	srv := server(t, p, "ssl_certificate old.crt;", "ssl_certificate_key old.key;")
	cli := client(t, p, "zone_sync_ssl_verify on;", "zone_sync_ssl_trusted_certificate ca.pem;")
	o := connect(t, srv.Config(), cli.Config("node-a.example"))
	if got := verifyCode(o.clientErr, "upstream"); got != errCertExpired {
		t.Fatalf("client error %v, want (10:certificate has expired)", o.clientErr)
	}
	// The injected clock decides: two days back the certificate is good.
	cli.Now = func() time.Time { return p.now.Add(-36 * time.Hour) }
	o = connect(t, srv.Config(), cli.Config("node-a.example"))
	if !o.ok() {
		t.Fatalf("server: %v, client: %v", o.serverErr, o.clientErr)
	}
}

func TestMatchName(t *testing.T) {
	p := newPKI(t)
	wild := p.issue(t, certSpec{cn: "ignored", dns: []string{"*.cluster.example"}}, &p.ca).cert
	cnOnly := p.issue(t, certSpec{cn: "node-cn.example"}, &p.ca).cert
	ipDNS := p.issue(t, certSpec{cn: "x", dns: []string{"10.0.0.7"}}, &p.ca).cert
	for _, tc := range []struct {
		name string
		cert string
		host string
		want bool
	}{
		{"wildcard", "wild", "n1.cluster.example", true},
		{"wildcard one label only", "wild", "a.n1.cluster.example", false},
		{"CN ignored with DNS names", "wild", "ignored", false},
		{"CN without DNS names", "cn", "NODE-CN.example", true},
		{"CN other host", "cn", "other.example", false},
		{"address in a DNS name", "ipdns", "10.0.0.7", true},
		{"empty name", "cn", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := map[string]*x509.Certificate{"wild": wild, "cn": cnOnly, "ipdns": ipDNS}[tc.cert]
			if got := matchName(c, tc.host); got != tc.want {
				t.Errorf("matchName(%s, %q) = %v, want %v", tc.cert, tc.host, got, tc.want)
			}
		})
	}
}
