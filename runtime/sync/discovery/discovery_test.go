package discovery

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// cluster is a node whose zone_sync_server is "cluster.test:12345
// resolve", resolved through a real DNS server, on a manual clock.
type cluster struct {
	dns *dnsServer
	clk *ManualClock
	log *logRecorder
	got *changes
	d   *Discovery
}

// newCluster loads the configuration (resolverParams are added to the
// resolver directive) and returns the Discovery, not started.
func newCluster(t *testing.T, resolverParams, listen string) *cluster {
	t.Helper()
	c := &cluster{dns: startDNS(t), clk: NewManualClock(epoch), log: &logRecorder{}, got: &changes{}}
	zs := loadZoneSync(t, fmt.Sprintf("resolver %s %s;", c.dns.addr, resolverParams),
		"listen "+listen+";\nzone_sync_server cluster.test:12345 resolve;")
	cfg := ConfigOf(zs)
	cfg.Clock, cfg.Logf, cfg.OnChange = c.clk, c.log.logf, c.got.add
	cfg.LocalAddrs = func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("10.0.0.9")} }
	c.d = New(cfg)
	t.Cleanup(c.d.Stop)
	return c
}

// expect checks the changes reported since the last call.
func (c *cluster) expect(t *testing.T, step string, want ...string) {
	t.Helper()
	if got := describe(c.got.take()); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: changes %q, want %q", step, got, want)
	}
}

// "The resolve parameter instructs nginx to monitor changes of the IP
// addresses that correspond to a domain name of the node and
// automatically modify the configuration" (zone_sync_server).
func TestDynamicMembership(t *testing.T) {
	c := newCluster(t, "", "127.0.0.1:12345")
	c.dns.set("cluster.test", 30, "10.0.0.1", "10.0.0.2")
	c.d.Start()
	c.expect(t, "start", "+[10.0.0.1:12345 10.0.0.2:12345] -[]")
	if !c.d.Dynamic() {
		t.Fatal("not dynamic")
	}
	if got := c.d.Members(); len(got) != 2 || got[0].Name != "10.0.0.1" {
		t.Fatalf("members %+v; the TLS name of a resolved node is its address", got)
	}

	// A node is added, another removed; nothing happens before the
	// answer's TTL has passed.
	c.dns.set("cluster.test", 30, "10.0.0.2", "10.0.0.3")
	c.clk.Advance(29 * time.Second)
	if n := c.dns.count("cluster.test", "A"); n != 1 {
		t.Fatalf("%d A queries before the TTL expired, want 1", n)
	}
	c.expect(t, "before the TTL")
	c.clk.Advance(time.Second)
	c.expect(t, "TTL expired", "+[10.0.0.3:12345] -[10.0.0.1:12345]")
	if got := addrs(c.d.Members()); got != "10.0.0.2:12345 10.0.0.3:12345" {
		t.Fatalf("members %s", got)
	}

	// The same addresses in another order change nothing.
	c.dns.set("cluster.test", 60, "10.0.0.3", "10.0.0.2")
	c.clk.Advance(30 * time.Second)
	c.expect(t, "reordered")
	// The new TTL (60s) is followed.
	if p := c.clk.Pending(); len(p) != 1 || p[0] != 60*time.Second {
		t.Fatalf("next resolution in %v, want 60s", p)
	}
	if lines := c.log.take(); len(lines) != 0 {
		t.Fatalf("log %q", lines)
	}
}

func TestDynamicValidOverridesTTL(t *testing.T) {
	c := newCluster(t, "valid=5s", "127.0.0.1:12345")
	c.dns.set("cluster.test", 300, "10.0.0.1")
	c.d.Start()
	c.expect(t, "start", "+[10.0.0.1:12345] -[]")
	c.dns.set("cluster.test", 300, "10.0.0.2")
	c.clk.Advance(5 * time.Second)
	c.expect(t, "valid expired", "+[10.0.0.2:12345] -[10.0.0.1:12345]")
}

// "An isolated node keeps serving on its own and keeps retrying its
// peers"; a name that does not resolve is logged as "<name> could not be
// resolved (3: Host not found)".
func TestDynamicNotFound(t *testing.T) {
	c := newCluster(t, "", "127.0.0.1:12345")
	c.d.Start()
	c.expect(t, "start")
	want := "[error] cluster.test could not be resolved (3: Host not found)"
	if lines := c.log.take(); !reflect.DeepEqual(lines, []string{want}) {
		t.Fatalf("log %q, want %q", lines, want)
	}
	// Retried after 10s (nginx keeps a failure that long without valid=).
	c.clk.Advance(9 * time.Second)
	if n := c.dns.count("cluster.test", "A"); n != 1 {
		t.Fatalf("%d queries before the retry", n)
	}
	c.clk.Advance(time.Second)
	if lines := c.log.take(); !reflect.DeepEqual(lines, []string{want}) {
		t.Fatalf("log %q after the retry", lines)
	}

	c.dns.set("cluster.test", 30, "10.0.0.1")
	c.clk.Advance(10 * time.Second)
	c.expect(t, "name appears", "+[10.0.0.1:12345] -[]")

	// The name goes away: its nodes are removed, and it is retried.
	c.dns.remove("cluster.test")
	c.clk.Advance(30 * time.Second)
	c.expect(t, "name removed", "+[] -[10.0.0.1:12345]")
	if lines := c.log.take(); !reflect.DeepEqual(lines, []string{want}) {
		t.Fatalf("log %q", lines)
	}
	if p := c.clk.Pending(); len(p) != 1 || p[0] != 10*time.Second {
		t.Fatalf("retry in %v, want 10s", p)
	}
}

// A server failure says nothing about the nodes: they are kept, and the
// name is tried again after resolver_timeout.
func TestDynamicServerFailureKeepsMembers(t *testing.T) {
	c := newCluster(t, "valid=20s;\nresolver_timeout 7s", "127.0.0.1:12345")
	c.dns.set("cluster.test", 30, "10.0.0.1")
	c.d.Start()
	c.expect(t, "start", "+[10.0.0.1:12345] -[]")
	c.dns.fail("cluster.test", dns.RcodeServerFailure)
	c.clk.Advance(20 * time.Second)
	c.expect(t, "server failure")
	want := "[error] cluster.test could not be resolved (2: Server failure)"
	if lines := c.log.take(); !reflect.DeepEqual(lines, []string{want}) {
		t.Fatalf("log %q, want %q", lines, want)
	}
	if got := addrs(c.d.Members()); got != "10.0.0.1:12345" {
		t.Fatalf("members %q", got)
	}
	if p := c.clk.Pending(); len(p) != 1 || p[0] != 7*time.Second {
		t.Fatalf("retry in %v, want resolver_timeout 7s", p)
	}
	c.dns.set("cluster.test", 30, "10.0.0.2")
	c.clk.Advance(7 * time.Second)
	c.expect(t, "recovered", "+[10.0.0.2:12345] -[10.0.0.1:12345]")
}

func TestDynamicIPv6Off(t *testing.T) {
	c := newCluster(t, "ipv6=off", "127.0.0.1:12345")
	c.dns.set("cluster.test", 30, "10.0.0.1", "fd00::1")
	c.d.Start()
	c.expect(t, "start", "+[10.0.0.1:12345] -[]")
	if n := c.dns.count("cluster.test", "AAAA"); n != 0 {
		t.Fatalf("%d AAAA queries with ipv6=off", n)
	}
	c2 := newCluster(t, "", "127.0.0.1:12345")
	c2.dns.set("cluster.test", 30, "10.0.0.1", "fd00::1")
	c2.d.Start()
	c2.expect(t, "both families", "+[10.0.0.1:12345 [fd00::1]:12345] -[]")
}

// Every node resolves the name to every node, itself included: its own
// address is left out, for a wildcard listen too.
func TestDynamicLeavesSelfOut(t *testing.T) {
	c := newCluster(t, "", "127.0.0.1:12345")
	c.dns.set("cluster.test", 30, "127.0.0.1", "10.0.0.1")
	c.d.Start()
	c.expect(t, "specific listen", "+[10.0.0.1:12345] -[]")

	w := newCluster(t, "", "12345") // wildcard; the machine has 10.0.0.9
	w.dns.set("cluster.test", 30, "10.0.0.9", "10.0.0.1", "127.0.0.2")
	w.d.Start()
	w.expect(t, "wildcard listen", "+[10.0.0.1:12345] -[]")
}

func TestDynamicTwoResolversFirstDown(t *testing.T) {
	srv := startDNS(t)
	srv.set("cluster.test", 30, "10.0.0.1")
	down := closedPort(t)
	zs := loadZoneSync(t, fmt.Sprintf("resolver %s %s;", down, srv.addr),
		"listen 127.0.0.1:12345;\nzone_sync_server cluster.test:12345 resolve;")
	log, got := &logRecorder{}, &changes{}
	cfg := ConfigOf(zs)
	cfg.Clock, cfg.Logf, cfg.OnChange = NewManualClock(epoch), log.logf, got.add
	d := New(cfg)
	defer d.Stop()
	d.Start()
	if chs := describe(got.take()); !reflect.DeepEqual(chs, []string{"+[10.0.0.1:12345] -[]"}) {
		t.Fatalf("changes %q", chs)
	}
	want := fmt.Sprintf("[error] recv() failed (111: Connection refused) while resolving, resolver: %s", down)
	if lines := log.take(); !reflect.DeepEqual(lines, []string{want}) {
		t.Fatalf("log %q, want %q", lines, want)
	}
}

func TestStop(t *testing.T) {
	c := newCluster(t, "", "127.0.0.1:12345")
	c.dns.set("cluster.test", 30, "10.0.0.1")
	c.d.Start()
	c.expect(t, "start", "+[10.0.0.1:12345] -[]")
	c.d.Stop()
	c.d.Stop()
	if p := c.clk.Pending(); len(p) != 0 {
		t.Fatalf("timers left after Stop: %v", p)
	}
	c.dns.set("cluster.test", 30, "10.0.0.2")
	c.clk.Advance(time.Hour)
	c.d.Start()
	c.expect(t, "after Stop")
	if n := c.dns.count("cluster.test", "A"); n != 1 {
		t.Fatalf("%d queries after Stop", n)
	}
}

// Stop abandons a resolution under way, on the real clock.
func TestStopDuringResolution(t *testing.T) {
	silent, got := silentServer(t)
	zs := loadZoneSync(t, fmt.Sprintf("resolver %s;\nresolver_timeout 1h;", silent),
		"listen 127.0.0.1:12345;\nzone_sync_server cluster.test:12345 resolve;")
	cfg := ConfigOf(zs)
	cfg.Resolver.AttemptTimeout = time.Hour
	changed := &changes{}
	cfg.OnChange = changed.add
	d := New(cfg)
	started := make(chan struct{})
	go func() {
		defer close(started)
		d.Start()
	}()
	<-got // the first query is out
	d.Stop()
	<-started
	if chs := changed.take(); len(chs) != 0 {
		t.Fatalf("changes after Stop: %v", chs)
	}
}

func TestStaticMembers(t *testing.T) {
	zs := loadZoneSync(t, "", strings.Join([]string{
		"listen 127.0.0.1:12345;",
		"zone_sync_server 127.0.0.1:12345;", // this node
		"zone_sync_server 127.0.0.1:12346;",
		"zone_sync_server [::1]:12347;",
		"zone_sync_server unix:/run/zs.sock;",
		"zone_sync_server localhost:12348;",
	}, "\n"))
	got := &changes{}
	cfg := ConfigOf(zs)
	cfg.OnChange, cfg.Clock = got.add, NewManualClock(epoch)
	d := New(cfg)
	defer d.Stop()
	if d.Dynamic() {
		t.Fatal("static entries taken as dynamic")
	}
	d.Start()
	chs := got.take()
	if len(chs) != 1 {
		t.Fatalf("changes %v, want one", chs)
	}
	byAddr := map[string]string{}
	for _, m := range chs[0].Added {
		byAddr[m.Addr] = m.Name
	}
	for addr, name := range map[string]string{
		"127.0.0.1:12346":   "127.0.0.1",
		"[::1]:12347":       "::1",
		"unix:/run/zs.sock": "/run/zs.sock",
		"127.0.0.1:12348":   "localhost", // a name resolving to several addresses gives several nodes
	} {
		if n, ok := byAddr[addr]; !ok || n != name {
			t.Errorf("member %s: name %q (present %v), want %q", addr, n, ok, name)
		}
	}
	if _, ok := byAddr["127.0.0.1:12345"]; ok {
		t.Error("the node's own address is a member")
	}
	for _, n := range zs.Servers[4].Nodes {
		if _, ok := byAddr[n.String()]; !ok {
			t.Errorf("address %s of localhost missing", n)
		}
	}
	// Static membership is never looked up again.
	cfg.Clock.(*ManualClock).Advance(time.Hour)
	if chs := got.take(); len(chs) != 0 || len(cfg.Clock.(*ManualClock).Pending()) != 0 {
		t.Fatalf("static membership changed: %v", chs)
	}
}

func TestIsSelf(t *testing.T) {
	local := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	for _, tc := range []struct {
		addr   string
		listen []string
		want   bool
	}{
		{"127.0.0.1:12345", []string{"127.0.0.1:12345"}, true},
		{"127.0.0.1:12346", []string{"127.0.0.1:12345"}, false},
		{"10.0.0.1:12345", []string{"127.0.0.1:12345"}, false},
		{"192.0.2.10:12345", []string{"*:12345"}, true},
		{"192.0.2.10:12345", []string{"12345"}, true},
		{"192.0.2.10:12345", []string{"0.0.0.0:12345"}, true},
		{"192.0.2.11:12345", []string{"0.0.0.0:12345"}, false},
		{"127.0.0.5:12345", []string{"0.0.0.0:12345"}, true}, // loopback reaches this node
		{"192.0.2.10:12346", []string{"*:12345"}, false},
		{"[2001:db8::10]:12345", []string{"[::]:12345"}, true},
		{"[2001:db8::10]:12345", []string{"0.0.0.0:12345"}, false},
		{"192.0.2.10:12345", []string{"[::]:12345"}, false}, // [::] is ipv6only
		{"[::1]:12345", []string{"[::1]:12345"}, true},
		{"192.0.2.10:12347", []string{"192.0.2.10:12340-12350"}, true},
		{"unix:/run/zs.sock", []string{"unix:/run/zs.sock"}, true},
		{"unix:/run/other.sock", []string{"unix:/run/zs.sock"}, false},
		{"not an address", []string{"*:12345"}, false},
	} {
		t.Run(tc.addr+" "+strings.Join(tc.listen, ","), func(t *testing.T) {
			if got := IsSelfWith(tc.addr, tc.listen, local); got != tc.want {
				t.Errorf("IsSelfWith(%q, %q) = %v, want %v", tc.addr, tc.listen, got, tc.want)
			}
		})
	}
	if !IsSelf("127.0.0.1:12345", []string{"*:12345"}) {
		t.Error("IsSelf does not see 127.0.0.1 behind a wildcard listen")
	}
}

func TestManualClock(t *testing.T) {
	clk := NewManualClock(epoch)
	var order []string
	clk.AfterFunc(2*time.Second, func() { order = append(order, "b") })
	clk.AfterFunc(time.Second, func() {
		order = append(order, "a")
		clk.AfterFunc(500*time.Millisecond, func() { order = append(order, "a+") })
	})
	stopped := clk.AfterFunc(1500*time.Millisecond, func() { order = append(order, "never") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop reports wrongly")
	}
	clk.Advance(3 * time.Second)
	if want := []string{"a", "a+", "b"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
	if !clk.Now().Equal(epoch.Add(3 * time.Second)) {
		t.Fatalf("now %v", clk.Now())
	}
}
