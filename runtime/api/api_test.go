package api

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// handlerCase is one request and what NGINX Plus answers to it.
type handlerCase struct {
	name   string
	opts   []envOption
	setup  func(e *env)
	method string
	target string
	body   string
	status int
	code   string // error code; "" for a success
	text   string // error text; checked when set
	want   string // success body; checked when set
	after  func(t *testing.T, e *env)
}

func post(e *env, target, body string) {
	e.t.Helper()
	if r := e.do("POST", target, body); r.status != http.StatusCreated {
		e.t.Fatalf("POST %s %s: %d %s", target, body, r.status, r.body)
	}
}

func wantContents(zoneName string, want ...string) func(t *testing.T, e *env) {
	return func(t *testing.T, e *env) {
		t.Helper()
		for _, s := range append(append(e.reg.http, e.reg.stream...), e.reg.limit...) {
			if s.Name() != zoneName {
				continue
			}
			if got := strings.Join(contents(s), ","); got != strings.Join(want, ",") {
				t.Fatalf("zone %s holds %q, want %q", zoneName, got, strings.Join(want, ","))
			}
			return
		}
		t.Fatalf("no zone %s", zoneName)
	}
}

var handlerCases = []handlerCase{
	// Versions and paths.
	{name: "versions at the location", method: "GET", target: "/api", status: 200, want: `[1,2,3,4,5,6,7,8,9]`},
	{name: "versions with slash", method: "GET", target: "/api/", status: 200, want: `[1,2,3,4,5,6,7,8,9]`},
	{name: "root endpoints", method: "GET", target: "/api/9/", status: 200,
		want: `["nginx","processes","connections","slabs","http","stream","resolvers","ssl","workers"]`},
	{name: "root endpoints without stream", opts: []envOption{noStream, noZoneSync, noStreamZones},
		method: "GET", target: "/api/9", status: 200,
		want: `["nginx","processes","connections","slabs","http","resolvers","ssl","workers"]`},
	{name: "root endpoints of version 5", method: "GET", target: "/api/5/", status: 200,
		want: `["nginx","processes","connections","slabs","http","stream","resolvers","ssl"]`},
	{name: "http endpoints", method: "GET", target: "/api/9/http/", status: 200,
		want: `["requests","server_zones","location_zones","caches","limit_conns","limit_reqs","keyvals","upstreams"]`},
	{name: "stream endpoints", method: "GET", target: "/api/9/stream", status: 200,
		want: `["server_zones","keyvals","upstreams","limit_conns","zone_sync"]`},
	{name: "stream endpoints without zone_sync", opts: []envOption{noZoneSync}, method: "GET",
		target: "/api/9/stream/", status: 200, want: `["server_zones","keyvals","upstreams","limit_conns"]`},
	{name: "unknown version 10", method: "GET", target: "/api/10/nginx", status: 404, code: "UnknownVersion",
		text: "unknown version"},
	{name: "unknown version 0", method: "GET", target: "/api/0/", status: 404, code: "UnknownVersion"},
	{name: "version not a number", method: "GET", target: "/api/v9/nginx", status: 404, code: "UnknownVersion"},
	{name: "location prefix glued to a word", method: "GET", target: "/apix", status: 404, code: "UnknownVersion"},
	{name: "unknown path", method: "GET", target: "/api/9/nope", status: 404, code: "PathNotFound",
		text: "path not found"},
	{name: "endpoint newer than the version", method: "GET", target: "/api/8/workers/", status: 404,
		code: "PathNotFound"},
	{name: "too deep under keyvals", method: "GET", target: "/api/9/http/keyvals/one/two", status: 404,
		code: "PathNotFound"},
	{name: "stream without a stream block", opts: []envOption{noStream, noZoneSync, noStreamZones},
		method: "GET", target: "/api/9/stream/", status: 404, code: "PathNotFound"},
	{name: "zone_sync not configured", opts: []envOption{noZoneSync}, method: "GET",
		target: "/api/9/stream/zone_sync/", status: 404, code: "PathNotFound"},
	{name: "zone_sync func returns nil", opts: []envOption{nilZoneSync}, method: "GET",
		target: "/api/9/stream/zone_sync", status: 404, code: "PathNotFound"},

	// Methods.
	{name: "POST read-only", opts: []envOption{readOnly}, method: "POST", target: "/api/9/http/keyvals/one",
		body: `{"a":"1"}`, status: 405, code: "MethodDisabled", text: "method disabled",
		after: wantContents("one")},
	{name: "PATCH read-only", opts: []envOption{readOnly}, setup: func(e *env) { e.one.Set("a", []byte("1"), 0) },
		method: "PATCH", target: "/api/9/http/keyvals/one/", body: `{"a":"2"}`, status: 405,
		code: "MethodDisabled", after: wantContents("one", "a=1")},
	{name: "DELETE read-only", opts: []envOption{readOnly}, setup: func(e *env) { e.one.Set("a", []byte("1"), 0) },
		method: "DELETE", target: "/api/9/http/keyvals/one", status: 405, code: "MethodDisabled",
		after: wantContents("one", "a=1")},
	{name: "DELETE read-only on an unknown path", opts: []envOption{readOnly}, method: "DELETE",
		target: "/api/9/http/upstreams/a/servers/", status: 405, code: "MethodDisabled"},
	{name: "GET read-only works", opts: []envOption{readOnly}, setup: func(e *env) { e.one.Set("a", []byte("1"), 0) },
		method: "GET", target: "/api/9/http/keyvals/one", status: 200, want: `{"a":"1"}`},
	{name: "PUT is not supported", method: "PUT", target: "/api/9/http/keyvals/one", body: `{"a":"1"}`,
		status: 405, code: "MethodNotSupported", text: "method not supported"},
	{name: "POST on a GET-only endpoint", method: "POST", target: "/api/9/nginx", body: `{}`, status: 405,
		code: "MethodNotSupported"},
	{name: "DELETE on zone_sync", method: "DELETE", target: "/api/9/stream/zone_sync/", status: 405,
		code: "MethodNotSupported"},

	// Keyval GET.
	{name: "all http keyvals", setup: func(e *env) {
		e.one.Set("b", []byte("2"), 0)
		e.one.Set("a", []byte("1"), 0)
		e.ips.Set("10.0.0.0/8", []byte("net"), 0)
	}, method: "GET", target: "/api/9/http/keyvals/", status: 200,
		want: `{"one":{"a":"1","b":"2"},"timed":{},"ips":{"10.0.0.0/8":"net"}}`},
	{name: "all keyvals, empty fields: names only", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) },
		method: "GET", target: "/api/9/http/keyvals?fields=", status: 200, want: `{"one":{},"timed":{},"ips":{}}`},
	{name: "all keyvals, fields picks keys", setup: func(e *env) {
		e.one.Set("a", []byte("1"), 0)
		e.one.Set("b", []byte("2"), 0)
	}, method: "GET", target: "/api/9/http/keyvals/?fields=b", status: 200, want: `{"one":{"b":"2"},"timed":{},"ips":{}}`},
	{name: "all stream keyvals", setup: func(e *env) { e.skv.Set("k", []byte("v"), 0) }, method: "GET",
		target: "/api/9/stream/keyvals", status: 200, want: `{"skv":{"k":"v"}}`},
	{name: "one zone", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) }, method: "GET",
		target: "/api/9/http/keyvals/one", status: 200, want: `{"a":"1"}`},
	{name: "one zone, trailing slash", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) }, method: "GET",
		target: "/api/9/http/keyvals/one/", status: 200, want: `{"a":"1"}`},
	{name: "one key", setup: func(e *env) {
		e.one.Set("a", []byte("1"), 0)
		e.one.Set("b", []byte("2"), 0)
	}, method: "GET", target: "/api/9/http/keyvals/one?key=b", status: 200, want: `{"b":"2"}`},
	{name: "escaped key", setup: func(e *env) { e.one.Set("a b&c", []byte("<x>"), 0) }, method: "GET",
		target: "/api/9/http/keyvals/one?key=a%20b%26c", status: 200, want: `{"a b&c":"<x>"}`},
	{name: "unknown zone", method: "GET", target: "/api/9/http/keyvals/nope", status: 404, code: "KeyvalNotFound",
		text: "keyval not found"},
	{name: "http zone asked in stream", method: "GET", target: "/api/9/stream/keyvals/one", status: 404,
		code: "KeyvalNotFound"},
	{name: "unknown key", method: "GET", target: "/api/9/http/keyvals/one?key=zz", status: 404,
		code: "KeyvalKeyNotFound", text: "keyval key not found"},
	{name: "expired key", setup: func(e *env) {
		post(e, "/api/9/http/keyvals/timed", `{"k":{"value":"v","expire":1000}}`)
		e.clock.Advance(1001 * time.Millisecond)
	}, method: "GET", target: "/api/9/http/keyvals/timed?key=k", status: 404, code: "KeyvalKeyNotFound"},

	// POST.
	{name: "POST one pair", method: "POST", target: "/api/9/http/keyvals/one", body: `{"a":"1"}`, status: 201,
		after: wantContents("one", "a=1")},
	{name: "POST several pairs into an empty zone", method: "POST", target: "/api/9/http/keyvals/one",
		body: `{"a":"1","b":"2","c":""}`, status: 201, after: wantContents("one", "a=1", "b=2", "c=")},
	{name: "POST numbers are kept as written", method: "POST", target: "/api/9/http/keyvals/one",
		body: `{"a":1,"b":-1.50,"c":2e3,"d":{"value":7}}`, status: 201,
		after: wantContents("one", "a=1", "b=-1.50", "c=2e3", "d=7")},
	{name: "POST value object", method: "POST", target: "/api/9/http/keyvals/timed",
		body: `{"a":{"value":"v","expire":30000}}`, status: 201, after: wantContents("timed", "a=v")},
	{name: "POST to a stream zone", method: "POST", target: "/api/9/stream/keyvals/skv", body: `{"a":"1"}`,
		status: 201, after: wantContents("skv", "a=1")},
	{name: "POST CIDR to an ip zone", method: "POST", target: "/api/9/http/keyvals/ips",
		body: `{"192.168.13.0/24":"1"}`, status: 201, after: wantContents("ips", "192.168.13.0/24=1")},
	{name: "POST existing key", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) }, method: "POST",
		target: "/api/9/http/keyvals/one", body: `{"a":"2"}`, status: 409, code: "KeyvalKeyExists",
		text: `key "a" already exists`, after: wantContents("one", "a=1")},
	{name: "POST duplicate keys", method: "POST", target: "/api/9/http/keyvals/one", body: `{"a":"1","a":"2"}`,
		status: 409, code: "KeyvalKeyExists", after: wantContents("one")},
	{name: "POST several pairs into a non-empty zone", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) },
		method: "POST", target: "/api/9/http/keyvals/one", body: `{"b":"2","c":"3"}`, status: 400,
		code: "KeyvalFormatError", text: "only one key can be added", after: wantContents("one", "a=1")},
	{name: "POST to an unknown zone", method: "POST", target: "/api/9/http/keyvals/nope", body: `{"a":"1"}`,
		status: 404, code: "KeyvalNotFound"},
	{name: "POST malformed JSON", method: "POST", target: "/api/9/http/keyvals/one", body: `{"a":`,
		status: 415, code: "JsonError", after: wantContents("one")},
	{name: "POST trailing garbage", method: "POST", target: "/api/9/http/keyvals/one", body: `{"a":"1"} x`,
		status: 415, code: "JsonError", after: wantContents("one")},
	{name: "POST empty body", method: "POST", target: "/api/9/http/keyvals/one", status: 415, code: "JsonError"},
	{name: "POST an array", method: "POST", target: "/api/9/http/keyvals/one", body: `["a"]`, status: 400,
		code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST a boolean value", method: "POST", target: "/api/9/http/keyvals/one", body: `{"a":true}`,
		status: 400, code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST null", method: "POST", target: "/api/9/http/keyvals/one", body: `{"a":null}`, status: 400,
		code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST nested array", method: "POST", target: "/api/9/http/keyvals/one", body: `{"a":["x"]}`,
		status: 400, code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST object without value", method: "POST", target: "/api/9/http/keyvals/timed",
		body: `{"a":{"expire":5}}`, status: 400, code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST unknown member", method: "POST", target: "/api/9/http/keyvals/timed",
		body: `{"a":{"value":"v","ttl":5}}`, status: 400, code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST negative expire", method: "POST", target: "/api/9/http/keyvals/timed",
		body: `{"a":{"value":"v","expire":-1}}`, status: 400, code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST fractional expire", method: "POST", target: "/api/9/http/keyvals/timed",
		body: `{"a":{"value":"v","expire":1.5}}`, status: 400, code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST string expire", method: "POST", target: "/api/9/http/keyvals/timed",
		body: `{"a":{"value":"v","expire":"5"}}`, status: 400, code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "POST empty object", method: "POST", target: "/api/9/http/keyvals/one", body: `{}`, status: 400,
		code: "KeyvalFormatError", text: "key required"},
	{name: "POST empty key", method: "POST", target: "/api/9/http/keyvals/one", body: `{"":"v"}`, status: 400,
		code: "KeyvalFormatError", text: "key required"},
	{name: "POST expire without timeout", method: "POST", target: "/api/9/http/keyvals/one",
		body: `{"a":{"value":"v","expire":1000}}`, status: 400, code: "KeyvalFormatError",
		text: "keyval timeout is not enabled", after: wantContents("one")},
	{name: "POST bad address to an ip zone", method: "POST", target: "/api/9/http/keyvals/ips",
		body: `{"10.0.0.300":"1"}`, status: 400, code: "KeyvalFormatError", text: "invalid key format"},
	{name: "POST one bad address among several", method: "POST", target: "/api/9/http/keyvals/ips",
		body: `{"10.0.0.1":"1","nope":"2"}`, status: 400, code: "KeyvalFormatError", text: "invalid key format",
		after: wantContents("ips")},
	{name: "POST key longer than 65535 bytes", method: "POST", target: "/api/9/http/keyvals/one",
		opts: []envOption{bodyBuffer(1 << 20)}, body: `{"` + strings.Repeat("k", 65536) + `":"v"}`,
		status: 400, code: "KeyvalFormatError", text: "key is too long"},
	{name: "POST pair larger than the zone", method: "POST", target: "/api/9/http/keyvals/one",
		opts: []envOption{bodyBuffer(1 << 20)}, body: `{"k":"` + strings.Repeat("v", 40000) + `"}`,
		status: 400, code: "KeyvalFormatError", text: "key-value pair is too large for the zone",
		after: wantContents("one")},
	{name: "POST body past client_body_buffer_size", opts: []envOption{bodyBuffer(64)}, method: "POST",
		target: "/api/9/http/keyvals/one", body: `{"a":"` + strings.Repeat("v", 64) + `"}`, status: 413,
		code: "RequestEntityTooLarge", text: "request entity too large", after: wantContents("one")},
	{name: "POST body exactly client_body_buffer_size", opts: []envOption{bodyBuffer(64)}, method: "POST",
		target: "/api/9/http/keyvals/one", body: `{"a":"` + strings.Repeat("v", 64-8) + `"}`, status: 201},
	{name: "POST to a full zone", setup: fillZone, method: "POST", target: "/api/9/http/keyvals/one",
		body: `{"straw":"` + strings.Repeat("x", 3000) + `"}`, status: 507, code: "KeyvalOutOfMemory",
		text: `keyval "one" memory exhausted`},
	{name: "POST several pairs that overflow the zone", method: "POST", target: "/api/9/http/keyvals/one",
		opts: []envOption{bodyBuffer(1 << 20)}, body: manyPairs(20, 3000), status: 507, code: "KeyvalOutOfMemory",
		after: wantContents("one")},

	// PATCH.
	{name: "PATCH value", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) }, method: "PATCH",
		target: "/api/9/http/keyvals/one/", body: `{"a":"2"}`, status: 204, after: wantContents("one", "a=2")},
	{name: "PATCH number value", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) }, method: "PATCH",
		target: "/api/9/http/keyvals/one", body: `{"a":42}`, status: 204, after: wantContents("one", "a=42")},
	{name: "PATCH null deletes", setup: func(e *env) {
		e.one.Set("a", []byte("1"), 0)
		e.one.Set("b", []byte("2"), 0)
	}, method: "PATCH", target: "/api/9/http/keyvals/one/", body: `{"a":null}`, status: 204,
		after: wantContents("one", "b=2")},
	{name: "PATCH expire only keeps the value", setup: func(e *env) { e.timed.Set("a", []byte("1"), 0) },
		method: "PATCH", target: "/api/9/http/keyvals/timed", body: `{"a":{"expire":500}}`, status: 204,
		after: func(t *testing.T, e *env) {
			wantContents("timed", "a=1")(t, e)
			e.clock.Advance(501 * time.Millisecond)
			wantContents("timed")(t, e)
		}},
	{name: "PATCH value and expire", setup: func(e *env) { e.skv.Set("a", []byte("1"), 0) }, method: "PATCH",
		target: "/api/9/stream/keyvals/skv/", body: `{"a":{"value":"2","expire":100}}`, status: 204,
		after: func(t *testing.T, e *env) {
			wantContents("skv", "a=2")(t, e)
			e.clock.Advance(101 * time.Millisecond)
			wantContents("skv")(t, e)
		}},
	{name: "PATCH missing key", method: "PATCH", target: "/api/9/http/keyvals/one/", body: `{"a":"2"}`,
		status: 404, code: "KeyvalKeyNotFound", after: wantContents("one")},
	{name: "PATCH null on a missing key", method: "PATCH", target: "/api/9/http/keyvals/one/",
		body: `{"a":null}`, status: 404, code: "KeyvalKeyNotFound"},
	{name: "PATCH two keys", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) }, method: "PATCH",
		target: "/api/9/http/keyvals/one/", body: `{"a":"2","b":"3"}`, status: 400, code: "KeyvalFormatError",
		text: "only one key can be updated", after: wantContents("one", "a=1")},
	{name: "PATCH empty object", method: "PATCH", target: "/api/9/http/keyvals/one/", body: `{}`, status: 400,
		code: "KeyvalFormatError", text: "key required"},
	{name: "PATCH expire without timeout", setup: func(e *env) { e.one.Set("a", []byte("1"), 0) },
		method: "PATCH", target: "/api/9/http/keyvals/one/", body: `{"a":{"expire":5}}`, status: 400,
		code: "KeyvalFormatError", text: "keyval timeout is not enabled"},
	{name: "PATCH empty value object", setup: func(e *env) { e.timed.Set("a", []byte("1"), 0) },
		method: "PATCH", target: "/api/9/http/keyvals/timed/", body: `{"a":{}}`, status: 400,
		code: "KeyvalFormatError", text: "Invalid JSON"},
	{name: "PATCH malformed JSON", method: "PATCH", target: "/api/9/http/keyvals/one/", body: `{a:1}`,
		status: 415, code: "JsonError"},
	{name: "PATCH unknown zone", method: "PATCH", target: "/api/9/stream/keyvals/nope/", body: `{"a":"1"}`,
		status: 404, code: "KeyvalNotFound"},
	{name: "PATCH growing a value past a full zone", setup: fillZone, method: "PATCH",
		target: "/api/9/http/keyvals/one", body: `{"k00":"` + strings.Repeat("y", 9000) + `"}`, status: 507,
		code: "KeyvalOutOfMemory"},

	// DELETE.
	{name: "DELETE empties the zone", setup: func(e *env) {
		e.one.Set("a", []byte("1"), 0)
		e.one.Set("b", []byte("2"), 0)
		e.timed.Set("c", []byte("3"), 0)
	}, method: "DELETE", target: "/api/9/http/keyvals/one/", status: 204, after: func(t *testing.T, e *env) {
		wantContents("one")(t, e)
		wantContents("timed", "c=3")(t, e)
	}},
	{name: "DELETE a stream zone", setup: func(e *env) { e.skv.Set("a", []byte("1"), 0) }, method: "DELETE",
		target: "/api/9/stream/keyvals/skv", status: 204, after: wantContents("skv")},
	{name: "DELETE unknown zone", method: "DELETE", target: "/api/9/http/keyvals/nope", status: 404,
		code: "KeyvalNotFound"},
	{name: "DELETE all keyvals is not supported", method: "DELETE", target: "/api/9/http/keyvals/", status: 405,
		code: "MethodNotSupported"},

	// limit_req.
	{name: "limit_reqs", setup: func(e *env) {
		c := e.counters.LimitReq("perip")
		c.Passed.Add(15)
		c.Delayed.Add(4)
		c.Rejected.Add(1)
		c.RejectedDryRun.Add(2)
	}, method: "GET", target: "/api/9/http/limit_reqs/", status: 200,
		want: `{"perip":{"passed":15,"delayed":4,"rejected":1,"delayed_dry_run":0,"rejected_dry_run":2}}`},
	{name: "limit_reqs names only", method: "GET", target: "/api/9/http/limit_reqs?fields=", status: 200,
		want: `{"perip":{}}`},
	{name: "one limit_req", setup: func(e *env) { e.counters.LimitReq("perip").Passed.Add(3) }, method: "GET",
		target: "/api/9/http/limit_reqs/perip", status: 200,
		want: `{"passed":3,"delayed":0,"rejected":0,"delayed_dry_run":0,"rejected_dry_run":0}`},
	{name: "one limit_req, fields", setup: func(e *env) { e.counters.LimitReq("perip").Passed.Add(3) },
		method: "GET", target: "/api/9/http/limit_reqs/perip?fields=passed,rejected", status: 200,
		want: `{"passed":3,"rejected":0}`},
	{name: "DELETE limit_req resets", setup: func(e *env) { e.counters.LimitReq("perip").Passed.Add(3) },
		method: "DELETE", target: "/api/9/http/limit_reqs/perip", status: 204, after: func(t *testing.T, e *env) {
			if n := e.counters.LimitReq("perip").Passed.Load(); n != 0 {
				t.Fatalf("passed = %d after DELETE", n)
			}
		}},
	{name: "unknown limit_req", method: "GET", target: "/api/9/http/limit_reqs/nope", status: 404,
		code: "LimitReqNotFound", text: "limit_req not found"},
	{name: "DELETE unknown limit_req", method: "DELETE", target: "/api/9/http/limit_reqs/nope", status: 404,
		code: "LimitReqNotFound"},

	// zone_sync.
	{name: "zone_sync", method: "GET", target: "/api/9/stream/zone_sync/", status: 200,
		want: `{"zones":{"skv":{"records_pending":0,"records_total":3},"sticky_a":{"records_pending":2,"records_total":7}},` +
			`"status":{"bytes_in":1364923761,"msgs_in":337236,"msgs_out":346717,"bytes_out":1402765472,"nodes_online":15}}`},

	// Status endpoints.
	{name: "nginx", method: "GET", target: "/api/9/nginx", status: 200,
		want: `{"version":"1.29.8","build":"zonesync-0.1.0","address":"","generation":6,` +
			`"load_timestamp":"2026-05-13T09:00:00.467Z","timestamp":"2026-05-13T10:00:00.114Z","pid":4242,"ppid":4241}`},
	{name: "nginx fields", method: "GET", target: "/api/9/nginx?fields=version,pid", status: 200,
		want: `{"version":"1.29.8","pid":4242}`},
	{name: "nginx empty fields", method: "GET", target: "/api/9/nginx?fields=", status: 200, want: `{}`},
	{name: "unknown slab", method: "GET", target: "/api/9/slabs/nope", status: 404, code: "SlabNotFound"},
	{name: "DELETE slab", method: "DELETE", target: "/api/9/slabs/one", status: 204},
	{name: "unknown worker", method: "GET", target: "/api/9/workers/1", status: 404, code: "WorkerNotFound"},
	{name: "unknown server zone", method: "GET", target: "/api/9/http/server_zones/nope", status: 404,
		code: "ServerZoneNotFound"},
	{name: "unknown location zone", method: "DELETE", target: "/api/9/http/location_zones/nope", status: 404,
		code: "LocationZoneNotFound"},
	{name: "unknown cache", method: "GET", target: "/api/9/http/caches/nope", status: 404, code: "CacheNotFound"},
	{name: "unknown upstream", method: "GET", target: "/api/9/http/upstreams/backend/servers/", status: 404,
		code: "UpstreamNotFound", text: "upstream not found"},
	{name: "unknown stream limit_conn", method: "GET", target: "/api/9/stream/limit_conns/nope", status: 404,
		code: "LimitConnNotFound"},
	{name: "unknown resolver", method: "GET", target: "/api/9/resolvers/nope", status: 404,
		code: "ResolverZoneNotFound"},
	{name: "DELETE connections", setup: func(e *env) {
		e.counters.Connections.Accepted.Add(5)
		e.counters.Connections.Active.Add(2)
	}, method: "DELETE", target: "/api/9/connections", status: 204, after: func(t *testing.T, e *env) {
		if got := e.do("GET", "/api/9/connections", "").body; got != `{"accepted":0,"dropped":0,"active":2,"idle":0}` {
			t.Fatalf("after DELETE: %s", got)
		}
	}},
}

func noZoneSync(d *Deps, _ *directives.HTTPLocationConf) { d.ZoneSync = nil }

func nilZoneSync(d *Deps, _ *directives.HTTPLocationConf) {
	d.ZoneSync = func() *ZoneSyncStatus { return nil }
}

// noStreamZones drops the stream keyval zones, so that nothing asks for
// a stream block.
func noStreamZones(d *Deps, _ *directives.HTTPLocationConf) {
	r := d.Registry.(*testRegistry)
	r.stream = nil
}

// fillZone fills zone "one" until it refuses a pair of 3000 bytes.
func fillZone(e *env) {
	for i := 0; ; i++ {
		key := "k" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		if err := e.one.Insert(key, []byte(strings.Repeat("v", 3000)), 0); err != nil {
			if i == 0 {
				e.t.Fatal(err)
			}
			return
		}
	}
}

// manyPairs is a POST body of n pairs with values of size bytes.
func manyPairs(n, size int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"p` + string(rune('a'+i)) + `":"` + strings.Repeat("v", size) + `"`)
	}
	b.WriteString("}")
	return b.String()
}

func TestHandler(t *testing.T) {
	for _, tc := range handlerCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			if tc.setup != nil {
				tc.setup(e)
			}
			before := e.allContents()
			r := e.do(tc.method, tc.target, tc.body)
			if r.status != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.target, r.status, tc.status, r.body)
			}
			if tc.code != "" {
				_, code, text := apiErr(t, r)
				if code != tc.code {
					t.Fatalf("code %q, want %q (%s)", code, tc.code, text)
				}
				if tc.text != "" && text != tc.text {
					t.Fatalf("text %q, want %q", text, tc.text)
				}
				if after := e.allContents(); after != before {
					t.Fatalf("a failed request changed the zones:\nbefore %s\nafter  %s", before, after)
				}
			} else if r.status == http.StatusOK {
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Fatalf("Content-Type %q", ct)
				}
			} else if r.body != "" {
				t.Fatalf("status %d has a body: %q", r.status, r.body)
			}
			if tc.want != "" && r.body != tc.want {
				t.Fatalf("body\n%s\nwant\n%s", r.body, tc.want)
			}
			if tc.after != nil {
				tc.after(t, e)
			}
		})
	}
}

// TestKeyvalLifecycle walks one key through every method, as a client
// managing a denylist would.
func TestKeyvalLifecycle(t *testing.T) {
	e := newEnv(t)
	steps := []struct {
		method, target, body string
		status               int
		want                 string
	}{
		{"POST", "/api/9/http/keyvals/one", `{"10.0.0.1":"deny"}`, 201, ""},
		{"GET", "/api/9/http/keyvals/one", "", 200, `{"10.0.0.1":"deny"}`},
		{"PATCH", "/api/9/http/keyvals/one/", `{"10.0.0.1":"allow"}`, 204, ""},
		{"GET", "/api/9/http/keyvals/one?key=10.0.0.1", "", 200, `{"10.0.0.1":"allow"}`},
		{"POST", "/api/9/http/keyvals/one", `{"10.0.0.2":"deny"}`, 201, ""},
		{"PATCH", "/api/9/http/keyvals/one/", `{"10.0.0.1":null}`, 204, ""},
		{"GET", "/api/9/http/keyvals/", "", 200, `{"one":{"10.0.0.2":"deny"},"timed":{},"ips":{}}`},
		{"DELETE", "/api/9/http/keyvals/one/", "", 204, ""},
		{"GET", "/api/9/http/keyvals/one", "", 200, `{}`},
		{"POST", "/api/9/http/keyvals/one", `{"a":"1","b":"2"}`, 201, ""},
		{"GET", "/api/9/http/keyvals/one", "", 200, `{"a":"1","b":"2"}`},
	}
	for _, s := range steps {
		r := e.do(s.method, s.target, s.body)
		if r.status != s.status || r.body != s.want {
			t.Fatalf("%s %s %s: %d %s, want %d %s", s.method, s.target, s.body, r.status, r.body, s.status, s.want)
		}
	}
}

// TestPatchValueRestartsTimeout: a new value lives for the zone's timeout
// again.
func TestPatchValueRestartsTimeout(t *testing.T) {
	e := newEnv(t)
	post(e, "/api/9/http/keyvals/timed", `{"a":"1"}`)
	e.clock.Advance(50 * time.Second)
	if r := e.do("PATCH", "/api/9/http/keyvals/timed/", `{"a":"2"}`); r.status != 204 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	e.clock.Advance(50 * time.Second)
	if r := e.do("GET", "/api/9/http/keyvals/timed?key=a", ""); r.body != `{"a":"2"}` {
		t.Fatalf("after 100 s with a PATCH at 50 s: %d %s", r.status, r.body)
	}
	e.clock.Advance(11 * time.Second)
	if r := e.do("GET", "/api/9/http/keyvals/timed?key=a", ""); r.status != 404 {
		t.Fatalf("60 s after the PATCH: %d %s", r.status, r.body)
	}
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }
func (failingBody) Close() error             { return nil }

func TestBodyReadError(t *testing.T) {
	e := newEnv(t)
	req := httptest.NewRequest("POST", "/api/9/http/keyvals/one", nil)
	req.Body = failingBody{}
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	r := response{rec.Code, rec.Header(), rec.Body.String()}
	status, code, text := apiErr(t, r)
	if status != 400 || code != "BodyReadError" || text != "reading request body failed" {
		t.Fatalf("got %d %s %q", status, code, text)
	}
}

// TestDeclaredLengthTooLarge: a Content-Length past the buffer is refused
// before the body is read.
func TestDeclaredLengthTooLarge(t *testing.T) {
	e := newEnv(t, bodyBuffer(100))
	req := httptest.NewRequest("POST", "/api/9/http/keyvals/one", io.NopCloser(failingBody{}))
	req.ContentLength = 101
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if _, code, _ := apiErr(t, response{rec.Code, rec.Header(), rec.Body.String()}); code != "RequestEntityTooLarge" {
		t.Fatalf("code %s", code)
	}
}

func TestHeadHasNoBody(t *testing.T) {
	e := newEnv(t)
	r := e.do("HEAD", "/api/9/nginx", "")
	if r.status != 200 || r.body != "" || r.header.Get("Content-Length") == "0" {
		t.Fatalf("HEAD: %d %q %v", r.status, r.body, r.header)
	}
}

func TestAllowHeader(t *testing.T) {
	e := newEnv(t)
	r := e.do("PUT", "/api/9/http/keyvals/one", "{}")
	if got := r.header.Get("Allow"); got != "GET, HEAD, POST, PATCH, DELETE" {
		t.Fatalf("Allow %q", got)
	}
}

func TestRequestIDsDiffer(t *testing.T) {
	e := newEnv(t)
	a := e.do("GET", "/api/9/nope", "").body
	b := e.do("GET", "/api/9/nope", "").body
	if a == b {
		t.Fatalf("two errors share a request_id: %s", a)
	}
}

// TestLocations: the API path starts after the location's prefix; in a
// regex location it starts at the version.
func TestLocations(t *testing.T) {
	a := New(Deps{Node: NodeInfo{Version: "1.29.8"}})
	cases := []struct {
		loc    directives.Location
		target string
		want   string
	}{
		{directives.Location{Name: "/api/"}, "/api/", "[1,2,3,4,5,6,7,8,9]"},
		{directives.Location{Name: "/api/"}, "/api/9/http/keyvals/", "{}"},
		{directives.Location{Name: "/status/api"}, "/status/api/9/nginx?fields=version", `{"version":"1.29.8"}`},
		{directives.Location{Name: "/api/", Exact: true}, "/api/", "[1,2,3,4,5,6,7,8,9]"},
		{directives.Location{Name: `^/(plus|api)`, Regex: true}, "/plus/9/nginx?fields=version", `{"version":"1.29.8"}`},
		{directives.Location{Name: `^/(plus|api)`, Regex: true}, "/plus/", "[1,2,3,4,5,6,7,8,9]"},
	}
	for _, c := range cases {
		loc := c.loc
		h := a.Handler(&directives.HTTPLocationConf{Location: &loc})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.target, nil))
		if rec.Code != 200 || rec.Body.String() != c.want {
			t.Errorf("location %q, GET %s: %d %s, want %s", c.loc.Name, c.target, rec.Code, rec.Body.String(), c.want)
		}
	}
	// Without the api directive's write=on a location is read-only.
	h := a.Handler(&directives.HTTPLocationConf{Location: &directives.Location{Name: "/api"}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("DELETE", "/api/9/http/keyvals/x", nil))
	if rec.Code != 405 {
		t.Fatalf("DELETE without write=on: %d", rec.Code)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	const writers, perWriter = 4, 40
	var wg sync.WaitGroup
	errs := make(chan string, writers*perWriter*3)
	for w := 0; w < writers; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				key := "w" + strconv.Itoa(w) + "k" + strconv.Itoa(i)
				if r := e.do("POST", "/api/9/http/keyvals/one", `{"`+key+`":"1"}`); r.status != 201 {
					errs <- "POST " + key + ": " + r.body
				}
				if r := e.do("PATCH", "/api/9/http/keyvals/one/", `{"`+key+`":"2"}`); r.status != 204 {
					errs <- "PATCH " + key + ": " + r.body
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				for _, target := range []string{"/api/9/http/keyvals/", "/api/9/slabs/", "/api/9/http/limit_reqs/"} {
					if r := e.do("GET", target, ""); r.status != 200 {
						errs <- "GET " + target + ": " + r.body
					}
				}
				e.counters.LimitReq("perip").Passed.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if n := len(contents(e.one)); n != writers*perWriter {
		t.Fatalf("%d pairs, want %d", n, writers*perWriter)
	}
	for _, kv := range contents(e.one) {
		if !strings.HasSuffix(kv, "=2") {
			t.Fatalf("pair %s missed its PATCH", kv)
		}
	}
	if n := e.counters.LimitReq("perip").Passed.Load(); n != writers*perWriter {
		t.Fatalf("passed = %d", n)
	}
}

func TestParseArgs(t *testing.T) {
	cases := []struct {
		raw  string
		want map[string][]string
	}{
		{"key=a+b", map[string][]string{"key": {"a+b"}}},
		{"key=a%20b&fields=", map[string][]string{"key": {"a b"}, "fields": {""}}},
		{"key=a;b", map[string][]string{"key": {"a;b"}}},
		{"key=%zz&&fields", map[string][]string{"key": {"%zz"}, "fields": {""}}},
		{"", map[string][]string{}},
	}
	for _, c := range cases {
		got := parseArgs(c.raw)
		if len(got) != len(c.want) {
			t.Errorf("%q: %v, want %v", c.raw, got, c.want)
			continue
		}
		for k, v := range c.want {
			if strings.Join(got[k], "|") != strings.Join(v, "|") {
				t.Errorf("%q: %s=%q, want %q", c.raw, k, got[k], v)
			}
		}
	}
}
