package directives

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// miscMail wraps the body of a mail block, with the line nginx needs to
// load the mail module; the body starts on line 4.
func miscMail(body string) string {
	return "load_module /usr/lib/nginx/modules/ngx_mail_module.so;\nevents {}\nmail {\n" + body + "\n}\n"
}

// miscSMTP is a mail block with auth_http and one smtp server whose own
// lines start on line 8.
func miscSMTP(server string) string {
	return miscMail("auth_http 127.0.0.1:9000/auth;\nserver {\nlisten 127.0.0.1:2525;\nprotocol smtp;\n" + server + "\n}")
}

const warnSSL = `warn: the "ssl" directive is deprecated, use the "listen ... ssl" directive instead in F:`

var mailCases = []miscCase{
	// server, listen and protocol (ngx_mail_core_module)
	{"valid", miscMail("server_name mail.example.com;\nauth_http 127.0.0.1:9000/auth;\nresolver 127.0.0.1 valid=30s;\n" +
		"smtp_capabilities \"SIZE 10485760\" 8BITMIME;\nsmtp_capabilities DSN;\nauth_http_header X-Auth-Key secret;\nset_real_ip_from 10.0.0.0/8;\n" +
		"set_real_ip_from unix:;\nserver {\nlisten 127.0.0.1:25 bind backlog=100 rcvbuf=64k sndbuf=1m so_keepalive=1m::3 proxy_protocol;\nsmtp_auth login plain;\n}\n" +
		"server {\nlisten 127.0.0.1:143;\nlisten [::1]:1143 ipv6only=on;\n}\nserver {\nlisten 127.0.0.1:1110;\nprotocol imap;\nprotocol pop3;\nresolver off;\n}"), ""},
	{"unknown protocol", miscMail("auth_http 127.0.0.1:9000/auth;\nserver {\nlisten 127.0.0.1:2525;\nprotocol gopher;\n}"), `emerg: unknown protocol "gopher" in F:7`},
	{"protocol is exact", miscMail("auth_http 127.0.0.1:9000/auth;\nserver {\nlisten 127.0.0.1:25;\nprotocol SMTP;\n}"), `emerg: unknown protocol "SMTP" in F:7`},
	{"no protocol", miscMail("auth_http 127.0.0.1;\nserver {\nlisten 127.0.0.1:25;\n}\nserver {\nlisten 127.0.0.1:2525;\n}"), `emerg: unknown mail protocol for server in F:8`},
	{"port range starts the deduction", miscMail("auth_http 127.0.0.1;\nserver {\nlisten 127.0.0.1:24-26;\n}"), `emerg: unknown mail protocol for server in F:5`},
	{"standard ports", miscMail("auth_http 127.0.0.1;\nserver { listen 127.0.0.1:25; }\nserver { listen 127.0.0.1:465; }\nserver { listen 127.0.0.1:587; }\n" +
		"server { listen 127.0.0.1:110; }\nserver { listen 127.0.0.1:995; }\nserver { listen 127.0.0.1:143; }\nserver { listen 127.0.0.1:993; }\n" +
		"server { listen 127.0.0.1:1; listen [::1]:110; }"), ""},
	{"no listen", miscMail("auth_http 127.0.0.1;\nserver {\nprotocol smtp;\n}\nserver {\nlisten 127.0.0.1:25;\n}"), `emerg: no "listen" is defined for server in F:5`},
	{"no listen before the merge", miscMail("server {\nlisten 127.0.0.1:2;\n}\nserver {\nprotocol smtp;\n}"), `emerg: no "listen" is defined for server in F:7`},
	{"protocol checked before auth_http", miscMail("server {\nlisten 127.0.0.1:25;\n}\nserver {\nlisten 127.0.0.1:2;\n}"), `emerg: unknown mail protocol for server in F:7`},
	{"protocol not at mail level", miscMail("protocol smtp;"), `emerg: "protocol" directive is not allowed here in F:4`},
	{"listen unknown parameter", miscSMTP("listen 127.0.0.1:2526 bogus;"), `emerg: the invalid "bogus" parameter in F:8`},
	{"listen no udp", miscSMTP("listen 127.0.0.1:2526 udp;"), `emerg: the invalid "udp" parameter in F:8`},
	{"listen no reuseport", miscSMTP("listen 127.0.0.1:2526 reuseport;"), `emerg: the invalid "reuseport" parameter in F:8`},
	{"listen no fastopen", miscSMTP("listen 127.0.0.1:2526 fastopen=1;"), `emerg: the invalid "fastopen=1" parameter in F:8`},
	{"listen SSL", miscSMTP("listen 127.0.0.1:2526 SSL;"), `emerg: the invalid "SSL" parameter in F:8`},
	{"listen bad backlog", miscSMTP("listen 127.0.0.1:2526 backlog=0;"), `emerg: invalid backlog "backlog=0" in F:8`},
	{"listen bad rcvbuf", miscSMTP("listen 127.0.0.1:2526 rcvbuf=x;"), `emerg: invalid rcvbuf "rcvbuf=x" in F:8`},
	{"listen bad sndbuf", miscSMTP("listen 127.0.0.1:2526 sndbuf=1q;"), `emerg: invalid sndbuf "sndbuf=1q" in F:8`},
	{"listen bad ipv6only", miscSMTP("listen [::1]:2526 ipv6only=of;"), `emerg: invalid ipv6only flags "of" in F:8`},
	{"listen bad so_keepalive", miscSMTP("listen 127.0.0.1:2526 so_keepalive=0:0:0;"), `emerg: invalid so_keepalive value: "0:0:0" in F:8`},
	{"listen bad port", miscSMTP("listen 127.0.0.1:0;"), `emerg: invalid port in "127.0.0.1:0" of the "listen" directive in F:8`},
	{"listen bad range", miscSMTP("listen 127.0.0.1:27-26;"), `emerg: invalid port range in "127.0.0.1:27-26" of the "listen" directive in F:8`},
	{"listen host not found", miscSMTP("listen nosuch.zonesync.invalid:25;"),
		`emerg: host not found in "nosuch.zonesync.invalid:25" of the "listen" directive in F:8`},
	{"listen duplicate", miscSMTP("listen 127.0.0.1:2525;"), `emerg: duplicate "127.0.0.1:2525" address and port pair in F:8`},
	{"listen parameters before duplicates", miscSMTP("listen 127.0.0.1:2525 bogus;"), `emerg: the invalid "bogus" parameter in F:8`},
	{"listen duplicate in a range", miscSMTP("listen 127.0.0.1:2524-2526;"), `emerg: duplicate "127.0.0.1:2525" address and port pair in F:8`},
	{"listen duplicate by name", miscSMTP("listen localhost:2525;"), `emerg: duplicate "127.0.0.1:2525" address and port pair in F:8`},
	{"listen duplicate wildcard", miscSMTP("listen *:2526;\nlisten 2526;"), `emerg: duplicate "0.0.0.0:2526" address and port pair in F:9`},
	{"listen wildcard and address", miscSMTP("listen *:2525;"), ""},
	{"listen duplicate unix", miscSMTP("listen unix:/tmp/zs.sock;\nlisten unix:/tmp/zs.sock;"), `emerg: duplicate "unix:/tmp/zs.sock" address and port pair in F:9`},

	// auth_http (ngx_mail_auth_http_module)
	{"auth_http forms", miscMail("auth_http 127.0.0.1;\nauth_http http://127.0.0.1:9000/auth;\nauth_http unix:/tmp/auth.sock:/auth;\n" +
		"auth_http [::1]:80/auth;\nauth_http 127.0.0.1?x;\nauth_http localhost;"), ""},
	{"no auth_http", miscMail("server {\nlisten 127.0.0.1:2525;\nprotocol smtp;\n}"), `emerg: no "auth_http" is defined for server in F:4`},
	{"auth_http at the server", miscMail("server {\nlisten 127.0.0.1:2525;\nprotocol smtp;\nauth_http 127.0.0.1;\n}"), ""},
	{"auth_http bad port", miscMail("auth_http http://127.0.0.1:99999/auth;"), `emerg: invalid port in auth_http "127.0.0.1:99999/auth" in F:4`},
	{"auth_http https", miscMail("auth_http https://127.0.0.1/auth;"), `emerg: invalid port in auth_http "https://127.0.0.1/auth" in F:4`},
	{"auth_http HTTP://", miscMail("auth_http HTTP://127.0.0.1;"), `emerg: invalid port in auth_http "HTTP://127.0.0.1" in F:4`},
	{"auth_http empty port", miscMail("auth_http 127.0.0.1:/auth;"), `emerg: invalid port in auth_http "127.0.0.1:/auth" in F:4`},
	{"auth_http no host", miscMail("auth_http :80/auth;"), `emerg: no host in auth_http ":80/auth" in F:4`},
	{"auth_http nothing", miscMail("auth_http http://;"), `emerg: no host in auth_http "" in F:4`},
	{"auth_http unix no path", miscMail("auth_http unix:;"), `emerg: no path in the unix domain socket in auth_http "unix:" in F:4`},
	{"auth_http bad IPv6", miscMail("auth_http [::1/auth;"), `emerg: invalid host in auth_http "[::1/auth" in F:4`},
	{"auth_http host not found", miscMail("auth_http nosuch.zonesync.invalid/auth;"), `emerg: host not found in auth_http "nosuch.zonesync.invalid/auth" in F:4`},
	{"auth_http variable", miscMail("auth_http $x;"), `emerg: host not found in auth_http "$x" in F:4`},

	// resolver, set_real_ip_from, the *_auth bitmasks
	{"resolver twice", miscMail("resolver 127.0.0.1;\nresolver off;"), `emerg: "resolver" directive is duplicate in F:5`},
	{"resolver off ignores the rest", miscMail("resolver off x;"), ""},
	{"resolver bad valid", miscMail("resolver 127.0.0.1 valid=x;"), `emerg: invalid parameter: valid=x in F:4`},
	{"resolver bad port", miscMail("resolver 127.0.0.1:99999;"), `emerg: invalid port in resolver "127.0.0.1:99999" in F:4`},
	{"resolver not found", miscMail("resolver nosuch.zonesync.invalid;"), `emerg: host not found in resolver "nosuch.zonesync.invalid" in F:4`},
	{"realip low bits", miscMail("set_real_ip_from 10.0.0.1/8;"), `warn: low address bits of 10.0.0.1/8 are meaningless in F:4`},
	{"realip bad network is a name", miscMail("set_real_ip_from 10.0.0.0/33;"), `emerg: host not found in set_real_ip_from "10.0.0.0/33" in F:4`},
	{"realip all is a name", miscMail("set_real_ip_from all;"), `emerg: host not found in set_real_ip_from "all" in F:4`},
	{"realip host", miscMail("set_real_ip_from localhost;"), ""},
	{"smtp_auth bad", miscSMTP("smtp_auth kerberos;"), `emerg: invalid value "kerberos" in F:8`},

	// starttls, ssl and the certificates (ngx_mail_ssl_module)
	{"starttls bad", miscMail("starttls bogus;"), `emerg: invalid value "bogus" in F:4`},
	{"starttls any case", miscMail("starttls ONLY;"), ""},
	{"starttls twice", miscMail("starttls off;\nstarttls on;"), `emerg: "starttls" directive is duplicate in F:5`},
	{"ssl then starttls", miscMail("ssl on;\nstarttls on;"), warnSSL + "4\n" + `emerg: "ssl" directive conflicts with "starttls" in F:5`},
	{"starttls then ssl", miscMail("starttls on;\nssl on;"), warnSSL + "5\n" + `emerg: "starttls" directive conflicts with "ssl on" in F:5`},
	{"starttls then ssl off", miscMail("starttls on;\nssl off;"), warnSSL + "5"},
	{"ssl then starttls off", miscMail("ssl on;\nstarttls off;"), warnSSL + "4"},
	{"listen ssl without certificate", miscSMTP("listen 127.0.0.1:2526 ssl;\nlisten 127.0.0.1:2527 ssl;\nstarttls on;"),
		`emerg: no "ssl_certificate" is defined for the "listen ... ssl" directive in F:9`},
	{"starttls without certificate", miscSMTP("starttls on;"), `emerg: no "ssl_certificate" is defined for the "starttls" directive in F:8`},
	{"starttls of the mail block", miscMail("auth_http 127.0.0.1;\nstarttls on;\nserver {\nlisten 127.0.0.1:2525;\nprotocol smtp;\n}"),
		`emerg: no "ssl_certificate" is defined for the "starttls" directive in F:5`},
	{"ssl at the server", miscMail("auth_http 127.0.0.1;\nstarttls on;\nserver {\nlisten 127.0.0.1:2525;\nprotocol smtp;\nssl off;\n}"),
		warnSSL + "9\n" + `emerg: no "ssl_certificate" is defined for the "starttls" directive in F:9`},
	{"ssl of the mail block", miscMail("auth_http 127.0.0.1;\nssl on;\nserver {\nlisten 127.0.0.1:2525;\nprotocol smtp;\nstarttls off;\n}"),
		warnSSL + "5\n" + `emerg: no "ssl_certificate" is defined for the "ssl" directive in F:9`},
	{"starttls without key", miscSMTP("starttls on;\nssl_certificate a.crt;"), `emerg: no "ssl_certificate_key" is defined for the "starttls" directive in F:8`},
	{"fewer keys", miscSMTP("listen 127.0.0.1:2526 ssl;\nssl_certificate a.crt;\nssl_certificate b.crt;\nssl_certificate_key a.key;"),
		`emerg: no "ssl_certificate_key" is defined for certificate "b.crt" and the "listen ... ssl" directive in F:8`},
	{"certificates load", miscSMTP("listen 127.0.0.1:2526 ssl;\nssl_certificate a.crt;\nssl_certificate_key a.key;\nssl_session_ticket_key t48;"), ""},
	{"key mismatch", miscSMTP("listen 127.0.0.1:2526 ssl;\nssl_certificate a.crt;\nssl_certificate_key b.key;"),
		`emerg: SSL_CTX_use_PrivateKey("P/b.key") failed (SSL: error:05800074:x509 certificate routines::key values mismatch)`},
	{"ciphers first", miscSMTP("listen 127.0.0.1:2526 ssl;\nssl_certificate none.crt;\nssl_certificate_key a.key;\nssl_ciphers BOGUS;"),
		`emerg: SSL_CTX_set_cipher_list("BOGUS") failed (SSL: error:0A0000B9:SSL routines::no cipher match)`},
	{"verify without CA", miscSMTP("starttls only;\nssl_certificate a.crt;\nssl_certificate_key a.key;\nssl_verify_client on;"),
		`emerg: no ssl_client_certificate for ssl_verify_client`},
	{"ticket key size", miscSMTP("starttls on;\nssl_certificate a.crt;\nssl_certificate_key a.key;\nssl_session_ticket_key t10;"),
		`emerg: "P/t10" must be 48 or 80 bytes in F:13`},
	{"password file missing", miscMail("ssl_password_file none.pass;"), `emerg: open() "P/none.pass" failed (2: No such file or directory) in F:4`},
	{"certificates unused without tls", miscSMTP("ssl_certificate none.crt;"), ""},
}

func TestMailMessages(t *testing.T) { miscRun(t, mailCases) }

func TestMailValues(t *testing.T) {
	conf := miscMail("auth_http http://localhost:9000/auth;\nresolver 127.0.0.1;\nset_real_ip_from 10.1.2.0/24;\n" +
		"smtp_capabilities A B;\nsmtp_capabilities C;\nserver {\n" +
		"listen 127.0.0.1:24-25 ssl backlog=10 rcvbuf=1k so_keepalive=1m:2:3 proxy_protocol;\nlisten [::1]:587 ipv6only=off;\n" +
		"ssl_certificate a.crt;\nssl_certificate_key a.key;\n}\n" +
		"server {\nlisten 127.0.0.1:1110;\nprotocol imap;\nprotocol pop3;\nauth_http unix:/run/auth.sock;\nresolver off;\n}")
	cfg, msg := miscLoad(t, conf, miscFiles(t))
	if msg != "" {
		t.Fatal(msg)
	}
	var servers []*Level
	cfg.Main.Each(MailServer, func(l *Level) { servers = append(servers, l) })
	smtp, pop3 := servers[0], servers[1]

	ln := MailListens(smtp)
	if got, want := ln[0].Text, []string{"127.0.0.1:24", "127.0.0.1:25"}; !reflect.DeepEqual(got, want) {
		t.Errorf("listen text: got %q, want %q", got, want)
	}
	l0 := *ln[0]
	l0.D, l0.Addrs, l0.Text = nil, nil, nil
	want0 := MailListen{Addr: ln[0].Addr, SSL: true, ProxyProtocol: true, Bind: true, Backlog: 10, Rcvbuf: 1024, Sndbuf: -1,
		IPv6Only: true, SoKeepalive: "tune", KeepIdle: time.Minute, KeepIntvl: 2 * time.Second, KeepCnt: 3}
	if !reflect.DeepEqual(l0, want0) {
		t.Errorf("listen: got %+v\nwant %+v", l0, want0)
	}
	if ln[1].IPv6Only || ln[1].Text[0] != "[::1]:587" {
		t.Errorf("second listen: %+v", *ln[1])
	}
	if got := []string{MailProtocol(smtp), MailProtocol(pop3)}; !reflect.DeepEqual(got, []string{"smtp", "pop3"}) {
		t.Errorf("protocols: got %q", got)
	}

	ah := smtp.Get("auth_http").(AuthHTTP)
	if ah.Host != "localhost" || ah.URI != "/auth" || ah.Addr.Port != 9000 || len(ah.Addrs) == 0 || ah.Addrs[0] != netip.MustParseAddrPort("127.0.0.1:9000") {
		t.Errorf("auth_http: %+v", ah)
	}
	if ah := pop3.Get("auth_http").(AuthHTTP); ah.Host != "localhost" || ah.URI != "/" || ah.Addr.Path != "/run/auth.sock" {
		t.Errorf("unix auth_http: %+v", ah)
	}

	if r := smtp.Get("resolver").(MailResolver); r.Off || r.Addrs[0] != netip.MustParseAddrPort("127.0.0.1:53") {
		t.Errorf("resolver: %+v", r)
	}
	if r := pop3.Get("resolver").(MailResolver); !r.Off {
		t.Errorf("resolver off: %+v", r)
	}
	if got, want := smtp.Get("set_real_ip_from"), (RealIPFrom{Nets: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}); !reflect.DeepEqual(got, want) {
		t.Errorf("set_real_ip_from: got %+v, want %+v", got, want)
	}
	var caps []string
	for _, v := range smtp.Lookup("smtp_capabilities") {
		caps = append(caps, v.V.([]string)...)
	}
	if want := []string{"A", "B", "C"}; !reflect.DeepEqual(caps, want) {
		t.Errorf("capabilities: got %q, want %q", caps, want)
	}
}
