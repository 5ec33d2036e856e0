package directives

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// zsLoad writes conf (after "events {}") and the extra files into a fresh
// folder, loads and checks it, and returns the configuration, the error
// with the folder written as DIR, and the warnings.
func zsLoad(t *testing.T, conf string, files map[string]string) (*Config, string, []string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte("events {}\n"+conf+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warns []string
	cfg, err := Load(Options{Prefix: dir + "/", ConfFile: file, Test: true,
		Log: func(_ Severity, e error) { warns = append(warns, strings.ReplaceAll(e.Error(), dir, "DIR")) }})
	if err == nil {
		err = cfg.Check()
	}
	if err != nil {
		return cfg, strings.ReplaceAll(err.Error(), dir, "DIR"), warns
	}
	return cfg, "", warns
}

// zsMust loads a configuration that must be valid.
func zsMust(t *testing.T, conf string, files map[string]string) *Config {
	t.Helper()
	cfg, err, _ := zsLoad(t, conf, files)
	if err != "" {
		t.Fatalf("load failed: %s\n%s", err, conf)
	}
	return cfg
}

// zsCluster is a zone_sync server with two static nodes, wrapped in a
// stream block with the given stream-level and server-level text.
func zsCluster(stream, server string) string {
	return "stream {\n" + stream + "\nserver {\nlisten 127.0.0.1:12345;\nzone_sync;\n" +
		"zone_sync_server 127.0.0.1:12346;\nzone_sync_server 127.0.0.1:12347;\n" + server + "\n}\n}"
}

func TestZoneSyncDefaults(t *testing.T) {
	z := ZoneSyncOf(zsMust(t, zsCluster("", ""), nil).Main)
	if z == nil {
		t.Fatal("no zone_sync server found")
	}
	page := int64(os.Getpagesize())
	checks := []struct {
		name      string
		got, want any
	}{
		{"interval", z.Interval, time.Second},
		{"connect timeout", z.ConnectTimeout, 5 * time.Second},
		{"connect retry interval", z.ConnectRetryInterval, time.Second},
		{"timeout", z.Timeout, 5 * time.Second},
		{"buffers", z.Buffers, ZoneSyncBuffers{Number: 8, Size: page}},
		{"recv buffer", z.RecvBufferSize, 8 * page},
		{"resolve", z.Resolve, false},
		{"resolver", z.Resolver, (*StreamResolver)(nil)},
		{"resolver timeout", z.ResolverTimeout, 30 * time.Second},
		{"inbound ssl", z.InboundSSL, (*ServerSSL)(nil)},
		{"ssl", z.SSL.Enabled, false},
		{"protocols", z.SSL.Protocols, []string{"TLSv1.2", "TLSv1.3"}},
		{"versions", [2]uint16{z.SSL.MinVersion, z.SSL.MaxVersion}, [2]uint16{tls.VersionTLS12, tls.VersionTLS13}},
		{"ciphers", z.SSL.Ciphers, "DEFAULT"},
		{"verify depth", z.SSL.VerifyDepth, 1},
		{"verify", z.SSL.Verify, false},
		{"server name", z.SSL.ServerName, false},
		{"name", z.SSL.Name, ""},
		{"conf commands", z.SSL.ConfCommands, [][2]string(nil)},
		{"nodes", len(z.Servers), 2},
		{"listen", z.Listen[0].Text, []string{"127.0.0.1:12345"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(z.SSL.CipherSuites) == 0 {
		t.Error("DEFAULT maps to no Go cipher suite")
	}
}

// TestZoneSyncPrecedence checks the merge: a server-level value wins over
// the stream level's, which wins over the default.
func TestZoneSyncPrecedence(t *testing.T) {
	cases := []struct {
		name, stream, server string
		get                  func(*ZoneSync) any
		want                 any
	}{
		{"interval from stream", "zone_sync_interval 3s;", "", func(z *ZoneSync) any { return z.Interval }, 3 * time.Second},
		{"interval from server", "zone_sync_interval 3s;", "zone_sync_interval 500ms;", func(z *ZoneSync) any { return z.Interval }, 500 * time.Millisecond},
		{"timeout", "zone_sync_timeout 1m;", "", func(z *ZoneSync) any { return z.Timeout }, time.Minute},
		{"connect timeout", "", "zone_sync_connect_timeout 2s;", func(z *ZoneSync) any { return z.ConnectTimeout }, 2 * time.Second},
		{"retry interval", "zone_sync_connect_retry_interval 10s;", "zone_sync_connect_retry_interval 20s;",
			func(z *ZoneSync) any { return z.ConnectRetryInterval }, 20 * time.Second},
		{"buffers", "zone_sync_buffers 256 4k;", "", func(z *ZoneSync) any { return z.Buffers }, ZoneSyncBuffers{256, 4096}},
		{"ssl on from stream", "zone_sync_ssl on;", "", func(z *ZoneSync) any { return z.SSL.Enabled }, true},
		{"ssl off in server", "zone_sync_ssl on;", "zone_sync_ssl off;", func(z *ZoneSync) any { return z.SSL.Enabled }, false},
		{"ssl name", "zone_sync_ssl_name cluster.local;", "", func(z *ZoneSync) any { return z.SSL.Name }, "cluster.local"},
		{"verify depth", "zone_sync_ssl_verify_depth 3;", "zone_sync_ssl_verify_depth 2;", func(z *ZoneSync) any { return z.SSL.VerifyDepth }, 2},
		{"protocols", "zone_sync_ssl_protocols TLSv1.3;", "", func(z *ZoneSync) any { return z.SSL.Protocols }, []string{"TLSv1.3"}},
		{"protocols add up", "", "zone_sync_ssl_protocols TLSv1.3; zone_sync_ssl_protocols TLSv1.2;",
			func(z *ZoneSync) any { return z.SSL.Protocols }, []string{"TLSv1.2", "TLSv1.3"}},
		{"ciphers", "zone_sync_ssl_ciphers HIGH:!aNULL;", "zone_sync_ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;",
			func(z *ZoneSync) any { return z.SSL.CipherSuites }, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{"resolver from stream", "resolver 127.0.0.1 valid=10s;", "", func(z *ZoneSync) any { return z.Resolver.Valid }, 10 * time.Second},
		{"resolver in server", "resolver 127.0.0.1;", "resolver 127.0.0.2 ipv6=off;",
			func(z *ZoneSync) any { return z.Resolver.Addrs[0].String() + " " + boolWord(z.Resolver.IPv6) }, "127.0.0.2:53 off"},
		{"resolver timeout", "resolver_timeout 5s;", "", func(z *ZoneSync) any { return z.ResolverTimeout }, 5 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := ZoneSyncOf(zsMust(t, zsCluster(c.stream, c.server), nil).Main)
			if got := c.get(z); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func boolWord(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// TestZoneSyncRecvBuffer checks that the receive buffer defaults to the
// effective zone_sync_buffers, number × size, wherever each is set.
func TestZoneSyncRecvBuffer(t *testing.T) {
	cases := []struct {
		stream, server string
		want           int64
	}{
		{"zone_sync_buffers 16 8k;", "", 128 << 10},
		{"", "zone_sync_buffers 4 16k;", 64 << 10},
		{"zone_sync_buffers 16 8k;", "zone_sync_buffers 2 8k;", 16 << 10},
		{"zone_sync_buffers 16 8k; zone_sync_recv_buffer_size 8k;", "", 8 << 10},
		{"zone_sync_recv_buffer_size 1m;", "zone_sync_buffers 2 64k;", 1 << 20},
		{"zone_sync_recv_buffer_size 1m;", "zone_sync_recv_buffer_size 32k;", 32 << 10},
	}
	for _, c := range cases {
		z := ZoneSyncOf(zsMust(t, zsCluster(c.stream, c.server), nil).Main)
		if z.RecvBufferSize != c.want {
			t.Errorf("stream %q, server %q: recv buffer %d, want %d", c.stream, c.server, z.RecvBufferSize, c.want)
		}
	}
}

// TestZoneSyncConfCommandInheritance checks the rule the module's
// documentation states: commands are inherited if and only if the level
// sets none.
func TestZoneSyncConfCommandInheritance(t *testing.T) {
	stream := "zone_sync_ssl_conf_command MinProtocol TLSv1.2;\nzone_sync_ssl_conf_command Options -SessionTicket;"
	z := ZoneSyncOf(zsMust(t, zsCluster(stream, ""), nil).Main)
	want := [][2]string{{"MinProtocol", "TLSv1.2"}, {"Options", "-SessionTicket"}}
	if !reflect.DeepEqual(z.SSL.ConfCommands, want) {
		t.Errorf("inherited: got %v, want %v", z.SSL.ConfCommands, want)
	}
	z = ZoneSyncOf(zsMust(t, zsCluster(stream, "zone_sync_ssl_conf_command MaxProtocol TLSv1.2;"), nil).Main)
	want = [][2]string{{"MaxProtocol", "TLSv1.2"}}
	if !reflect.DeepEqual(z.SSL.ConfCommands, want) {
		t.Errorf("own: got %v, want %v", z.SSL.ConfCommands, want)
	}
	if z.SSL.MaxVersion != tls.VersionTLS12 || z.SSL.MinVersion != tls.VersionTLS12 {
		t.Errorf("MaxProtocol TLSv1.2: versions %x-%x", z.SSL.MinVersion, z.SSL.MaxVersion)
	}
}

func TestZoneSyncServers(t *testing.T) {
	cases := []struct {
		servers string
		want    []string // address, resolve, nodes
	}{
		{"zone_sync_server 127.0.0.1:1; zone_sync_server [::1]:2;", []string{"127.0.0.1:1 false [127.0.0.1:1]", "[::1]:2 false [[::1]:2]"}},
		{"zone_sync_server unix:/run/zs.sock;", []string{"unix:/run/zs.sock false []"}},
		{"zone_sync_server cluster.zonesync.invalid:12345 resolve;", []string{"cluster.zonesync.invalid:12345 true []"}},
	}
	for _, c := range cases {
		conf := "stream { resolver 127.0.0.1; server { listen 1; zone_sync; " + c.servers + " } }"
		z := ZoneSyncOf(zsMust(t, conf, nil).Main)
		var got []string
		for _, s := range z.Servers {
			got = append(got, strings.Join([]string{s.String(), boolString(s.Resolve), addrPortList(s)}, " "))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", c.servers, got, c.want)
		}
	}
	// A static name stands for each of its addresses, IPv4 first.
	conf := "stream { server { listen 1; zone_sync; zone_sync_server localhost:12345; } }"
	s := ZoneSyncOf(zsMust(t, conf, nil).Main).Servers[0]
	if s.String() != "localhost:12345" || s.Resolve || len(s.Nodes) == 0 || s.Nodes[0].String() != "127.0.0.1:12345" {
		t.Errorf("localhost: %s resolve=%v nodes %v", s, s.Resolve, s.Nodes)
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func addrPortList(s ZoneSyncServer) string {
	var parts []string
	for _, n := range s.Nodes {
		parts = append(parts, n.String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// zsMessageCases are configurations NGINX Plus refuses, with the message
// zonesync gives (docs/zonesync-checks.md lists the texts zonesync chose).
var zsMessageCases = []struct{ name, conf, want string }{
	{"no port", "stream { server { listen 1; zone_sync; zone_sync_server a.zonesync.invalid; } }",
		`no port in "a.zonesync.invalid" of the "zone_sync_server" directive in DIR/nginx.conf:2`},
	{"bad port", "stream { server { listen 1; zone_sync; zone_sync_server 10.0.0.1:0; } }",
		`invalid port in "10.0.0.1:0" of the "zone_sync_server" directive in DIR/nginx.conf:2`},
	{"unknown parameter", "stream { server { listen 1; zone_sync; zone_sync_server 10.0.0.1:1 bogus; } }",
		`invalid parameter "bogus" in DIR/nginx.conf:2`},
	{"static name not found", "stream { server { listen 1; zone_sync; zone_sync_server a.zonesync.invalid:1; } }",
		`host not found in "a.zonesync.invalid:1" of the "zone_sync_server" directive in DIR/nginx.conf:2`},
	{"resolve without resolver", "stream { server { listen 1; zone_sync; zone_sync_server c.zonesync.invalid:1 resolve; } }",
		`no "resolver" is defined in the "stream" block to resolve "c.zonesync.invalid" in DIR/nginx.conf:2`},
	{"resolve and static", "stream { resolver 127.0.0.1; server { listen 1; zone_sync; zone_sync_server 10.0.0.1:1; zone_sync_server c.zonesync.invalid:1 resolve; } }",
		`a "zone_sync_server" with the "resolve" parameter must be the only one in a server in DIR/nginx.conf:2`},
	{"static after resolve", "stream { resolver 127.0.0.1; server { listen 1; zone_sync; zone_sync_server c.zonesync.invalid:1 resolve; zone_sync_server 10.0.0.1:1; } }",
		`a "zone_sync_server" with the "resolve" parameter must be the only one in a server in DIR/nginx.conf:2`},
	{"resolve with unix", "stream { resolver 127.0.0.1; server { listen 1; zone_sync; zone_sync_server unix:/run/a resolve; } }",
		`"resolve" cannot be used with the UNIX-domain socket "unix:/run/a" of the "zone_sync_server" directive in DIR/nginx.conf:2`},
	{"node twice", "stream { server { listen 1; zone_sync; zone_sync_server 10.0.0.1:1; zone_sync_server 10.0.0.1:1; } }",
		`duplicate zone_sync_server node "10.0.0.1:1" in DIR/nginx.conf:2`},
	{"node twice by name", "stream { server { listen 1; zone_sync; zone_sync_server 127.0.0.1:7; zone_sync_server localhost:7; } }",
		`duplicate zone_sync_server node "127.0.0.1:7" in DIR/nginx.conf:2`},
	{"no nodes", "stream { server { listen 1; zone_sync; } }",
		`no "zone_sync_server" is defined for the "zone_sync" directive in DIR/nginx.conf:2`},
	{"zone_sync twice", "stream { server { listen 1; zone_sync; zone_sync; zone_sync_server 10.0.0.1:1; } }",
		`"zone_sync" directive is duplicate in DIR/nginx.conf:2`},
	{"two zone_sync servers", "stream { server { listen 1; zone_sync; zone_sync_server 10.0.0.1:1; } server { listen 2; zone_sync; zone_sync_server 10.0.0.1:1; } }",
		`"zone_sync" directive is duplicate in DIR/nginx.conf:2`},
	{"zone_sync and proxy_pass", "stream { server { listen 1; zone_sync; proxy_pass 10.0.0.1:1; } }",
		`"zone_sync" cannot be used with "proxy_pass" in one server in DIR/nginx.conf:2`},
	{"zone_sync in stream", "stream { zone_sync; }",
		`"zone_sync" directive is not allowed here in DIR/nginx.conf:2`},
	{"recv buffer too small", "stream { zone_sync_buffers 8 16k; server { listen 1; zone_sync; zone_sync_server 10.0.0.1:1; zone_sync_recv_buffer_size 8k; } }",
		`"zone_sync_recv_buffer_size" must be equal to or greater than the size of one of the "zone_sync_buffers" in DIR/nginx.conf:2`},
	{"bad buffers", "stream { zone_sync_buffers 0 4k; }", `"zone_sync_buffers" directive invalid value in DIR/nginx.conf:2`},
	{"bad interval", "stream { zone_sync_interval soon; }", `"zone_sync_interval" directive invalid value in DIR/nginx.conf:2`},
	{"bad protocol", "stream { zone_sync_ssl_protocols TLSv1.4; }", `invalid value "TLSv1.4" in DIR/nginx.conf:2`},
	{"conf command unknown", "stream { zone_sync_ssl_conf_command Curves X25519; }",
		`zone_sync_ssl_conf_command "Curves" is not supported, only "MinProtocol", "MaxProtocol", "Ciphersuites" and "Options" are in DIR/nginx.conf:2`},
	{"conf command value", "stream { zone_sync_ssl_conf_command MinProtocol TLSv2; }",
		`invalid value "TLSv2" of zone_sync_ssl_conf_command "MinProtocol" in DIR/nginx.conf:2`},
	{"conf command option", "stream { zone_sync_ssl_conf_command Options Compression; }",
		`invalid value "Compression" of zone_sync_ssl_conf_command "Options" in DIR/nginx.conf:2`},
	{"cipher list empty", zsCluster("zone_sync_ssl on; zone_sync_ssl_ciphers NOTHING;", ""),
		`SSL_CTX_set_cipher_list("NOTHING") failed (SSL: error:0A0000B9:SSL routines::no cipher match)`},
	{"cipher list Go lacks", zsCluster("zone_sync_ssl on;\nzone_sync_ssl_ciphers DHE-RSA-AES128-GCM-SHA256:CAMELLIA;", ""),
		`no cipher in "DHE-RSA-AES128-GCM-SHA256:CAMELLIA" is supported by zonesync for TLSv1.2 and older in DIR/nginx.conf:4`},
	{"only SSLv3", zsCluster("zone_sync_ssl on;\nzone_sync_ssl_protocols SSLv3;", ""),
		`no protocol zonesync supports is enabled by "zone_sync_ssl_protocols" in DIR/nginx.conf:4`},
	{"min above max", zsCluster("zone_sync_ssl on;\nzone_sync_ssl_conf_command MinProtocol TLSv1.3;\nzone_sync_ssl_conf_command MaxProtocol TLSv1.2;", ""),
		`"zone_sync_ssl_protocols" and "zone_sync_ssl_conf_command" leave no protocol enabled in DIR/nginx.conf:5`},
	{"verify without CA", zsCluster("zone_sync_ssl on;\nzone_sync_ssl_verify on;", ""),
		`no zone_sync_ssl_trusted_certificate for zone_sync_ssl_verify in DIR/nginx.conf:4`},
	{"certificate without key", zsCluster("zone_sync_ssl on;\nzone_sync_ssl_certificate node.crt;", ""),
		`no "zone_sync_ssl_certificate_key" is defined for certificate "node.crt" in DIR/nginx.conf:4`},
	{"certificate missing", zsCluster("zone_sync_ssl on; zone_sync_ssl_certificate none.crt; zone_sync_ssl_certificate_key none.key;", ""),
		`cannot load certificate "DIR/none.crt": BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory:calling fopen(DIR/none.crt, r) error:10000080:BIO routines::no such file)`},
	{"password file missing", "stream { zone_sync_ssl_password_file none.pass; }",
		`open() "DIR/none.pass" failed (2: No such file or directory) in DIR/nginx.conf:2`},
	{"sync without zone_sync", "http { keyval_zone zone=one:64k timeout=1h sync; }",
		`the "sync" parameter of zone "one" requires a stream server with "zone_sync" in DIR/nginx.conf:2`},
	{"stream sync without zone_sync", "stream { keyval_zone zone=one:64k timeout=1h sync; }",
		`the "sync" parameter of zone "one" requires a stream server with "zone_sync" in DIR/nginx.conf:2`},
}

func TestZoneSyncMessages(t *testing.T) {
	for _, c := range zsMessageCases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := zsLoad(t, c.conf, nil)
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// zsCertFiles are a certificate, its key in the three forms OpenSSL
// writes, another key and a password file.
func zsCertFiles() map[string]string {
	return map[string]string{
		"node.crt":    zsCertPEM,
		"other.crt":   zsCertPEM,
		"node.key":    zsKeyPEM,
		"pkcs8.key":   zsPKCS8KeyPEM,
		"legacy.key":  zsLegacyKeyPEM,
		"other.key":   zsOtherKeyPEM,
		"good.pass":   "wrong\r\n\nsecret\n",
		"wrong.pass":  "nope\n",
		"empty.pass":  "",
		"garbage.pem": "not a PEM file\n",
	}
}

func TestZoneSyncCertificates(t *testing.T) {
	cases := []struct {
		name, ssl, want string
	}{
		{"plain key", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key node.key;", ""},
		{"PKCS#8 key, second passphrase", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key pkcs8.key; zone_sync_ssl_password_file good.pass;", ""},
		{"legacy key", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key legacy.key; zone_sync_ssl_password_file good.pass;", ""},
		{"wrong passphrase", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key pkcs8.key; zone_sync_ssl_password_file wrong.pass;",
			`cannot load certificate key "DIR/pkcs8.key": PEM_read_bio_PrivateKey() failed (SSL: ` + sslBadDecrypt + "maybe wrong password " + sslBadDecrypt + "maybe wrong password)"},
		{"empty passphrase", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key legacy.key; zone_sync_ssl_password_file empty.pass;",
			`cannot load certificate key "DIR/legacy.key": PEM_read_bio_PrivateKey() failed (SSL: ` + sslBadDecrypt + "empty password " + sslBadDecrypt + "empty password)"},
		{"no passphrase", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key pkcs8.key;",
			`cannot load certificate key "DIR/pkcs8.key": PEM_read_bio_PrivateKey() failed (SSL: ` + sslNoPassword + ")"},
		{"key of another certificate", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key other.key;",
			`SSL_CTX_use_PrivateKey("DIR/other.key") failed (SSL: ` + sslKeyMismatch + ")"},
		{"not a certificate", "zone_sync_ssl_certificate node.key; zone_sync_ssl_certificate_key node.key;",
			`cannot load certificate "DIR/node.key": PEM_read_bio_X509_AUX() failed (SSL: ` + sslNoStartLine + ")"},
		{"not a key", "zone_sync_ssl_certificate node.crt; zone_sync_ssl_certificate_key garbage.pem;",
			`cannot load certificate key "DIR/garbage.pem": PEM_read_bio_PrivateKey() failed (SSL: ` + sslNoKeyDecoder + ")"},
		{"trusted is no CA file", "zone_sync_ssl_verify on; zone_sync_ssl_trusted_certificate garbage.pem;",
			`SSL_CTX_load_verify_locations("DIR/garbage.pem") failed (SSL: ` + sslNoCertOrCRL + ")"},
		{"CRL missing", "zone_sync_ssl_verify on; zone_sync_ssl_trusted_certificate node.crt; zone_sync_ssl_crl none.crl;",
			`X509_LOOKUP_load_file("DIR/none.crl") failed (SSL: error:80000002:system library::No such file or directory:calling fopen(DIR/none.crl, r) error:10000080:BIO routines::no such file error:05880002:x509 certificate routines::system lib)`},
		{"files not read with ssl off", "zone_sync_ssl off; zone_sync_ssl_certificate none.crt; zone_sync_ssl_certificate_key none.key;", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ssl := c.ssl
			if !strings.Contains(ssl, "zone_sync_ssl off") {
				ssl = "zone_sync_ssl on; " + ssl
			}
			cfg, got, _ := zsLoad(t, zsCluster(ssl, ""), zsCertFiles())
			if got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			if c.want == "" && strings.Contains(ssl, "pkcs8.key") {
				s := ZoneSyncOf(cfg.Main).SSL
				if !strings.HasSuffix(s.CertificateKey, "/pkcs8.key") || len(s.Passwords) != 2 || s.Passwords[1] != "secret" {
					t.Errorf("typed view: key %q passwords %q", s.CertificateKey, s.Passwords)
				}
			}
		})
	}
}

func TestOpensslCipherList(t *testing.T) {
	names := func(list string) []string {
		var out []string
		for _, c := range opensslCipherList(list) {
			out = append(out, c.name)
		}
		return out
	}
	has := func(list []string, name string) bool {
		for _, n := range list {
			if n == name {
				return true
			}
		}
		return false
	}
	cases := []struct {
		list       string
		count      int // -1: do not check
		with, wout []string
	}{
		{"DEFAULT", 57, []string{"ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA"}, []string{"ADH-AES128-SHA", "DHE-DSS-AES128-SHA"}},
		{"HIGH:!aNULL:!MD5", 125, []string{"DHE-DSS-AES128-SHA", "ECDHE-ECDSA-CHACHA20-POLY1305"}, []string{"ADH-AES128-SHA", "NULL-SHA"}},
		{"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", 2, nil, nil},
		{"ECDHE+AESGCM", 4, []string{"ECDHE-ECDSA-AES256-GCM-SHA384"}, []string{"ECDHE-RSA-CHACHA20-POLY1305"}},
		{"ALL:-ECDHE:ECDHE-RSA-AES128-SHA", -1, []string{"ECDHE-RSA-AES128-SHA"}, []string{"ECDHE-RSA-AES256-SHA"}},
		{"ALL:!ECDHE:ECDHE-RSA-AES128-SHA", -1, nil, []string{"ECDHE-RSA-AES128-SHA"}},
		{"eNULL", 18, []string{"NULL-SHA"}, nil},
		{"BOGUS", 0, nil, nil},
		{"RC4-SHA:DES-CBC3-SHA", 0, nil, nil},
		{"DEFAULT@SECLEVEL=2,kRSA", 57, nil, nil},
		{"-ALL", 0, nil, nil},
		{"DEFAULT:CAMELLIA", 57, nil, []string{"CAMELLIA128-SHA"}},
		{"HIGH:DEFAULT", 137, nil, nil},
	}
	for _, c := range cases {
		got := names(c.list)
		if c.count >= 0 && len(got) != c.count {
			t.Errorf("%s: %d suites, want %d", c.list, len(got), c.count)
		}
		for _, n := range c.with {
			if !has(got, n) {
				t.Errorf("%s: %s missing", c.list, n)
			}
		}
		for _, n := range c.wout {
			if has(got, n) {
				t.Errorf("%s: %s should not be in", c.list, n)
			}
		}
	}
	moved := names("AES128-SHA:AES256-SHA:+AES128-SHA")
	if !reflect.DeepEqual(moved, []string{"AES256-SHA", "AES128-SHA"}) {
		t.Errorf("+ did not move to the end: %v", moved)
	}
	if got := goCipherSuites(opensslCipherList("DHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256")); !reflect.DeepEqual(got, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}) {
		t.Errorf("Go suites: %v", got)
	}
}

var (
	zsCertPEM = `-----BEGIN CERTIFICATE-----
MIIBkzCCATmgAwIBAgIUNLxJOjDnX3JCrcwxNd1EuAHdtu4wCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTbm9kZTEuem9uZXN5bmMudGVzdDAgFw0yNjExMjYwMTAzMTFa
GA8yMTI2MTEwMjAxMDMxMVowHjEcMBoGA1UEAwwTbm9kZTEuem9uZXN5bmMudGVz
dDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABE7SFjvI0fGQiF0HHIc/tK1Bkr/s
ahZ47lEJzeS1kFOxmiSRNz3YwaCdSzaOj0ggMFNVmvPlh1z3tG8Wwif8N3KjUzBR
MB0GA1UdDgQWBBTv5OEdf0bYpKPYmXZ2EhmjFaMENTAfBgNVHSMEGDAWgBTv5OEd
f0bYpKPYmXZ2EhmjFaMENTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA
MEUCIQCpISfDKF+Izbmd2iVy/sfIJs/4z0P4j49aKwYys5qiKgIgFJMviudQBFEu
0kcuHRl5tXzhzuxtiXLBMOgo30s5q/M=
-----END CERTIFICATE-----
`
	zsKeyPEM = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIA3FbLC5CKbYS27g0zed4WXyLvXnvvfgbBywSiah54CLoAoGCCqGSM49
AwEHoUQDQgAETtIWO8jR8ZCIXQcchz+0rUGSv+xqFnjuUQnN5LWQU7GaJJE3PdjB
oJ1LNo6PSCAwU1Wa8+WHXPe0bxbCJ/w3cg==
-----END EC PRIVATE KEY-----
`
	zsOtherKeyPEM = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIDCww0H2VKn58R54IYWX9cTFJuk/SiIa9pFElH2hS7JHoAoGCCqGSM49
AwEHoUQDQgAEs+WNLWR92TBaSXmC4234Pu4WD1vXgZavvnSK5MQLIuSRHTN2f4lg
5AjraKZmOUOFUVXqs3yl2jnM71E6XvxF8w==
-----END EC PRIVATE KEY-----
`
	zsPKCS8KeyPEM = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhYi2cexT4ZqQICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEK2F9AcTB6DEhT/WoztETYcEgZAk
qF2djtrLETmwnKDTAlx6+0p84kujy4MGOBQ5CyzHF3qY2GQOrumCy8490Ve//o2g
357Mc2X+WZ2V7xl2Tq+SY7ZnM2/uH4OwidSzZ6K/CjOCxFk/dY7bnFc1mfXq3caO
DiBXOtK9W5Tteo2uPLpHlmhg7bYXJz6rBX/+I2/PSgXJCsik8JKa8YvecSUA+2o=
-----END ENCRYPTED PRIVATE KEY-----
`
	zsLegacyKeyPEM = `-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,565E09F26894E5683D4EEBF11375DD39

xl8bW4msIvbdBoMtO35MprforL+nh+qruYVzOv4wqt6sU6PcKIF2EdssXL914Mqq
cX+YzzE2UfQBj2rbiVCULOdRAVvucl6kOrgre6BnXNNzL67ObaItVDD60Fknz5jP
E9Xl65xk3YHtxtZ+xl0O+1mc5r+tXV96x2ToxChcSv8=
-----END EC PRIVATE KEY-----
`
)
