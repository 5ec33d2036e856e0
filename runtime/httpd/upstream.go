package httpd

import (
	"sync"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// Upstream groups as ngx_http_upstream_round_robin.c balances them: the
// smooth weighted round robin over the primary servers, max_fails within
// fail_timeout taking a server out for fail_timeout, and the backup
// servers only when no primary one can be chosen. The state is shared by
// every request of the server (nginx keeps one per worker).

// peer is one address of an upstream server line.
type peer struct {
	name        string // "127.0.0.1:9001", as $upstream_addr shows it
	addr        string // what to dial
	network     string // tcp or unix
	weight      int
	maxFails    int
	failTimeout time.Duration
	down        bool
	sid         string // sticky's id of the server

	current   int
	effective int
	fails     int
	accessed  time.Time
	checked   time.Time
}

// peers is one tier of a group: the primary servers or the backup ones.
type peers struct {
	list   []*peer
	single bool // one primary server and no backup: never skipped for failures
}

// upstreamGroup is an upstream with its balancing state.
type upstreamGroup struct {
	name    string
	mu      sync.Mutex
	primary *peers
	backup  *peers // nil without backup servers
	now     func() time.Time
	sticky  *stickyConf // nil without sticky
}

// newUpstreamGroup builds a group from an upstream block or an implicit
// upstream (a proxy_pass address).
func newUpstreamGroup(u *directives.Upstream, now func() time.Time) *upstreamGroup {
	g := &upstreamGroup{name: u.Name, now: now, primary: &peers{}}
	if u.Implicit {
		for _, a := range implicitAddrs(u) {
			p := newPeer(a, 1, 1, 10*time.Second, false)
			p.sid = stickySID(a, "")
			g.primary.list = append(g.primary.list, p)
		}
	}
	var backup []*peer
	for _, s := range u.Servers {
		for _, a := range s.Addrs {
			p := newPeer(a, s.Weight, s.MaxFails, s.FailTimeout, s.Down)
			p.sid = stickySID(a, s.Route)
			if s.Backup {
				backup = append(backup, p)
			} else {
				g.primary.list = append(g.primary.list, p)
			}
		}
	}
	if len(backup) > 0 {
		g.backup = &peers{list: backup}
	}
	g.primary.single = len(g.primary.list) == 1 && g.backup == nil
	return g
}

func newPeer(addr string, weight, maxFails int, failTimeout time.Duration, down bool) *peer {
	p := &peer{name: addr, addr: addr, network: "tcp", weight: weight, effective: weight,
		maxFails: maxFails, failTimeout: failTimeout, down: down}
	if len(addr) > 5 && addr[:5] == "unix:" {
		p.network, p.addr = "unix", addr[5:]
	}
	return p
}

// tries is how many peers a request may try: every server of the group.
func (g *upstreamGroup) tries() int {
	n := len(g.primary.list)
	if g.backup != nil {
		n += len(g.backup.list)
	}
	return n
}

// peerPick is one request's view of the group: the tier it is at and the
// peers it tried there.
type peerPick struct {
	g     *upstreamGroup
	tier  *peers
	tried map[*peer]bool
	tries int
	hint  string // the SID a sticky request is bound to
}

func (g *upstreamGroup) newPick(maxTries int) *peerPick {
	t := g.tries()
	if maxTries > 0 && maxTries < t {
		t = maxTries
	}
	return &peerPick{g: g, tier: g.primary, tried: map[*peer]bool{}, tries: t}
}

// get is ngx_http_upstream_get_round_robin_peer: the next peer, or nil
// when none is live (nginx's NGX_BUSY, "no live upstreams").
func (pk *peerPick) get() *peer {
	g := pk.g
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if pk.tier.single {
		p := pk.tier.list[0]
		if p.down {
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
		pk.tried = map[*peer]bool{}
		return pk.choose(now)
	}
	return nil
}

// choose picks in the current tier: the peer a sticky request is bound
// to if it can take the request, else the round robin's.
func (pk *peerPick) choose(now time.Time) *peer {
	if pk.hint != "" {
		if p := pk.hinted(now); p != nil {
			return p
		}
	}
	return pk.best(now, nil)
}

// best is ngx_http_upstream_get_peer: the smooth weighted round robin;
// a sticky request's peer (force) is the winner whatever the weights.
func (pk *peerPick) best(now time.Time, force *peer) *peer {
	var best *peer
	total := 0
	for _, p := range pk.tier.list {
		if pk.tried[p] || p.down {
			continue
		}
		if p.maxFails > 0 && p.fails >= p.maxFails && now.Sub(p.checked) <= p.failTimeout {
			continue
		}
		p.current += p.effective
		total += p.effective
		if p.effective < p.weight {
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
	if now.Sub(best.checked) > best.failTimeout {
		best.checked = now
	}
	pk.tried[best] = true
	return best
}

// free is ngx_http_upstream_free_round_robin_peer: a failure counts
// against the peer (and lowers its effective weight); a success after
// the last failure check forgets the failures.
// It reports whether the failure took the peer out.
func (pk *peerPick) free(p *peer, failed bool) (disabled bool) {
	g := pk.g
	if pk.tier.single {
		pk.tries = 0
		return false
	}
	g.mu.Lock()
	now := g.now()
	if failed {
		p.fails++
		p.accessed, p.checked = now, now
		if p.maxFails > 0 {
			p.effective -= p.weight / p.maxFails
		}
		if p.effective < 0 {
			p.effective = 0
		}
	} else if p.accessed.Before(p.checked) {
		p.fails = 0
	}
	disabled = failed && p.maxFails > 0 && p.fails >= p.maxFails
	g.mu.Unlock()
	pk.tries--
	return disabled
}

// implicitAddrs are the addresses of an upstream a proxy_pass names
// directly, resolved as the configuration was read.
func implicitAddrs(u *directives.Upstream) []string {
	var out []string
	for _, s := range u.Servers {
		out = append(out, s.Addrs...)
	}
	if len(out) > 0 {
		return out
	}
	return resolveImplicit(u)
}
