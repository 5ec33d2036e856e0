package value

import "net/netip"

// ParseIP reads a literal IPv4 or IPv6 address (no brackets, no port, no
// zone) with nginx's own readers, as ngx_parse_addr does; see inet4 and
// inet6 for the forms those accept beyond the usual ones. ok is false for
// anything else, which nginx's callers then treat as a host name or reject.
func ParseIP(s string) (netip.Addr, bool) {
	if ip, ok := inet4(s); ok {
		return ip, true
	}
	return inet6(s)
}

// inet4 reads a dotted IPv4 address as nginx does: exactly three dots and
// four decimal octets of at most 255 each. Leading zeros are decimal, and an
// empty octet is zero, so "1..2.3" is 1.0.2.3. As in nginx,
// 255.255.255.255 is refused, because nginx uses that value to mean "not
// an address".
func inet4(s string) (netip.Addr, bool) {
	var b [4]byte
	octet, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			octet = octet*10 + int(c-'0')
			if octet > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && dots < 3:
			b[dots] = byte(octet)
			octet = 0
			dots++
		default:
			return netip.Addr{}, false
		}
	}
	b[3] = byte(octet)
	if dots != 3 || b == [4]byte{255, 255, 255, 255} {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(b), true
}

// inet6 reads an IPv6 address as nginx does: up to eight groups of one to
// four hex digits, at most one "::" that must stand for at least one zero
// group, and an optional dotted IPv4 tail after the last colon. Where nginx
// differs from the RFC text it is followed: a single leading colon is
// skipped (":1:2:3:4:5:6:7:8" is accepted) and "::" cannot stand for just
// the last group ("1:2:3:4:5:6:7::" is refused).
func inet6(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == ':' {
		s = s[1:]
	}
	r := v6reader{gap: -1, groupAt: -1}
	for i := 0; i < len(s); i++ {
		var ok bool
		switch c := s[i]; {
		case c == ':':
			ok = r.colon(i)
		case c == '.' && r.nibbles > 0:
			return r.ipv4Tail(s)
		default:
			ok = r.hex(c)
		}
		if !ok {
			return netip.Addr{}, false
		}
	}
	return r.finish()
}

// v6reader is the state of inet6 between two bytes.
type v6reader struct {
	w       words
	gap     int // index in w where "::" stands, or -1
	groupAt int // index in the text just past the last colon, or -1
	word    int // the group being read
	nibbles int // its digit count
}

// colon ends the group being read, or marks the "::" gap when there is
// none; a second gap or a ninth group is refused.
func (r *v6reader) colon(i int) bool {
	r.groupAt = i + 1
	if r.nibbles == 0 {
		if r.gap >= 0 {
			return false
		}
		r.gap = r.w.n
		return true
	}
	r.w.put(r.word)
	r.word, r.nibbles = 0, 0
	return !r.w.full()
}

func (r *v6reader) hex(c byte) bool {
	d, ok := hexDigit(c)
	r.nibbles++
	r.word = r.word*16 + d
	return ok && r.nibbles <= 4
}

// ipv4Tail reads everything after the last colon as a dotted IPv4
// address filling the last two groups, and ends the address.
func (r *v6reader) ipv4Tail(s string) (netip.Addr, bool) {
	if r.groupAt < 0 || r.w.n > 6 {
		return netip.Addr{}, false
	}
	v4, ok := inet4(s[r.groupAt:])
	if !ok {
		return netip.Addr{}, false
	}
	b := v4.As4()
	r.w.put(int(b[0])<<8 | int(b[1]))
	r.word, r.nibbles = int(b[2])<<8|int(b[3]), 1
	return r.finish()
}

// finish stores the last group and places the gap.
func (r *v6reader) finish() (netip.Addr, bool) {
	if r.nibbles == 0 && r.gap < 0 {
		return netip.Addr{}, false
	}
	r.w.put(r.word)
	return r.w.expand(r.gap)
}

// words collects the 16-bit groups of an IPv6 address in order.
type words struct {
	v [8]uint16
	n int
}

// put appends a group; callers never pass a ninth.
func (w *words) put(x int) {
	w.v[w.n] = uint16(x)
	w.n++
}

func (w *words) full() bool { return w.n == len(w.v) }

// expand moves the groups after the "::" to the end. A gap is required
// when fewer than eight groups were given, and refused when all were.
func (w *words) expand(gap int) (netip.Addr, bool) {
	if (gap >= 0) == w.full() {
		return netip.Addr{}, false
	}
	var out [8]uint16
	copy(out[:], w.v[:max(gap, 0)])
	if gap >= 0 {
		tail := w.v[gap:w.n]
		copy(out[len(out)-len(tail):], tail)
	} else {
		out = w.v
	}
	var b [16]byte
	for i, x := range out {
		b[2*i], b[2*i+1] = byte(x>>8), byte(x)
	}
	return netip.AddrFrom16(b), true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}
