package api

import (
	"sync"
	"sync/atomic"
)

// Stats is what the server cores feed and the API reads: the counters of
// the status endpoints. Counters is a ready implementation the cores can
// update directly; a nil Deps.Stats gives an empty Counters, so every
// endpoint answers with zeros and empty maps.
type Stats interface {
	// Snapshot returns the current values. Zones are listed in the order
	// they were registered (configuration order).
	Snapshot() Snapshot
	// Reset clears the resettable counters of a section, as the DELETE
	// methods of the API do; zone names the zone for per-zone sections. It
	// reports whether the zone exists.
	Reset(s Section, zone string) bool
}

// Section names a group of counters for Stats.Reset.
type Section int

const (
	SectionProcesses        Section = iota // DELETE /processes
	SectionConnections                     // DELETE /connections: accepted, dropped
	SectionHTTPRequests                    // DELETE /http/requests: total
	SectionSSL                             // DELETE /ssl
	SectionWorkers                         // DELETE /workers/: the connections and requests of the worker
	SectionHTTPServerZone                  // DELETE /http/server_zones/{zone}
	SectionHTTPLocationZone                // DELETE /http/location_zones/{zone}
	SectionStreamServerZone                // DELETE /stream/server_zones/{zone}
	SectionHTTPLimitConn                   // DELETE /http/limit_conns/{zone}
	SectionStreamLimitConn                 // DELETE /stream/limit_conns/{zone}
	SectionHTTPLimitReq                    // DELETE /http/limit_reqs/{zone}
	SectionResolver                        // DELETE /resolvers/{zone}
)

// Snapshot holds the values of every counter.
type Snapshot struct {
	Processes         Processes
	Connections       Connections
	HTTPRequests      Requests
	SSL               SSL
	HTTPServerZones   []ServerZone
	HTTPLocationZones []LocationZone
	StreamServerZones []StreamServerZone
	HTTPLimitConns    []LimitConn
	StreamLimitConns  []LimitConn
	HTTPLimitReqs     []LimitReq // the API lists the limit_req zones of the Registry; these give their counters
	Resolvers         []Resolver
}

// Processes is /processes.
type Processes struct{ Respawned int64 }

// Connections is /connections (and a worker's connections).
type Connections struct{ Accepted, Dropped, Active, Idle int64 }

// Requests is /http/requests (and a worker's requests).
type Requests struct{ Total, Current int64 }

// SSL is /ssl and the ssl object of server zones.
type SSL struct {
	Handshakes, HandshakesFailed, SessionReuses        int64
	NoCommonProtocol, NoCommonCipher, HandshakeTimeout int64
	PeerRejectedCert                                   int64
	VerifyFailures                                     VerifyFailures
}

// VerifyFailures are the certificate verification errors of SSL.
type VerifyFailures struct{ NoCert, ExpiredCert, RevokedCert, HostnameMismatch, Other int64 }

// Responses counts responses by status code.
type Responses struct {
	Codes map[int]int64 // status code (100..599) to count
	Total int64
}

// ServerZone is one http status_zone of a server.
type ServerZone struct {
	Name                      string
	Processing, Requests      int64
	Responses                 Responses
	Discarded, Received, Sent int64
	SSL                       SSL
}

// LocationZone is one http status_zone of a location.
type LocationZone struct {
	Name                      string
	Requests                  int64
	Responses                 Responses
	Discarded, Received, Sent int64
}

// StreamServerZone is one stream status_zone.
type StreamServerZone struct {
	Name                      string
	Processing, Connections   int64
	Sessions                  Sessions
	Discarded, Received, Sent int64
	SSL                       SSL
}

// Sessions counts stream sessions by status class.
type Sessions struct{ S2xx, S4xx, S5xx, Total int64 }

// LimitConn is one limit_conn zone (http or stream).
type LimitConn struct {
	Name                             string
	Passed, Rejected, RejectedDryRun int64
}

// LimitReq is one limit_req zone's counters, fed by the http core.
type LimitReq struct {
	Name                                                     string
	Passed, Delayed, Rejected, DelayedDryRun, RejectedDryRun int64
}

// Resolver is one resolver status_zone.
type Resolver struct {
	Name      string
	Requests  ResolverRequests
	Responses ResolverResponses
}

// ResolverRequests counts DNS requests by kind.
type ResolverRequests struct{ Name, Srv, Addr int64 }

// ResolverResponses counts DNS responses by result.
type ResolverResponses struct {
	Noerror, Formerr, Servfail, Nxdomain, Notimp, Refused, Timedout, Unknown int64
}

// Counters implements Stats with atomic counters. The cores register the
// zones at start-up in configuration order (HTTPServerZone(name) and the
// like create them) and keep the returned pointers; updates are single
// atomic adds.
type Counters struct {
	Processes    struct{ Respawned atomic.Int64 }
	Connections  ConnectionCounters
	HTTPRequests RequestCounters
	SSL          SSLCounters

	httpServer   registry[ServerZoneCounters]
	httpLocation registry[LocationZoneCounters]
	streamServer registry[StreamServerZoneCounters]
	httpConn     registry[LimitConnCounters]
	streamConn   registry[LimitConnCounters]
	limitReq     registry[LimitReqCounters]
	resolver     registry[ResolverCounters]
}

// NewCounters returns counters with no zones.
func NewCounters() *Counters { return &Counters{} }

// HTTPServerZone returns the counters of an http server status_zone,
// creating them on first use.
func (c *Counters) HTTPServerZone(name string) *ServerZoneCounters { return c.httpServer.get(name) }

// HTTPLocationZone returns the counters of an http location status_zone.
func (c *Counters) HTTPLocationZone(name string) *LocationZoneCounters {
	return c.httpLocation.get(name)
}

// StreamServerZone returns the counters of a stream status_zone.
func (c *Counters) StreamServerZone(name string) *StreamServerZoneCounters {
	return c.streamServer.get(name)
}

// HTTPLimitConn returns the counters of an http limit_conn zone.
func (c *Counters) HTTPLimitConn(name string) *LimitConnCounters { return c.httpConn.get(name) }

// StreamLimitConn returns the counters of a stream limit_conn zone.
func (c *Counters) StreamLimitConn(name string) *LimitConnCounters { return c.streamConn.get(name) }

// LimitReq returns the counters of a limit_req zone; the http core adds
// one to Passed, Delayed or Rejected (or their dry-run twins) per request
// the zone accounts.
func (c *Counters) LimitReq(name string) *LimitReqCounters { return c.limitReq.get(name) }

// Resolver returns the counters of a resolver status_zone.
func (c *Counters) Resolver(name string) *ResolverCounters { return c.resolver.get(name) }

// Snapshot implements Stats.
func (c *Counters) Snapshot() Snapshot {
	s := Snapshot{
		Processes:    Processes{Respawned: c.Processes.Respawned.Load()},
		Connections:  c.Connections.load(),
		HTTPRequests: c.HTTPRequests.load(),
		SSL:          c.SSL.load(),
	}
	c.httpServer.each(func(n string, z *ServerZoneCounters) { s.HTTPServerZones = append(s.HTTPServerZones, z.load(n)) })
	c.httpLocation.each(func(n string, z *LocationZoneCounters) {
		s.HTTPLocationZones = append(s.HTTPLocationZones, z.load(n))
	})
	c.streamServer.each(func(n string, z *StreamServerZoneCounters) {
		s.StreamServerZones = append(s.StreamServerZones, z.load(n))
	})
	c.httpConn.each(func(n string, z *LimitConnCounters) { s.HTTPLimitConns = append(s.HTTPLimitConns, z.load(n)) })
	c.streamConn.each(func(n string, z *LimitConnCounters) { s.StreamLimitConns = append(s.StreamLimitConns, z.load(n)) })
	c.limitReq.each(func(n string, z *LimitReqCounters) { s.HTTPLimitReqs = append(s.HTTPLimitReqs, z.load(n)) })
	c.resolver.each(func(n string, z *ResolverCounters) { s.Resolvers = append(s.Resolvers, z.load(n)) })
	return s
}

// Reset implements Stats.
func (c *Counters) Reset(s Section, zone string) bool {
	switch s {
	case SectionProcesses:
		c.Processes.Respawned.Store(0)
	case SectionConnections:
		c.Connections.reset()
	case SectionHTTPRequests:
		c.HTTPRequests.Total.Store(0)
	case SectionSSL:
		c.SSL.reset()
	case SectionWorkers:
		c.Connections.reset()
		c.HTTPRequests.Total.Store(0)
	case SectionHTTPServerZone:
		return resetIn(&c.httpServer, zone)
	case SectionHTTPLocationZone:
		return resetIn(&c.httpLocation, zone)
	case SectionStreamServerZone:
		return resetIn(&c.streamServer, zone)
	case SectionHTTPLimitConn:
		return resetIn(&c.httpConn, zone)
	case SectionStreamLimitConn:
		return resetIn(&c.streamConn, zone)
	case SectionHTTPLimitReq:
		return resetIn(&c.limitReq, zone)
	case SectionResolver:
		return resetIn(&c.resolver, zone)
	default:
		return false
	}
	return true
}

type resetter interface{ reset() }

func resetIn[T any, P interface {
	*T
	resetter
}](r *registry[T], name string) bool {
	z := r.lookup(name)
	if z == nil {
		return false
	}
	P(z).reset()
	return true
}

// registry keeps named counters in registration order.
type registry[T any] struct {
	mu     sync.RWMutex
	names  []string
	byName map[string]*T
}

func (r *registry[T]) get(name string) *T {
	r.mu.RLock()
	z := r.byName[name]
	r.mu.RUnlock()
	if z != nil {
		return z
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if z = r.byName[name]; z == nil {
		if r.byName == nil {
			r.byName = map[string]*T{}
		}
		z = new(T)
		r.byName[name] = z
		r.names = append(r.names, name)
	}
	return z
}

func (r *registry[T]) lookup(name string) *T {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byName[name]
}

func (r *registry[T]) each(fn func(string, *T)) {
	r.mu.RLock()
	names := r.names
	zs := make([]*T, len(names))
	for i, n := range names {
		zs[i] = r.byName[n]
	}
	r.mu.RUnlock()
	for i, n := range names {
		fn(n, zs[i])
	}
}

// ConnectionCounters feed /connections.
type ConnectionCounters struct{ Accepted, Dropped, Active, Idle atomic.Int64 }

func (c *ConnectionCounters) load() Connections {
	return Connections{c.Accepted.Load(), c.Dropped.Load(), c.Active.Load(), c.Idle.Load()}
}

// reset clears the totals; active and idle are current values.
func (c *ConnectionCounters) reset() {
	c.Accepted.Store(0)
	c.Dropped.Store(0)
}

// RequestCounters feed /http/requests.
type RequestCounters struct{ Total, Current atomic.Int64 }

func (c *RequestCounters) load() Requests { return Requests{c.Total.Load(), c.Current.Load()} }

// SSLCounters feed /ssl and the ssl objects of server zones.
type SSLCounters struct {
	Handshakes, HandshakesFailed, SessionReuses        atomic.Int64
	NoCommonProtocol, NoCommonCipher, HandshakeTimeout atomic.Int64
	PeerRejectedCert                                   atomic.Int64
	VerifyNoCert, VerifyExpiredCert, VerifyRevokedCert atomic.Int64
	VerifyHostnameMismatch, VerifyOther                atomic.Int64
}

func (c *SSLCounters) all() []*atomic.Int64 {
	return []*atomic.Int64{&c.Handshakes, &c.HandshakesFailed, &c.SessionReuses, &c.NoCommonProtocol,
		&c.NoCommonCipher, &c.HandshakeTimeout, &c.PeerRejectedCert, &c.VerifyNoCert, &c.VerifyExpiredCert,
		&c.VerifyRevokedCert, &c.VerifyHostnameMismatch, &c.VerifyOther}
}

func (c *SSLCounters) load() SSL {
	return SSL{
		Handshakes: c.Handshakes.Load(), HandshakesFailed: c.HandshakesFailed.Load(),
		SessionReuses: c.SessionReuses.Load(), NoCommonProtocol: c.NoCommonProtocol.Load(),
		NoCommonCipher: c.NoCommonCipher.Load(), HandshakeTimeout: c.HandshakeTimeout.Load(),
		PeerRejectedCert: c.PeerRejectedCert.Load(),
		VerifyFailures: VerifyFailures{
			NoCert: c.VerifyNoCert.Load(), ExpiredCert: c.VerifyExpiredCert.Load(),
			RevokedCert: c.VerifyRevokedCert.Load(), HostnameMismatch: c.VerifyHostnameMismatch.Load(),
			Other: c.VerifyOther.Load(),
		},
	}
}

func (c *SSLCounters) reset() {
	for _, a := range c.all() {
		a.Store(0)
	}
}

// ResponseCounters count responses by status code.
type ResponseCounters struct {
	codes [600]atomic.Int64
	total atomic.Int64
}

// Record counts one response with the given status.
func (c *ResponseCounters) Record(status int) {
	if status >= 100 && status < 600 {
		c.codes[status].Add(1)
	}
	c.total.Add(1)
}

func (c *ResponseCounters) load() Responses {
	r := Responses{Codes: map[int]int64{}, Total: c.total.Load()}
	for i := 100; i < 600; i++ {
		if n := c.codes[i].Load(); n != 0 {
			r.Codes[i] = n
		}
	}
	return r
}

func (c *ResponseCounters) reset() {
	for i := range c.codes {
		c.codes[i].Store(0)
	}
	c.total.Store(0)
}

// ServerZoneCounters feed one http server zone.
type ServerZoneCounters struct {
	Processing, Requests, Discarded, Received, Sent atomic.Int64
	Responses                                       ResponseCounters
	SSL                                             SSLCounters
}

func (c *ServerZoneCounters) load(name string) ServerZone {
	return ServerZone{Name: name, Processing: c.Processing.Load(), Requests: c.Requests.Load(),
		Responses: c.Responses.load(), Discarded: c.Discarded.Load(), Received: c.Received.Load(),
		Sent: c.Sent.Load(), SSL: c.SSL.load()}
}

func (c *ServerZoneCounters) reset() {
	for _, a := range []*atomic.Int64{&c.Requests, &c.Discarded, &c.Received, &c.Sent} {
		a.Store(0)
	}
	c.Responses.reset()
	c.SSL.reset()
}

// LocationZoneCounters feed one http location zone.
type LocationZoneCounters struct {
	Requests, Discarded, Received, Sent atomic.Int64
	Responses                           ResponseCounters
}

func (c *LocationZoneCounters) load(name string) LocationZone {
	return LocationZone{Name: name, Requests: c.Requests.Load(), Responses: c.Responses.load(),
		Discarded: c.Discarded.Load(), Received: c.Received.Load(), Sent: c.Sent.Load()}
}

func (c *LocationZoneCounters) reset() {
	for _, a := range []*atomic.Int64{&c.Requests, &c.Discarded, &c.Received, &c.Sent} {
		a.Store(0)
	}
	c.Responses.reset()
}

// StreamServerZoneCounters feed one stream server zone.
type StreamServerZoneCounters struct {
	Processing, Connections, Discarded, Received, Sent atomic.Int64
	S2xx, S4xx, S5xx, SessionsTotal                    atomic.Int64
	SSL                                                SSLCounters
}

// RecordSession counts a finished session by its status (200, 400, 403,
// 500, 502, 503 as nginx's $status in stream).
func (c *StreamServerZoneCounters) RecordSession(status int) {
	switch status / 100 {
	case 2:
		c.S2xx.Add(1)
	case 4:
		c.S4xx.Add(1)
	case 5:
		c.S5xx.Add(1)
	}
	c.SessionsTotal.Add(1)
}

func (c *StreamServerZoneCounters) load(name string) StreamServerZone {
	return StreamServerZone{Name: name, Processing: c.Processing.Load(), Connections: c.Connections.Load(),
		Sessions:  Sessions{c.S2xx.Load(), c.S4xx.Load(), c.S5xx.Load(), c.SessionsTotal.Load()},
		Discarded: c.Discarded.Load(), Received: c.Received.Load(), Sent: c.Sent.Load(), SSL: c.SSL.load()}
}

func (c *StreamServerZoneCounters) reset() {
	for _, a := range []*atomic.Int64{&c.Connections, &c.Discarded, &c.Received, &c.Sent,
		&c.S2xx, &c.S4xx, &c.S5xx, &c.SessionsTotal} {
		a.Store(0)
	}
	c.SSL.reset()
}

// LimitConnCounters feed one limit_conn zone.
type LimitConnCounters struct{ Passed, Rejected, RejectedDryRun atomic.Int64 }

func (c *LimitConnCounters) load(name string) LimitConn {
	return LimitConn{name, c.Passed.Load(), c.Rejected.Load(), c.RejectedDryRun.Load()}
}

func (c *LimitConnCounters) reset() {
	c.Passed.Store(0)
	c.Rejected.Store(0)
	c.RejectedDryRun.Store(0)
}

// LimitReqCounters feed one limit_req zone.
type LimitReqCounters struct {
	Passed, Delayed, Rejected, DelayedDryRun, RejectedDryRun atomic.Int64
}

func (c *LimitReqCounters) load(name string) LimitReq {
	return LimitReq{name, c.Passed.Load(), c.Delayed.Load(), c.Rejected.Load(),
		c.DelayedDryRun.Load(), c.RejectedDryRun.Load()}
}

func (c *LimitReqCounters) reset() {
	for _, a := range []*atomic.Int64{&c.Passed, &c.Delayed, &c.Rejected, &c.DelayedDryRun, &c.RejectedDryRun} {
		a.Store(0)
	}
}

// ResolverCounters feed one resolver zone.
type ResolverCounters struct {
	Name, Srv, Addr                                                          atomic.Int64
	Noerror, Formerr, Servfail, Nxdomain, Notimp, Refused, Timedout, Unknown atomic.Int64
}

func (c *ResolverCounters) all() []*atomic.Int64 {
	return []*atomic.Int64{&c.Name, &c.Srv, &c.Addr, &c.Noerror, &c.Formerr, &c.Servfail, &c.Nxdomain,
		&c.Notimp, &c.Refused, &c.Timedout, &c.Unknown}
}

func (c *ResolverCounters) load(name string) Resolver {
	return Resolver{Name: name,
		Requests: ResolverRequests{c.Name.Load(), c.Srv.Load(), c.Addr.Load()},
		Responses: ResolverResponses{c.Noerror.Load(), c.Formerr.Load(), c.Servfail.Load(), c.Nxdomain.Load(),
			c.Notimp.Load(), c.Refused.Load(), c.Timedout.Load(), c.Unknown.Load()}}
}

func (c *ResolverCounters) reset() {
	for _, a := range c.all() {
		a.Store(0)
	}
}
