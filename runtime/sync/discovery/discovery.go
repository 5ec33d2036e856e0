// Package discovery keeps the list of the cluster's nodes: the
// zone_sync_server entries of the configuration, static or, with resolve,
// a name re-resolved through the stream resolver whenever its answer
// expires. It tells its owner which nodes were added and removed.
package discovery

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// Member is one node of the cluster.
type Member struct {
	// Addr is where the node listens: "ip:port", "[v6]:port" or
	// "unix:/path".
	Addr string
	// Name is the host TLS verifies the node against by default (see
	// zone_sync_ssl_name): the host of the zone_sync_server entry, the
	// resolved address with resolve, the socket path for unix:.
	Name string
}

// Change is a change of membership.
type Change struct {
	Added, Removed []Member
	// Members is the whole membership after the change.
	Members []Member
}

// Config is what Discovery works from.
type Config struct {
	// Servers are the zone_sync_server entries: several static ones, or
	// one with Resolve.
	Servers []directives.ZoneSyncServer
	// Resolver is the stream resolver; resolve needs it. Static entries
	// use the addresses the configuration was read with, and the
	// resolver only when an entry has none.
	Resolver *Resolver
	// Listen are this node's listen addresses; members they stand for
	// (see IsSelf) are left out.
	Listen []string
	// LocalAddrs gives the machine's addresses for wildcard listens;
	// InterfaceAddrs when nil.
	LocalAddrs func() []netip.Addr
	// Clock schedules re-resolution; RealClock when nil.
	Clock Clock
	// Logf is the error log; nil discards.
	Logf LogFunc
	// OnChange is called with each change of membership, one call at a
	// time, from Start or from a re-resolution. It must not call Stop.
	OnChange func(Change)
}

// ConfigOf returns the Config of a node's zone_sync setup, without Logf,
// Clock and OnChange.
func ConfigOf(zs *directives.ZoneSync) Config {
	c := Config{Servers: zs.Servers}
	if zs.Resolver != nil {
		c.Resolver = NewResolver(zs.Resolver, zs.ResolverTimeout, nil)
	}
	for _, l := range zs.Listen {
		c.Listen = append(c.Listen, l.Text...)
	}
	return c
}

// Discovery tracks the membership of the cluster.
type Discovery struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc

	// run serializes resolutions and guards the fields below it.
	run     sync.Mutex
	started bool
	stopped bool
	timer   Timer

	state   sync.Mutex
	members []Member
}

// New returns a Discovery for cfg; Start begins it.
func New(cfg Config) *Discovery {
	if cfg.Clock == nil {
		cfg.Clock = RealClock
	}
	if cfg.LocalAddrs == nil {
		cfg.LocalAddrs = InterfaceAddrs
	}
	if cfg.Resolver != nil && cfg.Resolver.Logf == nil {
		cfg.Resolver.Logf = cfg.Logf
	}
	d := &Discovery{cfg: cfg}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// Dynamic reports a membership that follows DNS: one zone_sync_server
// name with resolve.
func (d *Discovery) Dynamic() bool {
	s := d.cfg.Servers
	return len(s) == 1 && s[0].Resolve && !s[0].Addr.IP.IsValid() && !s[0].Addr.Unix
}

// Start finds the first membership and reports it to OnChange before it
// returns: the static entries, or the first resolution of the resolve
// name. A resolve name is then resolved again each time its answer
// expires (the answer's TTL or valid=). A name that does not resolve is
// logged and tried again: after valid= or 10s when it is not found (its
// nodes are removed), after resolver_timeout on other failures (the
// nodes are kept). Start does nothing the second time or after Stop.
func (d *Discovery) Start() {
	d.run.Lock()
	defer d.run.Unlock()
	if d.started || d.stopped {
		return
	}
	d.started = true
	if d.Dynamic() {
		d.resolve()
		return
	}
	d.set(d.static())
}

// Members returns the current membership.
func (d *Discovery) Members() []Member {
	d.state.Lock()
	defer d.state.Unlock()
	return append([]Member(nil), d.members...)
}

// Stop ends re-resolution: a resolution under way is abandoned and
// OnChange is not called once Stop has returned. It is safe to call more
// than once.
func (d *Discovery) Stop() {
	d.cancel()
	d.run.Lock()
	defer d.run.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// tick is the timer's call: the next resolution.
func (d *Discovery) tick() {
	d.run.Lock()
	defer d.run.Unlock()
	if d.stopped {
		return
	}
	d.resolve()
}

// resolve looks the resolve name up once, applies the answer and
// schedules the next lookup, as nginx's resolve of upstream servers
// does: when the answer expires (its TTL, or valid=); after valid= or 10s
// when the name is not found, its nodes being removed; after
// resolver_timeout (at least 1s) on any other failure, the nodes being
// kept. d.run is held.
func (d *Discovery) resolve() {
	s := d.cfg.Servers[0]
	host := s.Addr.Host
	r := d.cfg.Resolver
	if r == nil {
		d.logf(directives.Err, "no resolver defined to resolve %s", host)
		return
	}
	ans, err := r.Lookup(d.ctx, host)
	var retry time.Duration
	var re *ResolveError
	switch {
	case err == nil:
		var ms []Member
		for _, ip := range ans.Addrs {
			ms = append(ms, Member{Addr: netip.AddrPortFrom(ip, uint16(s.Addr.Port)).String(), Name: ip.String()})
		}
		d.set(ms)
		retry = ans.TTL
	case errors.As(err, &re) && re.Code == CodeNXDomain:
		d.logf(directives.Err, "%s", re)
		d.set(nil)
		retry = DefaultErrorValid
		if r.Valid > 0 {
			retry = r.Valid
		}
	case errors.As(err, &re):
		d.logf(directives.Err, "%s", re)
		retry = r.Timeout
		if retry <= 0 {
			retry = DefaultResolverTimeout
		}
	default:
		return // stopped
	}
	d.timer = d.cfg.Clock.AfterFunc(max(retry, time.Second), d.tick)
}

// static returns the members the static entries stand for.
func (d *Discovery) static() []Member {
	var ms []Member
	for _, s := range d.cfg.Servers {
		switch {
		case s.Addr.Unix:
			ms = append(ms, Member{Addr: "unix:" + s.Addr.Path, Name: s.Addr.Path})
		case s.Addr.IP.IsValid():
			ms = append(ms, Member{Addr: netip.AddrPortFrom(s.Addr.IP, uint16(s.Addr.Port)).String(), Name: s.Addr.Host})
		default:
			for _, ip := range d.staticAddrs(s) {
				ms = append(ms, Member{Addr: netip.AddrPortFrom(ip, uint16(s.Addr.Port)).String(), Name: s.Addr.Host})
			}
		}
	}
	return ms
}

// staticAddrs are the addresses of a static name: those found when the
// configuration was read, or else the resolver's (the stream resolver,
// or the system's without one).
func (d *Discovery) staticAddrs(s directives.ZoneSyncServer) []netip.Addr {
	if len(s.Nodes) > 0 {
		var out []netip.Addr
		for _, n := range s.Nodes {
			out = append(out, n.Addr())
		}
		return out
	}
	if d.cfg.Resolver != nil {
		ans, err := d.cfg.Resolver.Lookup(d.ctx, s.Addr.Host)
		if err != nil {
			d.logf(directives.Err, "%s", err)
		}
		return ans.Addrs
	}
	ips, err := net.DefaultResolver.LookupNetIP(d.ctx, "ip", s.Addr.Host)
	if err != nil {
		d.logf(directives.Err, "%s", &ResolveError{Name: s.Addr.Host, Code: CodeNXDomain})
	}
	var v4, v6 []netip.Addr
	for _, ip := range ips {
		if ip = ip.Unmap(); ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	return append(v4, v6...)
}

// set makes ms the membership, leaving out this node and repeats, and
// reports the change. d.run is held.
func (d *Discovery) set(ms []Member) {
	local := d.cfg.LocalAddrs()
	seen := map[string]bool{}
	var next []Member
	for _, m := range ms {
		if seen[m.Addr] || IsSelfWith(m.Addr, d.cfg.Listen, local) {
			continue
		}
		seen[m.Addr] = true
		next = append(next, m)
	}
	d.state.Lock()
	prev := d.members
	d.members = next
	d.state.Unlock()
	var ch Change
	old := map[string]bool{}
	for _, m := range prev {
		old[m.Addr] = true
		if !seen[m.Addr] {
			ch.Removed = append(ch.Removed, m)
		}
	}
	for _, m := range next {
		if !old[m.Addr] {
			ch.Added = append(ch.Added, m)
		}
	}
	if len(ch.Added) == 0 && len(ch.Removed) == 0 {
		return
	}
	ch.Members = append([]Member(nil), next...)
	if d.cfg.OnChange != nil {
		d.cfg.OnChange(ch)
	}
}

func (d *Discovery) logf(s directives.Severity, format string, args ...any) {
	if d.cfg.Logf != nil {
		d.cfg.Logf(s, format, args...)
	}
}
