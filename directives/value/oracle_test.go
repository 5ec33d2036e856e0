package value

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// With -nginx=PATH, TestAgainstNginx runs every table case through that
// binary's `nginx -t` inside a directive that uses the same parser, and
// checks that nginx accepts and rejects exactly what this package does:
//
//	go test ./directives/value/ -run AgainstNginx -nginx=/usr/sbin/nginx
var nginxBin = flag.String("nginx", "", "nginx binary to check the tables against")

const streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// nginxT writes conf as the main file and returns nginx's output with the
// file name replaced by F, and whether the test succeeded.
func nginxT(t *testing.T, conf string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "nginx.conf")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(*nginxBin, "-t", "-p", dir+"/", "-c", file, "-e", "/dev/null").CombinedOutput()
	return strings.ReplaceAll(string(out), file, "F"), err == nil
}

func inHTTP(body string) string {
	return "events {}\nhttp {\n" + body + "\n}\n"
}

func inStream(body string) string {
	return "load_module " + streamModule + ";\nevents {}\nstream {\n" + body + "\n}\n"
}

func quote(s string) string { return `"` + s + `"` }

func TestAgainstNginx(t *testing.T) {
	if *nginxBin == "" {
		t.Skip("no -nginx binary given")
	}
	t.Run("size", func(t *testing.T) {
		for _, c := range sizeCases {
			agree(t, inHTTP("client_body_buffer_size "+quote(c.in)+";"), c.size != bad)
			agree(t, inHTTP("client_max_body_size "+quote(c.in)+";"), c.offset != bad)
		}
	})
	t.Run("time", func(t *testing.T) {
		for _, c := range timeCases {
			agree(t, inHTTP("proxy_connect_timeout "+quote(c.in)+";"), c.msec != bad)
			agree(t, inHTTP("ssl_session_timeout "+quote(c.in)+";"), c.sec != bad)
		}
	})
	t.Run("number", func(t *testing.T) {
		for _, c := range numberCases {
			agree(t, inHTTP("keepalive_requests "+quote(c.in)+";"), c.want != bad)
		}
	})
	t.Run("flag", func(t *testing.T) {
		for _, c := range flagCases {
			agree(t, inHTTP("sendfile "+quote(c.in)+";"), c.ok)
		}
	})
	t.Run("rate", func(t *testing.T) {
		for _, c := range rateCases {
			conf := inHTTP("limit_req_zone $binary_remote_addr zone=z:1m " + quote(c.arg) + ";")
			out := agree(t, conf, c.perMilli != bad)
			if _, err := ParseRate(c.arg); err != nil && !strings.Contains(out, err.Error()+" in F:") {
				t.Errorf("%s: nginx said %q, we say %q", c.arg, out, err)
			}
		}
	})
	t.Run("cidr", func(t *testing.T) {
		for _, c := range cidrCases {
			out := agree(t, inHTTP("allow "+quote(c.in)+";"), c.want != "")
			warned := strings.Contains(out, "low address bits of "+c.in+" are meaningless")
			if c.want != "" && warned != c.lowBits {
				t.Errorf("allow %s: nginx output %q, lowBits %v", c.in, out, c.lowBits)
			}
		}
	})
	t.Run("url", func(t *testing.T) {
		for _, c := range urlCases {
			checkURL(t, c)
		}
	})
}

// agree runs conf and checks nginx's verdict; it returns nginx's output.
func agree(t *testing.T, conf string, accept bool) string {
	t.Helper()
	out, ok := nginxT(t, conf)
	if ok != accept {
		t.Errorf("nginx ok=%v, tables say %v, for:\n%s%s", ok, accept, conf, out)
	}
	return out
}

// checkURL runs one address case in the directive its options stand for.
// Accepted names and unix sockets are skipped: nginx would resolve the
// names, and a listen on a unix socket creates the file.
func checkURL(t *testing.T, c urlCase) {
	if c.err == nil && (!c.want.IP.IsValid() || c.want.Unix) {
		return
	}
	var conf, want string
	switch {
	case c.opt.Listen:
		conf = inHTTP("server { listen " + quote(c.in) + "; }")
		want = `%s in "` + c.in + `" of the "listen" directive in F:`
	case c.opt.RequirePort:
		// proxy_pass, unlike a stream upstream server, resolves nothing,
		// so names reach the port check.
		sock := filepath.Join(t.TempDir(), "s.sock")
		conf = inStream("server { listen unix:" + sock + "; proxy_pass " + quote(c.in) + "; }")
		want = `%s in upstream "` + c.in + `" in F:`
	default:
		conf = inHTTP("upstream u { server " + quote(c.in) + "; }")
		want = `%s in upstream "` + c.in + `" in F:`
	}
	out, _ := nginxT(t, conf)
	if c.err != nil {
		if msg := strings.Replace(want, "%s", c.err.Error(), 1); !strings.Contains(out, msg) {
			t.Errorf("%s: nginx said %q; want %q", c.in, out, msg)
		}
		return
	}
	// An accepted listen may still fail to bind; only a parse error counts.
	if strings.Contains(out, `" of the "listen" directive`) || strings.Contains(out, " in upstream ") {
		t.Errorf("%s: nginx refused it: %q", c.in, out)
	}
}
