package zone

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func stateStore(t *testing.T, clk Clock, node uint32) *Store {
	return mustNew(t, Config{Name: "one", Kind: KindKeyval, Size: mb, Match: MatchIP, Sync: true, Node: node, Clock: clk, Timeout: time.Hour})
}

func TestStateRoundTrip(t *testing.T) {
	clk := newClock()
	s := stateStore(t, clk, 1)
	s.Set("10.0.0.0/8", []byte("net"), 0)
	s.Set("192.0.2.1", []byte("host"), 90*time.Second)
	s.Set("2001:db8::/32", []byte{0xff, 0x00, 'x'}, 0) // not UTF-8
	s.Set("198.51.100.7", []byte("gone"), 0)
	s.Delete("198.51.100.7")
	s.Apply(Record{Key: []byte("203.0.113.0/24"), Value: []byte("peer"), Stamp: MakeStamp(clk.Millis()-5, 3), Origin: 2})
	clk.Advance(30 * time.Second)

	path := filepath.Join(t.TempDir(), "one.keyval")
	if err := s.SaveState(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "state.golden.json")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(want) {
		t.Errorf("state file differs from %s (run with -update after checking):\n%s", golden, data)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("SaveState left %d files behind", len(entries)-1)
	}

	saved := dumpSnapshot(s)
	// A restart an hour later: remaining lifetimes continue from where they
	// stopped, stamps and origins are kept, nothing is queued.
	clk.Advance(time.Hour)
	r := stateStore(t, clk, 1)
	if err := r.LoadState(path); err != nil {
		t.Fatal(err)
	}
	if r.Pending() != 0 {
		t.Fatalf("loaded records queued: %d", r.Pending())
	}
	if got := dumpSnapshot(r); got != saved {
		t.Fatalf("loaded state differs:\n got %s\nwant %s", got, saved)
	}
	// A change after the restart beats the loaded copy.
	r.Set("10.0.0.0/8", []byte("new"), 0)
	rec, _ := recordOf(r, "10.0.0.0/8")
	old, _ := recordOf(s, "10.0.0.0/8")
	if rec.Stamp <= old.Stamp {
		t.Fatal("HLC did not observe the loaded stamps")
	}
	mustCheck(t, r)
}

func TestLoadStateErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, body string
	}{
		{"garbage", "not json"},
		{"truncated", `{"version":1,"zone":"one","kind":"keyval","records":[{"key":"1.2.3.4","val`},
		{"trailing data", `{"version":1,"zone":"one","kind":"keyval","records":[]} {}`},
		{"unknown field", `{"version":1,"zone":"one","kind":"keyval","records":[],"extra":1}`},
		{"wrong version", `{"version":2,"zone":"one","kind":"keyval","records":[]}`},
		{"wrong kind", `{"version":1,"zone":"one","kind":"sticky","records":[]}`},
		{"bad ip key", `{"version":1,"zone":"one","kind":"keyval","records":[{"key":"1.2.3","value":"x","stamp":1,"origin":1}]}`},
		{"no value", `{"version":1,"zone":"one","kind":"keyval","records":[{"key":"1.2.3.4","stamp":1,"origin":1}]}`},
		{"bad base64", `{"version":1,"zone":"one","kind":"keyval","records":[{"key":"1.2.3.4","value_base64":"%%","stamp":1,"origin":1}]}`},
		{"negative expire", `{"version":1,"zone":"one","kind":"keyval","records":[{"key":"1.2.3.4","value":"x","expire":-5,"stamp":1,"origin":1}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stateStore(t, newClock(), 1)
			err := s.LoadState(write(tt.name, tt.body))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("LoadState: %v, want ErrCorrupt", err)
			}
			if s.Len() != 0 {
				t.Fatal("a corrupt file loaded records")
			}
		})
	}
	s := stateStore(t, newClock(), 1)
	if err := s.LoadState(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
