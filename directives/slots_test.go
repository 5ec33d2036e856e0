package directives

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zonesync/zonesync/grammar"
)

// With -slots-nginx=PATH, TestSlotMessages also runs every case through
// that binary's `nginx -t` and checks that it prints the expected text:
//
//	go test ./directives/ -run SlotMessages -slots-nginx=/usr/sbin/nginx
var slotsNginx = flag.String("slots-nginx", "", "nginx binary to check the slot cases against")

// TestSlotsTable checks slots.tsv against directives.tsv: every row names
// an open-source directive of its module's subsystem, in exactly one
// context group of it when the name has several, whose argument rule is
// one the slot handles; and each kind has the extras it needs.
func TestSlotsTable(t *testing.T) {
	if len(slotRows) < 450 {
		t.Fatalf("slots.tsv has %d rows, want the ~500 of nginx 1.22.1", len(slotRows))
	}
	claimed := map[*Spec]*slotRow{}
	for _, r := range slotRows {
		specs := r.specs()
		if len(specs) == 0 {
			t.Errorf("slots.tsv:%d: %s (%s) has no open-source row in directives.tsv", r.Line, r.Name, r.Module)
			continue
		}
		if len(specs) > 1 {
			t.Errorf("slots.tsv:%d: %s (%s) matches %d directives.tsv rows: add ctx=", r.Line, r.Name, r.Module, len(specs))
		}
		k := slotKinds[r.Kind]
		for _, s := range specs {
			if !k.fits(s.Args) {
				t.Errorf("slots.tsv:%d: %s is a %s slot but directives.tsv gives it argument rule %b", r.Line, r.Name, r.Kind, s.Args)
			}
			if prev := claimed[s]; prev != nil {
				t.Errorf("slots.tsv:%d: %s's row is also claimed by line %d", r.Line, r.Name, prev.Line)
			}
			claimed[s] = r
		}
		slotCheckExtras(t, r)
	}
}

func slotCheckExtras(t *testing.T, r *slotRow) {
	t.Helper()
	known := map[string]bool{"ctx": true, "source": true}
	if v, ok := r.Extra["source"]; ok && v != "mainline" {
		t.Errorf("slots.tsv:%d: source=%q, want mainline", r.Line, v)
	}
	switch r.Kind {
	case "enum", "bitmask":
		known["values"] = true
		words, masks := slotKeywords(r)
		if len(words) < 2 || words[0] == "" {
			t.Errorf("slots.tsv:%d: %s has no values", r.Line, r.Name)
		}
		if r.Kind == "bitmask" && len(masks) != len(words) {
			t.Errorf("slots.tsv:%d: %s: every bitmask value needs name:mask", r.Line, r.Name)
		}
		for _, m := range masks {
			if m == 0 {
				t.Errorf("slots.tsv:%d: %s has a zero mask", r.Line, r.Name)
			}
		}
	case "num":
		known["min"], known["max"] = true, true
		for _, k := range []string{"min", "max"} {
			if v, ok := r.Extra[k]; ok {
				if _, err := strconv.Atoi(v); err != nil {
					t.Errorf("slots.tsv:%d: %s=%q is not a number", r.Line, k, v)
				}
			}
		}
	case "size":
		known["post"] = true
		switch p := r.Extra["post"]; p {
		case "", "pool_size", "lowat", "http2_recv_buffer_size", "http2_preread_size", "http2_chunk_size":
		default:
			t.Errorf("slots.tsv:%d: unknown post handler %q", r.Line, p)
		}
	case "types":
		known["default"] = true
	case "obsolete":
		known["use"] = true
		if _, ok := table[r.Extra["use"]]; !ok {
			t.Errorf("slots.tsv:%d: %s: use=%q is no directive", r.Line, r.Name, r.Extra["use"])
		}
	}
	for k := range r.Extra {
		if !known[k] {
			t.Errorf("slots.tsv:%d: %s: %s slot takes no %s=", r.Line, r.Name, r.Kind, k)
		}
	}
}

// TestApplySlotsLeavesFamilies checks that applySlots gives a setter to
// the untyped rows and keeps the setters families registered.
func TestApplySlotsLeavesFamilies(t *testing.T) {
	applySlots()
	for _, r := range slotRows {
		for _, s := range r.specs() {
			if s.Set == nil {
				t.Errorf("%s has no setter after applySlots", r.Name)
			}
		}
	}
	s, _ := Lookup("worker_connections", Events)
	if s == nil || !s.Typed() {
		t.Fatal("worker_connections is registered by core.go")
	}
}

// slotCase is a configuration fragment and what nginx -t prints for it:
// warnings and the error, one per line, as "warn: MSG in F:LINE" /
// "emerg: MSG in F:LINE", with P for the prefix folder; "" when it passes
// without a word.
type slotCase struct {
	name, ctx, body, want string
}

// The expected texts were recorded from Debian's nginx 1.22.1 (run the
// test with -slots-nginx to check them again).
var slotCases = []slotCase{
	// num with ngx_conf_check_num_bounds
	{"num bounds", "http", "gzip_comp_level 10;", "emerg: value must be between 1 and 9 in F:3"},
	{"num bounds ok", "http", "gzip_comp_level 9;", ""},
	{"num bounds status", "http", "limit_req_status 399;", "emerg: value must be between 400 and 599 in F:3"},
	{"num invalid", "http", "keepalive_requests x;", `emerg: "keepalive_requests" directive invalid number in F:3`},
	{"num negative", "events", "worker_aio_requests -1;", `emerg: "worker_aio_requests" directive invalid number in F:2`},
	{"num upstream ctx", "http", "upstream u {\nserver 127.0.0.1;\nkeepalive_requests 1x;\n}", `emerg: "keepalive_requests" directive invalid number in F:5`},
	// msec and sec
	{"msec", "http", "client_header_timeout abc;", `emerg: "client_header_timeout" directive invalid value in F:3`},
	{"msec no years", "http", "keepalive_time 1y;", `emerg: "keepalive_time" directive invalid value in F:3`},
	{"msec large", "http", "client_header_timeout 600h;", ""},
	{"msec upstream", "http", "upstream u {\nserver 127.0.0.1;\nkeepalive_timeout abc;\n}", `emerg: "keepalive_timeout" directive invalid value in F:5`},
	{"sec no ms", "http", "open_file_cache_valid 1ms;", `emerg: "open_file_cache_valid" directive invalid value in F:3`},
	{"sec years", "http", "ssl_session_timeout 100y;", ""},
	{"msec events", "events", "accept_mutex_delay 1y;", `emerg: "accept_mutex_delay" directive invalid value in F:2`},
	// size and off
	{"size no g", "http", "sendfile_max_chunk 1g;", `emerg: "sendfile_max_chunk" directive invalid value in F:3`},
	{"off g", "http", "server {\nclient_max_body_size 1g;\nlocation / {\nclient_max_body_size 2g;\n}\n}", ""},
	{"off invalid", "http", "client_max_body_size 1t;", `emerg: "client_max_body_size" directive invalid value in F:3`},
	{"off main", "main", "worker_rlimit_core 1x;", `emerg: "worker_rlimit_core" directive invalid value in F:1`},
	{"pool size small", "http", "request_pool_size 100;", "emerg: the pool size must be no less than 112 in F:3"},
	{"pool size align", "http", "request_pool_size 120;", "emerg: the pool size must be a multiple of 16 in F:3"},
	{"pool size ok", "http", "connection_pool_size 128;", ""},
	{"lowat", "http", "send_lowat 1k;", `warn: "send_lowat" is not supported, ignored in F:3`},
	{"lowat proxy", "http", "proxy_send_lowat 0;", `warn: "proxy_send_lowat" is not supported, ignored in F:3`},
	{"http2 recv buffer", "http", "http2_recv_buffer_size 32;", `emerg: "http2_recv_buffer_size" directive value is too small in F:3`},
	{"http2 recv buffer ok", "http", "http2_recv_buffer_size 33;", ""},
	{"http2 preread", "http", "http2_body_preread_size 2048m;", "emerg: the maximum body preread buffer size is 2147483647 in F:3"},
	{"http2 chunk", "http", "http2_chunk_size 0;", "emerg: the http2 chunk size cannot be zero in F:3"},
	{"http2 chunk large", "http", "http2_chunk_size 100m;", ""},
	// bufs
	{"bufs size", "http", "proxy_buffers 8 x;", `emerg: "proxy_buffers" directive invalid value in F:3`},
	{"bufs args", "http", "proxy_buffers 8;", `emerg: invalid number of arguments in "proxy_buffers" directive in F:3`},
	{"bufs zero", "http", "large_client_header_buffers 0 8k;", `emerg: "large_client_header_buffers" directive invalid value in F:3`},
	{"bufs duplicate", "http", "gzip_buffers 8 4k;\ngzip_buffers 8 4k;", `emerg: "gzip_buffers" directive is duplicate in F:4`},
	// enum
	{"enum", "http", "proxy_http_version 3;", `emerg: invalid value "3" in F:3`},
	{"enum case", "http", "satisfy ANY;", ""},
	{"enum bad", "http", "satisfy some;", `emerg: invalid value "some" in F:3`},
	{"enum duplicate", "http", "proxy_http_version 1.1;\nproxy_http_version 1.0;", `emerg: "proxy_http_version" directive is duplicate in F:4`},
	{"enum levels", "http", "lingering_close always;\nserver {\nlingering_close off;\n}", ""},
	{"enum main", "main", "debug_points none;", `emerg: invalid value "none" in F:1`},
	{"enum stream", "stream", "limit_conn_log_level bar;", `emerg: invalid value "bar" in F:4`},
	// bitmask
	{"bitmask", "http", "gzip_proxied foo;", `emerg: invalid value "foo" in F:3`},
	{"bitmask duplicate value", "http", "gzip_proxied expired any expired;", `warn: duplicate value "expired" in F:3`},
	{"bitmask repeated", "http", "gzip_proxied expired;\ngzip_proxied EXPIRED;", `warn: duplicate value "EXPIRED" in F:4`},
	{"bitmask overlap", "http", "userid_flags samesite=strict samesite=lax;", `warn: duplicate value "samesite=lax" in F:3`},
	{"bitmask ssl", "http", "ssl_protocols TLSv1.2 tlsv1.3 TLSv1.2;", `warn: duplicate value "TLSv1.2" in F:3`},
	{"bitmask stream", "stream", "ssl_protocols foo;", `emerg: invalid value "foo" in F:4`},
	{"bitmask mail", "mail", "smtp_auth login plain foo;", `emerg: invalid value "foo" in F:4`},
	{"bitmask case", "http", "proxy_cache_methods get head;", ""},
	// flag
	{"flag", "http", "sendfile maybe;", `emerg: invalid value "maybe" in "sendfile" directive, it must be "on" or "off" in F:3`},
	{"flag duplicate", "http", "autoindex on;\nautoindex on;", `emerg: "autoindex" directive is duplicate in F:4`},
	// str
	{"str duplicate", "http", "default_type a/b;\ndefault_type c/d;", `emerg: "default_type" directive is duplicate in F:4`},
	{"str levels", "http", "default_type a/b;\nserver {\ndefault_type c/d;\n}", ""},
	{"str_array repeated", "http", "proxy_hide_header A;\nproxy_hide_header B;", ""},
	// complex values
	{"complex bracket", "http", `proxy_method "${foo";`, `emerg: the closing bracket in "foo" variable is missing in F:3`},
	{"complex name", "http", `proxy_method "a$";`, "emerg: invalid variable name in F:3"},
	{"complex empty name", "http", `proxy_method "${}";`, "emerg: invalid variable name in F:3"},
	{"complex space", "http", `proxy_method "${a b}";`, `emerg: the closing bracket in "a" variable is missing in F:3`},
	{"complex capture", "http", `proxy_method "$1x";`, ""},
	{"complex size", "http", "limit_rate 1x;", `emerg: "limit_rate" directive invalid value in F:3`},
	{"complex size g", "http", "limit_rate 1g;", `emerg: "limit_rate" directive invalid value in F:3`},
	{"complex zero duplicate", "http", "proxy_ssl_certificate a;\nproxy_ssl_certificate b;", `emerg: "proxy_ssl_certificate" directive is duplicate in F:4`},
	{"predicate", "http", `proxy_no_cache $arg_x "${b";`, `emerg: the closing bracket in "b" variable is missing in F:3`},
	{"complex stream", "stream", `proxy_ssl_name "${a";`, `emerg: the closing bracket in "a" variable is missing in F:4`},
	{"complex size stream", "stream", "proxy_upload_rate 1x;", `emerg: "proxy_upload_rate" directive invalid value in F:4`},
	// types
	{"types default", "http", "gzip_types text/html;", `warn: duplicate MIME type "text/html" in F:3`},
	{"types lower", "http", "gzip_types TEXT/Plain text/plain;", `warn: duplicate MIME type "text/plain" in F:3`},
	{"types star", "http", "gzip_types *;\ngzip_types a/b a/b;", ""},
	{"types repeated", "http", "sub_filter_types a/b;\nsub_filter_types A/B;", `warn: duplicate MIME type "a/b" in F:4`},
	// path and access
	{"path level", "http", "client_body_temp_path tmp1 0;", `emerg: "client_body_temp_path" directive invalid value in F:3`},
	{"path levels differ", "http", "client_body_temp_path tmp2 1;\nproxy_temp_path tmp2/ 2;", `emerg: the same path name "P/tmp2" in F:3 has the different levels than in F:4`},
	{"path levels same", "http", "client_body_temp_path tmp3 1 2;\nserver {\nproxy_temp_path tmp3 1 2;\n}", ""},
	{"access", "http", "proxy_store_access user:rw group:x;", `emerg: invalid value "group:x" in F:3`},
	{"access duplicate", "http", "proxy_store_access user:rw;\nproxy_store_access all:r;", `emerg: "proxy_store_access" directive is duplicate in F:4`},
	// upstream helpers
	{"cache valid status", "http", "proxy_cache_valid 600 10m;", `emerg: invalid status "600" in F:3`},
	{"cache valid any", "http", "proxy_cache_valid ANY 10m;", `emerg: invalid status "ANY" in F:3`},
	{"cache valid time", "http", "proxy_cache_valid 200 10x;", `emerg: invalid time value "10x" in F:3`},
	{"cache valid ok", "http", "proxy_cache_valid 200 302 10m;\nproxy_cache_valid any 1m;", ""},
	{"bind port", "http", "proxy_bind 1.2.3.4:0;", `emerg: invalid address "1.2.3.4:0" in F:3`},
	{"bind brackets", "http", "fastcgi_bind [::1];", `emerg: invalid address "[::1]" in F:3`},
	{"bind parameter", "http", "uwsgi_bind [::1]:80 foo;", `emerg: invalid parameter "foo" in F:3`},
	{"bind ok", "http", "scgi_bind ::1 transparent;\nserver {\nscgi_bind off;\n}", ""},
	{"bind duplicate", "http", "grpc_bind off;\ngrpc_bind off;", `emerg: "grpc_bind" directive is duplicate in F:4`},
	{"param", "http", "fastcgi_param A B foo;", `emerg: invalid parameter "foo" in F:3`},
	{"param ok", "http", "scgi_param A B if_not_empty;\nscgi_param A C;", ""},
	// obsolete
	{"obsolete", "http", "http2_max_requests x;", `warn: the "http2_max_requests" directive is obsolete, use the "keepalive_requests" directive instead in F:3`},
	// stream and events duplicates
	{"stream duplicate", "stream", "preread_timeout 1d;\npreread_timeout 2d;", `emerg: "preread_timeout" directive is duplicate in F:5`},
	{"stream size", "stream", "proxy_buffer_size 1g;", `emerg: "proxy_buffer_size" directive invalid value in F:4`},
}

// slotMainlineCases are directives nginx 1.22.1 does not know; their
// texts are those of the same slots above.
var slotMainlineCases = []slotCase{
	{"mainline flag", "http", "http2 maybe;", `emerg: invalid value "maybe" in "http2" directive, it must be "on" or "off" in F:3`},
	{"mainline num", "http", "http3_max_concurrent_streams x;", `emerg: "http3_max_concurrent_streams" directive invalid number in F:3`},
	{"mainline bitmask", "http", "tunnel_next_upstream error http_502;", `emerg: invalid value "http_502" in F:3`},
	{"mainline lowat", "http", "tunnel_send_lowat 1k;", `warn: "tunnel_send_lowat" is not supported, ignored in F:3`},
	{"mainline main", "main", "quic_bpf on;\nquic_bpf off;", `emerg: "quic_bpf" directive is duplicate in F:2`},
}

// slotConf wraps a case's body in the context it is for. The module
// lines are for nginx; zonesync accepts and ignores them.
func slotConf(c slotCase) string {
	switch c.ctx {
	case "raw":
		return c.body
	case "main":
		return c.body + "\nevents {}\n"
	case "events":
		return "events {\n" + c.body + "\n}\n"
	case "stream":
		return "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\nevents {}\nstream {\n" + c.body + "\n}\n"
	case "mail":
		return "load_module /usr/lib/nginx/modules/ngx_mail_module.so;\nevents {}\nmail {\n" + c.body + "\n}\n"
	}
	return "events {}\nhttp {\n" + c.body + "\n}\n"
}

func writeSlotCase(t *testing.T, c slotCase) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(slotConf(c)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func TestSlotMessages(t *testing.T) {
	applySlots()
	for i, c := range append(slotCases, slotMainlineCases...) {
		mainline := i >= len(slotCases)
		t.Run(c.name, func(t *testing.T) {
			if got := slotRunZonesync(t, c); got != c.want {
				t.Errorf("%s\nzonesync: %q\nwant:     %q", slotConf(c), got, c.want)
			}
			if *slotsNginx == "" || mainline {
				return
			}
			if got := slotRunNginx(t, c); got != c.want {
				t.Errorf("%s\nnginx: %q\nwant:  %q", slotConf(c), got, c.want)
			}
		})
	}
}

func slotRunZonesync(t *testing.T, c slotCase) string {
	dir, file := writeSlotCase(t, c)
	var out []string
	logf := func(s Severity, err error) {
		if s == Warn {
			out = append(out, "warn: "+err.Error())
		}
	}
	cfg, err := Load(Options{Prefix: dir + "/", ConfFile: file, Log: logf, Test: true})
	if err == nil {
		err = cfg.Check()
	}
	if err != nil {
		var ge *grammar.Error
		if !errors.As(err, &ge) {
			t.Fatalf("not a located error: %v", err)
		}
		out = append(out, "emerg: "+err.Error())
	}
	return slotNormalize(strings.Join(out, "\n"), dir, file)
}

func slotRunNginx(t *testing.T, c slotCase) string {
	dir, file := writeSlotCase(t, c)
	b, _ := exec.Command(*slotsNginx, "-t", "-p", dir+"/", "-c", file, "-e", "/dev/null").CombinedOutput()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		for _, lvl := range []string{"warn", "emerg"} {
			if msg, ok := strings.CutPrefix(line, "nginx: ["+lvl+"] "); ok {
				out = append(out, lvl+": "+msg)
			}
		}
	}
	return slotNormalize(strings.Join(out, "\n"), dir, file)
}

func slotNormalize(s, dir, file string) string {
	s = strings.ReplaceAll(s, file, "F")
	return strings.ReplaceAll(s, dir, "P")
}

// slotModules are the load_module lines nginx needs for every directive
// of slots.tsv; zonesync has every module built in.
const slotModules = "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n" +
	"load_module /usr/lib/nginx/modules/ngx_mail_module.so;\n" +
	"load_module /usr/lib/nginx/modules/ngx_http_geoip_module.so;\n" +
	"load_module /usr/lib/nginx/modules/ngx_http_image_filter_module.so;\n" +
	"load_module /usr/lib/nginx/modules/ngx_http_xslt_filter_module.so;\n" +
	"load_module /usr/lib/nginx/modules/ngx_stream_geoip_module.so;\n"

// slotWrap puts body in a configuration at the first context of s and
// returns it with the line the body starts on.
func slotWrap(s *Spec, body string) (string, int) {
	var head, tail string
	switch c := s.Contexts; {
	case c&(Main|MainDirect) != 0:
		head, tail = "", "\nevents {}\n"
	case c&Events != 0:
		head, tail = "events {\n", "\n}\n"
	case c&HTTP != 0:
		head, tail = "events {}\nhttp {\n", "\n}\n"
	case c&HTTPServer != 0:
		head, tail = "events {}\nhttp {\nserver {\n", "\n}\n}\n"
	case c&HTTPLocation != 0:
		head, tail = "events {}\nhttp {\nserver {\nlocation / {\n", "\n}\n}\n}\n"
	case c&HTTPUpstream != 0:
		head, tail = "events {}\nhttp {\nupstream u {\nserver 127.0.0.1;\n", "\n}\n}\n"
	case c&Stream != 0:
		head, tail = "events {}\nstream {\n", "\n}\n"
	case c&StreamServer != 0:
		head, tail = "events {}\nstream {\nserver {\n", "\n}\n}\n"
	case c&Mail != 0:
		head, tail = "events {}\nmail {\n", "\n}\n"
	default:
		head, tail = "events {}\nmail {\nserver {\n", "\n}\n}\n"
	}
	head = slotModules + head
	return head + body + tail, strings.Count(head, "\n") + 1
}

// slotSamples are, per kind, a value the slot takes and one it refuses
// with the text that follows (L is the line, N the directive's name).
var slotSamples = map[string]struct{ good, bad, want string }{
	"flag":         {"on", "maybe", `emerg: invalid value "maybe" in "N" directive, it must be "on" or "off" in F:L`},
	"str":          {"x", "", ""},
	"num":          {"1", "x", `emerg: "N" directive invalid number in F:L`},
	"size":         {"4k", "1x", `emerg: "N" directive invalid value in F:L`},
	"off":          {"4k", "1x", `emerg: "N" directive invalid value in F:L`},
	"msec":         {"1s", "1x", `emerg: "N" directive invalid value in F:L`},
	"sec":          {"1s", "1ms", `emerg: "N" directive invalid value in F:L`},
	"bufs":         {"8 4k", "0 4k", `emerg: "N" directive invalid value in F:L`},
	"enum":         {"", "zzz", `emerg: invalid value "zzz" in F:L`},
	"bitmask":      {"", "zzz", `emerg: invalid value "zzz" in F:L`},
	"path":         {"tmpdir 1", "tmpdir 0", `emerg: "N" directive invalid value in F:L`},
	"access":       {"user:rw", "x", `emerg: invalid value "x" in F:L`},
	"complex":      {"x", "${a", `emerg: the closing bracket in "a" variable is missing in F:L`},
	"complex_zero": {"x", "${a", `emerg: the closing bracket in "a" variable is missing in F:L`},
	"complex_size": {"1k", "1x", `emerg: "N" directive invalid value in F:L`},
	"predicate":    {"", "${a", `emerg: the closing bracket in "a" variable is missing in F:L`},
	"param":        {"", "A B x", `emerg: invalid parameter "x" in F:L`},
	"bind":         {"off", "1.2.3.4:0", `emerg: invalid address "1.2.3.4:0" in F:L`},
	"cache_valid":  {"", "1x", `emerg: invalid time value "1x" in F:L`},
}

// TestSlotsEveryRow gives every nginx 1.22.1 row of slots.tsv a refused
// value (the kind's message) and, for a slot with one value, the same
// good value twice ("is duplicate"). With -slots-nginx, nginx must print
// exactly what zonesync prints for both.
func TestSlotsEveryRow(t *testing.T) {
	applySlots()
	n := 0
	for _, r := range slotRows {
		sample, ok := slotSamples[r.Kind]
		if !ok || r.Extra["source"] == "mainline" {
			continue
		}
		s := r.specs()[0]
		if sample.bad != "" {
			conf, line := slotWrap(s, r.Name+" "+sample.bad+";")
			want := strings.NewReplacer("N", r.Name, "L", strconv.Itoa(line)).Replace(sample.want)
			if r.Kind == "size" && r.Extra["post"] == "lowat" {
				want = `emerg: "` + r.Name + `" directive invalid value in F:` + strconv.Itoa(line)
			}
			slotCompare(t, r, conf, want)
			n++
		}
		if k := slotKinds[r.Kind]; !k.multi {
			good := sample.good
			if good == "" {
				words, _ := slotKeywords(r)
				good = words[0]
			}
			if m, ok := r.Extra["min"]; ok {
				good = m
			}
			conf, line := slotWrap(s, r.Name+" "+good+";\n"+r.Name+" "+good+";")
			want := `emerg: "` + r.Name + `" directive is duplicate in F:` + strconv.Itoa(line+1)
			if r.Extra["post"] == "lowat" {
				want = `warn: "` + r.Name + `" is not supported, ignored in F:` + strconv.Itoa(line) + "\n" + want
			}
			slotCompare(t, r, conf, want)
			n++
		}
	}
	t.Logf("%d configurations checked", n)
}

func slotCompare(t *testing.T, r *slotRow, conf, want string) {
	t.Helper()
	c := slotCase{name: r.Name, ctx: "raw", body: conf}
	if got := slotRunZonesync(t, c); got != want {
		t.Errorf("slots.tsv:%d %s:\n%s\nzonesync: %q\nwant:     %q", r.Line, r.Name, conf, got, want)
	}
	if *slotsNginx != "" {
		if got := slotRunNginx(t, c); got != want {
			t.Errorf("slots.tsv:%d %s:\n%s\nnginx: %q\nwant:  %q", r.Line, r.Name, conf, got, want)
		}
	}
}
