package directives

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var zsKeyvalCases = []struct{ name, conf, want string }{
	{"ok", "http { keyval_zone zone=one:32k state=state/one.keyval timeout=1h type=ip sync; keyval $remote_addr $deny zone=one; }\n" +
		"stream { keyval_zone zone=two:1m; keyval $remote_addr $target zone=two; server { listen 1; zone_sync; zone_sync_server 127.0.0.1:2; } }", ""},
	{"no zone", "http { keyval_zone timeout=1h; }", `"keyval_zone" must have "zone" parameter in DIR/nginx.conf:2`},
	{"no size", "http { keyval_zone zone=one; }", `invalid zone size "zone=one" in DIR/nginx.conf:2`},
	{"bad size", "http { keyval_zone zone=one:lots; }", `invalid zone size "zone=one:lots" in DIR/nginx.conf:2`},
	{"too small", "http { keyval_zone zone=one:16k; }", `zone "zone=one:16k" is too small in DIR/nginx.conf:2`},
	{"bad timeout", "http { keyval_zone zone=one:1m timeout=0; }", `invalid timeout "timeout=0" in DIR/nginx.conf:2`},
	{"bad type", "http { keyval_zone zone=one:1m type=cidr; }", `invalid type "type=cidr" in DIR/nginx.conf:2`},
	{"unknown parameter", "http { keyval_zone zone=one:1m expire=1h; }", `invalid parameter "expire=1h" in DIR/nginx.conf:2`},
	{"sync without timeout", "http { keyval_zone zone=one:1m sync; }", `"keyval_zone" directive "sync" parameter requires "timeout" in DIR/nginx.conf:2`},
	{"two sizes", "http { keyval_zone zone=one:1m; keyval_zone zone=one:2m; }",
		`the size 2097152 of shared memory zone "one" conflicts with already declared size 1048576 in DIR/nginx.conf:2`},
	{"declared twice", "http { keyval_zone zone=one:1m; keyval_zone zone=one:1m timeout=1s; }", `duplicate zone "one" in DIR/nginx.conf:2`},
	{"http and stream share a name", "http { keyval_zone zone=one:1m; } stream { keyval_zone zone=one:1m; }",
		`the shared memory zone "one" is already declared for a different use in DIR/nginx.conf:2`},
	{"unknown zone", "http { keyval $arg_key $value zone=nowhere; }", `zero size shared memory zone "nowhere"`},
	{"zone of another module", "http { limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s; keyval $arg_key $value zone=one; }",
		`the shared memory zone "one" is already declared for a different use in DIR/nginx.conf:2`},
	{"bad variable", "http { keyval_zone zone=one:1m; keyval $arg_key value zone=one; }", `invalid variable name "value" in DIR/nginx.conf:2`},
	{"bad zone parameter", "http { keyval_zone zone=one:1m; keyval $arg_key $value one; }", `invalid parameter "one" in DIR/nginx.conf:2`},
	{"variable twice", "http { keyval_zone zone=one:1m; keyval $arg_a $v zone=one; keyval $arg_b $V zone=one; }", `the duplicate "V" variable in DIR/nginx.conf:2`},
	{"keyval in server", "http { server { keyval $arg_a $v zone=one; } }", `"keyval" directive is not allowed here in DIR/nginx.conf:2`},
}

func TestKeyvalMessages(t *testing.T) {
	for _, c := range zsKeyvalCases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := zsLoad(t, c.conf, nil)
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestKeyvals(t *testing.T) {
	conf := "http {\nkeyval $remote_addr $denied zone=denylist;\n" +
		"keyval_zone zone=denylist:64k state=state/deny.json timeout=10m type=prefix sync;\n}\n" +
		"stream {\nkeyval_zone zone=routes:1m;\nkeyval $ssl_preread_server_name $route zone=routes;\n" +
		"server { listen 12345; zone_sync; zone_sync_server 127.0.0.1:12346; }\n}"
	cfg, err, warns := zsLoad(t, conf, nil)
	if err != "" || len(warns) != 0 {
		t.Fatalf("error %q, warnings %q", err, warns)
	}
	zones := Keyvals(cfg.Loader)
	if len(zones) != 2 {
		t.Fatalf("%d zones", len(zones))
	}
	deny, routes := zones[0], zones[1]
	if deny.Name != "denylist" || deny.Size != 64<<10 || deny.Stream || deny.Timeout != 10*time.Minute ||
		deny.Type != "prefix" || !deny.Sync || deny.State != "state/deny.json" || !strings.HasSuffix(deny.StatePath, "/state/deny.json") {
		t.Errorf("denylist: %+v", *deny)
	}
	if routes.Name != "routes" || !routes.Stream || routes.Type != "string" || routes.Sync || routes.Timeout != 0 {
		t.Errorf("routes: %+v", *routes)
	}
	z := ZonesOf(cfg.Loader).Find("denylist", ZoneKeyvalHTTP, "")
	if z == nil || !z.Sync || z.Params != deny || len(z.Refs) != 1 {
		t.Errorf("zone registry: %+v", z)
	}
	var vars []string
	for _, v := range KeyvalVariables(cfg.Loader) {
		vars = append(vars, v.Key+" $"+v.Variable+" "+v.Zone)
	}
	want := []string{"$remote_addr $denied denylist", "$ssl_preread_server_name $route routes"}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("variables %q", vars)
	}
}

func TestKeyvalFourthParameter(t *testing.T) {
	_, err, warns := zsLoad(t, "http { keyval_zone zone=one:1m; keyval $arg_a $v zone=one extra; }", nil)
	want := []string{`the "extra" parameter is not supported, ignored in DIR/nginx.conf:2`}
	if err != "" || !reflect.DeepEqual(warns, want) {
		t.Errorf("error %q, warnings %q", err, warns)
	}
}
