package core_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/sync/core/sim"
	"github.com/zonesync/zonesync/runtime/zone"
)

// TestRandomConvergence drives clusters through random writes, deletes,
// partitions, broken connections, duplicated and reordered deliveries and
// skewed clocks, then heals everything and checks that every node holds the
// same records, stamps included. Each seed is one fixed run.
func TestRandomConvergence(t *testing.T) {
	for seed := int64(1); seed <= 50; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			net := sim.New(seed)
			names := []string{"a", "b", "c", "d"}
			for _, name := range names {
				interval := []time.Duration{0, 100 * time.Millisecond, time.Second}[rng.Intn(3)]
				_, err := net.AddNode(name, sim.NodeOptions{Interval: interval, Timeout: 2 * time.Second,
					BufferCount: 1 + rng.Intn(3), BufferSize: 256 + rng.Intn(512),
					Skew:  time.Duration(rng.Intn(4000)-2000) * time.Millisecond,
					Zones: []sim.ZoneSpec{{Name: "zone1", Kind: zone.KindKeyval}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			var trace []string
			for op := 0; op < 150; op++ {
				nd := net.Node(names[rng.Intn(len(names))])
				key := fmt.Sprintf("k%d", rng.Intn(12))
				switch r := rng.Intn(20); {
				case r < 9:
					val := strings.Repeat("v", rng.Intn(40)) + fmt.Sprint(op)
					if err := nd.Zones["zone1"].Set(key, []byte(val), 0); err != nil {
						t.Fatal(err)
					}
					net.Changed(nd)
					trace = append(trace, fmt.Sprintf("write %s %s", nd.Name, key))
				case r < 12:
					if nd.Zones["zone1"].Delete(key) {
						net.Changed(nd)
						trace = append(trace, fmt.Sprintf("delete %s %s", nd.Name, key))
					}
				case r < 13:
					perm := rng.Perm(len(names))
					cut := 1 + rng.Intn(len(names)-1)
					var g1, g2 []string
					for i, p := range perm {
						if i < cut {
							g1 = append(g1, names[p])
						} else {
							g2 = append(g2, names[p])
						}
					}
					net.Partition([][]string{g1, g2})
					trace = append(trace, fmt.Sprintf("partition %v | %v", g1, g2))
				case r < 15:
					net.Heal()
					trace = append(trace, "heal")
				case r < 16:
					other := names[rng.Intn(len(names))]
					net.Disconnect(nd.Name, other)
					trace = append(trace, fmt.Sprintf("disconnect %s %s", nd.Name, other))
				case r < 17:
					net.Dup, net.Reorder = rng.Intn(2) == 0, rng.Intn(2) == 0
					trace = append(trace, fmt.Sprintf("faults dup=%v reorder=%v", net.Dup, net.Reorder))
				default:
					d := time.Duration(rng.Intn(3000)) * time.Millisecond
					if err := net.Advance(d); err != nil {
						t.Fatal(err)
					}
					trace = append(trace, fmt.Sprintf("tick %v", d))
				}
			}
			net.Heal()
			net.Dup, net.Reorder = false, false
			if err := net.Advance(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			for _, nd := range net.Nodes() {
				if s := nd.Core.Status(); s.NodesOnline != 3 || s.Zones[0].RecordsPending != 0 {
					var logs []string
					for _, e := range net.Log {
						logs = append(logs, e.String())
					}
					t.Fatalf("%s: %+v %v\n%s\n%s", nd.Name, s, nd.Links(), strings.Join(trace, "\n"), strings.Join(logs[max(0, len(logs)-60):], "\n"))
				}
			}
			want := net.Node("a").State("zone1")
			for _, name := range names[1:] {
				if got := net.Node(name).State("zone1"); got != want {
					t.Fatalf("%s differs from a after:\n%s\na:\n%s\n%s:\n%s", name,
						strings.Join(trace, "\n"), want, name, got)
				}
			}
			for _, nd := range net.Nodes() {
				if s := nd.Core.Status(); s.NodesOnline != 3 || s.Zones[0].RecordsPending != 0 {
					t.Fatalf("%s: %+v", nd.Name, s)
				}
			}
		})
	}
}
