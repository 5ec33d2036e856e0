package zone

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// type=ip keys are stored in binary: one byte of prefix length, then the
// 4 (IPv4) or 16 (IPv6) address bytes, masked to the prefix. An address is
// a block of full length. IPv4-mapped IPv6 addresses are stored as IPv4.
// Text form: "192.0.2.1", "192.0.2.0/24", "2001:db8::/32".
type ipBuf [17]byte

// storeKey checks a key and returns the form the zone indexes it by.
func (s *Store) storeKey(key string, buf *ipBuf) (string, error) {
	if key == "" {
		return "", ErrKey
	}
	if s.match != MatchIP {
		if len(key) > MaxKeyLen {
			return "", ErrTooLarge
		}
		return key, nil
	}
	n, ok := parseIPKey(key, buf)
	if !ok {
		return "", ErrKey
	}
	return unsafe.String(&buf[0], n), nil
}

// parseIPKey parses an address or a CIDR block into buf and returns the
// encoded length.
func parseIPKey(text string, buf *ipBuf) (int, bool) {
	var a netip.Addr
	var nbits int
	if strings.IndexByte(text, '/') >= 0 {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return 0, false
		}
		a, nbits = p.Addr(), p.Bits()
		if a.Is4In6() && nbits >= 96 {
			a, nbits = a.Unmap(), nbits-96
		}
	} else {
		var err error
		if a, err = netip.ParseAddr(text); err != nil || a.Zone() != "" {
			return 0, false
		}
		a = a.Unmap()
		nbits = a.BitLen()
	}
	return encodeIP(buf, a, nbits), true
}

func encodeIP(buf *ipBuf, a netip.Addr, nbits int) int {
	p, _ := a.Prefix(nbits) // masks; nbits is within range
	a = p.Addr()
	buf[0] = byte(nbits)
	if a.Is4() {
		b := a.As4()
		copy(buf[1:], b[:])
		return 5
	}
	b := a.As16()
	copy(buf[1:], b[:])
	return 17
}

func decodeIP(k []byte) (netip.Addr, int) {
	if len(k) == 5 {
		return netip.AddrFrom4([4]byte(k[1:5])), int(k[0])
	}
	return netip.AddrFrom16([16]byte(k[1:17])), int(k[0])
}

// appendIPKey appends the text form of a stored type=ip key.
func appendIPKey(dst, k []byte) []byte {
	a, nbits := decodeIP(k)
	if nbits == a.BitLen() {
		return a.AppendTo(dst)
	}
	return netip.PrefixFrom(a, nbits).AppendTo(dst)
}

// matchIP finds the most specific stored block containing the lookup: one
// exact-match probe per prefix length present in the zone, longest first.
func (s *Store) matchIP(dst []byte, lookup string) ([]byte, bool) {
	var buf ipBuf
	n, ok := parseIPKey(lookup, &buf)
	if !ok {
		return dst, false
	}
	a, nbits := decodeIP(buf[:n])
	fam := 0
	if n == 17 {
		fam = 1
	}
	now := s.nowMs()
	for l := nbits; l >= 0; l-- {
		if !s.iplens.has(fam, l) {
			continue
		}
		m := encodeIP(&buf, a, l)
		if out, ok := s.appendValue(dst, unsafe.String(&buf[0], m), now); ok {
			return out, true
		}
	}
	return dst, false
}

// matchPrefix finds the longest stored key that is a prefix of lookup: one
// exact-match probe per key length present in the zone, longest first.
func (s *Store) matchPrefix(dst []byte, lookup string) ([]byte, bool) {
	lens := s.plens.sorted.Load()
	if lens == nil {
		return dst, false
	}
	now := s.nowMs()
	for _, l := range *lens {
		if l > len(lookup) {
			continue
		}
		if out, ok := s.appendValue(dst, lookup[:l], now); ok {
			return out, true
		}
	}
	return dst, false
}

// lengths tracks which key lengths (prefix zones) or prefix lengths (ip
// zones) are present, so lookups probe only those.
type lengths interface {
	add(key string)
	del(key string)
}

type noLengths struct{}

func (noLengths) add(string) {}
func (noLengths) del(string) {}

type ipLengths struct {
	mu    sync.Mutex
	count [2][129]int32
	bits  [2][3]atomic.Uint64
}

func ipFamBits(key string) (int, int) {
	if len(key) == 17 {
		return 1, int(key[0])
	}
	return 0, int(key[0])
}

func (l *ipLengths) add(key string) {
	fam, b := ipFamBits(key)
	l.mu.Lock()
	l.count[fam][b]++
	if l.count[fam][b] == 1 {
		w := &l.bits[fam][b>>6]
		w.Store(w.Load() | 1<<(b&63))
	}
	l.mu.Unlock()
}

func (l *ipLengths) del(key string) {
	fam, b := ipFamBits(key)
	l.mu.Lock()
	l.count[fam][b]--
	if l.count[fam][b] == 0 {
		w := &l.bits[fam][b>>6]
		w.Store(w.Load() &^ (1 << (b & 63)))
	}
	l.mu.Unlock()
}

func (l *ipLengths) has(fam, b int) bool {
	return l.bits[fam][b>>6].Load()&(1<<(b&63)) != 0
}

type prefixLengths struct {
	mu     sync.Mutex
	count  map[int]int32
	sorted atomic.Pointer[[]int] // present lengths, longest first
}

func (l *prefixLengths) add(key string) {
	l.mu.Lock()
	l.count[len(key)]++
	if l.count[len(key)] == 1 {
		l.publish()
	}
	l.mu.Unlock()
}

func (l *prefixLengths) del(key string) {
	l.mu.Lock()
	l.count[len(key)]--
	if l.count[len(key)] == 0 {
		delete(l.count, len(key))
		l.publish()
	}
	l.mu.Unlock()
}

func (l *prefixLengths) publish() {
	lens := make([]int, 0, len(l.count))
	for n := range l.count {
		lens = append(lens, n)
	}
	slices.Sort(lens)
	slices.Reverse(lens)
	l.sorted.Store(&lens)
}
