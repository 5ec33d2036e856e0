// Package upstream balances requests over the servers of an upstream
// group, for the HTTP proxy and the stream proxy alike: nginx's smooth
// weighted round robin (ngx_http_upstream_round_robin.c and its stream
// twin) and the other methods an upstream block can name (ip_hash,
// hash, hash consistent, least_conn, random; balancer.go), max_fails
// within fail_timeout taking a server out for fail_timeout, max_conns,
// the backup servers used only when no primary one can be chosen, and a
// sticky hint that binds a request to one server.
//
// A Group's state is shared by every request through it (nginx keeps one
// per worker; a node here is one worker).
//
// The callers' contract: start a request with g.Pick; before the first
// Get set pk.Key to the evaluated g.HashKey() (when it is not "") and
// pk.Client to the client's address; call pk.Free exactly once for every
// peer Get returned, when the request is done with that peer (the
// connection counts least_conn, random two and max_conns read are kept
// by Get and Free).
package upstream

import (
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// Peer is one address of an upstream server line.
type Peer struct {
	Name        string // "127.0.0.1:9001", as $upstream_addr shows it
	Addr        string // what to dial
	Network     string // tcp or unix
	Weight      int
	MaxFails    int
	FailTimeout time.Duration
	MaxConns    int // max_conns: 0 for no limit
	Down        bool
	Drain       bool   // sticky's drain: only requests bound to it
	SID         string // sticky's id of the server: its route= or the MD5 of its address

	// server is the address of its server line as written, which hash
	// consistent places on the ring; the peers of one line share it.
	server    string
	index     int // its place in the group, primary peers first (Pick's tried set)
	current   int
	effective int
	fails     int
	conns     int // requests between Get and Free
	accessed  time.Time
	checked   time.Time
}

// tier is the primary servers or the backup ones.
type tier struct {
	list   []*Peer
	single bool // one primary server and no backup: never skipped for failures
	weight int  // the sum of the weights, down servers included (nginx's total_weight)
}

// at is the peer whose share of the weights holds w (0 <= w < weight),
// in the order of the server lines, as the hash methods map a hash.
func (t *tier) at(w int) *Peer {
	for _, p := range t.list {
		if w < p.Weight {
			return p
		}
		w -= p.Weight
	}
	return t.list[len(t.list)-1]
}

// Group is an upstream with its balancing state.
type Group struct {
	Name    string
	mu      sync.Mutex
	primary *tier
	backup  *tier // nil without backup servers
	now     func() time.Time

	peers int // how many peers, primary and backup

	method method
	key    string  // hash's key as written
	points []point // hash consistent's ring
	ranges []int   // random: the weight below each primary peer
	two    bool    // random two
	rnd    *rand.Rand
}

// New builds a group from an upstream block or an implicit upstream (a
// proxy_pass address, resolved now as nginx resolves it while reading
// the configuration; without a port it is 80, as for http://).
func New(u *directives.Upstream, now func() time.Time) *Group {
	g := &Group{Name: u.Name, now: now, primary: &tier{}}
	if u.Implicit {
		for _, a := range implicitAddrs(u) {
			p := newPeer(a, 1, 1, 10*time.Second, false)
			p.SID = SID(a, "")
			g.primary.list = append(g.primary.list, p)
		}
	}
	var backup []*Peer
	for _, s := range u.Servers {
		for _, a := range s.Addrs {
			p := newPeer(a, s.Weight, s.MaxFails, s.FailTimeout, s.Down)
			p.Drain = s.Drain
			p.SID = SID(a, s.Route)
			p.MaxConns = s.MaxConns
			if s.D != nil && len(s.D.Args) > 0 {
				p.server = s.D.Args[0]
			}
			if s.Backup {
				backup = append(backup, p)
			} else {
				g.primary.list = append(g.primary.list, p)
			}
		}
	}
	if len(backup) > 0 {
		g.backup = &tier{list: backup}
		for _, p := range backup {
			g.backup.weight += p.Weight
		}
	}
	for _, p := range g.primary.list {
		g.primary.weight += p.Weight
	}
	for _, t := range []*tier{g.primary, g.backup} {
		if t == nil {
			continue
		}
		for _, p := range t.list {
			p.index = g.peers
			g.peers++
		}
	}
	g.primary.single = len(g.primary.list) == 1 && g.backup == nil
	g.balancer(u)
	return g
}

func newPeer(addr string, weight, maxFails int, failTimeout time.Duration, down bool) *Peer {
	p := &Peer{Name: addr, Addr: addr, Network: "tcp", Weight: weight, effective: weight,
		MaxFails: maxFails, FailTimeout: failTimeout, Down: down, server: addr}
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		p.Network, p.Addr = "unix", rest
	}
	return p
}

// SID is a server's sticky id: its route, or the hex MD5 of its address.
func SID(addr, route string) string {
	if route != "" {
		return route
	}
	sum := md5.Sum([]byte(addr))
	return hex.EncodeToString(sum[:])
}

// Empty reports whether the group has no primary address (an implicit
// upstream whose name did not resolve).
func (g *Group) Empty() bool { return len(g.primary.list) == 0 }

// tries is how many peers a request may try: every server of the group
// that is not down (nginx's peers->tries, primary and backup).
func (g *Group) tries() int {
	n := 0
	for _, t := range []*tier{g.primary, g.backup} {
		if t == nil {
			continue
		}
		for _, p := range t.list {
			if !p.Down {
				n++
			}
		}
	}
	return n
}

// Pick is one request's view of the group: the tier it is at, the peers
// it tried there and the tries it has left.
type Pick struct {
	g     *Group
	tier  *tier
	tried peerSet
	// Tries is how many more peers the request may try; Free counts
	// them down.
	Tries int
	// Hint is the SID a sticky request is bound to ("" for none).
	Hint string
	// Key is the hash key, g.HashKey() evaluated for this request; set
	// it before the first Get. An empty key makes hash fall back to the
	// round robin, as in nginx.
	Key string
	// Client is the client's address, which ip_hash hashes (the first
	// three bytes of an IPv4 address, all sixteen of an IPv6 one); the
	// zero Addr (a UNIX-socket client) hashes as three zero bytes. Set
	// it before the first Get.
	Client netip.Addr

	// The balancer's state across the request's tries, as nginx keeps
	// it in the request's peer data.
	misses int    // picks the hash methods and random rejected (nginx's tries; 20 at most)
	hash   uint32 // hash: the sum of the hashes so far; consistent: the ring index
	rehash int    // hash: how many hashes were taken
	ipHash int    // ip_hash: the hash of the last pick
	placed bool   // consistent: hash holds the ring index of the key
}

// Pick starts a request: it may try every server of the group, or
// maxTries of them when maxTries > 0 (proxy_next_upstream_tries).
func (g *Group) Pick(maxTries int) *Pick {
	t := g.tries()
	if maxTries > 0 && maxTries < t {
		t = maxTries
	}
	pk := &Pick{g: g, tier: g.primary, Tries: t, ipHash: ipHashSeed}
	if g.peers > 64 {
		pk.tried.large = make([]uint64, (g.peers+63)/64)
	}
	return pk
}

// peerSet is a set of a group's peers, a bit per peer by its index: one
// word for groups of up to 64 peers, so that a request allocates nothing
// for it, else a slice of words.
type peerSet struct {
	small uint64
	large []uint64
}

func (s *peerSet) has(p *Peer) bool {
	if s.large != nil {
		return s.large[p.index/64]&(1<<uint(p.index%64)) != 0
	}
	return s.small&(1<<uint(p.index)) != 0
}

func (s *peerSet) add(p *Peer) {
	if s.large != nil {
		s.large[p.index/64] |= 1 << uint(p.index%64)
		return
	}
	s.small |= 1 << uint(p.index)
}

// reset empties the set.
func (s *peerSet) reset() {
	s.small = 0
	clear(s.large)
}

// Get chooses the next peer with the group's balancing method, or
// returns nil when none is live (nginx's NGX_BUSY, "no live
// upstreams"). Every peer it returns must be given back with Free.
func (pk *Pick) Get() *Peer {
	g := pk.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if pk.tier.single {
		// Every method leaves a single server to the round robin, which
		// takes it without looking at the clock.
		p := pk.getSingle()
		if p != nil {
			p.conns++
		}
		return p
	}
	now := g.now()
	var p *Peer
	switch g.method {
	case methodIPHash:
		p = pk.getIPHash(now)
	case methodHash:
		p = pk.getHash(now)
	case methodConsistent:
		p = pk.getConsistent(now)
	case methodLeastConn:
		p = pk.getLeastConn(now)
	case methodRandom:
		p = pk.getRandom(now)
	default:
		p = pk.getRoundRobin(now)
	}
	if p != nil {
		p.conns++
	}
	return p
}

// getRoundRobin is ngx_http_upstream_get_round_robin_peer, which the
// other methods also fall back to. It runs with g.mu held.
func (pk *Pick) getRoundRobin(now time.Time) *Peer {
	g := pk.g
	if pk.tier.single {
		return pk.getSingle()
	}
	if p := pk.choose(now); p != nil {
		return p
	}
	if pk.tier == g.primary && g.backup != nil {
		pk.tier = g.backup
		pk.tried.reset()
		return pk.choose(now)
	}
	return nil
}

// getSingle is the round robin of a single server (nginx's
// peers->single): it is taken unless it is down, full or draining, and
// failures never take it out. It runs with g.mu held.
func (pk *Pick) getSingle() *Peer {
	p := pk.tier.list[0]
	if p.Down || p.full() || p.Drain && p.SID != pk.Hint {
		return nil
	}
	pk.tried.add(p)
	return p
}

// choose picks in the current tier: the peer a sticky request is bound
// to if it can take the request, else the round robin's.
func (pk *Pick) choose(now time.Time) *Peer {
	if pk.Hint != "" {
		if p := pk.hinted(now); p != nil {
			return p
		}
	}
	return pk.best(now, nil)
}

// out reports whether max_fails failures within fail_timeout have taken
// p out.
func (p *Peer) out(now time.Time) bool {
	return p.MaxFails > 0 && p.fails >= p.MaxFails && now.Sub(p.checked) <= p.FailTimeout
}

// full reports whether p has max_conns requests already.
func (p *Peer) full() bool { return p.MaxConns > 0 && p.conns >= p.MaxConns }

// usable reports whether the request may take p now: not tried yet, not
// down, not out for failures, not full, and not draining (a drain server
// takes only the requests bound to it, see bindable).
func (pk *Pick) usable(p *Peer, now time.Time) bool {
	return !p.Drain && pk.bindable(p, now)
}

// bindable is usable for the peer a sticky request is bound to, which
// may be draining.
func (pk *Pick) bindable(p *Peer, now time.Time) bool {
	return !pk.tried.has(p) && !p.Down && !p.out(now) && !p.full()
}

// take marks p as the request's pick: tried, and its fail_timeout
// window started if the last one is over.
func (pk *Pick) take(p *Peer, now time.Time) *Peer {
	if now.Sub(p.checked) > p.FailTimeout {
		p.checked = now
	}
	pk.tried.add(p)
	return p
}

// best is ngx_http_upstream_get_peer: the smooth weighted round robin;
// a sticky request's peer (force) is the winner whatever the weights.
func (pk *Pick) best(now time.Time, force *Peer) *Peer {
	return pk.smooth(now, force, func(p *Peer) bool { return p == force || pk.usable(p, now) })
}

// smooth is one round of the smooth weighted round robin over the peers
// of the tier that in admits: each gains its effective weight, the one
// with the most (or force, when set) wins and loses the round's total.
// It returns the winner, taken, or nil when in admits none.
func (pk *Pick) smooth(now time.Time, force *Peer, in func(*Peer) bool) *Peer {
	var best *Peer
	total := 0
	for _, p := range pk.tier.list {
		if !in(p) {
			continue
		}
		p.current += p.effective
		total += p.effective
		if p.effective < p.Weight {
			p.effective++
		}
		if best == nil || p.current > best.current {
			best = p
		}
	}
	if force != nil {
		best = force
	}
	if best == nil {
		return nil
	}
	best.current -= total
	return pk.take(best, now)
}

// hinted is the round robin's choice of the peer a sticky request is
// bound to: the peer of the current tier with that SID if it can be
// used, else nil (the round robin chooses). As nginx does, the bound
// peer wins a round of the weighted round robin, so that it counts
// against its share, unless it is already a full round behind, when
// the weights are left alone. It runs with g.mu held.
func (pk *Pick) hinted(now time.Time) *Peer {
	var st *Peer
	total := 0
	for _, p := range pk.tier.list {
		total += p.Weight
		if p.SID == pk.Hint && st == nil {
			st = p
		}
	}
	if st == nil || !pk.bindable(st, now) {
		return nil
	}
	if st.current > -(total - st.Weight) {
		return pk.best(now, st)
	}
	return pk.take(st, now)
}

// Free is ngx_http_upstream_free_round_robin_peer, for every method: it
// gives back the request's connection to p (which Get counted), and a
// failure counts against the peer (and lowers its effective weight); a
// success after the last failure check forgets the failures. It reports
// whether the failure took the peer out. Call it exactly once for each
// peer Get returned, failed or not, when the request is done with it:
// a missing Free leaves the peer counted busy for good (least_conn and
// random two avoid it, max_conns fills up).
func (pk *Pick) Free(p *Peer, failed bool) (disabled bool) {
	g := pk.g
	g.mu.Lock()
	if p.conns > 0 {
		p.conns--
	}
	if pk.tier.single {
		g.mu.Unlock()
		pk.Tries = 0
		return false
	}
	now := g.now()
	if failed {
		p.fails++
		p.accessed, p.checked = now, now
		if p.MaxFails > 0 {
			p.effective -= p.Weight / p.MaxFails
		}
		if p.effective < 0 {
			p.effective = 0
		}
	} else if p.accessed.Before(p.checked) {
		p.fails = 0
	}
	disabled = failed && p.MaxFails > 0 && p.fails >= p.MaxFails
	g.mu.Unlock()
	pk.Tries--
	return disabled
}
