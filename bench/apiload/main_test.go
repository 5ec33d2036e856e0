package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeZone answers the three keyval requests apiload sends, as the node
// does, and remembers what it was sent.
type fakeZone struct {
	mu      sync.Mutex
	pairs   map[string]string
	methods map[string]int
	conns   map[string]bool // remote addresses seen: one per connection
}

func newFakeZone(keys []string) *fakeZone {
	z := &fakeZone{pairs: map[string]string{}, methods: map[string]int{}, conns: map[string]bool{}}
	for _, k := range keys {
		z.pairs[k] = "old"
	}
	return z
}

func (z *fakeZone) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.methods[r.Method]++
	z.conns[r.RemoteAddr] = true
	if r.Method == http.MethodGet {
		k := r.URL.Query().Get("key")
		v, ok := z.pairs[k]
		if !ok {
			http.Error(w, "keyval key not found", http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{k: v})
		return
	}
	b, _ := io.ReadAll(r.Body)
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	for k, v := range m {
		_, exists := z.pairs[k]
		switch {
		case r.Method == http.MethodPost && exists:
			http.Error(w, "exists", http.StatusConflict)
		case r.Method == http.MethodPost:
			z.pairs[k] = v
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodPatch && !exists:
			http.Error(w, "keyval key not found", http.StatusNotFound)
		default:
			z.pairs[k] = v
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

func testOptions(url, op string, n, c int) options {
	return options{url: url, op: op, n: n, c: c, keys: n, prefix: "k", keySize: 32, valueSize: 32,
		timeout: time.Minute, reqTime: 10 * time.Second, seed: 1}
}

func TestPostPatchGet(t *testing.T) {
	z := newFakeZone(nil)
	srv := httptest.NewServer(z)
	defer srv.Close()

	const n, c = 300, 4
	for _, op := range []string{"post", "patch", "get"} {
		o := testOptions(srv.URL, op, n, c)
		if err := o.check(); err != nil {
			t.Fatal(err)
		}
		r, err := run(o)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if r.requests != n || r.errors != 0 || len(r.latencies) != n {
			t.Fatalf("%s: %d requests, %d errors, %v", op, r.requests, r.errors, r.firstErrs)
		}
		line := r.line(o)
		for _, want := range []string{"op=" + op + " ", " requests=300 ", " connections=4 ", " errors=0 "} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: line %q lacks %q", op, line, want)
			}
		}
	}
	if len(z.pairs) != n {
		t.Fatalf("post stored %d keys, want %d", len(z.pairs), n)
	}
	for k, v := range z.pairs {
		if len(k) != 32 || len(v) != 32 || !strings.HasPrefix(k, "k") {
			t.Fatalf("stored %q = %q: want 32-byte key and value", k, v)
		}
	}
	if z.methods["POST"] != n || z.methods["PATCH"] != n || z.methods["GET"] != n {
		t.Fatalf("methods seen: %v", z.methods)
	}
	// Keep-alive: 3 runs of 4 connections each, not one per request.
	if len(z.conns) > 3*c {
		t.Fatalf("%d connections for %d requests: keep-alive is not working", len(z.conns), 3*n)
	}
}

func TestUnexpectedStatusIsAnError(t *testing.T) {
	z := newFakeZone(nil)
	srv := httptest.NewServer(z)
	defer srv.Close()
	// PATCH of keys that do not exist: every answer is 404.
	o := testOptions(srv.URL, "patch", 20, 2)
	r, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if r.errors != 20 || len(r.firstErrs) != maxErrorsShown || !strings.Contains(r.firstErrs[0], "status 404, want 204") {
		t.Fatalf("errors %d, first %q", r.errors, r.firstErrs)
	}
}

func TestTimeoutStopsTheRun(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	o := testOptions(srv.URL, "get", 10, 2)
	o.timeout = 50 * time.Millisecond
	r, err := run(o)
	if err == nil || !strings.Contains(err.Error(), "-timeout") {
		t.Fatalf("err = %v, want a -timeout error", err)
	}
	if r.requests != 0 {
		t.Fatalf("%d requests counted after the deadline", r.requests)
	}
}

func TestKeyNameAndValue(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		i      int
		size   int
		want   string
	}{
		{"k", 7, 8, "k0000007"},
		{"warm", 12, 8, "warm0012"},
		{"k", 1234567, 8, "k1234567"},
		{"k", 12345678, 8, ""}, // does not fit
		{"kkkk", 0, 4, ""},     // no room for a digit
	} {
		got, err := keyName(tc.prefix, tc.i, tc.size)
		if tc.want == "" {
			if err == nil {
				t.Errorf("keyName(%q, %d, %d) = %q, want an error", tc.prefix, tc.i, tc.size, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("keyName(%q, %d, %d) = %q, %v; want %q", tc.prefix, tc.i, tc.size, got, err, tc.want)
		}
	}
	if v := value(42, 32); len(v) != 32 || !strings.HasPrefix(v, "v42-x") {
		t.Errorf("value(42, 32) = %q", v)
	}
	if v := value(123456, 4); v != "v123" {
		t.Errorf("value(123456, 4) = %q", v)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {0.1, 1}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*options)
		want   string
	}{
		{"no url", func(o *options) { o.url = "" }, "-url"},
		{"bad op", func(o *options) { o.op = "delete" }, "-op"},
		{"no requests", func(o *options) { o.n = 0 }, "-n"},
		{"no connections", func(o *options) { o.c = 0 }, "-c"},
		{"prefix needs escaping", func(o *options) { o.prefix = "a\"b" }, "-prefix"},
		{"key too short", func(o *options) { o.keySize = 1 }, "does not fit"},
	} {
		o := testOptions("http://127.0.0.1:1/", "get", 10, 1)
		tc.change(&o)
		if err := o.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
