package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func newTestResolver(log *logRecorder, servers ...netip.AddrPort) *Resolver {
	r := &Resolver{Servers: servers, Timeout: 5 * time.Second, IPv4: true, IPv6: true}
	if log != nil {
		r.Logf = log.logf
	}
	return r
}

func TestResolverAnswer(t *testing.T) {
	srv := startDNS(t)
	srv.set("cluster.test", 30, "10.0.0.1")
	srv.add("cluster.test", 20, "fd00::1") // the smallest TTL sets the answer's
	srv.add("cluster.test", 30, "10.0.0.2")
	r := newTestResolver(nil, srv.addr)
	a, err := r.Lookup(context.Background(), "cluster.test")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::1")}
	if !reflect.DeepEqual(a.Addrs, want) || a.TTL != 20*time.Second {
		t.Fatalf("answer %v ttl %v, want %v (IPv4 first) ttl 20s", a.Addrs, a.TTL, want)
	}
	if srv.count("cluster.test", "A") != 1 || srv.count("cluster.test", "AAAA") != 1 {
		t.Errorf("queries A %d AAAA %d, want one of each", srv.count("cluster.test", "A"), srv.count("cluster.test", "AAAA"))
	}
}

func TestResolverIPv6Off(t *testing.T) {
	srv := startDNS(t)
	srv.set("cluster.test", 30, "10.0.0.1", "fd00::1")
	r := newTestResolver(nil, srv.addr)
	r.IPv6 = false
	a, err := r.Lookup(context.Background(), "cluster.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Addrs) != 1 || a.Addrs[0] != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("answer %v, want 10.0.0.1 alone", a.Addrs)
	}
	if n := srv.count("cluster.test", "AAAA"); n != 0 {
		t.Errorf("%d AAAA queries with ipv6=off", n)
	}
	// ipv4=off: only AAAA.
	r.IPv4, r.IPv6 = false, true
	if a, err = r.Lookup(context.Background(), "cluster.test"); err != nil || len(a.Addrs) != 1 || !a.Addrs[0].Is6() {
		t.Fatalf("ipv4=off answer %v, %v", a.Addrs, err)
	}
	if n := srv.count("cluster.test", "A"); n != 1 {
		t.Errorf("%d A queries in all, want the first lookup's only", n)
	}
}

func TestResolverValidOverridesTTL(t *testing.T) {
	srv := startDNS(t)
	srv.set("cluster.test", 300, "10.0.0.1")
	r := newTestResolver(nil, srv.addr)
	r.Valid = 5 * time.Second
	a, err := r.Lookup(context.Background(), "cluster.test")
	if err != nil || a.TTL != 5*time.Second {
		t.Fatalf("ttl %v, %v; want valid=5s", a.TTL, err)
	}
}

func TestResolverErrors(t *testing.T) {
	srv := startDNS(t)
	srv.set("empty.test", 30) // exists, no address: NODATA
	srv.set("half.test", 30, "10.0.0.1")
	for _, tc := range []struct {
		name  string
		rcode int // 0: leave the record as is
		want  string
	}{
		{"missing.test", 0, "missing.test could not be resolved (3: Host not found)"},
		{"empty.test", 0, "empty.test could not be resolved (3: Host not found)"},
		{"servfail.test", dns.RcodeServerFailure, "servfail.test could not be resolved (2: Server failure)"},
		{"notimp.test", dns.RcodeNotImplemented, "notimp.test could not be resolved (4: Unimplemented)"},
		{"refused.test", dns.RcodeRefused, "refused.test could not be resolved (5: Operation refused)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rcode != 0 {
				srv.fail(tc.name, tc.rcode)
			}
			_, err := newTestResolver(nil, srv.addr).Lookup(context.Background(), tc.name)
			var re *ResolveError
			if !errors.As(err, &re) || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// A format error (or a code above 5) is not a result for nginx: it logs
// the response and waits for another server or the timeout.
func TestResolverFormatError(t *testing.T) {
	srv := startDNS(t)
	srv.fail("bad.test", dns.RcodeFormatError)
	srv.fail("weird.test", dns.RcodeNotAuth)
	log := &logRecorder{}
	r := newTestResolver(log, srv.addr)
	_, err := r.Lookup(context.Background(), "bad.test")
	if want := "bad.test could not be resolved (110: Operation timed out)"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	lines := log.take()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "[error] DNS error (1: Format error), query id:") || !strings.HasSuffix(lines[0], `, name:"bad.test"`) {
		t.Fatalf("log %q", lines)
	}
	_, err = r.Lookup(context.Background(), "weird.test")
	if lines = log.take(); err == nil || len(lines) != 1 || !strings.HasPrefix(lines[0], "[error] DNS error (9: Unknown error), query id:") {
		t.Fatalf("error %v, log %q", err, lines)
	}
}

func TestResolverTimeout(t *testing.T) {
	silent, got := silentServer(t)
	r := newTestResolver(nil, silent)
	r.Timeout, r.AttemptTimeout = 500*time.Millisecond, 100*time.Millisecond
	_, err := r.Lookup(context.Background(), "cluster.test")
	if want := "cluster.test could not be resolved (110: Operation timed out)"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	// The query was sent again after each attempt timeout until
	// resolver_timeout.
	if n := len(got); n < 2 {
		t.Errorf("%d queries reached the server, want resends", n)
	}
}

func TestResolverFirstServerDown(t *testing.T) {
	down := closedPort(t)
	srv := startDNS(t)
	srv.set("cluster.test", 30, "10.0.0.1")
	log := &logRecorder{}
	r := newTestResolver(log, down, srv.addr)
	a, err := r.Lookup(context.Background(), "cluster.test")
	if err != nil || len(a.Addrs) != 1 {
		t.Fatalf("answer %v, %v; want the second server's", a.Addrs, err)
	}
	want := fmt.Sprintf("[error] recv() failed (111: Connection refused) while resolving, resolver: %s", down)
	if lines := log.take(); len(lines) != 1 || lines[0] != want {
		t.Fatalf("log %q, want %q", lines, want)
	}
}

func TestResolverRoundRobin(t *testing.T) {
	one, two := startDNS(t), startDNS(t)
	one.set("cluster.test", 30, "10.0.0.1")
	two.set("cluster.test", 30, "10.0.0.1")
	r := newTestResolver(nil, one.addr, two.addr)
	for range 4 {
		if _, err := r.Lookup(context.Background(), "cluster.test"); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := one.count("cluster.test", "A"), two.count("cluster.test", "A"); a != 2 || b != 2 {
		t.Fatalf("A queries %d and %d, want 2 and 2", a, b)
	}
}

func TestResolverCNAME(t *testing.T) {
	srv := startDNS(t)
	srv.alias("cluster.test", "nodes.test", 60)
	srv.set("nodes.test", 30, "10.0.0.1")
	a, err := newTestResolver(nil, srv.addr).Lookup(context.Background(), "cluster.test")
	if err != nil || len(a.Addrs) != 1 || a.Addrs[0] != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("answer %v, %v", a.Addrs, err)
	}
	if srv.count("nodes.test", "A") != 1 {
		t.Error("the alias was not followed")
	}
}

// A lookup ends as soon as its context is cancelled, whatever the
// timeouts.
func TestResolverCancel(t *testing.T) {
	silent, got := silentServer(t)
	r := newTestResolver(nil, silent)
	r.Timeout, r.AttemptTimeout = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := r.Lookup(ctx, "cluster.test")
		done <- err
	}()
	<-got // the query is out
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// A truncated UDP answer is asked again over TCP.
func TestResolverTruncated(t *testing.T) {
	srv := startDNS(t)
	srv.set("big.test", 30, "10.0.0.1", "10.0.0.2")
	srv.mu.Lock()
	srv.truncate["big.test."] = true
	srv.mu.Unlock()
	r := newTestResolver(nil, srv.addr)
	r.IPv6 = false
	a, err := r.Lookup(context.Background(), "big.test")
	if err != nil || len(a.Addrs) != 2 {
		t.Fatalf("answer %v, %v", a.Addrs, err)
	}
	if srv.count("big.test", "A") != 1 || srv.count("big.test", "A tcp") != 1 {
		t.Fatalf("queries udp %d tcp %d, want one of each", srv.count("big.test", "A"), srv.count("big.test", "A tcp"))
	}
}
