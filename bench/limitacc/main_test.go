package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCluster stands for the nodes: one shared count accepts the first
// quota requests, whichever server gets them, and answers the rest with
// 503, as a perfectly synchronized limit with no refill would. It remembers
// the source addresses it saw.
type fakeCluster struct {
	mu       sync.Mutex
	quota    int
	accepted int
	sources  map[string]int
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	f.sources[host]++
	if f.accepted < f.quota {
		f.accepted++
		fmt.Fprintln(w, "ok")
		return
	}
	http.Error(w, "limited", http.StatusServiceUnavailable)
}

func startFake(t *testing.T, quota, n int) (*fakeCluster, []string) {
	t.Helper()
	f := &fakeCluster{quota: quota, sources: map[string]int{}}
	var urls []string
	for i := 0; i < n; i++ {
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL+"/")
	}
	return f, urls
}

func TestRunCountsAndSpreads(t *testing.T) {
	f, urls := startFake(t, 7, 3)
	o, err := parseFlags([]string{"-nodes", strings.Join(urls, ","), "-rate", "30r/s", "-burst", "2",
		"-factor", "10", "-duration", "200ms", "-from", "127.0.0.9"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	// 30 r/s × 10 for 0.2 s: 60 requests, 20 per node.
	if res.sent != 60 || res.accepted != 7 || res.rejected != 53 || res.errors != 0 {
		t.Fatalf("sent %d accepted %d rejected %d errors %d, want 60 7 53 0", res.sent, res.accepted, res.rejected, res.errors)
	}
	for i, n := range res.nodes {
		if n.sent != 20 || n.accepted+n.rejected != 20 {
			t.Errorf("node %d: %+v, want 20 sent and answered", i, n)
		}
	}
	if len(f.sources) != 1 || f.sources["127.0.0.9"] != 60 {
		t.Errorf("sources %v, want every request from 127.0.0.9", f.sources)
	}
	// The pacing spreads the sends over the duration: the last one goes
	// out after 59/300 s, and a sender that kept up finishes near 0.2 s.
	if res.span < 190*time.Millisecond {
		t.Errorf("span %s: the requests were not paced over 200ms", res.span)
	}
	// T = 0.2 s: limit 30·0.2+2 = 8.
	res.span = 201 * time.Millisecond
	first := strings.SplitN(report(o, res), "\n", 2)[0]
	if want := "accepted 7 of 60 sent; limit r·T+burst = 8; ratio accepted/X = 0.875"; first != want {
		t.Errorf("report:\n%s\nwant\n%s", first, want)
	}
	// A sender more than 5% late: T is the span, 30·0.25+2 = 9.5.
	res.span = 250 * time.Millisecond
	first = strings.SplitN(report(o, res), "\n", 2)[0]
	if want := "accepted 7 of 60 sent; limit r·T+burst = 9.5; ratio accepted/X = 0.737"; first != want {
		t.Errorf("report:\n%s\nwant\n%s", first, want)
	}
}

func TestRunErrorsCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	o, err := parseFlags([]string{"-nodes", srv.URL + "/", "-rate", "100", "-factor", "1", "-duration", "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if res.errors != 5 || res.accepted != 0 || len(res.firstErrs) != maxErrorsShown {
		t.Fatalf("errors %d accepted %d shown %v, want 5 0 and %d shown", res.errors, res.accepted, res.firstErrs, maxErrorsShown)
	}
	if !strings.Contains(res.firstErrs[0], "status 403") {
		t.Errorf("first error %q does not name the status", res.firstErrs[0])
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"20r/s", 20, true},
		{"600r/m", 10, true},
		{"30r/m", 0.5, true},
		{"7", 7, true},
		{"0r/s", 0, false},
		{"r/s", 0, false},
		{"20r/h", 0, false},
		{"", 0, false},
	} {
		got, err := parseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseFlagsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "20r/s"},
		{"-nodes", "http://127.0.0.1:1/", "-rate", "20r/s", "-burst", "-1"},
		{"-nodes", "http://127.0.0.1:1/", "-rate", "20r/s", "-duration", "0s"},
		{"-nodes", "http://127.0.0.1:1/", "-rate", "20r/s", "-from", "localhost"},
		{"-nodes", "http://127.0.0.1:1/", "-rate", "50000r/s"},
		{"-nodes", "http://127.0.0.1:1/", "-rate", "20r/s", "extra"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestNum(t *testing.T) {
	for x, want := range map[float64]string{3010: "3010", 3010.5: "3010.5", 1.0 / 60 * 30: "0.5", 65: "65"} {
		if got := num(x); got != want {
			t.Errorf("num(%v) = %q, want %q", x, got, want)
		}
	}
}
