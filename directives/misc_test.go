package directives

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// With -misc-nginx=PATH, the mail and misc message cases also run through
// that nginx (1.22.1 with the mail module, as Debian ships it), to keep
// the expected messages honest:
//
//	go test ./directives -run 'Mail|Misc' -misc-nginx=/usr/sbin/nginx
var miscNginx = flag.String("misc-nginx", "", "nginx binary to check the mail and misc cases against")

// miscCase is a whole configuration file and what nginx -t says about it:
// its warnings and its error, one a line ("warn: MSG", "emerg: MSG"), with
// F for the file's path and P for the prefix folder; "" when it is valid
// and quiet.
type miscCase struct{ name, conf, want string }

// miscFiles are written beside each case's nginx.conf: a certificate and
// its key, another pair, and session ticket key files.
func miscFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"t48": make([]byte, 48),
		"t10": make([]byte, 10),
	}
	for i, name := range []string{"a", "b"} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		files[name+".crt"] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		files[name+".key"] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	return files
}

// miscWrite makes the case's folder: nginx.conf, the extra files and an
// empty logs folder.
func miscWrite(t *testing.T, conf string, files map[string][]byte) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file = filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func miscNormalize(s, dir, file string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, file, "F"), dir, "P")
}

// miscLoad runs a configuration through zonesync's loader and checks and
// returns the config (nil on error) and what was logged, as miscCase.want.
func miscLoad(t *testing.T, conf string, files map[string][]byte) (*Config, string) {
	t.Helper()
	dir, file := miscWrite(t, conf, files)
	var out []string
	logf := func(s Severity, err error) {
		out = append(out, s.String()+": "+err.Error())
	}
	cfg, err := Load(Options{Prefix: dir + "/", ConfFile: file, Log: logf, Test: true})
	if err == nil {
		err = cfg.Check()
	}
	if err != nil {
		out, cfg = append(out, "emerg: "+err.Error()), nil
	}
	return cfg, miscNormalize(strings.Join(out, "\n"), dir, file)
}

// miscRunNginx is what nginx -t logs for the configuration.
func miscRunNginx(t *testing.T, conf string, files map[string][]byte) string {
	t.Helper()
	dir, file := miscWrite(t, conf, files)
	b, _ := exec.Command(*miscNginx, "-t", "-p", dir+"/", "-c", file, "-e", "/dev/null").CombinedOutput()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		for _, lvl := range []string{"warn", "emerg"} {
			if msg, ok := strings.CutPrefix(line, "nginx: ["+lvl+"] "); ok {
				out = append(out, lvl+": "+msg)
			}
		}
	}
	return miscNormalize(strings.Join(out, "\n"), dir, file)
}

// miscRun checks each case against zonesync and, with -misc-nginx, nginx.
func miscRun(t *testing.T, cases []miscCase) {
	files := miscFiles(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, got := miscLoad(t, c.conf, files); got != c.want {
				t.Errorf("%s\nzonesync: %q\nwant:     %q", c.conf, got, c.want)
			}
			if *miscNginx == "" {
				return
			}
			if got := miscRunNginx(t, c.conf, files); got != c.want {
				t.Errorf("%s\nnginx: %q\nwant:  %q", c.conf, got, c.want)
			}
		})
	}
}

// miscHTTP wraps a location's body.
func miscHTTP(location string) string {
	return "events {}\nhttp {\nserver {\nlisten 127.0.0.1:8080;\nlocation / {\n" + location + "\n}\n}\n}\n"
}

var miscCases = []miscCase{
	// limit_except (ngx_http_core_limit_except)
	{"limit_except methods", miscHTTP("limit_except get Head PATCH propfind { deny all; }"), ""},
	{"limit_except unknown method", miscHTTP("limit_except GET FETCH TRACE { deny all; }"), `emerg: invalid method "FETCH" in F:6`},
	{"limit_except TRACE", miscHTTP("limit_except TRACE { deny all; }"), `emerg: invalid method "TRACE" in F:6`},
	{"limit_except empty method", miscHTTP(`limit_except "" { deny all; }`), `emerg: invalid method "" in F:6`},
	{"limit_except before contents", miscHTTP("limit_except FETCH { bogus; }"), `emerg: invalid method "FETCH" in F:6`},
	{"limit_except twice", miscHTTP("limit_except GET { }\nlimit_except POST { }"), `emerg: "limit_except" directive is duplicate in F:7`},

	// charset_map (ngx_http_charset_map_block, ngx_http_charset_map)
	{"charset_map to utf-8", "events {}\nhttp {\ncharset_map koi8-r UTF-8 {\nC0 D18E;\nc1 d0b0;\n00000C2 C280;\nC3 EFBFBD;\nC4 D0B0B0B0;\n}\n}\n", ""},
	{"charset_map bytes", "events {}\nhttp {\ncharset_map koi8-r windows-1251 {\nC0 E0;\n0 FF;\n}\n}\n", ""},
	{"charset_map bad source", "events {}\nhttp {\ncharset_map koi8-r utf-8 {\nZZ D18E;\n}\n}\n", `emerg: invalid value "ZZ" in F:4`},
	{"charset_map source too big", "events {}\nhttp {\ncharset_map koi8-r utf-8 {\n100 D0B0;\n}\n}\n", `emerg: invalid value "100" in F:4`},
	{"charset_map negative", "events {}\nhttp {\ncharset_map a b {\n-1 0;\n}\n}\n", `emerg: invalid value "-1" in F:4`},
	{"charset_map byte too big", "events {}\nhttp {\ncharset_map a b {\nC1 100;\n}\n}\n", `emerg: invalid value "100" in F:4`},
	{"charset_map odd utf-8", "events {}\nhttp {\ncharset_map a utf-8 {\nC0 D0B;\n}\n}\n", `emerg: invalid value "D0B" in F:4`},
	{"charset_map utf-8 ascii", "events {}\nhttp {\ncharset_map a utf-8 {\nC0 41;\n}\n}\n", `emerg: invalid value "41" in F:4`},
	{"charset_map utf-8 short", "events {}\nhttp {\ncharset_map a utf-8 {\nC0 E0A0;\n}\n}\n", `emerg: invalid value "E0A0" in F:4`},
	{"charset_map utf-8 overlong", "events {}\nhttp {\ncharset_map a utf-8 {\nC0 E08080;\n}\n}\n", `emerg: invalid value "E08080" in F:4`},
	{"charset_map utf-8 beyond FFFF", "events {}\nhttp {\ncharset_map a utf-8 {\nC0 F0908080;\n}\n}\n", `emerg: invalid value "F0908080" in F:4`},
	{"charset_map utf-8 not continued", "events {}\nhttp {\ncharset_map a utf-8 {\nC0 C241;\n}\n}\n", `emerg: invalid value "C241" in F:4`},
	{"charset_map utf-8 empty", "events {}\nhttp {\ncharset_map a utf-8 {\nC0 \"\";\n}\n}\n", `emerg: invalid value "" in F:4`},
	{"charset_map from utf-8", "events {}\nhttp {\ncharset_map utf-8 a {\nC0 D0B0;\n}\n}\n", `emerg: invalid value "D0B0" in F:4`},
	{"charset_map three words", "events {}\nhttp {\ncharset_map a b {\nC0 D0 B0;\n}\n}\n", `emerg: invalid parameters number in F:4`},
	{"charset_map one word", "events {}\nhttp {\ncharset_map a b {\nC0;\n}\n}\n", `emerg: invalid parameters number in F:4`},
	{"charset_map include is data", "events {}\nhttp {\ncharset_map a b {\ninclude x;\n}\n}\n", `emerg: invalid value "include" in F:4`},
	{"charset_map block", "events {}\nhttp {\ncharset_map a b {\nC0 D0 { }\n}\n}\n", `emerg: unexpected "{" in F:4`},
	{"charset_map same", "events {}\nhttp {\ncharset_map koi8-r KOI8-R { }\n}\n", `emerg: "charset_map" between the same charsets "koi8-r" and "KOI8-R" in F:3`},
	{"charset_map duplicate", "events {}\nhttp {\ncharset_map a b { }\ncharset_map B A { }\n}\n", `emerg: duplicate "charset_map" between "B" and "A" in F:4`},
	{"charset_map chain", "events {}\nhttp {\ncharset_map a b { }\ncharset_map b c { }\ncharset_map c a { }\n}\n", ""},

	// worker_cpu_affinity (ngx_set_cpu_affinity, ngx_core_module_init_conf)
	{"affinity masks", "worker_processes 2;\nworker_cpu_affinity 0101 \"10 10\";\nevents {}\n", ""},
	{"affinity bad character", "worker_processes 2;\nworker_cpu_affinity 0102;\nevents {}\n", `emerg: invalid character "2" in "worker_cpu_affinity" in F:2`},
	{"affinity read from the right", "worker_cpu_affinity x2;\nevents {}\n", `emerg: invalid character "2" in "worker_cpu_affinity" in F:1`},
	{"affinity AUTO is a mask", "worker_cpu_affinity AUTO;\nevents {}\n", `emerg: invalid character "O" in "worker_cpu_affinity" in F:1`},
	{"affinity auto", "worker_cpu_affinity auto;\nevents {}\n", ""},
	{"affinity auto mask", "worker_cpu_affinity auto 0110;\nevents {}\n", ""},
	{"affinity auto two masks", "worker_cpu_affinity auto 01 10;\nevents {}\n", `emerg: invalid number of arguments in "worker_cpu_affinity" directive in F:1`},
	{"affinity auto bad mask", "worker_cpu_affinity auto 0x;\nevents {}\n", `emerg: invalid character "x" in "worker_cpu_affinity" in F:1`},
	{"affinity too long", "worker_cpu_affinity 1" + strings.Repeat("0", 1024) + ";\nevents {}\n", `emerg: "worker_cpu_affinity" supports up to 1024 CPUs only in F:1`},
	{"affinity twice", "worker_cpu_affinity 1;\nworker_cpu_affinity 1;\nevents {}\n", `emerg: "worker_cpu_affinity" directive is duplicate in F:2`},
	{"affinity one mask for all", "worker_processes 3;\nworker_cpu_affinity 01;\nevents {}\n", ""},
	{"affinity fewer masks than workers", "worker_processes 3;\nworker_cpu_affinity 01 10;\nevents {}\n",
		`warn: the number of "worker_processes" is not equal to the number of "worker_cpu_affinity" masks, using last mask for remaining worker processes`},
	{"affinity more masks than workers", "worker_cpu_affinity 01 10;\nevents {}\n",
		`warn: the number of "worker_processes" is not equal to the number of "worker_cpu_affinity" masks, using last mask for remaining worker processes`},

	// thread_pool (ngx_thread_pool, ngx_thread_pool_init_conf) and aio
	{"thread_pool", "thread_pool default threads=32 max_queue=65536;\nthread_pool io threads=4 other=1;\nthread_pool io2 threads=4 max_queue=0;\nthread_pool IO threads=1;\nevents {}\n", ""},
	{"thread_pool word threads", "thread_pool io threads=zero;\nevents {}\n", `emerg: invalid threads value "threads=zero" in F:1`},
	{"thread_pool zero threads", "thread_pool io threads=0;\nevents {}\n", `emerg: invalid threads value "threads=0" in F:1`},
	{"thread_pool last threads counts", "thread_pool io threads=2 threads=x;\nevents {}\n", `emerg: invalid threads value "threads=x" in F:1`},
	{"thread_pool no threads", "thread_pool io max_queue=10;\nevents {}\n", `emerg: "thread_pool" must have "threads" parameter in F:1`},
	{"thread_pool THREADS is ignored", "thread_pool io THREADS=3 max_queue=1;\nevents {}\n", `emerg: "thread_pool" must have "threads" parameter in F:1`},
	{"thread_pool bad max_queue", "thread_pool io threads=2 max_queue=-1;\nevents {}\n", `emerg: invalid max_queue value "max_queue=-1" in F:1`},
	{"thread_pool twice", "thread_pool io threads=2;\nthread_pool io threads=3;\nevents {}\n", `emerg: duplicate thread pool "io" in F:2`},
	{"aio default pool", "events {}\nhttp {\naio threads;\n}\n", ""},
	{"aio pool defined later", "events {}\nhttp {\naio threads=io;\n}\nthread_pool io threads=2;\n", ""},
	{"aio unknown pool", "events {}\nhttp {\nserver {\nlisten 127.0.0.1:8080;\naio threads=io;\n}\n}\n", `emerg: unknown thread pool "io" in F:5`},
	{"aio pool defined after use", "events {}\nhttp {\naio threads=io;\n}\nthread_pool io threads=2;\nthread_pool io threads=2;\n", `emerg: duplicate thread pool "io" in F:6`},
	{"aio on", "events {}\nhttp {\naio on;\n}\n", `emerg: "aio on" is unsupported on this platform in F:3`},
	{"aio bad", "events {}\nhttp {\naio On;\n}\n", `emerg: "aio" directive invalid value in F:3`},
	{"aio threadsx", "events {}\nhttp {\naio threadsx;\n}\n", `emerg: "aio" directive invalid value in F:3`},
	{"aio twice", "events {}\nhttp {\naio off;\naio threads;\n}\n", `emerg: "aio" directive is duplicate in F:4`},

	// expires (ngx_http_headers_expires, ngx_http_parse_expires)
	{"expires forms", miscHTTP("expires 30d;\nlocation /b { expires modified +1h; }\nlocation /c { expires @15h30m; }\n" +
		"location /d { expires epoch; }\nlocation /e { expires max; }\nlocation /f { expires off; }\nlocation /g { expires -1h; }\n" +
		"location /h { expires @24h; }\nlocation /i { expires $time_iso8601; }\nlocation /j { if ($uri) { expires 0; } }"), ""},
	{"expires word", miscHTTP("expires sometime;"), `emerg: "expires" directive invalid value in F:6`},
	{"expires EPOCH", miscHTTP("expires EPOCH;"), `emerg: "expires" directive invalid value in F:6`},
	{"expires not modified", miscHTTP("expires access 1h;"), `emerg: "expires" directive invalid value in F:6`},
	{"expires modified epoch", miscHTTP("expires modified epoch;"), `emerg: "expires" directive invalid value in F:6`},
	{"expires modified daily", miscHTTP("expires modified @1h;"), `emerg: "expires" directive daily time cannot be used with "modified" parameter in F:6`},
	{"expires daily too late", miscHTTP("expires @25h;"), `emerg: "expires" directive daily time value must be less than 24 hours in F:6`},
	{"expires daily negative", miscHTTP("expires @-1h;"), `emerg: "expires" directive invalid value in F:6`},
	{"expires sign only", miscHTTP("expires +;"), `emerg: "expires" directive invalid value in F:6`},
	{"expires ms", miscHTTP("expires 1ms;"), `emerg: "expires" directive invalid value in F:6`},
	{"expires twice", miscHTTP("expires 1h;\nexpires 2h;"), `emerg: "expires" directive is duplicate in F:7`},
}

func TestMiscMessages(t *testing.T) { miscRun(t, miscCases) }

func TestLimitExceptValue(t *testing.T) {
	cfg, msg := miscLoad(t, miscHTTP("limit_except get post { deny all; }"), nil)
	if msg != "" {
		t.Fatal(msg)
	}
	var got LimitExcept
	cfg.Main.Each(HTTPLimitExcept, func(l *Level) { got = l.Ext.(LimitExcept) })
	want := map[string]bool{"GET": true, "HEAD": true, "POST": true}
	if !reflect.DeepEqual(got.Methods, want) {
		t.Errorf("got %v, want %v", got.Methods, want)
	}
}

func TestCharsetMapValue(t *testing.T) {
	cfg, msg := miscLoad(t, "events {}\nhttp {\ncharset_map koi8-r utf-8 {\nC0 D18E;\n1 c280;\n}\ncharset_map a b {\nC0 E0;\n}\n}\n", nil)
	if msg != "" {
		t.Fatal(msg)
	}
	var got []CharsetMap
	cfg.Main.Each(HTTP, func(l *Level) {
		for _, v := range l.Own("charset_map") {
			got = append(got, *v.V.(*Level).Ext.(*CharsetMap))
		}
	})
	want := []CharsetMap{
		{Src: "koi8-r", Dst: "utf-8", UTF8: true, Table: map[byte][]byte{0xc0: {0xd1, 0x8e}, 0x01: {0xc2, 0x80}}},
		{Src: "a", Dst: "b", Table: map[byte][]byte{0xc0: {0xe0}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestCPUAffinityValue(t *testing.T) {
	for _, c := range []struct {
		conf string
		want CPUAffinity
	}{
		{"worker_processes 2;\nworker_cpu_affinity 0101 \"1 0\";", CPUAffinity{Masks: [][]int{{0, 2}, {1}}}},
		{"worker_cpu_affinity auto;", CPUAffinity{Auto: true}},
		{"worker_cpu_affinity auto 1000;", CPUAffinity{Auto: true, Masks: [][]int{{3}}}},
		{"worker_cpu_affinity \"\";", CPUAffinity{Masks: [][]int{{}}}},
	} {
		cfg, msg := miscLoad(t, c.conf+"\nevents {}\n", nil)
		if msg != "" {
			t.Fatal(msg)
		}
		if got := cfg.Main.Get("worker_cpu_affinity"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.conf, got, c.want)
		}
	}
}

func TestThreadPoolsValue(t *testing.T) {
	cfg, msg := miscLoad(t, "events {}\nhttp {\naio threads;\nserver {\nlisten 127.0.0.1:8080;\naio threads=io;\n"+
		"location / { aio threads=$host; }\nlocation /x { aio off; }\n}\n}\nthread_pool io threads=4;\n", nil)
	if msg != "" {
		t.Fatal(msg)
	}
	type pool struct {
		Name              string
		Threads, MaxQueue int
		Line              int
	}
	var got []pool
	for _, p := range ThreadPoolsOf(cfg.Loader).List {
		got = append(got, pool{p.Name, p.Threads, p.MaxQueue, p.D.Line})
	}
	want := []pool{{"default", 32, 65536, 3}, {"io", 4, 65536, 11}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pools: got %+v, want %+v", got, want)
	}
	var aio []string
	cfg.Main.Each(HTTPLocation, func(l *Level) {
		a := l.Get("aio").(AIO)
		name := a.PoolValue
		if a.Pool != nil {
			name = a.Pool.Name
		}
		aio = append(aio, a.Mode+" "+name)
	})
	if want := []string{"threads $host", "off "}; !reflect.DeepEqual(aio, want) {
		t.Errorf("aio: got %q, want %q", aio, want)
	}
}

func TestExpiresValue(t *testing.T) {
	for _, c := range []struct {
		arg  string
		want Expires
	}{
		{"30d", Expires{Mode: "access", Time: 30 * 24 * time.Hour}},
		{"-1h", Expires{Mode: "access", Time: -time.Hour}},
		{"modified +1h30m", Expires{Mode: "modified", Time: 90 * time.Minute}},
		{"@15h30m", Expires{Mode: "daily", Time: 15*time.Hour + 30*time.Minute}},
		{"epoch", Expires{Mode: "epoch"}},
		{"max", Expires{Mode: "max"}},
		{"off", Expires{Mode: "off"}},
		{"modified $http_x", Expires{Mode: "modified", Value: "$http_x"}},
		{"9223372036854775807", Expires{Mode: "access", Time: 1<<63 - 1}},
	} {
		cfg, msg := miscLoad(t, miscHTTP("expires "+c.arg+";"), nil)
		if msg != "" {
			t.Fatalf("%s: %s", c.arg, msg)
		}
		cfg.Main.Each(HTTPLocation, func(l *Level) {
			if got := l.Get("expires"); got != c.want {
				t.Errorf("%s: got %+v, want %+v", c.arg, got, c.want)
			}
		})
	}
	cfg, _ := miscLoad(t, miscHTTP(""), nil)
	cfg.Main.Each(HTTPLocation, func(l *Level) {
		if got := l.Get("expires"); got != (Expires{Mode: "off"}) {
			t.Errorf("default: got %+v", got)
		}
	})
}
