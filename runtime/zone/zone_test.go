package zone

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"below 8 pages", Config{Kind: KindKeyval, Size: MinSize - 1}, ErrTooSmall},
		{"zero size", Config{Kind: KindSticky}, ErrTooSmall},
		{"above MaxSize", Config{Kind: KindKeyval, Size: MaxSize + 1}, ErrConfig},
		{"unknown kind", Config{Kind: Kind(7), Size: mb}, ErrConfig},
		{"type=ip on sticky", Config{Kind: KindSticky, Size: mb, Match: MatchIP}, ErrConfig},
		{"limit_req without rate", Config{Kind: KindLimitReq, Size: mb}, ErrConfig},
		{"limit_req rate too high", Config{Kind: KindLimitReq, Size: mb, Rate: MaxRate + 1}, ErrConfig},
		{"negative timeout", Config{Kind: KindKeyval, Size: mb, Timeout: -time.Second}, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name = "z"
			_, err := New(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New: %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), `"z"`) {
				t.Errorf("error %q does not name the zone", err)
			}
		})
	}
	if _, err := New(Config{Name: "min", Kind: KindLimitReq, Size: MinSize, Rate: 1000}); err != nil {
		t.Errorf("MinSize zone: %v", err)
	}
}

func TestKeyvalOperations(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindKeyval, Size: mb, Clock: clk})
	if err := s.Insert("a", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert("a", []byte("2"), 0); !errors.Is(err, ErrExists) {
		t.Fatalf("second Insert: %v, want ErrExists", err)
	}
	if v, ok := s.Get("a"); !ok || string(v) != "1" {
		t.Fatalf("Get a = %q %v", v, ok)
	}
	if err := s.Update("missing", []byte("x"), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update missing: %v, want ErrNotFound", err)
	}
	// Values that change size class, go multi-page and shrink back.
	for _, n := range []int{0, 9, 200, 2000, 4000, 9000, 70000, 300, 1} {
		v := bytes.Repeat([]byte{'v'}, n)
		if err := s.Set("a", v, 0); err != nil {
			t.Fatalf("Set %d bytes: %v", n, err)
		}
		if got, ok := s.Get("a"); !ok || !bytes.Equal(got, v) {
			t.Fatalf("after Set of %d bytes Get returns %d bytes", n, len(got))
		}
		mustCheck(t, s)
	}
	// Update with a nil value keeps it; with a value replaces it.
	if err := s.Update("a", nil, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("a"); string(v) != "v" {
		t.Fatalf("Update(nil) changed the value to %q", v)
	}
	if err := s.Update("a", []byte("new"), nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("a"); string(v) != "new" {
		t.Fatalf("Update value = %q", v)
	}
	if err := s.Set("b", nil, 0); err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Get("b"); !ok || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, ok)
	}
	if got := rangeMap(s); len(got) != 2 || got["a"] != "new" || got["b"] != "" {
		t.Fatalf("Range = %v", got)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	if !s.Delete("a") || s.Delete("a") {
		t.Fatal("Delete should succeed once")
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("deleted key still found")
	}
	s.Clear()
	if s.Len() != 0 || len(rangeMap(s)) != 0 {
		t.Fatal("Clear left pairs")
	}
	mustCheck(t, s)
	if _, _, slots := s.usage(); slots != 0 {
		t.Fatalf("Clear without sync left %d slots in use", slots)
	}

	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"empty key", s.Set("", nil, 0), ErrKey},
		{"key too long", s.Set(strings.Repeat("k", MaxKeyLen+1), nil, 0), ErrTooLarge},
		{"value larger than the zone", s.Set("k", make([]byte, mb), 0), ErrTooLarge},
		{"Learn on keyval", s.Learn("k", "s"), ErrKind},
	} {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := s.LimitReq("k", Limit{}); !errors.Is(err, ErrKind) {
		t.Errorf("LimitReq on keyval: %v", err)
	}
}

// usage returns pages in use, pages that were ever used and slots in use.
func (s *Store) usage() (pages, touched, slots int) {
	pages, slots = s.arena.usage()
	s.arena.mu.Lock()
	touched = s.arena.hwm
	s.arena.mu.Unlock()
	return pages, touched, slots
}

// The capacity figures of the issue (and nginx's documentation): a 1m zone
// holds at least 8000 limit_req states, 4000 sticky sessions, and 8000
// keyval pairs of 32-byte keys and values.
func TestCapacityAt1m(t *testing.T) {
	ip := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }
	tests := []struct {
		kind Kind
		min  int
		add  func(s *Store, i int) error
		note string
	}{
		{KindKeyval, 8000, func(s *Store, i int) error { return s.Insert(key32(i), val32(i), 0) }, "32-byte keys, 32-byte values"},
		{KindSticky, 4000, func(s *Store, i int) error { return s.Learn(key32(i), string(val32(i))) }, "32-byte session ids, 32-byte server ids"},
		{KindLimitReq, 8000, func(s *Store, i int) error {
			_, err := s.LimitReq(ip(i), Limit{Burst: 5})
			return err
		}, "textual IPv4 keys of 8-11 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			clk := newClock()
			s := mustNew(t, Config{Kind: tt.kind, Size: mb, Clock: clk, Rate: 1000})
			n := 0
			for ; ; n++ {
				clk.Advance(time.Millisecond)
				if err := tt.add(s, n); err != nil {
					if tt.kind == KindKeyval && errors.Is(err, ErrFull) {
						break
					}
					t.Fatalf("record %d: %v", n, err)
				}
				if tt.kind != KindKeyval && s.liveCount() != n+1 {
					break // the first eviction
				}
			}
			t.Logf("%s: a 1m zone holds %d records (%s)", tt.kind, n, tt.note)
			if n < tt.min {
				t.Fatalf("a 1m %s zone holds %d records, want at least %d", tt.kind, n, tt.min)
			}
			mustCheck(t, s)
		})
	}
}

// liveCount sums the shard counters without sweeping.
func (s *Store) liveCount() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.RLock()
		n += s.shards[i].live
		s.shards[i].mu.RUnlock()
	}
	return n
}

func TestKeyvalFullRefusesAndKeepsPairs(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindKeyval, Size: 64 << 10, Clock: clk, Sync: true, Node: 1})
	n := 0
	for ; ; n++ {
		err := s.Insert(key32(n), val32(n), 0)
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 400 {
		t.Fatalf("a 64k zone took only %d pairs", n)
	}
	for i := 0; i < n; i++ {
		if v, ok := s.Get(key32(i)); !ok || !bytes.Equal(v, val32(i)) {
			t.Fatalf("pair %d lost when the zone filled up", i)
		}
	}
	if err := s.Set("another-key-of-the-same-size-xxx", val32(0), 0); !errors.Is(err, ErrFull) {
		t.Fatalf("Set of a new key in a full zone: %v, want ErrFull", err)
	}
	if _, err := s.Apply(Record{Key: []byte("remote-key-of-the-same-size-xxxx"), Value: val32(1), Stamp: 5, Origin: 2}); !errors.Is(err, ErrFull) {
		t.Fatalf("Apply of a new key in a full zone: %v, want ErrFull", err)
	}
	// Existing pairs can still be rewritten in place.
	if err := s.Set(key32(3), []byte("short"), 0); err != nil {
		t.Fatalf("Set of an existing key in a full zone: %v", err)
	}
	if s.Len() != n {
		t.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	// A delete leaves a tombstone (sync) that is sacrificed for a new pair
	// of the same size class.
	if !s.Delete(key32(7)) {
		t.Fatal("Delete failed")
	}
	if err := s.Insert(key32(n+1), val32(n+1), 0); err != nil {
		t.Fatalf("Insert after a delete: %v", err)
	}
	mustCheck(t, s)
}

// LRU eviction order: the least recently used record goes first, and a use
// (sticky lookup, limit_req request) makes a record recent again.
func TestLRUEviction(t *testing.T) {
	tests := []struct {
		kind Kind
		add  func(s *Store, key string) error
		use  func(s *Store, key string)
	}{
		{KindSticky,
			func(s *Store, key string) error { return s.Learn(key, "backend-1") },
			func(s *Store, key string) {
				if _, ok := s.Lookup(key); !ok {
					panic("lookup of a stored session failed")
				}
			}},
		{KindLimitReq,
			func(s *Store, key string) error { _, err := s.LimitReq(key, Limit{Burst: 100}); return err },
			func(s *Store, key string) { s.LimitReq(key, Limit{Burst: 100}) }},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			clk := newClock()
			s := mustNew(t, Config{Kind: tt.kind, Size: MinSize, Clock: clk, Rate: 1000, Timeout: time.Hour})
			key := func(i int) string { return fmt.Sprintf("k%05d", i) }
			has := func(i int) bool { _, ok := s.Get(key(i)); return ok }
			n := 0
			for ; ; n++ {
				clk.Advance(time.Millisecond)
				if err := tt.add(s, key(n)); err != nil {
					t.Fatal(err)
				}
				if s.liveCount() != n+1 {
					break
				}
			}
			// Record n evicted the oldest, record 0.
			if has(0) || !has(1) || !has(n) {
				t.Fatalf("after %d records: have k0=%v k1=%v k%d=%v, want only k0 evicted", n+1, has(0), has(1), n, has(n))
			}
			// Use 1 and 2: 3 and 4 are now the least recently used.
			clk.Advance(time.Millisecond)
			tt.use(s, key(1))
			clk.Advance(time.Millisecond)
			tt.use(s, key(2))
			for i := 1; i <= 2; i++ {
				clk.Advance(time.Millisecond)
				if err := tt.add(s, key(n+i)); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range map[int]bool{1: true, 2: true, 3: false, 4: false, 5: true, n + 2: true} {
				if has(i) != want {
					t.Errorf("k%d present = %v, want %v", i, has(i), want)
				}
			}
			mustCheck(t, s)
		})
	}
}

// Expired records are invisible at once and their memory is reused: fill,
// expire, refill.
func TestExpiryInvisibleAndReused(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindKeyval, Size: 128 << 10, Clock: clk, Timeout: time.Second})
	fill := func(tag string) int {
		n := 0
		for ; ; n++ {
			err := s.Insert(fmt.Sprintf("%s-%026d", tag, n), val32(n), 0)
			if errors.Is(err, ErrFull) {
				return n
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	first := fill("one")
	_, touched, _ := s.usage()
	clk.Advance(999 * time.Millisecond)
	if _, ok := s.Get("one-" + fmt.Sprintf("%026d", 0)); !ok {
		t.Fatal("pair expired early")
	}
	clk.Advance(time.Millisecond)
	if _, ok := s.Get("one-" + fmt.Sprintf("%026d", 0)); ok {
		t.Fatal("expired pair still visible")
	}
	if m := rangeMap(s); len(m) != 0 {
		t.Fatalf("Range shows %d expired pairs", len(m))
	}
	second := fill("two") // no Sweep: the inserts themselves reclaim
	if second != first {
		t.Fatalf("refill took %d pairs, first fill %d", second, first)
	}
	if _, touched2, _ := s.usage(); touched2 != touched {
		t.Fatalf("refill touched %d pages, first fill %d: memory not reused", touched2, touched)
	}
	mustCheck(t, s)
	clk.Advance(time.Second)
	if s.Len() != 0 {
		t.Fatalf("Len = %d after expiry", s.Len())
	}
	if _, _, slots := s.usage(); slots != 0 {
		t.Fatalf("%d slots in use after expiry and Len", slots)
	}
}

func TestPerPairExpire(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindKeyval, Size: mb, Clock: clk, Timeout: time.Hour})
	// Many pairs with the zone timeout, then short ones that cannot be
	// placed in the expiry list cheaply.
	for i := 0; i < 200; i++ {
		if err := s.Set(key32(i), val32(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := 200; i < 300; i++ {
		if err := s.Set(key32(i), val32(i), 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	mustCheck(t, s)
	clk.Advance(100 * time.Millisecond)
	if _, ok := s.Get(key32(250)); ok {
		t.Fatal("pair with expire=100ms visible after 100ms")
	}
	if n := s.Sweep(); n != 100 {
		t.Fatalf("Sweep freed %d, want 100", n)
	}
	if s.Len() != 200 {
		t.Fatalf("Len = %d", s.Len())
	}
	// Update restarts the lifetime when given one and keeps it otherwise.
	d := 50 * time.Millisecond
	if err := s.Update(key32(1), nil, &d); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(key32(1), []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(50 * time.Millisecond)
	if _, ok := s.Get(key32(1)); ok {
		t.Fatal("Update(nil expire) restarted the lifetime")
	}
	mustCheck(t, s)
}

func TestStickyTimeout(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindSticky, Size: MinSize, Clock: clk, Timeout: time.Minute})
	if err := s.Learn("sess", "b1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Second)
	if srv, ok := s.Lookup("sess"); !ok || srv != "b1" {
		t.Fatalf("Lookup = %q %v", srv, ok)
	}
	clk.Advance(59 * time.Second) // 118 s after Learn, 59 s after the lookup
	if _, ok := s.Get("sess"); !ok {
		t.Fatal("lookup did not refresh the session")
	}
	if err := s.Learn("sess", "b2"); err != nil { // re-pointed
		t.Fatal(err)
	}
	if srv, _ := s.Lookup("sess"); srv != "b2" {
		t.Fatalf("session not re-pointed: %q", srv)
	}
	clk.Advance(time.Minute)
	if _, ok := s.Lookup("sess"); ok {
		t.Fatal("session outlived its timeout")
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d", s.Len())
	}
	d, err := New(Config{Name: "d", Kind: KindSticky, Size: MinSize})
	if err != nil || d.timeout != DefaultStickyTimeout.Milliseconds() {
		t.Fatalf("default sticky timeout %d ms, err %v", d.timeout, err)
	}
}

func TestChangesCountsWritesAndApplies(t *testing.T) {
	s, err := New(Config{Name: "c", Kind: KindKeyval, Size: 1 << 20, Sync: true, Timeout: time.Hour, Node: 1})
	if err != nil {
		t.Fatal(err)
	}
	before := s.Changes()
	if err := s.Set("k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	afterSet := s.Changes()
	if afterSet == before {
		t.Fatal("Set did not count as a change")
	}
	if _, ok := s.Get("k"); !ok || s.Changes() != afterSet {
		t.Fatal("a read must not count as a change")
	}
	s.Delete("k")
	if s.Changes() == afterSet {
		t.Fatal("Delete did not count as a change")
	}
}
