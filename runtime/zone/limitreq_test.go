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
	if excess, _, _ := LimitReqState(v); excess != 5000 {
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
