package directives

import (
	"flag"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// With -openssl=PATH, TestOpensslCipherListAgainstOpenssl checks the
// cipher-list evaluation against that binary's "openssl ciphers":
//
//	go test ./directives -run AgainstOpenssl -openssl=/usr/bin/openssl
var opensslBin = flag.String("openssl", "", "openssl binary to check the cipher lists against")

func TestOpensslCipherListAgainstOpenssl(t *testing.T) {
	if *opensslBin == "" {
		t.Skip("no -openssl binary given")
	}
	lists := []string{"ALL:COMPLEMENTOFALL", "DEFAULT", "HIGH:!aNULL:!MD5", "ECDHE+AESGCM:ECDHE+CHACHA20",
		"DEFAULT:!RSA", "kRSA:DEFAULT", "ALL:-ECDHE:ECDHE-RSA-AES128-SHA", "ALL:!ECDHE:ECDHE-RSA-AES128-SHA",
		"DEFAULT@SECLEVEL=2,kRSA", "AESGCM+ECDSA", "EECDH+AES128:RSA+AES128:!SHA1"}
	for name := range opensslAliases {
		lists = append(lists, name, "ALL:!"+name)
	}
	for _, list := range lists {
		out, err := exec.Command(*opensslBin, "ciphers", list).CombinedOutput()
		var want []string
		if err == nil {
			for _, n := range strings.Split(strings.TrimSpace(string(out)), ":") {
				if !strings.HasPrefix(n, "TLS_") {
					want = append(want, n)
				}
			}
		}
		var got []string
		for _, c := range opensslCipherList(list) {
			got = append(got, c.name)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nzonesync %v\nopenssl  %v", list, got, want)
		}
	}
}

// zsStreamTLS is a stream server listening with ssl.
func zsStreamTLS(server string) string {
	return "stream {\nserver {\nlisten 127.0.0.1:4433 ssl;\nproxy_pass 127.0.0.1:9000;\n" + server + "\n}\n}"
}

var zsSSLCases = []struct{ name, conf, want string }{
	{"stream no certificate", zsStreamTLS(""),
		`no "ssl_certificate" is defined for the "listen ... ssl" directive in DIR/nginx.conf:4`},
	{"stream no key", zsStreamTLS("ssl_certificate node.crt;"),
		`no "ssl_certificate_key" is defined for the "listen ... ssl" directive in DIR/nginx.conf:4`},
	{"stream fewer keys", zsStreamTLS("ssl_certificate node.crt; ssl_certificate_key node.key; ssl_certificate other.crt;"),
		`no "ssl_certificate_key" is defined for certificate "other.crt" and the "listen ... ssl" directive in DIR/nginx.conf:4`},
	{"stream certificate missing", zsStreamTLS("ssl_certificate none.crt; ssl_certificate_key node.key;"),
		`cannot load certificate "DIR/none.crt": BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory:calling fopen(DIR/none.crt, r) error:10000080:BIO routines::no such file)`},
	{"stream ciphers before certificates", zsStreamTLS("ssl_certificate none.crt; ssl_certificate_key node.key; ssl_ciphers BOGUS;"),
		`SSL_CTX_set_cipher_list("BOGUS") failed (SSL: error:0A0000B9:SSL routines::no cipher match)`},
	{"stream verify without CA", zsStreamTLS("ssl_certificate node.crt; ssl_certificate_key node.key; ssl_verify_client on;"),
		`no ssl_client_certificate for ssl_verify_client`},
	{"stream verify optional_no_ca", zsStreamTLS("ssl_certificate node.crt; ssl_certificate_key node.key; ssl_verify_client optional_no_ca;"), ""},
	{"stream trusted only with verify", zsStreamTLS("ssl_certificate node.crt; ssl_certificate_key node.key; ssl_trusted_certificate none.crt;"), ""},
	{"stream client CA not a CA file", zsStreamTLS("ssl_certificate node.crt; ssl_certificate_key node.key; ssl_verify_client on; ssl_client_certificate node.key;"),
		`SSL_CTX_load_verify_locations("DIR/node.key") failed (SSL: error:05800088:x509 certificate routines::no certificate or crl found)`},
	{"stream bad verify value", zsStreamTLS("ssl_verify_client sometimes;"), `invalid value "sometimes" in DIR/nginx.conf:6`},
	{"stream bad protocol", zsStreamTLS("ssl_protocols TLSv1.2 TLSv9;"), `invalid value "TLSv9" in DIR/nginx.conf:6`},
	{"session cache too small", zsStreamTLS("ssl_session_cache shared:S:1k;"), `session cache "shared:S:1k" is too small in DIR/nginx.conf:6`},
	{"session cache invalid", zsStreamTLS("ssl_session_cache bogus;"), `invalid session cache "bogus" in DIR/nginx.conf:6`},
	{"ticket key missing", zsStreamTLS("ssl_certificate node.crt; ssl_certificate_key node.key; ssl_session_ticket_key none.key;") + "\n",
		`open() "DIR/none.key" failed (2: No such file or directory) in DIR/nginx.conf:8`},
	{"no certificate without listen ssl", "stream { server { listen 1; proxy_pass 127.0.0.1:2; ssl_certificate none.crt; } }", ""},
	{"http verify without CA", "http { server { listen 127.0.0.1:8443 ssl; ssl_certificate node.crt; ssl_certificate_key node.key; ssl_verify_client on; } }",
		`no ssl_client_certificate for ssl_verify_client`},
	{"http trusted without verify", "http { server { listen 127.0.0.1:8443 ssl; ssl_certificate node.crt; ssl_certificate_key node.key; ssl_trusted_certificate none.crt; } }",
		`SSL_CTX_load_verify_locations("DIR/none.crt") failed (SSL: error:80000002:system library::No such file or directory:calling fopen(DIR/none.crt, r) error:10000080:BIO routines::no such file error:05880002:x509 certificate routines::system lib)`},
}

func TestServerSSLMessages(t *testing.T) {
	for _, c := range zsSSLCases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := zsLoad(t, c.conf, zsCertFiles())
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestServerSSLWarnings(t *testing.T) {
	_, err, warns := zsLoad(t, zsStreamTLS("ssl_certificate node.crt; ssl_certificate_key node.key; ssl_protocols TLSv1.2 tlsv1.2;"), zsCertFiles())
	want := []string{`duplicate value "tlsv1.2" in DIR/nginx.conf:6`}
	if err != "" || !reflect.DeepEqual(warns, want) {
		t.Errorf("error %q, warnings %q, want %q", err, warns, want)
	}
}

func TestServerSSLOf(t *testing.T) {
	conf := "stream {\nssl_protocols TLSv1.3;\nssl_certificate node.crt;\nssl_certificate_key pkcs8.key;\nssl_password_file good.pass;\n" +
		"server {\nlisten 127.0.0.1:4433 ssl;\nzone_sync;\nzone_sync_server 127.0.0.1:4434;\n" +
		"ssl_verify_client on;\nssl_client_certificate node.crt;\nssl_conf_command Options -SessionTicket;\nssl_session_cache shared:SSL:1m;\n}\n}"
	cfg := zsMust(t, conf, zsCertFiles())
	s := ZoneSyncOf(cfg.Main).InboundSSL
	if s == nil {
		t.Fatal("no inbound TLS")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"protocols", s.Protocols, []string{"TLSv1.3"}},
		{"certificate", len(s.Certificates) == 1 && strings.HasSuffix(s.Certificates[0].Path, "/node.crt"), true},
		{"key", s.CertificateKeys[0].Name, "pkcs8.key"},
		{"passwords", s.Passwords, []string{"wrong", "secret"}},
		{"verify", s.VerifyClient, "on"},
		{"client CA", s.ClientCertificate.Name, "node.crt"},
		{"conf command", s.ConfCommands, [][2]string{{"Options", "-SessionTicket"}}},
		{"session cache", s.SessionCache.Shared.Name + " " + s.SessionCache.Mode, "SSL "},
		{"session timeout", s.SessionTimeout, 5 * time.Minute},
		{"handshake timeout", s.HandshakeTimeout, time.Minute},
		{"ciphers", s.Ciphers, "HIGH:!aNULL:!MD5"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}
