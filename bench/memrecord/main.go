// Command memrecord helps bench/run.sh measure the memory one stored record
// costs, with the same keys and values on both sides.
//
//	memrecord resp -n 200000 -prefix m | redis-cli -p PORT --pipe
//	memrecord zone -n 200000 -size 64m -timeout 1h
//
// resp writes N "SET key value EX seconds" commands in Redis's protocol, for
// redis-cli --pipe. Keys and values are the ones bench/apiload POSTs to a
// node with the same -prefix, -key-size and -value-size.
//
// zone measures runtime/zone on its own, in this process: it settles the Go
// heap (runtime.GC, debug.FreeOSMemory), reads the resident set, creates a
// keyval zone of -size with -timeout, inserts N pairs, settles and reads the
// resident set again; then it fills the zone until it is full. It prints, as
// name=value fields:
//
//	records, rss_growth, rss_per_record   the store's own cost of N pairs
//	heap_growth                           Go heap growth (small: the zone is a mapping outside the heap)
//	capacity, size_per_record             pairs a zone of -size holds, and -size / capacity
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/zonesync/zonesync/runtime/zone"
)

const maxRecords = 100_000_000

// fields are the flags both modes share.
type fields struct {
	n         int
	first     int
	prefix    string
	keySize   int
	valueSize int
}

func (f *fields) register(fs *flag.FlagSet) {
	fs.IntVar(&f.n, "n", 100000, "number of records")
	fs.IntVar(&f.first, "first", 0, "index of the first key")
	fs.StringVar(&f.prefix, "prefix", "m", "prefix of every key name")
	fs.IntVar(&f.keySize, "key-size", 32, "bytes per key")
	fs.IntVar(&f.valueSize, "value-size", 32, "bytes per value")
}

func (f *fields) check() error {
	if f.n < 1 || f.n > maxRecords || f.first < 0 {
		return fmt.Errorf("-n must be between 1 and %d and -first not negative", maxRecords)
	}
	if f.valueSize < 1 {
		return errors.New("-value-size must be positive")
	}
	_, err := keyName(f.prefix, f.first+f.n-1, f.keySize)
	return err
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "resp":
		err = runResp(os.Args[2:], os.Stdout)
	case "zone":
		err = runZone(os.Args[2:], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memrecord:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: memrecord resp|zone [flags] (see -h of each)")
	os.Exit(2)
}

func runResp(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("resp", flag.ExitOnError)
	var f fields
	f.register(fs)
	ex := fs.Int("ex", 3600, "EX seconds of every SET (0: none)")
	fs.Parse(args)
	if err := f.check(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<16)
	for i := f.first; i < f.first+f.n; i++ {
		key, err := keyName(f.prefix, i, f.keySize)
		if err != nil {
			return err
		}
		writeSet(w, key, value(i, f.valueSize), *ex)
	}
	return w.Flush()
}

// writeSet writes one SET command as a RESP array of bulk strings.
func writeSet(w *bufio.Writer, key, val string, ex int) {
	args := []string{"SET", key, val}
	if ex > 0 {
		args = append(args, "EX", strconv.Itoa(ex))
	}
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}

func runZone(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("zone", flag.ExitOnError)
	var f fields
	f.register(fs)
	size := fs.String("size", "64m", "the zone's declared size, as in keyval_zone zone=name:size")
	timeout := fs.Duration("timeout", time.Hour, "the zone's timeout=")
	fs.Parse(args)
	if err := f.check(); err != nil {
		return err
	}
	bytes, err := parseSize(*size)
	if err != nil {
		return err
	}
	m, err := measureZone(f, bytes, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, m)
	return nil
}

// zoneMeasure is what measureZone found.
type zoneMeasure struct {
	records, capacity   int
	size                int64
	rssGrowth, heapGrow int64
}

func (m zoneMeasure) String() string {
	return fmt.Sprintf("records=%d rss_growth=%d rss_per_record=%.1f heap_growth=%d capacity=%d size_per_record=%.1f",
		m.records, m.rssGrowth, float64(m.rssGrowth)/float64(m.records), m.heapGrow,
		m.capacity, float64(m.size)/float64(max(m.capacity, 1)))
}

func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// measureZone fills a keyval zone in this process; see the package comment.
func measureZone(f fields, size int64, timeout time.Duration) (zoneMeasure, error) {
	m := zoneMeasure{records: f.n, size: size}
	settle()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rss0, err := residentBytes()
	if err != nil {
		return m, err
	}
	s, err := zone.New(zone.Config{Name: "bench", Kind: zone.KindKeyval, Size: size, Timeout: timeout})
	if err != nil {
		return m, err
	}
	insert := func(i int) error {
		key, err := keyName(f.prefix, i, f.keySize)
		if err != nil {
			return err
		}
		return s.Insert(key, []byte(value(i, f.valueSize)), 0)
	}
	for i := f.first; i < f.first+f.n; i++ {
		if err := insert(i); err != nil {
			return m, fmt.Errorf("record %d of %d: %w", i-f.first+1, f.n, err)
		}
	}
	settle()
	runtime.ReadMemStats(&after)
	rss1, err := residentBytes()
	if err != nil {
		return m, err
	}
	m.rssGrowth = rss1 - rss0
	m.heapGrow = int64(after.HeapAlloc) - int64(before.HeapAlloc)

	m.capacity = f.n
	for i := f.first + f.n; ; i++ {
		err := insert(i)
		if errors.Is(err, zone.ErrFull) {
			break
		}
		if err != nil {
			return m, fmt.Errorf("filling the zone: %w", err)
		}
		m.capacity++
	}
	runtime.KeepAlive(s)
	return m, nil
}

// residentBytes is this process's resident set from /proc/self/statm.
func residentBytes() (int64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/self/statm: unexpected %q", data)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// parseSize reads a size as nginx writes it: bytes, or k/K, m/M, g/G.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, num = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, num = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, num = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 || v > zone.MaxSize/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return v * mult, nil
}

// keyName and value are bench/apiload's, so both programs store the same
// records: the prefix and the zero-padded number in size bytes; "v", the
// number, "-", then "x" up to size bytes.
func keyName(prefix string, i, size int) (string, error) {
	digits := size - len(prefix)
	s := fmt.Sprintf("%s%0*d", prefix, max(digits, 1), i)
	if len(s) != size {
		return "", fmt.Errorf("key %d with prefix %q does not fit in %d bytes", i, prefix, size)
	}
	return s, nil
}

func value(i, size int) string {
	s := fmt.Sprintf("v%d-", i)
	if len(s) >= size {
		return s[:size]
	}
	return s + strings.Repeat("x", size-len(s))
}
