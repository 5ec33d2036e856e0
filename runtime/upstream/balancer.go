package upstream

import (
	"math/rand/v2"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// method is an upstream's load balancing method.
type method int

const (
	methodRoundRobin method = iota
	methodIPHash            // ip_hash (http only)
	methodHash              // hash KEY
	methodConsistent        // hash KEY consistent
	methodLeastConn         // least_conn
	methodRandom            // random [two [least_conn]]
)

// maxMisses is how many unusable picks the hash methods and random make
// before they fall back to the round robin (nginx's "tries > 20").
const maxMisses = 20

// balancer sets the group's method from the upstream's balancing
// directive. directives.Upstream keeps the method's name; its arguments
// are those of the last such directive of the block.
func (g *Group) balancer(u *directives.Upstream) {
	if len(g.primary.list) == 0 {
		// only backup servers (nginx refuses the configuration: "no
		// servers in upstream"), or only names still to resolve.
		return
	}
	args := u.BalancerArgs
	switch u.Balancer {
	case "ip_hash":
		g.method = methodIPHash
	case "least_conn":
		g.method = methodLeastConn
	case "hash":
		g.method = methodHash
		if len(args) > 0 {
			g.key = args[0]
		}
		if len(args) > 1 && args[1] == "consistent" {
			g.method = methodConsistent
			g.points = ring(g.primary.list)
		}
	case "random":
		g.method = methodRandom
		g.two = len(args) > 0 && args[0] == "two"
		w := 0
		for _, p := range g.primary.list {
			g.ranges = append(g.ranges, w)
			w += p.Weight
		}
		g.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
}

// HashKey is the key of "hash KEY" as written, with its variables for
// the caller to evaluate into Pick.Key; "" when the method needs no key.
func (g *Group) HashKey() string {
	if g.method == methodHash || g.method == methodConsistent {
		return g.key
	}
	return ""
}

// Conns is how many requests hold p now (between Get and Free): the
// count least_conn and random two compare.
func (g *Group) Conns(p *Peer) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return p.conns
}

// sticky is the peer of the current tier a sticky request is bound to,
// taken if the request can use it, for the methods other than the round
// robin: the bound peer bypasses the balancer and its state. It runs
// with g.mu held.
func (pk *Pick) sticky(now time.Time) *Peer {
	if pk.Hint == "" {
		return nil
	}
	for _, p := range pk.tier.list {
		if p.SID != pk.Hint {
			continue
		}
		if !pk.bindable(p, now) {
			return nil
		}
		return pk.take(p, now)
	}
	return nil
}

// miss counts a rejected pick and reports whether the method has to
// fall back to the round robin now.
func (pk *Pick) miss() bool {
	pk.misses++
	return pk.misses > maxMisses
}

// getLeastConn is ngx_http_upstream_get_least_conn_peer: the usable peer
// with the fewest connections for its weight; among equals, the smooth
// weighted round robin of those equals. With no usable primary peer the
// backup ones are tried the same way. It runs with g.mu held.
func (pk *Pick) getLeastConn(now time.Time) *Peer {
	g := pk.g
	if pk.tier.single {
		return pk.getRoundRobin(now)
	}
	if p := pk.sticky(now); p != nil {
		return p
	}
	list := pk.tier.list
	var best *Peer
	first, many := 0, false
	for i, p := range list {
		if !pk.usable(p, now) {
			continue
		}
		switch {
		case best == nil || p.conns*best.Weight < best.conns*p.Weight:
			best, first, many = p, i, false
		case p.conns*best.Weight == best.conns*p.Weight:
			many = true
		}
	}
	if best == nil {
		if pk.tier == g.primary && g.backup != nil {
			pk.tier = g.backup
			pk.tried.reset()
			return pk.getLeastConn(now)
		}
		return nil
	}
	if many {
		least, total := best, 0
		for _, p := range list[first:] {
			if !pk.usable(p, now) || p.conns*least.Weight != least.conns*p.Weight {
				continue
			}
			p.current += p.effective
			total += p.effective
			if p.effective < p.Weight {
				p.effective++
			}
			if p.current > best.current {
				best = p
			}
		}
		best.current -= total
	}
	return pk.take(best, now)
}

// getRandom is ngx_http_upstream_get_random_peer and, for "random two",
// ngx_http_upstream_get_random2_peer: a peer drawn with probability
// proportional to its weight; with two, two different usable peers are
// drawn and the one with fewer connections for its weight is taken (the
// second on a tie). After 20 unusable draws, or for a single server,
// the round robin chooses. It runs with g.mu held.
func (pk *Pick) getRandom(now time.Time) *Peer {
	if pk.misses > maxMisses || pk.tier.single {
		return pk.getRoundRobin(now)
	}
	if p := pk.sticky(now); p != nil {
		return p
	}
	var prev *Peer
	for {
		p := pk.g.primary.list[pk.g.draw()]
		switch {
		case p == prev || !pk.usable(p, now):
		case !pk.g.two:
			return pk.take(p, now)
		case prev != nil:
			if p.conns*prev.Weight > prev.conns*p.Weight {
				p = prev
			}
			return pk.take(p, now)
		default:
			prev = p
		}
		if pk.miss() {
			return pk.getRoundRobin(now)
		}
	}
}

// draw is ngx_http_upstream_peek_random_peer: the index of the primary
// peer whose share of the total weight a random number falls in.
func (g *Group) draw() int {
	x := g.rnd.IntN(g.primary.weight)
	i, j := 0, len(g.ranges)
	for j-i > 1 {
		k := (i + j) / 2
		if x < g.ranges[k] {
			j = k
		} else {
			i = k
		}
	}
	return i
}
