package zone

import (
	"errors"
	"testing"
	"time"
)

func TestMatchIP(t *testing.T) {
	clk := newClock()
	s := mustNew(t, Config{Kind: KindKeyval, Size: mb, Match: MatchIP, Clock: clk})
	for _, kv := range [][2]string{
		{"10.0.0.0/8", "a"},
		{"10.1.0.0/16", "b"},
		{"10.1.2.3", "c"},
		{"2001:db8::/32", "v6"},
		{"2001:db8:1::/48", "v6b"},
		{"::ffff:192.168.0.0/112", "mapped"}, // stored as 192.168.0.0/16
		{"172.16.5.9/12", "masked"},          // stored as 172.16.0.0/12
	} {
		if err := s.Insert(kv[0], []byte(kv[1]), 0); err != nil {
			t.Fatalf("Insert %s: %v", kv[0], err)
		}
	}
	tests := []struct {
		lookup, want string // want "" means no match
	}{
		{"10.1.2.3", "c"},
		{"10.1.2.4", "b"},
		{"10.2.0.1", "a"},
		{"11.0.0.1", ""},
		{"::ffff:10.1.9.9", "b"},
		{"2001:db8:1::5", "v6b"},
		{"2001:db8:2::1", "v6"},
		{"2001:db9::1", ""},
		{"192.168.44.1", "mapped"},
		{"172.31.255.255", "masked"},
		{"172.32.0.0", ""},
		{"10.1.0.0/24", "b"}, // a block lookup matches the blocks containing it
		{"10.0.0.0/8", "a"},
		{"10.0.0.0/7", ""},
		{"not an address", ""},
		{"fe80::1%eth0", ""},
		{"", ""},
	}
	for _, tt := range tests {
		v, ok := s.Match(tt.lookup)
		if ok != (tt.want != "") || string(v) != tt.want {
			t.Errorf("Match(%q) = %q %v, want %q", tt.lookup, v, ok, tt.want)
		}
	}
	// Keys are normalized: same key, text form in Range.
	if v, ok := s.Get("10.1.2.3/32"); !ok || string(v) != "c" {
		t.Errorf("Get(10.1.2.3/32) = %q %v", v, ok)
	}
	if err := s.Insert("10.9.9.9/8", nil, 0); !errors.Is(err, ErrExists) {
		t.Errorf("Insert of 10.9.9.9/8 over 10.0.0.0/8: %v, want ErrExists", err)
	}
	if err := s.Insert("10.0.0.256", nil, 0); !errors.Is(err, ErrKey) {
		t.Errorf("Insert of a bad address: %v, want ErrKey", err)
	}
	want := map[string]string{
		"10.0.0.0/8": "a", "10.1.0.0/16": "b", "10.1.2.3": "c", "2001:db8::/32": "v6",
		"2001:db8:1::/48": "v6b", "192.168.0.0/16": "mapped", "172.16.0.0/12": "masked",
	}
	if got := rangeMap(s); !equalMaps(got, want) {
		t.Errorf("Range = %v, want %v", got, want)
	}
	// Removing or expiring the most specific block falls back to the next.
	s.Delete("10.1.2.3")
	if v, _ := s.Match("10.1.2.3"); string(v) != "b" {
		t.Errorf("after Delete, Match = %q, want b", v)
	}
	if err := s.Set("10.1.2.0/24", []byte("short"), time.Second); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Match("10.1.2.3"); string(v) != "short" {
		t.Errorf("Match = %q, want short", v)
	}
	clk.Advance(time.Second)
	if v, _ := s.Match("10.1.2.3"); string(v) != "b" {
		t.Errorf("after expiry, Match = %q, want b", v)
	}
	if err := s.Insert("0.0.0.0/0", []byte("any"), 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Match("8.8.8.8"); string(v) != "any" {
		t.Errorf("Match with a /0 block = %q", v)
	}
	mustCheck(t, s)
}

func TestMatchPrefix(t *testing.T) {
	s := mustNew(t, Config{Kind: KindKeyval, Size: mb, Match: MatchPrefix, Clock: newClock()})
	for _, k := range []string{"/", "/api", "/api/v1", "/static/"} {
		if err := s.Insert(k, []byte(k), 0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ lookup, want string }{
		{"/api/v1/users", "/api/v1"},
		{"/api/v1", "/api/v1"},
		{"/api/v2", "/api"},
		{"/apix", "/api"}, // a string prefix, not a path segment
		{"/static/app.js", "/static/"},
		{"/static", "/"},
		{"/", "/"},
		{"api", ""},
		{"", ""},
	}
	for _, tt := range tests {
		v, ok := s.Match(tt.lookup)
		if ok != (tt.want != "") || string(v) != tt.want {
			t.Errorf("Match(%q) = %q %v, want %q", tt.lookup, v, ok, tt.want)
		}
	}
	if _, ok := s.Get("/api/v1/users"); ok {
		t.Error("Get is an exact match even in prefix zones")
	}
	s.Delete("/api")
	if v, _ := s.Match("/api/v2"); string(v) != "/" {
		t.Errorf("after Delete, Match = %q, want /", v)
	}
	mustCheck(t, s)
}

func TestMatchString(t *testing.T) {
	s := mustNew(t, Config{Kind: KindKeyval, Size: mb, Clock: newClock()})
	s.Set("Key", []byte("v"), 0)
	if v, ok := s.Match("Key"); !ok || string(v) != "v" {
		t.Errorf("Match = %q %v", v, ok)
	}
	if _, ok := s.Match("key"); ok {
		t.Error("string keys are case-sensitive")
	}
	if _, ok := s.Match("Ke"); ok {
		t.Error("type=string must not match prefixes")
	}
	buf := make([]byte, 0, 16)
	out, ok := s.AppendMatch(buf, "Key")
	if !ok || string(out) != "v" || &out[0] != &buf[:1][0] {
		t.Error("AppendMatch did not append into the caller's buffer")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The lookups behind $variable evaluation and per-request limiting do not
// allocate once the caller's buffer has room.
func TestLookupsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	clk := newClock()
	str := mustNew(t, Config{Kind: KindKeyval, Size: mb, Clock: clk})
	ip := mustNew(t, Config{Kind: KindKeyval, Size: mb, Match: MatchIP, Clock: clk})
	px := mustNew(t, Config{Kind: KindKeyval, Size: mb, Match: MatchPrefix, Clock: clk})
	lr := mustNew(t, Config{Kind: KindLimitReq, Size: mb, Rate: 1000, Clock: clk})
	str.Set("key", []byte("value"), 0)
	ip.Set("10.0.0.0/8", []byte("value"), 0)
	ip.Set("10.1.0.0/16", []byte("value"), 0)
	px.Set("/api", []byte("value"), 0)
	buf := make([]byte, 0, 64)
	for name, fn := range map[string]func(){
		"AppendGet":          func() { str.AppendGet(buf[:0], "key") },
		"AppendMatch ip":     func() { ip.AppendMatch(buf[:0], "10.2.3.4") },
		"AppendMatch prefix": func() { px.AppendMatch(buf[:0], "/api/v1/users") },
		"LimitReq":           func() { lr.LimitReq("10.0.0.1", Limit{Burst: 1 << 30}) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}
