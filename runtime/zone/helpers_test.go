package zone

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// manualClock is a Clock that moves only when told to.
type manualClock struct{ ms atomic.Int64 }

func newClock() *manualClock {
	c := &manualClock{}
	c.ms.Store(1_700_000_000_000)
	return c
}

func (c *manualClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }
func (c *manualClock) Millis() int64           { return c.ms.Load() }
func (c *manualClock) Set(ms int64)            { c.ms.Store(ms) }

const mb = 1 << 20

func mustNew(t testing.TB, c Config) *Store {
	t.Helper()
	if c.Name == "" {
		c.Name = "test"
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	if err := s.check(); err != nil {
		t.Fatal(err)
	}
}

// check verifies every structural invariant of the store: bucket chains,
// order lists, pending queues, counters, length registries and the
// allocator's slot count. It locks each shard in turn.
func (s *Store) check() error {
	total := 0
	ipCount := map[[2]int]int32{}
	prefixCount := map[int]int32{}
	per := int(s.bmask) + 1
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		err := func() error {
			live, tombs, listed, pending, offList := 0, 0, 0, 0, 0
			minOff := int64(math.MaxInt64)
			seen := map[uint32]bool{}
			for b := i * per; b < (i+1)*per; b++ {
				for ref := s.u32(b * 4); ref != 0; ref = s.u32(off(ref) + hChain) {
					if seen[ref] {
						return fmt.Errorf("shard %d: record %d twice in chains", i, ref)
					}
					seen[ref] = true
					o := off(ref)
					key := s.keyAt(o)
					if got := s.bucketOff(s.hashBytes(key)); got != b*4 {
						return fmt.Errorf("shard %d: key %q in bucket %d, hashes to %d", i, key, b, got/4)
					}
					if s.recSize(o) > s.slotCap(ref) {
						return fmt.Errorf("key %q: record of %d bytes in a slot of %d", key, s.recSize(o), s.slotCap(ref))
					}
					if s.deleted(o) {
						tombs++
					} else {
						live++
					}
					if s.flags(o)&fListed != 0 {
						listed++
					} else if s.isLRU() {
						return fmt.Errorf("key %q: not on the LRU list", key)
					} else if w := s.i64(o + hWhen); w != 0 {
						offList++
						minOff = min(minOff, w)
					}
					if s.isPending(o) {
						pending++
					}
					if s.kind == KindLimitReq && !s.deleted(o) && s.valLen(o) != limitValLen {
						return fmt.Errorf("key %q: limit_req state of %d bytes", key, s.valLen(o))
					}
					switch s.match {
					case MatchIP:
						f, n := ipFamBits(string(key))
						ipCount[[2]int{f, n}]++
					case MatchPrefix:
						prefixCount[len(key)]++
					}
				}
			}
			total += live + tombs
			if live != sh.live || tombs != sh.tombs {
				return fmt.Errorf("shard %d: counted %d live %d tombstones, shard says %d %d", i, live, tombs, sh.live, sh.tombs)
			}
			if offList > 0 && sh.minWhen.Load() > minOff {
				return fmt.Errorf("shard %d: minWhen %d above an off-list expiry %d", i, sh.minWhen.Load(), minOff)
			}
			// order list
			n := 0
			var prev uint32
			for ref := sh.head; ref != 0; ref = s.u32(off(ref) + hListNxt) {
				if !seen[ref] {
					return fmt.Errorf("shard %d: list holds a record not in the chains", i)
				}
				if s.u32(off(ref)+hListPrv) != prev {
					return fmt.Errorf("shard %d: broken list back link", i)
				}
				if s.kind == KindKeyval && prev != 0 && s.when(prev) < s.when(ref) {
					return fmt.Errorf("shard %d: keyval list not sorted by expiry", i)
				}
				prev = ref
				n++
			}
			if prev != sh.tail || n != listed {
				return fmt.Errorf("shard %d: list of %d ending at %d, %d flagged, tail %d", i, n, prev, listed, sh.tail)
			}
			wantTail := int64(math.MaxInt64)
			if sh.tail != 0 {
				wantTail = s.when(sh.tail)
			}
			if sh.tailWhen.Load() != wantTail {
				return fmt.Errorf("shard %d: tailWhen %d, tail's when %d", i, sh.tailWhen.Load(), wantTail)
			}
			// pending queue
			n, prev = 0, 0
			for ref := sh.pendHead; ref != 0; ref = s.u32(off(ref) + hPendNxt) {
				if !seen[ref] || !s.isPending(off(ref)) {
					return fmt.Errorf("shard %d: pending queue holds a foreign record", i)
				}
				if s.u32(off(ref)+hPendPrv) != prev {
					return fmt.Errorf("shard %d: broken pending back link", i)
				}
				prev = ref
				n++
			}
			if prev != sh.pendTail || n != pending || int64(n) != sh.pending.Load() {
				return fmt.Errorf("shard %d: pending queue of %d, %d flagged, counter %d", i, n, pending, sh.pending.Load())
			}
			if !s.sync && n != 0 {
				return fmt.Errorf("shard %d: pending records in a zone without sync", i)
			}
			return nil
		}()
		sh.mu.Unlock()
		if err != nil {
			return err
		}
	}
	_, slots := s.arena.usage()
	if slots != total {
		return fmt.Errorf("arena has %d slots in use for %d records", slots, total)
	}
	if s.iplens != nil {
		s.iplens.mu.Lock()
		defer s.iplens.mu.Unlock()
		for f := 0; f < 2; f++ {
			for n := 0; n <= 128; n++ {
				if s.iplens.count[f][n] != ipCount[[2]int{f, n}] || (s.iplens.count[f][n] > 0) != s.iplens.has(f, n) {
					return fmt.Errorf("ip lengths: family %d /%d counted %d, registry %d", f, n, ipCount[[2]int{f, n}], s.iplens.count[f][n])
				}
			}
		}
	}
	if s.plens != nil {
		s.plens.mu.Lock()
		defer s.plens.mu.Unlock()
		if len(s.plens.count) != len(prefixCount) {
			return fmt.Errorf("prefix lengths: %d registered, %d present", len(s.plens.count), len(prefixCount))
		}
		for l, c := range prefixCount {
			if s.plens.count[l] != c {
				return fmt.Errorf("prefix length %d: registry %d, present %d", l, s.plens.count[l], c)
			}
		}
	}
	return nil
}

// key32 and val32 make the 32-byte keys and values of the capacity figures.
func key32(i int) string { return fmt.Sprintf("key-%028d", i) }
func val32(i int) []byte { return fmt.Appendf(nil, "val-%028d", i) }

// rangeMap collects Range into a map.
func rangeMap(s *Store) map[string]string {
	m := map[string]string{}
	s.Range(func(k string, v []byte, _ time.Duration) bool {
		m[k] = string(v)
		return true
	})
	return m
}
