package core_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/sync/core"
	"github.com/zonesync/zonesync/runtime/sync/core/sim"
	"github.com/zonesync/zonesync/runtime/sync/wire"
	"github.com/zonesync/zonesync/runtime/zone"
)

var t0 = sim.Epoch

type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time { return c.now }

func newStore(t *testing.T, name string, kind zone.Kind, node uint32) *zone.Store {
	t.Helper()
	s, err := zone.New(zone.Config{Name: name, Kind: kind, Size: 64 << 10, Rate: 1000, Sync: true,
		Node: node, Clock: &fixedClock{now: t0}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newCore returns the core of node 1 with one keyval zone "zone1".
func newCore(t *testing.T, mod func(*core.Config)) (*core.Core, *zone.Store) {
	t.Helper()
	z := newStore(t, "zone1", zone.KindKeyval, 1)
	cfg := core.Config{Node: 1, Listen: "a", Interval: time.Second, Zones: []core.Zone{z}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := core.New(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c, z
}

func helloFrom(t *testing.T, h wire.Hello) []byte {
	t.Helper()
	if h.VersionMin == 0 {
		h.VersionMin, h.VersionMax = wire.ProtocolVersionMin, wire.ProtocolVersionMax
	}
	if h.MaxFrame == 0 {
		h.MaxFrame = 64 << 10
	}
	raw, err := wire.HelloFrame(h)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// describe summarizes actions, one line each.
func describe(t *testing.T, acts []core.Action) []string {
	t.Helper()
	var out []string
	for _, a := range acts {
		switch a.Kind {
		case core.ActSend:
			var f wire.Frame
			if err := wire.Decode(a.Frame, wire.MaxFrameLimit, &f); err != nil {
				t.Fatalf("core sent a malformed frame: %v", err)
			}
			line := fmt.Sprintf("send %d %v", a.Peer, f.Type)
			switch f.Type {
			case wire.TypeRecords:
				line += fmt.Sprintf(" %s %d", f.Zone.Name, len(f.Records))
				if f.Flags&wire.FlagSnapshot != 0 {
					line += " snapshot"
				}
			case wire.TypeSnapshotStart, wire.TypeSnapshotEnd:
				line += fmt.Sprintf(" %s %d", f.Zone.Name, f.Count)
			case wire.TypeBye:
				line += " " + f.Reason
			}
			out = append(out, line)
		case core.ActDrop:
			out = append(out, fmt.Sprintf("drop %d: %v", a.Peer, a.Reason))
		case core.ActLog:
			out = append(out, fmt.Sprintf("log %v: %s", a.Level, a.Msg))
		case core.ActStopped:
			out = append(out, "stopped")
		}
	}
	return out
}

func expectLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfig(t *testing.T) {
	z := newStore(t, "zone1", zone.KindKeyval, 1)
	tests := []struct {
		name string
		cfg  core.Config
		want string
	}{
		{"node 0", core.Config{}, "node id 0"},
		{"recv below buffer", core.Config{Node: 1, BufferSize: 8192, RecvBufferSize: 4096}, "smaller than a buffer"},
		{"negative", core.Config{Node: 1, Interval: -1}, "negative"},
		{"zone twice", core.Config{Node: 1, Zones: []core.Zone{z, z}}, "given twice"},
		{"long cluster", core.Config{Node: 1, Cluster: strings.Repeat("c", 256)}, "cluster name"},
		{"long listen", core.Config{Node: 1, Listen: strings.Repeat("l", 256)}, "listen address"},
		{"tiny buffer", core.Config{Node: 1, BufferSize: 64, Zones: []core.Zone{newStore(t, strings.Repeat("z", 40), zone.KindKeyval, 1)}},
			"cannot hold a record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.New(tc.cfg, t0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	c, err := core.New(core.Config{Node: 1}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Defaults: timeout 5s, so the first deadline is a quarter of it.
	if d := c.Deadline().Sub(t0); d != core.DefaultTimeout/4 {
		t.Fatalf("deadline %v after start", d)
	}
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*core.Config)
		hello wire.Hello
		want  []string
	}{
		{"online", nil, wire.Hello{Node: 2, Cluster: wire.ClusterHash([]wire.ZoneID{wire.ZoneIDOf("zone1", zone.KindKeyval)}), Listen: "b"},
			[]string{
				`log notice: zone_sync: node 2 at b is online; nodes online: 1`,
				`send 7 snapshot start zone1 0`,
				`send 7 snapshot end zone1 0`,
				`log info: zone_sync: sent peer b (node 2) a snapshot: 0 records in 0 frames`,
			}},
		{"other zones", nil, wire.Hello{Node: 2, Cluster: "zones-0000000000000000", Listen: "b"},
			[]string{
				`log warn: zone_sync: peer b (node 2) syncs other zones (zones-0000000000000000, here zones-02910e2d335a5d6e); syncing the zones both have`,
				`log notice: zone_sync: node 2 at b is online; nodes online: 1`,
				`send 7 snapshot start zone1 0`,
				`send 7 snapshot end zone1 0`,
				`log info: zone_sync: sent peer b (node 2) a snapshot: 0 records in 0 frames`,
			}},
		{"self", nil, wire.Hello{Node: 1, Cluster: "x"},
			[]string{
				`log notice: zone_sync: 10.0.0.2:1 is this node's own address, not syncing with it`,
				`drop 7: connected to itself`,
			}},
		{"no common version", nil, wire.Hello{VersionMin: wire.ProtocolVersionMax + 1, VersionMax: wire.ProtocolVersionMax + 2, Node: 2, Cluster: "x"},
			[]string{
				`log error: zone_sync: peer 10.0.0.2:1: no common protocol version: the peer speaks 2 to 3, this node 1 to 1; closing the connection`,
				`send 7 bye no common protocol version`,
				`drop 7: no common protocol version: peer speaks 2 to 3, this node 1 to 1`,
			}},
		{"named clusters differ", func(c *core.Config) { c.Cluster = "blue" }, wire.Hello{Node: 2, Cluster: "green", Named: true},
			[]string{
				`log error: zone_sync: peer 10.0.0.2:1 (node 2): the peer belongs to cluster "green", this node to "blue"; closing the connection`,
				`send 7 bye cluster mismatch`,
				`drop 7: cluster mismatch: peer in cluster "green", this node in "blue"`,
			}},
		{"named and derived", func(c *core.Config) { c.Cluster = "blue" }, wire.Hello{Node: 2, Cluster: "zones-0000000000000000"},
			[]string{
				`log error: zone_sync: peer 10.0.0.2:1 (node 2): the peer has no cluster name, this node belongs to cluster "blue"; closing the connection`,
				`send 7 bye cluster mismatch`,
				`drop 7: cluster mismatch: peer has no cluster name, this node is in "blue"`,
			}},
		{"derived and named", nil, wire.Hello{Node: 2, Cluster: "blue", Named: true},
			[]string{
				`log error: zone_sync: peer 10.0.0.2:1 (node 2): the peer belongs to cluster "blue", this node has no cluster name; closing the connection`,
				`send 7 bye cluster mismatch`,
				`drop 7: cluster mismatch: peer in cluster "blue", this node has no cluster name`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCore(t, tc.mod)
			expectLines(t, describe(t, c.Connected(7, true, "10.0.0.2:1")),
				`log info: zone_sync: connected to 10.0.0.2:1`, `send 7 hello`)
			expectLines(t, describe(t, c.Frame(7, helloFrom(t, tc.hello))), tc.want...)
			if self := c.IsSelf("10.0.0.2:1"); self != (tc.name == "self") {
				t.Fatalf("IsSelf %v", self)
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	c, _ := newCore(t, nil)
	c.Connected(1, false, "x:1")
	c.Connected(2, false, "y:1")
	hb := wire.HeartbeatFrame()
	expectLines(t, describe(t, c.Frame(1, hb)),
		`log error: zone_sync: peer x:1: protocol error: heartbeat frame before hello; closing the connection`,
		`send 1 bye protocol error`,
		`drop 1: protocol error: heartbeat frame before hello`)
	if acts := c.Frame(1, hb); acts != nil {
		t.Fatalf("a dropped peer's frame was handled: %v", describe(t, acts))
	}
	h := helloFrom(t, wire.Hello{Node: 2, Cluster: c.Cluster(), Listen: "y"})
	c.Frame(2, h)
	expectLines(t, describe(t, c.Frame(2, h)),
		`log error: zone_sync: peer y (node 2): protocol error: second hello; closing the connection`,
		`send 2 bye protocol error`,
		`drop 2: protocol error: second hello`,
		`log notice: zone_sync: node 2 at y is offline; nodes online: 0`)
	if c.Status().NodesOnline != 0 {
		t.Fatal("node still online")
	}
	c.Connected(3, false, "z:1")
	expectLines(t, describe(t, c.Connected(3, false, "z:1")), `log error: zone_sync: connection 3 reported twice; ignored`)
	// A peer that refuses this node says bye instead of hello: not a protocol error.
	c.Connected(4, false, "w:1")
	expectLines(t, describe(t, c.Frame(4, wire.ByeFrame("cluster mismatch"))),
		`log warn: zone_sync: peer w:1 closed the connection: cluster mismatch`,
		`drop 4: peer closed the connection: cluster mismatch`)
	acts := c.Frame(3, []byte{byte(wire.TypeRecords), 0, 0, 0x10, 0, 0})
	var we *wire.Error
	if len(acts) != 3 || acts[2].Kind != core.ActDrop || !errors.As(acts[2].Reason, &we) || !errors.Is(acts[2].Reason, wire.ErrFrameTooLarge) {
		t.Fatalf("frame over the receive buffer: %v", describe(t, acts))
	}
	if c.Disconnected(3, io.EOF) != nil || c.Disconnected(99, nil) != nil {
		t.Fatal("Disconnected for a dropped or unknown peer did something")
	}
}

// online connects peer p of node id and delivers its hello.
func online(t *testing.T, c *core.Core, p core.PeerID, id uint64, maxFrame uint32) []core.Action {
	t.Helper()
	c.Connected(p, true, fmt.Sprintf("n%d", id))
	return c.Frame(p, helloFrom(t, wire.Hello{Node: id, Cluster: c.Cluster(), Listen: fmt.Sprintf("n%d", id), MaxFrame: maxFrame}))
}

func records(z wire.ZoneID, snapshot bool, rs ...zone.Record) []byte {
	var fl wire.Flags
	if snapshot {
		fl = wire.FlagSnapshot
	}
	raw, err := wire.AppendFrame(nil, &wire.Frame{Type: wire.TypeRecords, Flags: fl, Zone: z, Records: rs})
	if err != nil {
		panic(err)
	}
	return raw
}

func TestSendLink(t *testing.T) {
	c, z := newCore(t, nil)
	if err := z.Set("k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	expectLines(t, describe(t, online(t, c, 1, 2, 0))[1:4],
		`send 1 snapshot start zone1 1`, `send 1 records zone1 1 snapshot`, `send 1 snapshot end zone1 1`)
	// A second connection to the same node gets no snapshot.
	expectLines(t, describe(t, online(t, c, 2, 2, 0)),
		`log info: zone_sync: peer n2 (node 2): another connection to the node is online`)
	// Another address with the same id is suspicious.
	c.Connected(9, false, "10.0.0.9:1")
	expectLines(t, describe(t, c.Frame(9, helloFrom(t, wire.Hello{Node: 2, Cluster: c.Cluster(), Listen: "other"}))),
		`log warn: zone_sync: node 2 announces itself as n2 and as other: do two nodes share an id?`,
		`log info: zone_sync: peer other (node 2): another connection to the node is online`)
	c.Disconnected(9, nil)
	if got := c.Peers(); len(got) != 1 || len(got[2]) != 2 || got[2][0] != 1 {
		t.Fatalf("peers %v", got)
	}
	// Pushes go on the send link only.
	if err := z.Set("j", []byte("w"), 0); err != nil {
		t.Fatal(err)
	}
	expectLines(t, describe(t, c.Flush()), `send 1 records zone1 1`)
	// Losing a connection that is not the send link changes nothing.
	online(t, c, 3, 2, 0)
	expectLines(t, describe(t, c.Disconnected(3, nil)), `log info: zone_sync: peer n2 (node 2) closed the connection`)
	// Losing the send link moves it, with a new snapshot.
	expectLines(t, describe(t, c.Disconnected(1, errors.New("broken pipe"))),
		`log error: zone_sync: peer n2 (node 2): broken pipe`,
		`log info: zone_sync: peer n2 (node 2): sending on another connection to the node`,
		`send 2 snapshot start zone1 2`, `send 2 records zone1 2 snapshot`, `send 2 snapshot end zone1 2`,
		`log info: zone_sync: sent peer n2 (node 2) a snapshot: 2 records in 1 frame`)
	expectLines(t, describe(t, c.Disconnected(2, io.EOF)),
		`log info: zone_sync: peer n2 (node 2) closed the connection`,
		`log notice: zone_sync: node 2 at n2 is offline; nodes online: 0`)
}

func TestReceive(t *testing.T) {
	c, z := newCore(t, nil)
	online(t, c, 1, 2, 0)
	id := wire.ZoneIDOf("zone1", zone.KindKeyval)
	stamp := zone.MakeStamp(t0.UnixMilli(), 0)
	rec := func(k string) zone.Record {
		return zone.Record{Key: []byte(k), Value: []byte("v"), Stamp: stamp, Origin: 2}
	}
	start, _ := wire.SnapshotStartFrame(id, 2)
	end, _ := wire.SnapshotEndFrame(id, 2)
	expectLines(t, describe(t, c.Frame(1, start)))
	expectLines(t, describe(t, c.Frame(1, records(id, true, rec("a"), rec("b")))))
	expectLines(t, describe(t, c.Frame(1, end)), `log info: zone_sync: snapshot of zone "zone1" from peer n2 (node 2): 2 records`)
	expectLines(t, describe(t, c.Frame(1, end)), `log warn: zone_sync: peer n2 (node 2) ended a snapshot of zone "zone1" it did not start`)
	c.Frame(1, start)
	expectLines(t, describe(t, c.Frame(1, end)), `log warn: zone_sync: snapshot of zone "zone1" from peer n2 (node 2): 0 records received, 2 sent`)
	if z.Len() != 2 || z.Pending() != 0 {
		t.Fatalf("zone has %d records, %d pending", z.Len(), z.Pending())
	}
	// Records the zone refuses: one line per frame.
	bad := zone.Record{Key: []byte{}, Stamp: stamp, Origin: 2}
	expectLines(t, describe(t, c.Frame(1, records(id, false, rec("c"), bad, bad))),
		`log error: zone_sync: 2 of 3 records from peer n2 (node 2) refused: keyval zone "zone1": invalid key`)
	// Unknown zone: ignored, logged once per connection.
	other := wire.ZoneID{Name: "zone9", Kind: wire.KindKeyval, Version: 1}
	expectLines(t, describe(t, c.Frame(1, records(other, false, rec("x")))),
		`log info: zone_sync: ignoring zone "zone9" from peer n2 (node 2): not synced here`)
	expectLines(t, describe(t, c.Frame(1, records(other, false, rec("x")))))
	// Same name, another kind or version: ignored, a warning once.
	for _, k := range []wire.ZoneID{{Name: "zone1", Kind: wire.KindSticky, Version: 1}, {Name: "zone1", Kind: wire.KindKeyval, Version: 2}} {
		c.Frame(1, records(k, false, rec("y")))
	}
	if _, ok := z.Get("y"); ok {
		t.Fatal("a record for another kind was applied")
	}
	st := c.Status()
	if st.MsgsIn != 12 || st.MsgsOut != 0 || st.BytesOut != 0 || st.Zones[0].RecordsTotal != 3 {
		t.Fatalf("status %+v", st)
	}
	// A bye closes the connection.
	expectLines(t, describe(t, c.Frame(1, wire.ByeFrame("stopping"))),
		`log info: zone_sync: peer n2 (node 2) closed the connection: stopping`,
		`drop 1: peer closed the connection: stopping`,
		`log notice: zone_sync: node 2 at n2 is offline; nodes online: 0`)
}

func TestPushLimits(t *testing.T) {
	c, z := newCore(t, func(cfg *core.Config) { cfg.BufferCount, cfg.BufferSize = 2, 256 })
	online(t, c, 1, 2, 0)
	for i := 0; i < 20; i++ {
		if err := z.Set(fmt.Sprintf("key%02d", i), []byte("value"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// (256 - 18) / 37 = 6 records per frame, 2 frames per push.
	expectLines(t, describe(t, c.Flush()), `send 1 records zone1 6`, `send 1 records zone1 6`)
	if st := c.Status(); st.Zones[0].RecordsPending != 8 || !c.Backlog() {
		t.Fatalf("pending %d after one push", st.Zones[0].RecordsPending)
	}
	expectLines(t, describe(t, c.Flush()), `send 1 records zone1 6`, `send 1 records zone1 2`)
	if st := c.Status(); st.Zones[0].RecordsPending != 0 || c.Backlog() || st.MsgsOut != 4 {
		t.Fatalf("status %+v", st)
	}
	// A peer that accepts smaller frames than our buffers gets them.
	c2, z2 := newCore(t, func(cfg *core.Config) { cfg.BufferSize = 8192 })
	big := strings.Repeat("v", 900)
	for i := 0; i < 3; i++ {
		_ = z2.Set(fmt.Sprintf("k%d", i), []byte(big), 0)
	}
	snap := describe(t, online(t, c2, 1, 2, wire.MinFrameLimit))
	expectLines(t, snap[1:6], `send 1 snapshot start zone1 3`, `send 1 records zone1 1 snapshot`,
		`send 1 records zone1 1 snapshot`, `send 1 records zone1 1 snapshot`, `send 1 snapshot end zone1 3`)
	_ = z2.Set("huge", []byte(strings.Repeat("h", 2000)), 0)
	expectLines(t, describe(t, c2.Flush()),
		`log error: zone_sync: keyval zone "zone1": record "huge" needs a 2049-byte buffer, the buffer holds 1024; skipped`)
}

func TestTickSchedule(t *testing.T) {
	c, z := newCore(t, func(cfg *core.Config) { cfg.Timeout = 3 * time.Second })
	online(t, c, 1, 2, 0)
	_ = z.Set("k", []byte("v"), 0)
	// Heartbeats every second; the push at the interval.
	if d := c.Deadline(); !d.Equal(t0.Add(750 * time.Millisecond)) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
	expectLines(t, describe(t, c.Tick(t0.Add(500*time.Millisecond))))
	expectLines(t, describe(t, c.Tick(t0.Add(time.Second))), `send 1 records zone1 1`)
	expectLines(t, describe(t, c.Tick(t0.Add(1500*time.Millisecond))))
	expectLines(t, describe(t, c.Tick(t0.Add(2*time.Second))), `send 1 heartbeat`)
	c.Frame(1, wire.HeartbeatFrame()) // dated 2s
	expectLines(t, describe(t, c.Tick(t0.Add(4900*time.Millisecond))), `send 1 heartbeat`)
	expectLines(t, describe(t, c.Tick(t0.Add(5*time.Second))),
		`log error: zone_sync: peer n2 (node 2): timed out: nothing received for 3s; closing the connection`,
		`drop 1: timed out: nothing received for 3s`,
		`log notice: zone_sync: node 2 at n2 is offline; nodes online: 0`)
	// A clock that goes back changes nothing.
	expectLines(t, describe(t, c.Tick(t0)))
}

func TestStop(t *testing.T) {
	c, z := newCore(t, nil)
	online(t, c, 1, 2, 0)
	online(t, c, 2, 3, 0)
	c.Connected(3, false, "x:1") // still in its handshake
	_ = z.Set("k", []byte("v"), 0)
	expectLines(t, describe(t, c.Stop()),
		`send 1 records zone1 1`, `send 2 records zone1 1`,
		`log notice: zone_sync: stopping: pushed the last changes to 2 nodes, closing 3 connections`,
		`send 1 bye stopping`, `drop 1: stopping`,
		`send 2 bye stopping`, `drop 2: stopping`,
		`send 3 bye stopping`, `drop 3: stopping`,
		`stopped`)
	if !c.Stopped() || c.Stop() != nil || c.Tick(t0.Add(time.Hour)) != nil || c.Flush() != nil || !c.Deadline().IsZero() {
		t.Fatal("the core still works after Stop")
	}
	expectLines(t, describe(t, c.Connected(4, false, "y:1")), `drop 4: stopping`)
	if st := c.Status(); st.NodesOnline != 0 || st.MsgsOut != 2 {
		t.Fatalf("status %+v", st)
	}
}

// TestStatusConcurrent reads Status from another goroutine while a
// simulated cluster runs (meaningful under -race).
func TestStatusConcurrent(t *testing.T) {
	net := sim.New(1)
	for _, name := range []string{"a", "b", "c"} {
		if _, err := net.AddNode(name, sim.NodeOptions{Interval: 100 * time.Millisecond,
			Zones: []sim.ZoneSpec{{Name: "zone1", Kind: zone.KindKeyval}}}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
				for _, nd := range net.Nodes() {
					_ = nd.Core.Status()
					_ = nd.Core.IsSelf("a")
				}
			}
		}
	}()
	a := net.Node("a")
	for i := 0; i < 20; i++ {
		_ = a.Zones["zone1"].Set(fmt.Sprintf("k%d", i), []byte("v"), 0)
		if err := net.Advance(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	for _, nd := range net.Nodes() {
		if n := nd.Zones["zone1"].Len(); n != 20 {
			t.Errorf("%s holds %d records", nd.Name, n)
		}
	}
}

// A push cut short by zone_sync_buffers reports Unfinished, and further
// Flushes carry on until every change has gone; a push that fits does not.
func TestUnfinishedAfterFullBuffers(t *testing.T) {
	c, z := newCore(t, func(cfg *core.Config) { cfg.BufferCount, cfg.BufferSize = 2, 1024 })
	online(t, c, 1, 2, 0)
	for i := 0; i < 200; i++ {
		if err := z.Set(fmt.Sprintf("key-%03d", i), []byte("value-of-some-length"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if c.Unfinished() {
		t.Fatal("nothing was pushed yet")
	}
	sent := 0
	for push := 0; push < 100; push++ {
		for _, a := range c.Flush() {
			if a.Kind == core.ActSend {
				var f wire.Frame
				if err := wire.Decode(a.Frame, wire.MaxFrameLimit, &f); err != nil {
					t.Fatal(err)
				}
				sent += len(f.Records)
			}
		}
		if push == 0 && !c.Unfinished() {
			t.Fatal("a push that filled both buffers must be unfinished")
		}
		if !c.Unfinished() {
			break
		}
	}
	if c.Unfinished() || sent != 200 {
		t.Fatalf("after the pushes: unfinished %v, %d of 200 records sent", c.Unfinished(), sent)
	}
}
