package upstream

import (
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ip_hash's arithmetic (ngx_http_upstream_ip_hash_module.c): the hash
// starts at 89 and takes each address byte as hash = (hash*113 + b) %
// 6271.
const (
	ipHashSeed = 89
	ipHashMul  = 113
	ipHashMod  = 6271
)

// ipHashBytes are the bytes ip_hash hashes: the first three of an IPv4
// address (a /24 goes to one server), all of an IPv6 one, three zero
// bytes for a client without an address (a UNIX socket).
func ipHashBytes(a netip.Addr) []byte {
	switch {
	case a.Is4():
		b := a.As4()
		return b[:3]
	case a.Is6():
		b := a.As16()
		return b[:]
	}
	return []byte{0, 0, 0}
}

// getIPHash is ngx_http_upstream_get_ip_hash_peer: the client's hash,
// mapped onto the weights of the primary servers in order; an unusable
// server makes it hash again from the last value, 20 times at most,
// then the round robin chooses (as it does for a single server). It
// runs with g.mu held.
func (pk *Pick) getIPHash(now time.Time) *Peer {
	if pk.misses > maxMisses || pk.tier.single {
		return pk.getRoundRobin(now)
	}
	if p := pk.sticky(now); p != nil {
		return p
	}
	addr := ipHashBytes(pk.Client)
	h := pk.ipHash
	for {
		for _, b := range addr {
			h = (h*ipHashMul + int(b)) % ipHashMod
		}
		p := pk.tier.at(h % pk.tier.weight)
		if pk.usable(p, now) {
			pk.ipHash = h
			return pk.take(p, now)
		}
		if pk.miss() {
			return pk.getRoundRobin(now)
		}
	}
}

// getHash is ngx_http_upstream_get_hash_peer, compatible with
// Cache::Memcached: each try adds ((crc32(KEY) >> 16) & 0x7fff) to a
// running sum, the n-th rehash hashing the decimal n before the key, and
// the sum modulo the total weight names a primary server in order. An
// unusable server makes it hash again, 20 times at most, then the round
// robin chooses, as it does at once for an empty key or a single server.
// It runs with g.mu held.
func (pk *Pick) getHash(now time.Time) *Peer {
	if pk.misses > maxMisses || pk.tier.single || pk.Key == "" {
		return pk.getRoundRobin(now)
	}
	if p := pk.sticky(now); p != nil {
		return p
	}
	for {
		var prefix []byte
		if pk.rehash > 0 {
			prefix = strconv.AppendInt(nil, int64(pk.rehash), 10)
		}
		h := crc32.Update(crc32.ChecksumIEEE(prefix), crc32.IEEETable, []byte(pk.Key))
		pk.hash += (h >> 16) & 0x7fff
		pk.rehash++
		p := pk.tier.at(int(pk.hash % uint32(pk.tier.weight)))
		if pk.usable(p, now) {
			return pk.take(p, now)
		}
		if pk.miss() {
			return pk.getRoundRobin(now)
		}
	}
}

// point is a place of a server on the consistent hash ring.
type point struct {
	hash   uint32
	server string
}

// pointsPerWeight is how many ring points each unit of weight gives a
// server.
const pointsPerWeight = 160

// ring is ngx_http_upstream_init_chash, compatible with
// Cache::Memcached::Fast: each primary peer puts weight*160 points on
// the ring, the first the crc32 of HOST "\0" PORT followed by four
// zero bytes, each next one the same with the previous point's hash
// (little-endian) in place of the zeros; HOST and PORT come from the
// server line's address as written ("unix:PATH" is PATH and no port).
// The points are sorted by hash, and of equal hashes the first is kept.
func ring(peers []*Peer) []point {
	var pts []point
	for _, p := range peers {
		host, port := splitServer(p.server)
		base := crc32.ChecksumIEEE([]byte(host + "\x00" + port))
		var prev [4]byte
		for range p.Weight * pointsPerWeight {
			h := crc32.Update(base, crc32.IEEETable, prev[:])
			pts = append(pts, point{hash: h, server: p.server})
			binary.LittleEndian.PutUint32(prev[:], h)
		}
	}
	slices.SortStableFunc(pts, func(a, b point) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(pts, func(a, b point) bool { return a.hash == b.hash })
}

// splitServer splits a server address as written into the host and the
// port the ring hashes: "unix:PATH" is PATH without a port; otherwise
// the port is the digits after the last ":" when only digits follow it.
func splitServer(s string) (host, port string) {
	if len(s) >= 5 && strings.EqualFold(s[:5], "unix:") {
		return s[5:], ""
	}
	for j := len(s) - 1; j >= 0; j-- {
		c := s[j]
		if c == ':' {
			return s[:j], s[j+1:]
		}
		if c < '0' || c > '9' {
			break
		}
	}
	return s, ""
}

// findPoint is the index of the first point whose hash is >= h (the
// number of points when there is none: the search wraps to the first).
func findPoint(pts []point, h uint32) uint32 {
	i, _ := slices.BinarySearchFunc(pts, h, func(p point, h uint32) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	return uint32(i)
}

// getConsistent is ngx_http_upstream_get_chash_peer: from the first ring
// point at or after crc32(KEY), the server of the point, among its
// usable peers the smooth weighted round robin's choice; a point whose
// server has none moves the request to the next point, 20 times at most,
// then the round robin chooses, as it does at once for an empty key or
// a single server. It runs with g.mu held.
func (pk *Pick) getConsistent(now time.Time) *Peer {
	g := pk.g
	if pk.misses > maxMisses || pk.tier.single || pk.Key == "" {
		return pk.getRoundRobin(now)
	}
	if p := pk.sticky(now); p != nil {
		return p
	}
	if !pk.placed {
		pk.hash = findPoint(g.points, crc32.ChecksumIEEE([]byte(pk.Key)))
		pk.placed = true
	}
	for {
		server := g.points[pk.hash%uint32(len(g.points))].server
		if p := pk.smooth(now, nil, func(p *Peer) bool { return p.server == server && pk.usable(p, now) }); p != nil {
			return p
		}
		pk.hash++
		if pk.miss() {
			return pk.getRoundRobin(now)
		}
	}
}
