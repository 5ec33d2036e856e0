package upstream

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// group builds an upstream of servers "10.0.0.N:80 weight=W" from the
// weights, with the given extra lines' parameters applied by mod.
func group(t *testing.T, now *time.Time, weights []int, mod func(i int, s *directives.UpstreamServer)) *Group {
	t.Helper()
	u := &directives.Upstream{Name: "u"}
	for i, w := range weights {
		s := &directives.UpstreamServer{Addrs: []string{fmt.Sprintf("10.0.0.%d:80", i+1)}, Weight: w, MaxFails: 1, FailTimeout: 10 * time.Second}
		if mod != nil {
			mod(i, s)
		}
		u.Servers = append(u.Servers, s)
	}
	return New(u, func() time.Time { return *now })
}

// order runs n requests that all succeed and returns the last digit of
// each chosen address ("-" when none could be chosen).
func order(g *Group, n int, hint string) string {
	var b strings.Builder
	for range n {
		pk := g.Pick(0)
		pk.Hint = hint
		p := pk.Get()
		if p == nil {
			b.WriteByte('-')
			continue
		}
		pk.Free(p, false)
		b.WriteByte(p.Name[len(p.Name)-4])
	}
	return b.String()
}

// TestSmoothWeighted checks nginx's smooth weighted round robin order:
// weights 5:1:1 give nginx's documented "a a b a c a a".
func TestSmoothWeighted(t *testing.T) {
	now := time.Unix(1e9, 0)
	if got := order(group(t, &now, []int{5, 1, 1}, nil), 7, ""); got != "1121311" {
		t.Fatalf("5:1:1 order = %s, want 1121311", got)
	}
	if got := order(group(t, &now, []int{3, 1}, nil), 8, ""); got != "11211121" {
		t.Fatalf("3:1 order = %s, want 11211121", got)
	}
}

// TestStickyRoundRobin checks the bound peer's place in the weighted
// round robin, as nginx keeps it: a bound request wins a round for its
// peer unless the peer is already a full round behind, and unbound
// requests share what is left.
func TestStickyRoundRobin(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := group(t, &now, []int{1, 1}, nil)
	sa := SID("10.0.0.1:80", "")
	var got string
	for _, hint := range []string{sa, sa, sa, "", "", "", "unknown"} {
		got += order(g, 1, hint)
	}
	// Without the accounting the unbound requests would go 1, 2, 1, 2.
	if got != "1112121" {
		t.Fatalf("order = %s, want 1112121", got)
	}
}

// TestFailuresAndBackup: a failure takes a max_fails=1 server out for
// fail_timeout; with every primary out the backup serves; after
// fail_timeout the primary is tried again.
func TestFailuresAndBackup(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := group(t, &now, []int{1, 1, 1}, func(i int, s *directives.UpstreamServer) { s.Backup = i == 2 })
	pk := g.Pick(0)
	if pk.Tries != 3 {
		t.Fatalf("tries = %d, want 3", pk.Tries)
	}
	for range 2 {
		p := pk.Get()
		if !pk.Free(p, true) {
			t.Fatalf("%s: a failure at max_fails=1 did not take it out", p.Name)
		}
	}
	if p := pk.Get(); p == nil || p.Name != "10.0.0.3:80" {
		t.Fatalf("after both primaries failed: %v, want the backup", p)
	}
	if got := order(g, 2, ""); got != "33" {
		t.Fatalf("within fail_timeout: %s, want the backup twice", got)
	}
	now = now.Add(11 * time.Second)
	if got := order(g, 2, ""); !strings.Contains(got, "1") && !strings.Contains(got, "2") {
		t.Fatalf("after fail_timeout: %s, want the primaries back", got)
	}
}

// TestDownAndSingle: a down server is never chosen; a group of one
// server is never taken out by failures (nginx's single peer).
func TestDownAndSingle(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := group(t, &now, []int{1, 1}, func(i int, s *directives.UpstreamServer) { s.Down = i == 0 })
	if got := order(g, 3, ""); got != "222" {
		t.Fatalf("with server 1 down: %s, want 222", got)
	}
	if n := g.Pick(0).Tries; n != 1 {
		t.Fatalf("tries with one of two servers down = %d, want 1 (nginx counts the others)", n)
	}
	one := group(t, &now, []int{1}, nil)
	for range 3 {
		pk := one.Pick(0)
		p := pk.Get()
		if p == nil {
			t.Fatal("a single server was taken out")
		}
		pk.Free(p, true)
		if pk.Tries != 0 {
			t.Fatalf("tries after a single server's failure = %d, want 0", pk.Tries)
		}
	}
	if SID("10.0.0.1:80", "r1") != "r1" || len(SID("10.0.0.1:80", "")) != 32 {
		t.Fatal("SID: want the route, else a 32-digit MD5")
	}
}

// A drain server takes only the requests bound to it (sticky), under
// every method.
func TestDrain(t *testing.T) {
	now := time.Unix(1e9, 0)
	for _, method := range []string{"", "least_conn", "random"} {
		g := group(t, &now, []int{1, 1}, func(i int, s *directives.UpstreamServer) { s.Drain = i == 0 })
		if method != "" {
			g = New(&directives.Upstream{Name: "u", Balancer: method, Servers: []*directives.UpstreamServer{
				{Addrs: []string{"10.0.0.1:80"}, Weight: 1, MaxFails: 1, FailTimeout: time.Second, Drain: true},
				{Addrs: []string{"10.0.0.2:80"}, Weight: 1, MaxFails: 1, FailTimeout: time.Second},
			}}, func() time.Time { return now })
		}
		if got := order(g, 4, ""); got != "2222" {
			t.Errorf("%q: unbound requests went %s, want never to the drain server", method, got)
		}
		if got := order(g, 2, SID("10.0.0.1:80", "")); got != "11" {
			t.Errorf("%q: bound requests went %s, want the drain server", method, got)
		}
	}
	single := group(t, &now, []int{1}, func(_ int, s *directives.UpstreamServer) { s.Drain = true })
	if got := order(single, 1, ""); got != "-" {
		t.Errorf("a single drain server took an unbound request: %s", got)
	}
	if got := order(single, 1, SID("10.0.0.1:80", "")); got != "1" {
		t.Errorf("a single drain server refused its bound request: %s", got)
	}
}

// TestTriedManyPeers: a request tries every peer once, also in a group of
// more than 64 peers (its tried set no longer fits in one word), primary
// ones first, then the backup ones.
func TestTriedManyPeers(t *testing.T) {
	now := time.Unix(1e9, 0)
	for _, n := range []int{3, 64, 65, 130} {
		weights := make([]int, n)
		for i := range weights {
			weights[i] = 1
		}
		g := group(t, &now, weights, func(i int, s *directives.UpstreamServer) {
			s.Addrs = []string{fmt.Sprintf("10.0.%d.%d:80", i/200, i%200+1)}
			s.MaxFails = 0 // failures never take a peer out: only "tried" keeps it from being chosen again
			s.Backup = i >= n-2
		})
		pk := g.Pick(0)
		seen := map[string]bool{}
		for i := range n {
			p := pk.Get()
			if p == nil {
				t.Fatalf("%d peers: try %d found none", n, i+1)
			}
			if seen[p.Name] {
				t.Fatalf("%d peers: %s chosen twice", n, p.Name)
			}
			if backup := p.index >= n-2; backup != (i >= n-2) {
				t.Fatalf("%d peers: try %d chose %s (backup %v)", n, i+1, p.Name, backup)
			}
			seen[p.Name] = true
			pk.Free(p, true)
		}
		if pk.Tries != 0 {
			t.Fatalf("%d peers: %d tries left, want 0", n, pk.Tries)
		}
		if p := pk.Get(); p != nil {
			t.Fatalf("%d peers: %s chosen after every peer was tried", n, p.Name)
		}
	}
}
