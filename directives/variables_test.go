package directives

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// varLoad loads a whole configuration from a temp folder (extra files
// beside it) and runs the checks; it returns "ok" or the first error, with
// the folder written as "D".
func varLoad(t *testing.T, conf string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{Prefix: dir + "/", ConfFile: file, Test: true})
	if err == nil {
		err = c.Check()
	}
	if err != nil {
		return strings.ReplaceAll(err.Error(), dir, "D")
	}
	return "ok"
}

func TestCompileScript(t *testing.T) {
	for _, c := range []struct {
		in    string
		names []string
		msg   string
	}{
		{"plain", nil, ""},
		{"$uri", []string{"uri"}, ""},
		{"${host}x$uri/$Args", []string{"host", "uri", "Args"}, ""},
		{"$1$9 $10 $1a", nil, ""}, // captures, then literal "0" and "a"
		{"$0", []string{"0"}, ""}, // "$0" is no capture
		{"${1}", []string{"1"}, ""},
		{"a$", nil, "invalid variable name"},
		{"${}", nil, "invalid variable name"},
		{"${", nil, "invalid variable name"},
		{"$-x", nil, "invalid variable name"},
		{"$a ${host", []string{"a"}, `the closing bracket in "host" variable is missing`},
		{"${a-b}", nil, `the closing bracket in "a" variable is missing`},
		{"${ab", nil, `the closing bracket in "ab" variable is missing`},
	} {
		names, msg := compileScript(c.in)
		if !reflect.DeepEqual(names, c.names) || msg != c.msg {
			t.Errorf("compileScript(%q) = %q, %q; want %q, %q", c.in, names, msg, c.names, c.msg)
		}
	}
}

func TestCompileLogFormat(t *testing.T) {
	for _, c := range []struct {
		in    []string
		names []string
		msg   string
	}{
		{[]string{"$remote_addr - [$time_local]"}, []string{"remote_addr", "time_local"}, ""},
		{[]string{"escape=json", "{\"a\":\"$a\"}"}, []string{"a"}, ""},
		{[]string{"escape=none"}, nil, ""},
		{[]string{"escape=xml", "$a"}, nil, `unknown log format escaping "xml"`},
		{[]string{"$1 ${2}"}, []string{"1", "2"}, ""}, // no captures in log formats
		{[]string{"a $", "b"}, nil, `invalid parameter "$"`},
		{[]string{"a ${}x"}, nil, `invalid parameter "${}x"`},
		{[]string{"$a $-x y"}, []string{"a"}, `invalid parameter "$-x y"`},
		{[]string{"${request"}, nil, `the closing bracket in "request" variable is missing`},
	} {
		names, msg := compileLogFormat(c.in)
		if !reflect.DeepEqual(names, c.names) || msg != c.msg {
			t.Errorf("compileLogFormat(%q) = %q, %q; want %q, %q", c.in, names, msg, c.names, c.msg)
		}
	}
}

func TestNamedCaptures(t *testing.T) {
	for re, want := range map[string][]string{
		`^/(?<a>x)(?'b'y)(?P<c_1>z)$`:   {"a", "b", "c_1"},
		`^/(\d+)(?:x)(?=y)(?<=z)(?<!w)`: nil,
		`\(?<esc>x\)`:                   nil, // an escaped "(" opens no group
		`[(?<cls>x)]`:                   nil, // nor does one in a class
		`[]](?<after>x)`:                {"after"},
		`[^\]](?<n>x)`:                  {"n"},
		`(?<1x>y)`:                      nil, // names start with no digit
	} {
		if got := namedCaptures(re); !reflect.DeepEqual(got, want) {
			t.Errorf("namedCaptures(%q) = %q, want %q", re, got, want)
		}
	}
}

func TestVariablesTable(t *testing.T) {
	for _, sub := range []string{"http", "stream"} {
		vars := BuiltinVariables(sub)
		if len(vars) < 40 {
			t.Fatalf("%s: only %d variables", sub, len(vars))
		}
		for _, v := range vars {
			if v.Prefix != strings.HasSuffix(v.Name, "_") {
				t.Errorf("%s %s: a prefix row, and only one, ends with _", sub, v.Name)
			}
			if v.Name != varLower(v.Name) {
				t.Errorf("%s %s: names are lower case", sub, v.Name)
			}
			if !strings.HasPrefix(v.Module, "ngx_"+sub+"_") && !(v.Otel && v.Module == "ngx_otel_module") {
				t.Errorf("%s %s: module %s is not a %s module", sub, v.Name, v.Module, sub)
			}
		}
	}
	b := builtinVariables["http"]
	for name, want := range map[string]bool{
		"uri": true, "http_": true, "http_x_custom": true, "upstream_cookie_sid": true,
		"jwt_claim_sub": true, "nosuch": false, "memcached_key": false,
	} {
		if b.known(name) != want {
			t.Errorf("http known(%q) = %v", name, !want)
		}
	}
	for name, want := range map[string]bool{"uri": true, "URI": true, "args": false, "ssl_protocol": false, "http_x": false} {
		if fixedVariable("http", name) != want {
			t.Errorf("fixedVariable(http, %q) = %v", name, !want)
		}
	}
	if builtinVariables["stream"].known("http_host") || !fixedVariable("stream", "remote_addr") {
		t.Error("stream has its own variables")
	}
}

func TestVarRulesNameDirectives(t *testing.T) {
	ctx := map[string]Context{
		"http":   HTTP | HTTPServer | HTTPLocation | HTTPServerIf | HTTPLocationIf | HTTPUpstream,
		"stream": Stream | StreamServer | StreamUpstream,
	}
	for _, r := range varRules {
		found := false
		for _, s := range table[r.name] {
			found = found || s.Contexts&ctx[r.sub] != 0
		}
		if !found {
			t.Errorf("%s %s: no such directive in %s", r.sub, r.name, r.sub)
		}
		if r.fn == nil && r.args == "" {
			t.Errorf("%s %s: a rule picks arguments or has a handler", r.sub, r.name)
		}
	}
}

func TestVariableMessages(t *testing.T) {
	const stream = "events {}\nstream {\n"
	for _, c := range []struct{ name, conf, want string }{
		{"unknown in return",
			"events {}\nhttp {\nserver {\nreturn 200 $nosuch;\n}\n}\n",
			`unknown "nosuch" variable`},
		{"first used is reported",
			"events {}\nhttp {\nserver {\nlocation /a { return 200 $zz2; }\nlocation /b { root /$zz1; return 200 $zz2; }\n}\n}\n",
			`unknown "zz2" variable`},
		{"names compare without case and are reported in lower case",
			"events {}\nhttp {\nserver {\nreturn 200 \"$URI $NoSuch\";\n}\n}\n",
			`unknown "nosuch" variable`},
		{"prefixes, captures and later definitions",
			"events {}\nhttp {\nserver {\nlocation ~ ^/(?<id>\\d+)$ {\nreturn 200 \"$1 $id $http_x_a $arg_ $cookie_s $m $g $s $later\";\n}\nset $later 1;\n}\n" +
				"map $uri $m { default 1; }\ngeo $g { default 1; }\nsplit_clients $uri $s { * 1; }\n}\n",
			"ok"},
		{"missing bracket at the directive",
			"events {}\nhttp {\nserver {\nadd_header X \"${host\";\n}\n}\n",
			`the closing bracket in "host" variable is missing in D/nginx.conf:4`},
		{"dollar at the end",
			"events {}\nhttp {\nserver {\nlocation / {\ntry_files $uri $;\n}\n}\n}\n",
			"invalid variable name in D/nginx.conf:5"},
		{"log_format compiles $1 as a variable",
			"events {}\nhttp {\nlog_format x '$remote_addr $1';\n}\n",
			`unknown "1" variable`},
		{"log_format dollar at the end",
			"events {}\nhttp {\nlog_format x 'a $' 'b';\n}\n",
			`invalid parameter "$" in D/nginx.conf:3`},
		{"merged values are compiled after the parsed ones",
			"events {}\nhttp {\nserver {\nproxy_set_header X $merged;\nadd_header Y $parsed;\n}\n}\n",
			`unknown "parsed" variable`},
		{"merged values by module: proxy before fastcgi",
			"events {}\nhttp {\nserver {\nlocation / { fastcgi_param A $f; }\nlocation /p { proxy_set_header B $p; }\n}\n}\n",
			`unknown "p" variable`},
		{"a merged value's error is at the http block's end",
			"events {}\nhttp {\nserver {\nlocation / {\nproxy_set_header Host ${host;\n}\n}\n\n}\n",
			`the closing bracket in "host" variable is missing in D/nginx.conf:9`},
		{"an http-level header with no server is never compiled",
			"events {}\nhttp {\nproxy_set_header X $never;\n}\n",
			"ok"},
		{"an http-level header is compiled for the servers that inherit it",
			"events {}\nhttp {\nproxy_set_header X $inherited;\nserver { }\n}\n",
			`unknown "inherited" variable`},
		{"a named capture cannot redefine a built-in variable",
			"events {}\nhttp {\nserver {\nlocation ~ (?<URI>.*) { }\n}\n}\n",
			`the duplicate "URI" variable in D/nginx.conf:4`},
		{"changeable built-ins may be set",
			"events {}\nhttp {\nserver {\nset $args a;\nset $limit_rate 1k;\nreturn 200 $ARGS;\n}\n}\n",
			"ok"},
		{"if operands are names taken whole",
			"events {}\nhttp {\nserver {\nif ($a-b) { }\n}\n}\n",
			`unknown "a-b" variable`},
		{"memcached_pass reads $memcached_key",
			"events {}\nhttp {\nserver {\nlocation / { memcached_pass 127.0.0.1:11211; }\n}\n}\n",
			`unknown "memcached_key" variable`},
		{"map values and captures, from an included file too",
			"events {}\nhttp {\nmap $uri $m { include m.conf; }\nserver { return 200 $cap$m; }\n}\n",
			`unknown "fallback" variable`},
		{"geo's source must be a variable",
			"events {}\nhttp {\ngeo remote_addr $g { }\n}\n",
			`invalid variable name "remote_addr" in D/nginx.conf:3`},
		{"charset takes a variable whole",
			"events {}\nhttp {\nserver {\ncharset $cs-x;\n}\n}\n",
			`unknown "cs-x" variable`},
		{"sticky route and learn variables",
			"events {}\nhttp {\nupstream u {\nserver 127.0.0.1:1;\nsticky learn create=$upstream_cookie_s lookup=$sess_id zone=z:1m;\n}\nserver { }\n}\n",
			`unknown "sess_id" variable`},
		{"keyval defines its variable",
			"events {}\nhttp {\nkeyval_zone zone=kv:1m;\nkeyval $arg_k $kv zone=kv;\nserver { return 200 $kv; }\n}\n",
			"ok"},
		{"stream: unknown in set",
			stream + "server {\nlisten 127.0.0.1:1;\nset $x $nosuch;\nreturn $x;\n}\n}\n",
			`unknown "nosuch" variable`},
		{"stream: no http variables",
			stream + "map $remote_addr $m { default $http_host; }\n}\n",
			`unknown "http_host" variable`},
		{"stream: map captures define variables",
			stream + "map $remote_addr $m { ~^(?<net>\\d+)\\. $net; }\nlog_format f '$m $net';\n}\n",
			"ok"},
		{"stream: set cannot redefine a built-in",
			stream + "server {\nlisten 127.0.0.1:1;\nset $Status 1;\nreturn 1;\n}\n}\n",
			`the duplicate "Status" variable in D/nginx.conf:5`},
	} {
		extra := map[string]string{"m.conf": "~^/(?<cap>x) $cap;\ndefault $fallback;\n"}
		if got := varLoad(t, c.conf, extra); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// TestVariablesAgainstNginx checks variables.tsv against the nginx on PATH
// (1.22.1 with its stream and geoip modules): every row but the Plus ones
// must be a variable it knows, and exactly the changeable ones may be set.
func TestVariablesAgainstNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs nginx on PATH, run as root")
	}
	out, _ := exec.Command(nginx, "-v").CombinedOutput()
	if !strings.Contains(string(out), "nginx/1.22.1") {
		t.Skipf("nginx on PATH is not 1.22.1: %s", out)
	}
	const mods = "/usr/lib/nginx/modules/"
	for _, geoip := range []string{mods + "ngx_http_geoip_module.so", mods + "ngx_stream_geoip_module.so"} {
		if _, err := os.Stat(geoip); err != nil {
			t.Skip("needs nginx's geoip modules")
		}
	}
	run := func(conf string) string {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(nginx, "-t", "-p", dir+"/", "-c", file, "-e", "/dev/null").CombinedOutput()
		return strings.ReplaceAll(string(out), file, "F")
	}
	head := "load_module " + mods + "ngx_stream_module.so;\nload_module " + mods + "ngx_http_geoip_module.so;\n" +
		"load_module " + mods + "ngx_stream_geoip_module.so;\nevents {}\n"
	block := func(sub, body string) string {
		if sub == "http" {
			return head + "http {\nserver {\nlisten 127.0.0.1:8080;\n" + body + "}\n}\n"
		}
		return head + "stream {\nserver {\nlisten 127.0.0.1:8080;\nreturn x;\n" + body + "}\n}\n"
	}
	for _, sub := range []string{"http", "stream"} {
		var uses, sets strings.Builder
		for _, v := range BuiltinVariables(sub) {
			if v.Plus || v.Otel {
				continue
			}
			uses.WriteString("set $zz_use \"${" + v.Name + "}\";\n")
			if !v.Prefix && v.Changeable {
				sets.WriteString("set $" + v.Name + " x;\n")
			}
		}
		if out := run(block(sub, uses.String())); !strings.Contains(out, "test is successful") {
			t.Errorf("%s: nginx does not know every variable:\n%s", sub, out)
		}
		if out := run(block(sub, sets.String())); !strings.Contains(out, "test is successful") {
			t.Errorf("%s: nginx refuses to set a changeable variable:\n%s", sub, out)
		}
		// A fixed variable is refused.
		for _, v := range BuiltinVariables(sub) {
			if v.Plus || v.Otel || v.Prefix || v.Changeable {
				continue
			}
			out := run(block(sub, "set $"+v.Name+" x;\n"))
			if !strings.Contains(out, `the duplicate "`+v.Name+`" variable`) {
				t.Errorf("%s %s: nginx lets set define it, the table says it is fixed:\n%s", sub, v.Name, out)
			}
		}
	}
}
