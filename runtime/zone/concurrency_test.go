package zone

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// Many goroutines on the same zones: keyval (small enough to fill up, with
// sync and expiry), type=ip and type=prefix keyval, sticky and limit_req
// (both evicting). Values name their key, so a torn or misplaced record
// shows up as a wrong value. Run it with -race.
func TestConcurrentAccess(t *testing.T) {
	clk := newClock()
	kv := mustNew(t, Config{Kind: KindKeyval, Size: 128 << 10, Sync: true, Node: 1, Clock: clk, Timeout: 2 * time.Second})
	ip := mustNew(t, Config{Kind: KindKeyval, Size: 128 << 10, Match: MatchIP, Clock: clk})
	px := mustNew(t, Config{Kind: KindKeyval, Size: 128 << 10, Match: MatchPrefix, Sync: true, Clock: clk, Timeout: time.Second})
	st := mustNew(t, Config{Kind: KindSticky, Size: MinSize, Sync: true, Clock: clk, Timeout: time.Second})
	lr := mustNew(t, Config{Kind: KindLimitReq, Size: MinSize, Rate: 1000, Sync: true, Clock: clk})
	const workers, ops = 8, 4000
	value := func(key string, n int) []byte {
		return append([]byte(key+":"), bytes.Repeat([]byte{'x'}, n)...)
	}
	wantKey := func(key string, v []byte) {
		if !bytes.HasPrefix(v, []byte(key+":")) {
			t.Errorf("value %.40q under key %q", v, key)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < ops; i++ {
				k := fmt.Sprintf("key-%d", rng.IntN(1500))
				var err error
				switch rng.IntN(14) {
				case 0:
					err = kv.Set(k, value(k, rng.IntN(700)), 0)
				case 1:
					err = kv.Insert(k, value(k, rng.IntN(60)), time.Duration(rng.IntN(3000))*time.Millisecond)
					if errors.Is(err, ErrExists) {
						err = nil
					}
				case 2:
					if v, ok := kv.Get(k); ok {
						wantKey(k, v)
					}
				case 3:
					kv.Delete(k)
				case 4:
					_, err = kv.Apply(Record{Key: []byte(k), Value: value(k, rng.IntN(100)), Stamp: MakeStamp(clk.Millis(), uint16(rng.IntN(100))), Origin: uint32(rng.IntN(4)), Deleted: rng.IntN(5) == 0})
				case 5:
					kv.TakePending(16, func(r Record) {
						if !r.Deleted {
							wantKey(string(r.Key), r.Value)
						}
					})
				case 6:
					if rng.IntN(2) == 0 {
						err = st.Learn(k, k+":b")
					} else if srv, ok := st.Lookup(k); ok && srv != k+":b" {
						t.Errorf("session %q on %q", k, srv)
					}
				case 7:
					_, err = lr.LimitReq(k, Limit{Burst: 3})
				case 8:
					a := fmt.Sprintf("10.%d.%d.0/%d", rng.IntN(4), rng.IntN(256), 16+rng.IntN(9))
					if err = ip.Set(a, nil, 0); err == nil {
						ip.Match(fmt.Sprintf("10.%d.%d.%d", rng.IntN(4), rng.IntN(256), rng.IntN(256)))
					}
				case 9:
					p := k[:4+rng.IntN(len(k)-3)]
					if err = px.Set(p, value(p, 3), 0); err == nil {
						if v, ok := px.Match(k); ok && !bytes.HasPrefix([]byte(k), bytes.SplitN(v, []byte(":"), 2)[0]) {
							t.Errorf("prefix match of %q returned %q", k, v)
						}
					}
				case 10:
					n := 0
					kv.Range(func(key string, v []byte, _ time.Duration) bool {
						wantKey(key, v)
						n++
						return n < 50
					})
				case 11:
					kv.Snapshot(func(r Record) bool { return r.Stamp != 0 })
				case 12:
					if w == 0 {
						clk.Advance(time.Duration(rng.IntN(50)) * time.Millisecond)
					}
				case 13:
					switch rng.IntN(20) {
					case 0:
						kv.Clear()
					case 1:
						kv.Sweep()
					default:
						kv.Len()
						kv.Pending()
					}
				}
				if err != nil && !errors.Is(err, ErrFull) {
					t.Errorf("worker %d op %d: %v", w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	for _, s := range []*Store{kv, ip, px, st, lr} {
		mustCheck(t, s)
	}
}
