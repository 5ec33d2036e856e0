package core_test

import (
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/sync/core"
	"github.com/zonesync/zonesync/runtime/sync/wire"
	"github.com/zonesync/zonesync/runtime/zone"
)

// FuzzFrames feeds a core arbitrary frames from a peer that said hello:
// it must not panic, must close only the connection that sent something
// malformed, and everything it sends must decode.
func FuzzFrames(f *testing.F) {
	id := wire.ZoneIDOf("zone1", zone.KindKeyval)
	stamp := zone.MakeStamp(t0.UnixMilli(), 1)
	start, _ := wire.SnapshotStartFrame(id, 1)
	end, _ := wire.SnapshotEndFrame(id, 1)
	rec := records(id, true, zone.Record{Key: []byte("k"), Value: []byte("v"), Stamp: stamp, Origin: 2})
	seed := func(frames ...[]byte) []byte {
		var b []byte
		for _, fr := range frames {
			b = append(b, byte(len(fr)))
			b = append(b, fr...)
		}
		return b
	}
	f.Add(seed(start, rec, end, wire.HeartbeatFrame(), wire.ByeFrame("x")))
	f.Add(seed(rec, []byte{3, 1, 0, 0, 0, 1, 0}, rec))
	f.Fuzz(func(t *testing.T, data []byte) {
		z, err := zone.New(zone.Config{Name: "zone1", Kind: zone.KindKeyval, Size: 64 << 10, Sync: true, Node: 1,
			Clock: &fixedClock{now: t0}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := core.New(core.Config{Node: 1, Interval: time.Second, Zones: []core.Zone{z}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		peer := core.PeerID(0)
		fed := int64(0)
		open := false
		check := func(acts []core.Action) {
			for _, a := range acts {
				switch a.Kind {
				case core.ActSend:
					var fr wire.Frame
					if err := wire.Decode(a.Frame, wire.MaxFrameLimit, &fr); err != nil {
						t.Fatalf("the core sent a malformed frame: %v", err)
					}
				case core.ActDrop:
					if a.Peer != peer {
						t.Fatalf("dropped peer %d while talking to %d", a.Peer, peer)
					}
					open = false
				}
			}
		}
		for len(data) > 0 {
			if !open {
				peer++
				check(c.Connected(peer, false, "x"))
				h, _ := wire.HelloFrame(wire.Hello{VersionMin: 1, VersionMax: 1, Node: 2, MaxFrame: wire.MinFrameLimit, Cluster: c.Cluster()})
				check(c.Frame(peer, h))
				fed++
				open = true
			}
			n := min(int(data[0]), len(data)-1)
			raw := data[1 : 1+n]
			data = data[1+n:]
			check(c.Frame(peer, raw))
			fed++
			check(c.Tick(t0.Add(time.Duration(fed) * time.Millisecond)))
		}
		if s := c.Status(); s.MsgsIn != fed || s.NodesOnline > 1 {
			t.Fatalf("status %+v after %d frames", s, fed)
		}
	})
}
