package zone

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// FuzzOps drives a keyval zone with sync through a byte-coded sequence of
// Insert, Set, Update, Delete, Apply, Clear, TakePending, Sweep and clock
// steps, and checks after every step that it never panics, that its
// structure is sound (check) and that Get agrees with a model of the
// documented semantics, last-writer-wins merge included. The zone is large
// enough never to fill, so no record is dropped behind the model's back.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 1, 3, 0, 4, 1, 2, 9, 5, 3})
	f.Add([]byte{1, 4, 3, 200, 1, 1, 4, 3, 100, 0, 5, 20, 3, 3})
	f.Add([]byte{2, 0, 5, 8, 0, 2, 5, 1, 2, 7, 0, 4, 5, 9, 1})
	f.Add([]byte{0, 1, 0, 9, 1, 2, 0, 8, 0, 6, 0, 7, 0, 5, 1, 4, 30})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		// The fuzz engine does not report an input that hangs; a panic
		// does, with the input saved under testdata/fuzz.
		watchdog := time.AfterFunc(10*time.Second, func() { panic("FuzzOps: input ran for 10 s") })
		defer watchdog.Stop()
		keys := fuzzKeys[int(data[0])%len(fuzzKeys)]
		clk := newClock()
		s := mustNew(t, Config{Kind: KindKeyval, Size: 512 << 10, Match: MatchType(int(data[0]) % 3),
			Sync: true, Node: 2, Clock: clk, Timeout: 10 * time.Second})
		m := &model{s: s, recs: map[string]*mrec{}}
		in := data[1:]
		next := func() int {
			if len(in) == 0 {
				return 0
			}
			b := in[0]
			in = in[1:]
			return int(b)
		}
		for step := 0; len(in) > 0 && step < 200; step++ {
			op, k := next(), keys[next()%len(keys)]
			v := fuzzValue(k, next())
			now := clk.Millis()
			var expire time.Duration
			if e := next(); e%3 == 1 {
				expire = time.Duration(e) * 50 * time.Millisecond
			}
			switch op % 9 {
			case 0:
				err := s.Insert(k, v, expire)
				m.expectErr(t, "Insert", err, m.visible(k, now), ErrExists)
				if err == nil {
					m.local(k, v, m.expireAt(now, expire), false)
				}
			case 1:
				if err := s.Set(k, v, expire); err != nil {
					t.Fatalf("Set: %v", err)
				}
				m.local(k, v, m.expireAt(now, expire), false)
			case 2:
				var val []byte
				if op&16 == 0 {
					val = v
				}
				var ep *time.Duration
				if op&32 == 0 {
					ep = &expire
				}
				err := s.Update(k, val, ep)
				m.expectErr(t, "Update", err, !m.visible(k, now), ErrNotFound)
				if err == nil {
					r := m.recs[k]
					if val == nil {
						val = r.val
					}
					when := r.when
					if ep != nil {
						when = m.expireAt(now, expire)
					}
					m.local(k, val, when, false)
				}
			case 3:
				want := m.visible(k, now)
				if got := s.Delete(k); got != want {
					t.Fatalf("Delete(%q) = %v, want %v", k, got, want)
				}
				if want {
					m.local(k, nil, now+s.tombTTL, true)
				}
			case 4:
				r := Record{Key: []byte(k), Value: v, Origin: uint32(next() % 4), Deleted: op&16 != 0}
				r.Stamp = MakeStamp(now, 0) + uint64(next()) - 128
				if op&32 != 0 {
					r.Expire = now + int64(next())*40 - 2000
					if r.Expire == 0 {
						r.Expire = 1
					}
				}
				changed, err := s.Apply(r)
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				want := m.apply(r, now)
				if changed != want {
					t.Fatalf("Apply(%q stamp %x origin %d) = %v, model says %v", k, r.Stamp, r.Origin, changed, want)
				}
			case 5:
				clk.Advance(time.Duration(next()) * 100 * time.Millisecond)
			case 6:
				s.TakePending(next()%5, func(Record) {})
			case 7:
				s.Sweep()
			case 8:
				if next()%8 == 0 {
					s.Clear()
					for key := range m.recs {
						if m.visible(key, now) {
							m.local(key, nil, now+s.tombTTL, true)
						}
					}
				}
			}
			m.compare(t, keys)
			if err := s.check(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
	})
}

// fuzzKeys holds the keys for each MatchType.
var fuzzKeys = [3][]string{
	{"a", "b", "c", "key-d", "key-e", "a-much-longer-key-f", "g", "h"},
	{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "192.0.2.0/24", "0.0.0.0/0", "2001:db8::/32", "2001:db8::1", "::/0"},
	{"/", "/a", "/ab", "/abc", "/b", "/b/c", "x", "/a/b/c/d"},
}

var fuzzSizes = []int{0, 1, 7, 40, 100, 300, 1000, 2500, 4100, 9000}

func fuzzValue(key string, b int) []byte {
	return append([]byte(key+"="), bytes.Repeat([]byte{byte(b % 4 * 60)}, fuzzSizes[b%len(fuzzSizes)])...) // zeros included
}

type mrec struct {
	val     []byte
	when    int64
	deleted bool
	stamp   uint64
	origin  uint32
}

type model struct {
	s    *Store
	recs map[string]*mrec
}

func (m *model) alive(k string, now int64) bool {
	r := m.recs[k]
	return r != nil && (r.when == 0 || r.when > now)
}

func (m *model) visible(k string, now int64) bool {
	return m.alive(k, now) && !m.recs[k].deleted
}

func (m *model) expireAt(now int64, d time.Duration) int64 {
	if d > 0 {
		return now + d.Milliseconds()
	}
	return now + m.s.timeout
}

// local records a local change; its stamp comes from the store, whose HLC
// the model does not reproduce.
func (m *model) local(k string, v []byte, when int64, deleted bool) {
	var buf ipBuf
	sk, _ := m.s.storeKey(k, &buf)
	h := m.s.hashString(sk)
	sh := m.s.shardOf(h)
	sh.mu.RLock()
	ref := m.s.find(h, sk)
	stamp, origin := m.s.stampAt(off(ref)), m.s.originAt(off(ref))
	sh.mu.RUnlock()
	m.recs[k] = &mrec{val: v, when: when, deleted: deleted, stamp: stamp, origin: origin}
}

// apply is the documented merge: expired records are ignored, a missing or
// expired key takes the record, an existing one only a newer change.
func (m *model) apply(r Record, now int64) bool {
	k := string(r.Key)
	if r.Expire != 0 && r.Expire <= now {
		return false
	}
	if m.alive(k, now) && !newer(r.Stamp, r.Origin, m.recs[k].stamp, m.recs[k].origin) {
		return false
	}
	when := r.Expire
	if r.Deleted && when == 0 {
		when = now + m.s.tombTTL
	}
	val := r.Value
	if r.Deleted {
		val = nil
	}
	m.recs[k] = &mrec{val: val, when: when, deleted: r.Deleted, stamp: r.Stamp, origin: r.Origin}
	return true
}

func (m *model) expectErr(t *testing.T, op string, err error, failing bool, want error) {
	t.Helper()
	if failing && !errors.Is(err, want) || !failing && err != nil {
		t.Fatalf("%s: %v (model expects failure %v: %v)", op, err, failing, want)
	}
}

func (m *model) compare(t *testing.T, keys []string) {
	t.Helper()
	now := m.s.nowMs()
	for _, k := range keys {
		v, ok := m.s.Get(k)
		if ok != m.visible(k, now) || ok && !bytes.Equal(v, m.recs[k].val) {
			t.Fatalf("Get(%q) = %.30q %v, model %v %s", k, v, ok, m.visible(k, now), fmt.Sprintf("%+v", m.recs[k]))
		}
	}
}
