package value

import (
	"net/netip"
	"strings"
)

// ParseCIDR reads an allow/deny address block as nginx does: an IPv4 or
// IPv6 literal (read by nginx's own rules, see ParseIP), optionally
// followed by "/" and a prefix length of at most 32 or 128 written as for
// Number. Without a length the block is the single address.
//
// The prefix comes back with the bits beyond the length cleared, as nginx
// stores it. lowBits reports that some of those bits were set in the text;
// nginx accepts the value and warns
// `low address bits of ARG are meaningless`.
//
// The keywords "all" and "unix:" are the caller's to handle. Anything else
// returns ErrInvalidParameter; allow and deny print `invalid parameter "ARG"`.
func ParseCIDR(s string) (prefix netip.Prefix, lowBits bool, err error) {
	addr, mask, hasMask := strings.Cut(s, "/")
	ip, ok := ParseIP(addr)
	if !ok {
		return netip.Prefix{}, false, ErrInvalidParameter
	}
	if !hasMask {
		return netip.PrefixFrom(ip, ip.BitLen()), false, nil
	}
	bits, ok := atoi(mask)
	if !ok || bits > int64(ip.BitLen()) {
		return netip.Prefix{}, false, ErrInvalidParameter
	}
	p := netip.PrefixFrom(ip, int(bits)).Masked()
	return p, p.Addr() != ip, nil
}
