// Package upstream balances requests over the servers of an upstream
// group, for the HTTP proxy and the stream proxy alike: nginx's smooth
// weighted round robin (ngx_http_upstream_round_robin.c and its stream
// twin), max_fails within fail_timeout taking a server out for
// fail_timeout, the backup servers used only when no primary one can be
// chosen, and a sticky hint that binds a request to one server.
//
// A Group's state is shared by every request through it (nginx keeps one
// per worker; a node here is one worker).
package upstream

import (
	"crypto/md5"
	"encoding/hex"
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
	Down        bool
	SID         string // sticky's id of the server: its route= or the MD5 of its address

	current   int
	effective int
	fails     int
	accessed  time.Time
	checked   time.Time
}

// tier is the primary servers or the backup ones.
type tier struct {
	list   []*Peer
	single bool // one primary server and no backup: never skipped for failures
}

// Group is an upstream with its balancing state.
type Group struct {
	Name    string
	mu      sync.Mutex
	primary *tier
	backup  *tier // nil without backup servers
	now     func() time.Time
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
			p.SID = SID(a, s.Route)
			if s.Backup {
				backup = append(backup, p)
			} else {
				g.primary.list = append(g.primary.list, p)
			}
		}
	}
	if len(backup) > 0 {
		g.backup = &tier{list: backup}
	}
	g.primary.single = len(g.primary.list) == 1 && g.backup == nil
	return g
}

func newPeer(addr string, weight, maxFails int, failTimeout time.Duration, down bool) *Peer {
	p := &Peer{Name: addr, Addr: addr, Network: "tcp", Weight: weight, effective: weight,
		MaxFails: maxFails, FailTimeout: failTimeout, Down: down}
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

// tries is how many peers a request may try: every server of the group.
func (g *Group) tries() int {
	n := len(g.primary.list)
	if g.backup != nil {
		n += len(g.backup.list)
	}
	return n
}

// Pick is one request's view of the group: the tier it is at, the peers
// it tried there and the tries it has left.
type Pick struct {
	g     *Group
	tier  *tier
	tried map[*Peer]bool
	// Tries is how many more peers the request may try; Free counts
	// them down.
	Tries int
	// Hint is the SID a sticky request is bound to ("" for none).
	Hint string
}

// Pick starts a request: it may try every server of the group, or
// maxTries of them when maxTries > 0 (proxy_next_upstream_tries).
func (g *Group) Pick(maxTries int) *Pick {
	t := g.tries()
	if maxTries > 0 && maxTries < t {
		t = maxTries
	}
	return &Pick{g: g, tier: g.primary, tried: map[*Peer]bool{}, Tries: t}
}

// Get is ngx_http_upstream_get_round_robin_peer: the next peer, or nil
// when none is live (nginx's NGX_BUSY, "no live upstreams").
func (pk *Pick) Get() *Peer {
	g := pk.g
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if pk.tier.single {
		p := pk.tier.list[0]
		if p.Down {
			return nil
		}
		pk.tried[p] = true
		return p
	}
	if p := pk.choose(now); p != nil {
		return p
	}
	if pk.tier == g.primary && g.backup != nil {
		pk.tier = g.backup
		pk.tried = map[*Peer]bool{}
		return pk.choose(now)
	}
	return nil
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

// best is ngx_http_upstream_get_peer: the smooth weighted round robin;
// a sticky request's peer (force) is the winner whatever the weights.
func (pk *Pick) best(now time.Time, force *Peer) *Peer {
	var best *Peer
	total := 0
	for _, p := range pk.tier.list {
		if pk.tried[p] || p.Down || p.out(now) {
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
	if now.Sub(best.checked) > best.FailTimeout {
		best.checked = now
	}
	pk.tried[best] = true
	return best
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
	if st == nil || pk.tried[st] || st.Down || st.out(now) {
		return nil
	}
	if st.current > -(total - st.Weight) {
		return pk.best(now, st)
	}
	if now.Sub(st.checked) > st.FailTimeout {
		st.checked = now
	}
	pk.tried[st] = true
	return st
}

// Free is ngx_http_upstream_free_round_robin_peer: a failure counts
// against the peer (and lowers its effective weight); a success after
// the last failure check forgets the failures. It reports whether the
// failure took the peer out.
func (pk *Pick) Free(p *Peer, failed bool) (disabled bool) {
	g := pk.g
	if pk.tier.single {
		pk.Tries = 0
		return false
	}
	g.mu.Lock()
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
