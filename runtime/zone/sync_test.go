package zone

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"
)

func syncStore(t testing.TB, node uint32, clk Clock) *Store {
	return mustNew(t, Config{Kind: KindKeyval, Size: mb, Sync: true, Node: node, Clock: clk, Timeout: time.Hour})
}

// recordOf returns the stored record for key, tombstones included.
func recordOf(s *Store, key string) (Record, bool) {
	var out Record
	found := false
	s.Snapshot(func(r Record) bool {
		if string(r.Key) == key {
			out = Record{Key: []byte(key), Value: append([]byte(nil), r.Value...), Expire: r.Expire, Stamp: r.Stamp, Origin: r.Origin, Deleted: r.Deleted}
			found = true
			return false
		}
		return true
	})
	return out, found
}

func TestHLCStamps(t *testing.T) {
	clk := newClock()
	var h hlc
	a := h.next(clk.Millis())
	b := h.next(clk.Millis()) // same millisecond: logical counter
	if StampMillis(a) != clk.Millis() || b != a+1 {
		t.Fatalf("stamps %x %x at %d", a, b, clk.Millis())
	}
	clk.Advance(time.Millisecond)
	if c := h.next(clk.Millis()); c != MakeStamp(clk.Millis(), 0) {
		t.Fatalf("new millisecond: %x", c)
	}
	future := MakeStamp(clk.Millis()+5000, 7)
	h.observe(future)
	if d := h.next(clk.Millis()); d != future+1 {
		t.Fatalf("after observing a later stamp: %x, want %x", d, future+1)
	}
	h.observe(MakeStamp(1, 0)) // older stamps change nothing
	if e := h.next(clk.Millis()); e != future+2 {
		t.Fatalf("an older stamp moved the clock: %x", e)
	}
}

// Apply: last writer wins by stamp, ties go to the higher node id.
func TestApplyMergeRules(t *testing.T) {
	const local = 5
	base := MakeStamp(1_700_000_000_000, 10)
	tests := []struct {
		name    string
		stamp   uint64
		origin  uint32
		changed bool
	}{
		{"newer stamp wins", base + 1, 1, true},
		{"older stamp loses", base - 1, 9, false},
		{"same stamp, higher node wins", base, local + 1, true},
		{"same stamp, lower node loses", base, local - 1, false},
		{"the same record changes nothing", base, local, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := syncStore(t, 1, newClock())
			if _, err := s.Apply(Record{Key: []byte("k"), Value: []byte("mine"), Stamp: base, Origin: local}); err != nil {
				t.Fatal(err)
			}
			changed, err := s.Apply(Record{Key: []byte("k"), Value: []byte("theirs"), Stamp: tt.stamp, Origin: tt.origin})
			if err != nil || changed != tt.changed {
				t.Fatalf("Apply = %v %v, want %v", changed, err, tt.changed)
			}
			want := "mine"
			if tt.changed {
				want = "theirs"
			}
			if v, _ := s.Get("k"); string(v) != want {
				t.Fatalf("value %q, want %q", v, want)
			}
			if s.Pending() != 0 {
				t.Fatal("applied records must not be queued")
			}
		})
	}
}

// A node whose clock lags still wins with a change made after it observed a
// newer record: its HLC carries the observed stamp forward.
func TestLaggingClockWinsAfterObserving(t *testing.T) {
	clkA, clkB := newClock(), newClock()
	clkB.Advance(-10 * time.Minute) // B is 10 minutes behind (less than the timeout: expiry times are absolute)
	a, b := syncStore(t, 1, clkA), syncStore(t, 2, clkB)
	push := func(from, to *Store) {
		from.TakePending(0, func(r Record) {
			if _, err := to.Apply(r); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := a.Set("k", []byte("from A"), 0); err != nil {
		t.Fatal(err)
	}
	push(a, b)
	if err := b.Set("k", []byte("from B"), 0); err != nil {
		t.Fatal(err)
	}
	push(b, a)
	for _, s := range []*Store{a, b} {
		if v, _ := s.Get("k"); string(v) != "from B" {
			t.Fatalf("node %d has %q, want B's later change", s.node, v)
		}
	}
	ra, _ := recordOf(a, "k")
	rb, _ := recordOf(b, "k")
	if ra.Stamp != rb.Stamp || ra.Origin != 2 {
		t.Fatalf("nodes disagree: %+v / %+v", ra, rb)
	}
}

func TestPendingQueue(t *testing.T) {
	clk := newClock()
	s := syncStore(t, 1, clk)
	s.Set("a", []byte("1"), 0)
	s.Set("a", []byte("2"), 0) // changed twice: queued once
	s.Set("b", []byte("1"), 0)
	if s.Pending() != 2 {
		t.Fatalf("Pending = %d, want 2", s.Pending())
	}
	got := map[string]string{}
	if n := s.TakePending(0, func(r Record) { got[string(r.Key)] = string(r.Value) }); n != 2 {
		t.Fatalf("TakePending = %d", n)
	}
	if !equalMaps(got, map[string]string{"a": "2", "b": "1"}) || s.Pending() != 0 {
		t.Fatalf("took %v, %d left", got, s.Pending())
	}
	// Records from a peer are not queued; a local change they beat leaves
	// the queue.
	s.Apply(Record{Key: []byte("c"), Value: []byte("x"), Stamp: 1, Origin: 2})
	s.Set("a", []byte("3"), 0)
	if s.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", s.Pending())
	}
	s.Apply(Record{Key: []byte("a"), Value: []byte("peer"), Stamp: MakeStamp(clk.Millis()+1000, 0), Origin: 2})
	if s.Pending() != 0 {
		t.Fatalf("a change overwritten by a peer stayed pending")
	}
	// max bounds a take; the rest stays queued.
	for i := 0; i < 10; i++ {
		s.Set(fmt.Sprint("n", i), nil, 0)
	}
	if n := s.TakePending(3, func(Record) {}); n != 3 || s.Pending() != 7 {
		t.Fatalf("took %d, %d left", n, s.Pending())
	}
	// A pending record that expires is dropped, not sent.
	s.TakePending(0, func(Record) {})
	s.Set("short", nil, time.Second)
	clk.Advance(time.Second)
	if n := s.TakePending(0, func(r Record) { t.Errorf("sent expired %q", r.Key) }); n != 0 {
		t.Fatalf("took %d", n)
	}
	mustCheck(t, s)

	plain := mustNew(t, Config{Kind: KindKeyval, Size: mb, Clock: clk})
	plain.Set("a", nil, 0)
	if plain.Pending() != 0 {
		t.Fatal("a zone without sync queued a record")
	}
}

func TestTombstones(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindKeyval, Size: mb, Sync: true, Node: 1, Clock: clk, Timeout: time.Minute})
	s.Set("k", []byte("v"), 0)
	before, _ := recordOf(s, "k")
	s.TakePending(0, func(Record) {})
	if !s.Delete("k") {
		t.Fatal("Delete failed")
	}
	if _, ok := s.Get("k"); ok || s.Len() != 0 || len(rangeMap(s)) != 0 {
		t.Fatal("a deleted pair is visible")
	}
	var sent []Record
	s.TakePending(0, func(r Record) { sent = append(sent, r) })
	if len(sent) != 1 || !sent[0].Deleted || len(sent[0].Value) != 0 || sent[0].Stamp <= before.Stamp {
		t.Fatalf("tombstone sent as %+v", sent)
	}
	if sent[0].Expire != clk.Millis()+time.Minute.Milliseconds() {
		t.Fatalf("tombstone lives until %d, want the zone timeout", sent[0].Expire)
	}
	// The tombstone beats the older copy a peer may still send...
	if changed, _ := s.Apply(before); changed {
		t.Fatal("an older record resurrected a deleted key")
	}
	// ...but not a newer write.
	newer := Record{Key: []byte("k"), Value: []byte("again"), Stamp: sent[0].Stamp + 1, Origin: 2}
	if changed, _ := s.Apply(newer); !changed {
		t.Fatal("a newer record did not replace the tombstone")
	}
	if v, _ := s.Get("k"); string(v) != "again" {
		t.Fatalf("value %q", v)
	}
	// A remote tombstone deletes an older local pair.
	tomb := Record{Key: []byte("k"), Deleted: true, Stamp: newer.Stamp + 1, Origin: 3}
	if changed, _ := s.Apply(tomb); !changed {
		t.Fatal("a remote tombstone was refused")
	}
	if _, ok := s.Get("k"); ok || s.Pending() != 0 {
		t.Fatal("remote tombstone not applied, or queued")
	}
	// Tombstones expire with the zone timeout and free their memory.
	clk.Advance(time.Minute)
	if _, found := recordOf(s, "k"); found {
		t.Fatal("expired tombstone still in the snapshot")
	}
	s.Sweep()
	if _, _, slots := s.usage(); slots != 0 {
		t.Fatalf("%d slots in use", slots)
	}
	// Clear leaves tombstones too.
	s.Set("x", nil, 0)
	s.Set("y", nil, 0)
	s.TakePending(0, func(Record) {})
	s.Clear()
	n := 0
	s.TakePending(0, func(r Record) {
		if !r.Deleted {
			t.Errorf("Clear sent %q as live", r.Key)
		}
		n++
	})
	if n != 2 {
		t.Fatalf("Clear queued %d tombstones", n)
	}
	mustCheck(t, s)

	lr := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Sync: true, Clock: clk})
	lr.LimitReq("k", Limit{})
	if changed, _ := lr.Apply(Record{Key: []byte("k"), Deleted: true, Stamp: MakeStamp(clk.Millis()+1, 0)}); changed {
		t.Fatal("limit_req applied a tombstone")
	}
}

// A snapshot applied to an empty peer reproduces the state, tombstones
// included.
func TestSnapshotReplicates(t *testing.T) {
	clk := newClock()
	a := mustNew(t, Config{Kind: KindKeyval, Size: mb, Match: MatchIP, Sync: true, Node: 1, Clock: clk, Timeout: time.Hour})
	for i := 0; i < 500; i++ {
		a.Set(fmt.Sprintf("10.0.%d.%d", i/250, i%250), []byte(fmt.Sprint(i)), time.Duration(i+1)*time.Second)
	}
	a.Set("2001:db8::/64", []byte("v6"), 0)
	a.Delete("10.0.0.7")
	b := mustNew(t, Config{Kind: KindKeyval, Size: mb, Match: MatchIP, Sync: true, Node: 2, Clock: clk, Timeout: time.Hour})
	a.Snapshot(func(r Record) bool {
		if _, err := b.Apply(r); err != nil {
			t.Fatal(err)
		}
		return true
	})
	if dumpSnapshot(a) != dumpSnapshot(b) {
		t.Fatal("snapshots differ after replication")
	}
	if b.Len() != 500 || b.Pending() != 0 {
		t.Fatalf("peer Len %d Pending %d", b.Len(), b.Pending())
	}
	if v, _ := b.Match("2001:db8::1"); string(v) != "v6" {
		t.Fatalf("Match on the peer = %q", v)
	}
}

// dumpSnapshot lists the records with their remaining lifetimes.
func dumpSnapshot(s *Store) string {
	var lines []string
	now := s.nowMs()
	s.Snapshot(func(r Record) bool {
		ttl := r.Expire
		if ttl != 0 {
			ttl -= now
		}
		lines = append(lines, fmt.Sprintf("%s=%q ttl=%d stamp=%x origin=%d del=%v", r.Key, r.Value, ttl, r.Stamp, r.Origin, r.Deleted))
		return true
	})
	sort.Strings(lines)
	return fmt.Sprint(lines)
}

func TestApplyValidation(t *testing.T) {
	clk := newClock()
	ip := mustNew(t, Config{Kind: KindKeyval, Size: mb, Match: MatchIP, Sync: true, Clock: clk})
	if _, err := ip.Apply(Record{Key: []byte("nope"), Stamp: 1}); !errors.Is(err, ErrKey) {
		t.Errorf("bad ip key: %v", err)
	}
	if changed, _ := ip.Apply(Record{Key: []byte("1.2.3.4"), Expire: clk.Millis(), Stamp: 1}); changed {
		t.Error("an expired record was applied")
	}
	lr := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Sync: true, Clock: clk})
	if _, err := lr.Apply(Record{Key: []byte("k"), Value: []byte("short"), Stamp: 1}); !errors.Is(err, ErrRecord) {
		t.Errorf("bad limit_req state: %v", err)
	}
	state := appendLimitReqState(nil, 4000, clk.Millis(), 0)
	if changed, err := lr.Apply(Record{Key: []byte("k"), Value: state, Stamp: 1, Origin: 2}); !changed || err != nil {
		t.Fatalf("limit_req Apply: %v %v", changed, err)
	}
	if r, _ := lr.LimitReq("k", Limit{Burst: 10}); r.Excess != 5000 {
		t.Errorf("remote excess not used: %+v", r)
	}
	st := mustNew(t, Config{Kind: KindSticky, Size: MinSize, Sync: true, Clock: clk, Timeout: time.Minute})
	st.Apply(Record{Key: []byte("s"), Value: []byte("b1"), Stamp: 1, Origin: 2})
	if r, _ := recordOf(st, "s"); r.Expire != clk.Millis()+60000 {
		t.Errorf("sticky record without expiry got %d", r.Expire)
	}
}

// A peer's session expires on its own schedule: it is placed by expiry
// time, so the tail sweep frees it on time.
func TestStickyRemoteExpiryOrder(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindSticky, Size: MinSize, Sync: true, Node: 1, Clock: clk, Timeout: time.Minute})
	t0 := clk.Millis()
	for _, k := range []string{"a", "b", "c"} {
		s.Learn(k, "srv")
		clk.Advance(time.Second)
	}
	s.Apply(Record{Key: []byte("remote"), Value: []byte("srv"), Expire: t0 + 60500, Stamp: MakeStamp(t0, 0), Origin: 2})
	clk.Set(t0 + 61000) // a, remote and b have expired
	if n := s.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 (only c)", n)
	}
	mustCheck(t, s)
}

func TestApplyTombstoneWithoutSync(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindKeyval, Size: mb, Clock: clk})
	s.Set("k", []byte("v"), 0)
	r, _ := recordOf(s, "k")
	if changed, _ := s.Apply(Record{Key: []byte("k"), Deleted: true, Stamp: r.Stamp + 1, Origin: 2}); !changed {
		t.Fatal("tombstone not applied")
	}
	if changed, _ := s.Apply(Record{Key: []byte("x"), Deleted: true, Stamp: r.Stamp + 1, Origin: 2}); changed {
		t.Fatal("tombstone for a missing key stored without sync")
	}
	if _, _, slots := s.usage(); slots != 0 || s.Len() != 0 {
		t.Fatalf("%d slots, Len %d", slots, s.Len())
	}
}
