package zone

import (
	"fmt"
	"testing"
	"time"
)

// Benchmarks for `make bench`. Each store is a 1m zone filled with 5000
// records, the common case of a zone about half full.

const benchRecords = 5000

func benchKeyval(b *testing.B, match MatchType, key func(int) string) *Store {
	s := mustNew(b, Config{Kind: KindKeyval, Size: mb, Match: match, Timeout: time.Hour})
	for i := 0; i < benchRecords; i++ {
		if err := s.Set(key(i), val32(i), 0); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchKeys() []string {
	keys := make([]string, benchRecords)
	for i := range keys {
		keys[i] = key32(i)
	}
	return keys
}

func BenchmarkGet(b *testing.B) {
	s := benchKeyval(b, MatchString, key32)
	keys := benchKeys()
	var dst []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst, _ = s.AppendGet(dst[:0], keys[i%benchRecords])
		i++
	}
}

func BenchmarkGetParallel(b *testing.B) {
	s := benchKeyval(b, MatchString, key32)
	keys := benchKeys()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var dst []byte
		i := 0
		for pb.Next() {
			dst, _ = s.AppendGet(dst[:0], keys[i%benchRecords])
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	s := benchKeyval(b, MatchString, key32)
	keys := benchKeys()
	v := val32(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Set(keys[i%benchRecords], v, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMatch(b *testing.B) {
	b.Run("ip", func(b *testing.B) {
		// Blocks of /16, /24 and hosts; lookups fall in /24 blocks.
		s := benchKeyval(b, MatchIP, func(i int) string {
			switch i % 3 {
			case 0:
				return fmt.Sprintf("10.%d.0.0/16", i%256)
			case 1:
				return fmt.Sprintf("10.%d.%d.0/24", i%256, i/256%256)
			}
			return fmt.Sprintf("10.%d.%d.%d", i%256, i/256%256, i%251)
		})
		lookups := make([]string, 1024)
		for i := range lookups {
			lookups[i] = fmt.Sprintf("10.%d.%d.%d", i%256, i*7%256, i%253)
		}
		var dst []byte
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst, _ = s.AppendMatch(dst[:0], lookups[i%len(lookups)])
			i++
		}
	})
	b.Run("prefix", func(b *testing.B) {
		s := benchKeyval(b, MatchPrefix, func(i int) string { return fmt.Sprintf("/api/v%d/items/%d", i%10, i) })
		lookups := make([]string, 1024)
		for i := range lookups {
			lookups[i] = fmt.Sprintf("/api/v%d/items/%d/details?x=1", i%10, i*3)
		}
		var dst []byte
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst, _ = s.AppendMatch(dst[:0], lookups[i%len(lookups)])
			i++
		}
	})
}

func BenchmarkLimitReq(b *testing.B) {
	s := mustNew(b, Config{Kind: KindLimitReq, Size: mb, Rate: 10000})
	keys := make([]string, benchRecords)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.LimitReq(keys[i%benchRecords], Limit{Burst: 20, NoDelay: true}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
