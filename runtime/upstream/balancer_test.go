package upstream

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/grammar"
)

// load builds the group of "upstream u { body }" as zonesync's loader
// reads it.
func load(t *testing.T, now *time.Time, body string) *Group {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "nginx.conf")
	conf := "events {}\nhttp {\n  upstream u {\n    " + body + "\n  }\n}\n"
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadGroups(t, file, func() time.Time { return *now })["u"]
}

// servers are n server lines "server 10.0.0.N:80" with the extra
// parameters of each line.
func servers(params ...string) string {
	var b strings.Builder
	for i, p := range params {
		fmt.Fprintf(&b, " server 10.0.0.%d:80 %s;", i+1, p)
	}
	return b.String()
}

// pick runs one request that succeeds at its first peer and returns the
// last digit of the peer's address ('-' for none).
func pick(g *Group, key string, client netip.Addr, hint string) byte {
	pk := g.Pick(0)
	pk.Key, pk.Client, pk.Hint = key, client, hint
	p := pk.Get()
	if p == nil {
		return '-'
	}
	pk.Free(p, false)
	return p.Name[len(p.Name)-4]
}

func TestHashKey(t *testing.T) {
	now := time.Unix(1e9, 0)
	for body, want := range map[string]string{
		"hash $remote_addr$arg_x consistent;": "$remote_addr$arg_x",
		"hash $cookie_a;":                     "$cookie_a",
		"least_conn; hash $arg_b consistent;": "$arg_b",
		"hash $arg_a; least_conn;":            "",
		"ip_hash;":                            "",
		"random two least_conn;":              "",
		"":                                    "",
	} {
		g := load(t, &now, body+servers("", ""))
		if got := g.HashKey(); got != want {
			t.Errorf("%q: HashKey = %q, want %q", body, got, want)
		}
	}
	if g := load(t, &now, "least_conn; hash $arg_b consistent;"+servers("", "")); g.method != methodConsistent {
		t.Errorf("the last balancing directive is hash consistent, the method is %d", g.method)
	}
}

// TestIPHash: the client's /24 (first three octets) chooses the server,
// with nginx's 89/113/6271 arithmetic; IPv6 addresses hash whole.
func TestIPHash(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := load(t, &now, "ip_hash;"+servers("", "", ""))
	ip := netip.MustParseAddr
	// 89 -> (89*113+10)%6271 = 3796 -> 2521 -> 2680; 2680 % 3 = 1.
	if got := pick(g, "", ip("10.1.2.3"), ""); got != '2' {
		t.Fatalf("10.1.2.3 went to server %c, want 2 (hash 2680)", got)
	}
	seen := map[byte]bool{}
	for i := range 200 {
		a := netip.AddrFrom4([4]byte{byte(i), byte(i * 7), byte(i * 13), 3})
		b := netip.AddrFrom4([4]byte{byte(i), byte(i * 7), byte(i * 13), 99})
		pa, pb := pick(g, "", a, ""), pick(g, "", b, "")
		if pa != pb {
			t.Fatalf("%s went to %c, %s to %c: one /24 must go to one server", a, pa, b, pb)
		}
		seen[pa] = true
	}
	if len(seen) != 3 {
		t.Errorf("200 networks used servers %v, want all three", seen)
	}
	v6 := map[byte]bool{}
	for i := range 50 {
		v6[pick(g, "", netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}), "")] = true
	}
	if len(v6) < 2 {
		t.Errorf("IPv6 addresses differing in the last byte all went to %v: the whole address is hashed", v6)
	}
	// a client without an address hashes as three zero bytes.
	if pick(g, "", netip.Addr{}, "") != pick(g, "", ip("0.0.0.77"), "") {
		t.Error("a UNIX-socket client must hash as 0.0.0.x")
	}
}

// TestIPHashRehash: a down or failed server makes ip_hash hash again from
// where it was, the clients of the other servers stay where they are,
// and a group of one server is the round robin's.
func TestIPHashRehash(t *testing.T) {
	now := time.Unix(1e9, 0)
	up := load(t, &now, "ip_hash;"+servers("", "", ""))
	down := load(t, &now, "ip_hash;"+servers("", "down", ""))
	for i := range 100 {
		c := netip.AddrFrom4([4]byte{10, byte(i), byte(i * 3), 1})
		a, b := pick(up, "", c, ""), pick(down, "", c, "")
		if b == '2' || (a != '2' && a != b) {
			t.Fatalf("%s: %c with all up, %c with server 2 down", c, a, b)
		}
	}
	client := netip.MustParseAddr("10.1.2.3") // server 2
	pk := up.Pick(0)
	pk.Client = client
	p := pk.Get()
	if !pk.Free(p, true) {
		t.Fatal("a failure at max_fails=1 did not take the server out")
	}
	if q := pk.Get(); q == nil || q == p {
		t.Fatalf("retry after %s failed: %v", p.Name, q)
	}
	if got := pick(up, "", client, ""); got == '2' {
		t.Fatal("a server out for failures was chosen")
	}
	now = now.Add(11 * time.Second)
	if got := pick(up, "", client, ""); got != '2' {
		t.Fatalf("after fail_timeout the client went to %c, want its server 2 back", got)
	}
	only := load(t, &now, "ip_hash;"+servers("down", "", "down"))
	for i := range 20 {
		if got := pick(only, "", netip.AddrFrom4([4]byte{10, byte(i), 0, 1}), ""); got != '2' {
			t.Fatalf("with one server up, a client went to %c", got)
		}
	}
	one := load(t, &now, "ip_hash;"+servers(""))
	if got := pick(one, "", client, ""); got != '1' {
		t.Fatalf("single server: %c", got)
	}
}

// TestHash: the key's crc32 chooses the server by weight; an empty key
// or a single server is the round robin's; a failed server makes the
// request hash again.
func TestHash(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := load(t, &now, "hash $arg_k;"+servers("", "", ""))
	// crc32("abc") = 0x352441c2; (0x352441c2 >> 16) & 0x7fff = 13604;
	// 13604 % 3 = 2: the third server.
	if got := pick(g, "abc", netip.Addr{}, ""); got != '3' {
		t.Fatalf(`key "abc" went to %c, want 3`, got)
	}
	var order []byte
	for range 6 {
		order = append(order, pick(g, "", netip.Addr{}, ""))
	}
	if string(order) != "123123" {
		t.Fatalf("empty key: %s, want the round robin 123123", order)
	}
	w := load(t, &now, "hash $arg_k;"+servers("weight=3", ""))
	count := map[byte]int{}
	for i := range 4000 {
		k := fmt.Sprintf("key%d", i)
		a := pick(w, k, netip.Addr{}, "")
		if b := pick(w, k, netip.Addr{}, ""); a != b {
			t.Fatalf("key %s went to %c then %c", k, a, b)
		}
		count[a]++
	}
	if count['1'] < 2700 || count['1'] > 3300 {
		t.Errorf("weights 3:1 over 4000 keys: %v", count)
	}
	pk := g.Pick(0)
	pk.Key = "abc"
	p := pk.Get()
	pk.Free(p, true)
	q := pk.Get()
	if q == nil || q == p {
		t.Fatalf("retry after %s failed: %v", p.Name, q)
	}
	pk.Free(q, false)
	if got := pick(g, "abc", netip.Addr{}, ""); got == '3' {
		t.Fatal("a server out for failures was chosen")
	}
	for _, p := range g.primary.list {
		if g.Conns(p) != 0 {
			t.Errorf("%s holds %d connections after every Free", p.Name, g.Conns(p))
		}
	}
	one := load(t, &now, "hash $arg_k;"+servers(""))
	if got := pick(one, "abc", netip.Addr{}, ""); got != '1' {
		t.Fatalf("single server: %c", got)
	}
}

// TestHashFallback: after 20 unusable picks the round robin chooses,
// and it may use a backup server listed before the method.
func TestHashFallback(t *testing.T) {
	now := time.Unix(1e9, 0)
	for _, m := range []string{"hash $arg_k;", "hash $arg_k consistent;", "ip_hash;", "random;", "random two;"} {
		g := load(t, &now, "server 10.0.0.3:80 backup; "+m+servers("down", "down"))
		g.rnd = rand.New(rand.NewPCG(1, 2))
		if got := pick(g, "abc", netip.MustParseAddr("10.1.2.3"), ""); got != '3' {
			t.Errorf("%s with every primary server down: %c, want the backup 3", m, got)
		}
	}
}

func TestSplitServer(t *testing.T) {
	for in, want := range map[string][2]string{
		"127.0.0.1:8080":   {"127.0.0.1", "8080"},
		"backend.example":  {"backend.example", ""},
		"[::1]:80":         {"[::1]", "80"},
		"[::1]":            {"[::1]", ""},
		"unix:/tmp/a.sock": {"/tmp/a.sock", ""},
		"UNIX:/tmp/b":      {"/tmp/b", ""},
		"host:8a":          {"host:8a", ""},
		"host:":            {"host", ""},
	} {
		if h, p := splitServer(in); h != want[0] || p != want[1] {
			t.Errorf("splitServer(%q) = %q, %q; want %q, %q", in, h, p, want[0], want[1])
		}
	}
}

// TestConsistentRing: 160 points per unit of weight, sorted; adding a
// server moves about 1/N of the keys, all of them to the new server;
// a down server's keys move and no other.
func TestConsistentRing(t *testing.T) {
	now := time.Unix(1e9, 0)
	three := load(t, &now, "hash $arg_k consistent;"+servers("", "weight=2", ""))
	if n := len(three.points); n > 4*160 || n < 4*160-5 {
		t.Errorf("weights 1+2+1 gave %d points, want 640 less duplicates", n)
	}
	if !slices.IsSortedFunc(three.points, func(a, b point) int { return int(int64(a.hash) - int64(b.hash)) }) {
		t.Error("the ring is not sorted")
	}
	g3 := load(t, &now, "hash $arg_k consistent;"+servers("", "", ""))
	g4 := load(t, &now, "hash $arg_k consistent;"+servers("", "", "", ""))
	down := load(t, &now, "hash $arg_k consistent;"+servers("", "down", ""))
	moved, n := 0, 6000
	for i := range n {
		k := fmt.Sprintf("object-%d", i)
		a, b, d := pick(g3, k, netip.Addr{}, ""), pick(g4, k, netip.Addr{}, ""), pick(down, k, netip.Addr{}, "")
		if a != b {
			moved++
			if b != '4' {
				t.Fatalf("key %s moved from %c to %c, not to the new server", k, a, b)
			}
		}
		if d == '2' || (a != '2' && a != d) {
			t.Fatalf("key %s: %c with all up, %c with server 2 down", k, a, d)
		}
	}
	if moved < n*15/100 || moved > n*35/100 {
		t.Errorf("adding a 4th server moved %d of %d keys, want about a quarter", moved, n)
	}
}

// TestConsistentName: the addresses of one server name share its
// points, and the keys on them go round robin over the addresses.
func TestConsistentName(t *testing.T) {
	now := time.Unix(1e9, 0)
	u := &directives.Upstream{Name: "u", Balancer: "hash"}
	for _, s := range []struct {
		name  string
		addrs []string
	}{{"a.example:80", []string{"10.0.0.1:80", "10.0.0.2:80"}}, {"b.example:80", []string{"10.0.0.3:80"}}} {
		u.Servers = append(u.Servers, &directives.UpstreamServer{D: &grammar.Directive{Name: "server", Args: []string{s.name}},
			Addrs: s.addrs, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second})
	}
	g := New(u, func() time.Time { return now })
	g.method, g.points = methodConsistent, ring(g.primary.list)
	if len(g.points) > 320 || len(g.points) < 315 {
		t.Fatalf("two names of weight 1: %d points, want 320 less duplicates", len(g.points))
	}
	for i := range 100 {
		k := fmt.Sprintf("k%d", i)
		if first := pick(g, k, netip.Addr{}, ""); first != '3' {
			if got := string([]byte{first, pick(g, k, netip.Addr{}, ""), pick(g, k, netip.Addr{}, "")}); got != "121" && got != "212" {
				t.Fatalf("key %s on a.example: %s, want its two addresses in turn", k, got)
			}
			return
		}
	}
	t.Fatal("no key landed on a.example")
}

// TestLeastConn: the fewest connections for the weight wins, the round
// robin among equals; Free gives a connection back; the backup servers
// serve when no primary one can.
func TestLeastConn(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := load(t, &now, "least_conn;"+servers("", "", ""))
	var held []*Pick
	var order []byte
	for range 6 {
		pk := g.Pick(0)
		p := pk.Get()
		held = append(held, pk)
		order = append(order, p.Name[len(p.Name)-4])
	}
	// nginx's order: 1 (all at 0, round robin of the three); 2 (2 and
	// 3 at 0, round robin of the two, equal current weights); 3 (alone
	// at 0); 3 (all at 1, the round robin's current weights are -2, 0, 2
	// before it); 2; 1.
	if string(order) != "123321" {
		t.Fatalf("held connections: %s, want 123321", order)
	}
	held[1].Free(g.primary.list[1], false) // server 2 now has one connection, the others two
	if got := pick(g, "", netip.Addr{}, ""); got != '2' {
		t.Fatalf("after server 2 gave one back: %c", got)
	}
	w := load(t, &now, "least_conn;"+servers("weight=2", ""))
	for range 9 {
		w.Pick(0).Get()
	}
	if a, b := w.Conns(w.primary.list[0]), w.Conns(w.primary.list[1]); a != 6 || b != 3 {
		t.Fatalf("weights 2:1 holding 9 connections: %d and %d, want 6 and 3", a, b)
	}
	bk := load(t, &now, "least_conn;"+servers("", "", "backup"))
	pk := bk.Pick(0)
	for range 2 {
		pk.Free(pk.Get(), true)
	}
	if p := pk.Get(); p == nil || p.Name != "10.0.0.3:80" {
		t.Fatalf("with both primaries failed: %v, want the backup", p)
	}
	if got := pick(bk, "", netip.Addr{}, ""); got != '3' {
		t.Fatalf("within fail_timeout: %c, want the backup", got)
	}
}

// TestRandom: draws follow the weights; "two" never takes the busier of
// two servers; down servers are never drawn.
func TestRandom(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := load(t, &now, "random;"+servers("", "weight=3", "down"))
	g.rnd = rand.New(rand.NewPCG(1, 2))
	count := map[byte]int{}
	for range 4000 {
		count[pick(g, "", netip.Addr{}, "")]++
	}
	if count['3'] != 0 || count['2'] < 2800 || count['2'] > 3200 {
		t.Errorf("weights 1:3 and a down server over 4000 draws: %v", count)
	}
	for _, m := range []string{"random two;", "random two least_conn;", "random;"} {
		g := load(t, &now, m+servers("", "", ""))
		g.rnd = rand.New(rand.NewPCG(3, 4))
		busy := SID("10.0.0.1:80", "")
		for range 20 { // bound requests hold server 1
			pk := g.Pick(0)
			pk.Hint = busy
			pk.Get()
		}
		count := map[byte]int{}
		for range 600 {
			count[pick(g, "", netip.Addr{}, "")]++
		}
		switch {
		case g.two && (count['1'] != 0 || count['2'] < 200 || count['3'] < 200):
			t.Errorf("%s with server 1 busy: %v, want 2 and 3 only", m, count)
		case !g.two && (count['1'] < 150 || count['1'] > 250):
			t.Errorf("%s with server 1 busy: %v, want a third each", m, count)
		}
	}
}

// TestMaxConns: a server holding max_conns requests is skipped until one
// is given back; with every server full there is no live upstream.
func TestMaxConns(t *testing.T) {
	now := time.Unix(1e9, 0)
	for _, m := range []string{"", "least_conn;", "hash $arg_k;", "ip_hash;", "random;"} {
		g := load(t, &now, m+servers("max_conns=1", "max_conns=1"))
		if g.rnd != nil {
			g.rnd = rand.New(rand.NewPCG(5, 6))
		}
		pa, pb := g.Pick(0), g.Pick(0)
		pa.Key, pb.Key = "x", "x"
		a, b := pa.Get(), pb.Get()
		if a == nil || b == nil || a == b {
			t.Fatalf("%q: two requests got %v and %v, want both servers", m, a, b)
		}
		if got := pick(g, "x", netip.Addr{}, ""); got != '-' {
			t.Fatalf("%q: with both servers full: %c", m, got)
		}
		pa.Free(a, false)
		if got := pick(g, "x", netip.Addr{}, ""); got != a.Name[len(a.Name)-4] {
			t.Fatalf("%q: after %s gave one back: %c", m, a.Name, got)
		}
	}
}

// TestStickyOverMethods: a bound request goes to its server whatever the
// method would choose, unless the server cannot take it.
func TestStickyOverMethods(t *testing.T) {
	now := time.Unix(1e9, 0)
	for _, m := range []string{"hash $arg_k;", "hash $arg_k consistent;", "ip_hash;", "least_conn;", "random two;"} {
		g := load(t, &now, m+servers("", "", ""))
		if g.rnd != nil {
			g.rnd = rand.New(rand.NewPCG(7, 8))
		}
		client := netip.MustParseAddr("10.1.2.3")
		free := pick(g, "abc", client, "")
		other := byte('1')
		if free == '1' {
			other = '2'
		}
		hint := SID(fmt.Sprintf("10.0.0.%c:80", other), "")
		for range 3 {
			if got := pick(g, "abc", client, hint); got != other {
				t.Fatalf("%s: bound to %c, went to %c", m, other, got)
			}
		}
		pk := g.Pick(0)
		pk.Hint, pk.Key, pk.Client = hint, "abc", client
		p := pk.Get()
		pk.Free(p, true) // takes it out
		if got := pick(g, "abc", client, hint); got == other || got == '-' {
			t.Fatalf("%s: bound to %c which is out: %c", m, other, got)
		}
	}
}
