package zone

import (
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// Overheads stated in README.md: what the process may use beyond the sum of
// the declared zone sizes once every zone is full.
const (
	zoneOverhead  = 16 << 10 // Go-side bookkeeping per zone (shards, allocator state)
	fixedOverhead = 4 << 20  // runtime, GC and test noise, independent of the zones
)

// Fill N zones of 1m with 32-byte keys and values and compare the growth of
// the Go heap and of the resident set with the declared sizes. Not timed.
func TestMemoryHonest(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 16 MB of zones")
	}
	const zones = 16
	settle := func() {
		runtime.GC()
		debug.FreeOSMemory()
	}
	settle()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := residentBytes(t)

	stores := make([]*Store, zones)
	pairs := 0
	for z := range stores {
		stores[z] = mustNew(t, Config{Kind: KindKeyval, Size: mb, Clock: newClock()})
		for i := 0; ; i++ {
			err := stores[z].Insert(key32(i), val32(i), 0)
			if errors.Is(err, ErrFull) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			pairs++
		}
	}
	settle()
	runtime.ReadMemStats(&after)
	rssAfter := residentBytes(t)

	declared := int64(zones * mb)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	rss := rssAfter - rssBefore
	t.Logf("%d zones of 1m, %d pairs of 32/32 bytes (%d per zone)", zones, pairs, pairs/zones)
	t.Logf("declared %d bytes; heap growth %d (%+d); RSS growth %d (%+d)", declared, heap, heap-declared, rss, rss-declared)
	if limit := declared + zones*zoneOverhead; heap > limit {
		t.Errorf("heap grew by %d bytes, more than declared + %d per zone = %d", heap, zoneOverhead, limit)
	}
	if raceEnabled {
		t.Logf("RSS not checked: the race detector shadows every byte written")
	} else if limit := declared + zones*zoneOverhead + fixedOverhead; rss > limit {
		t.Errorf("RSS grew by %d bytes, more than declared + overheads = %d", rss, limit)
	}
	runtime.KeepAlive(stores)
}

// residentBytes reads the resident set size from /proc.
func residentBytes(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(data))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}
