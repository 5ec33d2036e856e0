package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

var fuzzMethods = []string{"GET", "POST", "PATCH", "DELETE", "HEAD", "PUT", "OPTIONS"}

// FuzzHandler sends random methods, paths, queries and bodies to the API
// over real stores. Whatever comes in, the API must answer with one of its
// statuses and well-formed JSON, and a request that fails must leave every
// zone as it was.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		method byte
		target string
		body   string
	}{
		{0, "/api/9/http/keyvals/", ""},
		{0, "/api/9/http/keyvals/one?key=a", ""},
		{0, "/api/9/stream/keyvals/?fields=", ""},
		{0, "/api/9/nginx?fields=version,build", ""},
		{0, "/api/9/stream/zone_sync/", ""},
		{0, "/api/9/http/limit_reqs/perip", ""},
		{0, "/api/9/slabs/", ""},
		{1, "/api/9/http/keyvals/one", `{"b":"2"}`},
		{1, "/api/9/http/keyvals/timed", `{"x":{"value":"v","expire":100}}`},
		{1, "/api/9/http/keyvals/ips", `{"10.0.0.0/8":1,"::1":"2"}`},
		{1, "/api/9/http/keyvals/one", `{"a":"dup"}`},
		{1, "/api/9/http/keyvals/one", `{"a":`},
		{1, "/api/9/stream/keyvals/skv", `{"k":{"value":"v","expire":1}}`},
		{2, "/api/9/http/keyvals/one/", `{"a":null}`},
		{2, "/api/9/http/keyvals/one/", `{"a":{"value":"v","expire":5}}`},
		{2, "/api/9/stream/keyvals/skv/", `{"s":"1","t":"2"}`},
		{3, "/api/9/http/keyvals/one", ""},
		{3, "/api/9/http/limit_reqs/perip", ""},
		{0x81, "/api/9/http/keyvals/one", `{"c":"3"}`},
		{5, "/api/9/http/keyvals/one", `{}`},
		{0, "/api//9//http/keyvals//one//", ""},
		{0, "/api/99999999999/nginx", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, m byte, target string, body []byte) {
		opts := []envOption{bodyBuffer(4096)}
		if m&0x80 != 0 {
			opts = append(opts, readOnly)
		}
		e := newEnv(t, opts...)
		e.one.Set("a", []byte("1"), 0)
		e.ips.Set("192.0.2.0/24", []byte("net"), 0)
		e.skv.Set("s", []byte("x"), 0)
		before := e.allContents()

		method := fuzzMethods[int(m&0x7F)%len(fuzzMethods)]
		path, query, _ := strings.Cut(target, "?")
		req := (&http.Request{
			Method:        method,
			URL:           &url.URL{Path: path, RawQuery: query},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		}).WithContext(context.Background())
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)

		status, out := rec.Code, rec.Body.Bytes()
		switch status {
		case 200, 400, 404, 405, 409, 413, 415, 507:
			if method == "HEAD" {
				if len(out) != 0 {
					t.Fatalf("HEAD %q: a body", target)
				}
				break
			}
			if !json.Valid(out) {
				t.Fatalf("%s %q %q: %d with invalid JSON %q", method, target, body, status, out)
			}
			if status != 200 && !errorShape.Match(out) {
				t.Fatalf("%s %q %q: %d with body %q", method, target, body, status, out)
			}
		case 201, 204:
			if len(out) != 0 {
				t.Fatalf("%s %q: %d with body %q", method, target, status, out)
			}
			if method != "POST" && method != "PATCH" && method != "DELETE" {
				t.Fatalf("%s %q: %d", method, target, status)
			}
		default:
			t.Fatalf("%s %q %q: unexpected status %d %q", method, target, body, status, out)
		}
		if status >= 400 {
			if after := e.allContents(); after != before {
				t.Fatalf("%s %q %q failed with %d but changed the zones:\nbefore %s\nafter  %s",
					method, target, body, status, before, after)
			}
		}
		if m&0x80 != 0 && method != "GET" && method != "HEAD" && status < 400 {
			t.Fatalf("%s %q succeeded on a read-only API", method, target)
		}
	})
}
