package zone

import (
	"errors"
	"testing"
	"time"
)

// The leaky bucket of ngx_http_limit_req_module: excess drains at the rate
// since the last accounted request, each request adds 1000, over burst is
// rejected without touching the state, and the delay is the excess above
// delay= divided by the rate.
func TestLimitReqLeakyBucket(t *testing.T) {
	type step struct {
		advance time.Duration
		limit   Limit
		want    LimitResult
	}
	burst2 := Limit{Burst: 2}
	tests := []struct {
		name  string
		rate  int64
		steps []step
	}{
		{"rate=1r/s burst=2", 1000, []step{
			{0, burst2, LimitResult{Excess: 0}},
			{0, burst2, LimitResult{Excess: 1000, Delay: time.Second}},
			{0, burst2, LimitResult{Excess: 2000, Delay: 2 * time.Second}},
			{0, burst2, LimitResult{Excess: 3000, Rejected: true}},
			{500 * time.Millisecond, burst2, LimitResult{Excess: 2500, Rejected: true}},
			{500 * time.Millisecond, burst2, LimitResult{Excess: 2000, Delay: 2 * time.Second}},
			{10 * time.Second, burst2, LimitResult{Excess: 0}}, // 2000 - 10000 + 1000 is clamped to 0
		}},
		{"nodelay and delay=", 1000, []step{
			{0, Limit{Burst: 3, NoDelay: true}, LimitResult{}},
			{0, Limit{Burst: 3, NoDelay: true}, LimitResult{Excess: 1000}},
			{0, Limit{Burst: 3, Delay: 1}, LimitResult{Excess: 2000, Delay: time.Second}},
			{0, Limit{Burst: 3, Delay: 1}, LimitResult{Excess: 3000, Delay: 2 * time.Second}},
			{0, Limit{Burst: 3, NoDelay: true}, LimitResult{Excess: 4000, Rejected: true}},
		}},
		{"rate=30r/m, no burst", 500, []step{
			{0, Limit{}, LimitResult{}},
			{time.Second, Limit{}, LimitResult{Excess: 500, Rejected: true}},
			{time.Second, Limit{}, LimitResult{}}, // 2 s after the last accounted request
		}},
		// With the clock stepping back, nginx counts a negative interval as
		// 0 ms (and one below -60 s as 1 ms): nothing drains.
		{"clock stepping back, rate=0.001r/s", 1, []step{
			{0, burst2, LimitResult{}},
			{-30 * time.Second, burst2, LimitResult{Excess: 1000, Delay: 1000 * time.Second}},
			{-90 * time.Second, burst2, LimitResult{Excess: 2000, Delay: 2000 * time.Second}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: tt.rate, Clock: clk})
			for i, st := range tt.steps {
				clk.Advance(st.advance)
				got, err := s.LimitReq("client", st.limit)
				if err != nil || got != st.want {
					t.Fatalf("request %d: %+v %v, want %+v", i+1, got, err, st.want)
				}
			}
			mustCheck(t, s)
		})
	}
}

func TestLimitReqCheckDoesNotAccount(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Clock: clk, Sync: true})
	if r, _ := s.LimitReqCheck("k", Limit{Burst: 1}); r != (LimitResult{}) || s.Len() != 0 {
		t.Fatalf("check of a new key: %+v, Len %d", r, s.Len())
	}
	s.LimitReq("k", Limit{Burst: 1})
	for i := 0; i < 3; i++ {
		if r, _ := s.LimitReqCheck("k", Limit{Burst: 1}); r.Excess != 1000 || r.Rejected {
			t.Fatalf("check %d: %+v", i, r)
		}
	}
	s.TakePending(0, func(Record) {})
	if r, _ := s.LimitReq("k", Limit{Burst: 0}); !r.Rejected {
		t.Fatalf("over the burst: %+v", r)
	}
	if s.Pending() != 0 {
		t.Fatal("a rejected request changed the state")
	}
	if _, err := s.LimitReq("", Limit{}); !errors.Is(err, ErrKey) {
		t.Fatalf("empty key: %v", err)
	}
}

// ngx_http_limit_req_expire: a state idle for 60 s whose excess has drained
// at the zone rate can be removed.
func TestLimitReqExpiry(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1, Clock: clk}) // 0.001 r/s
	for i := 0; i < 6; i++ {
		s.LimitReq("slow", Limit{Burst: 10})
	}
	s.LimitReq("fast", Limit{Burst: 10})
	v, _ := s.Get("slow")
	if excess, _, _, _ := LimitReqState(v); excess != 5000 {
		t.Fatalf("excess = %d", excess)
	}
	clk.Advance(59999 * time.Millisecond)
	if s.Len() != 2 {
		t.Fatalf("states gone before 60 s of idleness: Len %d", s.Len())
	}
	clk.Advance(time.Millisecond)
	// "fast" (excess 0) is gone; "slow" still holds 5000 - 60 of excess.
	if s.Len() != 1 {
		t.Fatalf("Len = %d after 60 s, want 1", s.Len())
	}
	if _, ok := s.Get("fast"); ok {
		t.Fatal("drained idle state still visible")
	}
	clk.Advance(5000 * time.Second)
	if _, ok := s.Get("slow"); ok {
		t.Fatal("state visible after its excess drained")
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d", s.Len())
	}
	mustCheck(t, s)
}

// push moves from's pending limit_req records to every store of to, as a
// zone_sync push does, and returns how many requests they carried.
func push(t *testing.T, from *Store, to ...*Store) int64 {
	t.Helper()
	var carried int64
	from.TakePending(0, func(r Record) {
		_, _, unsent, ok := LimitReqState(r.Value)
		if !ok {
			t.Fatalf("pushed value of %d bytes", len(r.Value))
		}
		carried += unsent
		for _, s := range to {
			if _, err := s.Apply(r); err != nil {
				t.Fatal(err)
			}
		}
	})
	return carried
}

// Synced limit_req states add up: requests accepted on one node count on
// the others as if they had arrived there, so the cluster's bucket is the
// bucket of one node that saw every request. Sent twice (a push, then a
// snapshot), a state counts once.
func TestLimitReqClusterCharges(t *testing.T) {
	clk := newClock()
	mk := func(node uint32) *Store {
		return mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Sync: true, Node: node, Clock: clk})
	}
	a, b, one := mk(1), mk(2), mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Clock: clk})
	burst := Limit{Burst: 10, NoDelay: true}
	// both runs the same request on one node of the cluster and on the
	// single node that sees every request.
	both := func(s *Store) LimitResult {
		t.Helper()
		r, _ := s.LimitReq("k", burst)
		if ro, _ := one.LimitReq("k", burst); r != ro {
			t.Fatalf("cluster node: %+v, the single node: %+v", r, ro)
		}
		return r
	}
	for range 3 {
		both(a)
	}
	if n := push(t, a, b); n != 3 {
		t.Fatalf("the push carried %d requests, want 3", n)
	}
	if n := push(t, a, b); n != 0 {
		t.Fatalf("a second push carried %d requests, want 0", n)
	}
	// Node b's requests are the cluster's fourth and fifth; a takes a
	// sixth before it hears of them.
	if r := both(b); r.Excess != 3000 {
		t.Fatalf("b's first request: %+v", r)
	}
	both(b)
	if r, _ := a.LimitReq("k", burst); r.Excess != 3000 {
		t.Fatalf("a's own view before b's push: %+v", r)
	}
	one.LimitReq("k", burst)
	// Half a second later b's requests reach a, which has drained by
	// then, and are added to a's own.
	clk.Advance(500 * time.Millisecond)
	push(t, b, a)
	if r := both(a); r.Excess != 5500 {
		t.Fatalf("a after b's push: %+v", r)
	}
	// A snapshot of a (which carries no unsent requests) changes nothing
	// on b beyond what b already holds.
	push(t, a, b)
	before, _ := b.LimitReqCheck("k", burst)
	a.Snapshot(func(r Record) bool {
		if _, _, unsent, _ := LimitReqState(r.Value); unsent != 0 {
			t.Fatalf("a snapshot carried %d unsent requests", unsent)
		}
		b.Apply(r)
		return true
	})
	if after, _ := b.LimitReqCheck("k", burst); after != before {
		t.Fatalf("the snapshot moved b from %+v to %+v", before, after)
	}
	// Over the burst the cluster rejects, on every node.
	for range 4 {
		both(a)
	}
	push(t, a, b)
	if r := both(b); !r.Rejected {
		t.Fatalf("b accepted a request over the cluster's burst: %+v", r)
	}
	mustCheck(t, a)
	mustCheck(t, b)
}

// Without sync nothing is counted for pushing; a hostile peer's counts are
// bounded.
func TestLimitReqUnsentBounds(t *testing.T) {
	clk := newClock()
	local := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Clock: clk})
	local.LimitReq("k", Limit{Burst: 5})
	local.LimitReq("k", Limit{Burst: 5})
	v, _ := local.Get("k")
	if _, _, unsent, _ := LimitReqState(v); unsent != 0 {
		t.Fatalf("unsent %d in a zone without sync", unsent)
	}
	s := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Sync: true, Node: 1, Clock: clk})
	huge := appendLimitReqState(nil, 1<<62, clk.Millis(), 1<<62)
	if _, err := s.Apply(Record{Key: []byte("k"), Value: huge, Stamp: 1, Origin: 2}); err != nil {
		t.Fatal(err)
	}
	v, _ = s.Get("k")
	excess, _, unsent, _ := LimitReqState(v)
	if excess > limitMaxExcess || excess < 0 || unsent != 0 {
		t.Fatalf("after a hostile record: excess %d unsent %d", excess, unsent)
	}
}
