package api

import (
	"slices"
	"sort"
	"strconv"

	"github.com/zonesync/zonesync/runtime/zone"
)

// isoMillis is nginx's timestamp format: ISO 8601, UTC, milliseconds.
const isoMillis = "2006-01-02T15:04:05.000Z"

func getNginx(c *call) reply {
	n := c.api.node
	var gen int64
	if n.Generation != nil {
		gen = n.Generation()
	}
	load := c.api.started
	if n.LoadTime != nil {
		load = n.LoadTime()
	}
	return ok(object{
		{"version", n.Version},
		{"build", n.Build},
		{"address", c.localAddress()},
		{"generation", gen},
		{"load_timestamp", load.UTC().Format(isoMillis)},
		{"timestamp", c.api.clock().UTC().Format(isoMillis)},
		{"pid", n.PID},
		{"ppid", n.PPID},
	})
}

func getProcesses(c *call) reply {
	return ok(object{{"respawned", c.api.stats.Snapshot().Processes.Respawned}})
}

func connectionsObject(v Connections) object {
	return object{{"accepted", v.Accepted}, {"dropped", v.Dropped}, {"active", v.Active}, {"idle", v.Idle}}
}

func requestsObject(v Requests) object {
	return object{{"total", v.Total}, {"current", v.Current}}
}

func getConnections(c *call) reply {
	return ok(connectionsObject(c.api.stats.Snapshot().Connections))
}

func getHTTPRequests(c *call) reply {
	return ok(requestsObject(c.api.stats.Snapshot().HTTPRequests))
}

func sslObject(v SSL) object {
	f := v.VerifyFailures
	return object{
		{"handshakes", v.Handshakes},
		{"handshakes_failed", v.HandshakesFailed},
		{"session_reuses", v.SessionReuses},
		{"no_common_protocol", v.NoCommonProtocol},
		{"no_common_cipher", v.NoCommonCipher},
		{"handshake_timeout", v.HandshakeTimeout},
		{"peer_rejected_cert", v.PeerRejectedCert},
		{"verify_failures", object{
			{"no_cert", f.NoCert},
			{"expired_cert", f.ExpiredCert},
			{"revoked_cert", f.RevokedCert},
			{"hostname_mismatch", f.HostnameMismatch},
			{"other", f.Other},
		}},
	}
}

func getSSL(c *call) reply { return ok(sslObject(c.api.stats.Snapshot().SSL)) }

// responsesObject is the "responses" of server and location zones.
func responsesObject(r Responses) object {
	var classes [6]int64
	codes := make([]int, 0, len(r.Codes))
	for code, n := range r.Codes {
		if code >= 100 && code < 600 {
			classes[code/100] += n
			codes = append(codes, code)
		}
	}
	sort.Ints(codes)
	byCode := object{}
	for _, code := range codes {
		byCode = append(byCode, member{strconv.Itoa(code), r.Codes[code]})
	}
	return object{
		{"1xx", classes[1]}, {"2xx", classes[2]}, {"3xx", classes[3]}, {"4xx", classes[4]}, {"5xx", classes[5]},
		{"codes", byCode},
		{"total", r.Total},
	}
}

func serverZoneObject(z ServerZone) object {
	return object{
		{"processing", z.Processing},
		{"requests", z.Requests},
		{"responses", responsesObject(z.Responses)},
		{"discarded", z.Discarded},
		{"received", z.Received},
		{"sent", z.Sent},
		{"ssl", sslObject(z.SSL)},
	}
}

func locationZoneObject(z LocationZone) object {
	return object{
		{"requests", z.Requests},
		{"responses", responsesObject(z.Responses)},
		{"discarded", z.Discarded},
		{"received", z.Received},
		{"sent", z.Sent},
	}
}

func streamServerZoneObject(z StreamServerZone) object {
	return object{
		{"processing", z.Processing},
		{"connections", z.Connections},
		{"sessions", object{{"2xx", z.Sessions.S2xx}, {"4xx", z.Sessions.S4xx}, {"5xx", z.Sessions.S5xx},
			{"total", z.Sessions.Total}}},
		{"discarded", z.Discarded},
		{"received", z.Received},
		{"sent", z.Sent},
		{"ssl", sslObject(z.SSL)},
	}
}

func limitConnObject(z LimitConn) object {
	return object{{"passed", z.Passed}, {"rejected", z.Rejected}, {"rejected_dry_run", z.RejectedDryRun}}
}

func limitReqObject(z LimitReq) object {
	return object{{"passed", z.Passed}, {"delayed", z.Delayed}, {"rejected", z.Rejected},
		{"delayed_dry_run", z.DelayedDryRun}, {"rejected_dry_run", z.RejectedDryRun}}
}

func resolverObject(z Resolver) object {
	q, r := z.Requests, z.Responses
	return object{
		{"requests", object{{"name", q.Name}, {"srv", q.Srv}, {"addr", q.Addr}}},
		{"responses", object{{"noerror", r.Noerror}, {"formerr", r.Formerr}, {"servfail", r.Servfail},
			{"nxdomain", r.Nxdomain}, {"notimp", r.Notimp}, {"refused", r.Refused}, {"timedout", r.Timedout},
			{"unknown", r.Unknown}}},
	}
}

// zoneMap builds a map of zones in their order; zoneOne finds one.
func zoneMap[T any](zs []T, name func(T) string, obj func(T) object) object {
	out := object{}
	seen := map[string]bool{}
	for _, z := range zs {
		if n := name(z); !seen[n] {
			seen[n] = true
			out = append(out, member{n, obj(z)})
		}
	}
	return out
}

func zoneOne[T any](zs []T, name func(T) string, want string) (T, bool) {
	for _, z := range zs {
		if name(z) == want {
			return z, true
		}
	}
	var zero T
	return zero, false
}

func serverZoneName(z ServerZone) string       { return z.Name }
func locationZoneName(z LocationZone) string   { return z.Name }
func streamZoneName(z StreamServerZone) string { return z.Name }
func limitConnName(z LimitConn) string         { return z.Name }
func resolverName(z Resolver) string           { return z.Name }

func getServerZones(c *call) reply {
	return ok(zoneMap(c.api.stats.Snapshot().HTTPServerZones, serverZoneName, serverZoneObject))
}

func getServerZone(c *call) reply {
	z, found := zoneOne(c.api.stats.Snapshot().HTTPServerZones, serverZoneName, c.params[0])
	if !found {
		return fail(errServerZoneNotFound)
	}
	return ok(serverZoneObject(z))
}

func deleteServerZone(c *call) reply {
	return c.resetZone(SectionHTTPServerZone, errServerZoneNotFound)
}

func getLocationZones(c *call) reply {
	return ok(zoneMap(c.api.stats.Snapshot().HTTPLocationZones, locationZoneName, locationZoneObject))
}

func getLocationZone(c *call) reply {
	z, found := zoneOne(c.api.stats.Snapshot().HTTPLocationZones, locationZoneName, c.params[0])
	if !found {
		return fail(errLocationZoneNotFound)
	}
	return ok(locationZoneObject(z))
}

func deleteLocationZone(c *call) reply {
	return c.resetZone(SectionHTTPLocationZone, errLocationZoneNotFound)
}

func getStreamServerZones(c *call) reply {
	return ok(zoneMap(c.api.stats.Snapshot().StreamServerZones, streamZoneName, streamServerZoneObject))
}

func getStreamServerZone(c *call) reply {
	z, found := zoneOne(c.api.stats.Snapshot().StreamServerZones, streamZoneName, c.params[0])
	if !found {
		return fail(errServerZoneNotFound)
	}
	return ok(streamServerZoneObject(z))
}

func deleteStreamServerZone(c *call) reply {
	return c.resetZone(SectionStreamServerZone, errServerZoneNotFound)
}

func getHTTPLimitConns(c *call) reply {
	return ok(zoneMap(c.api.stats.Snapshot().HTTPLimitConns, limitConnName, limitConnObject))
}

func getHTTPLimitConn(c *call) reply {
	z, found := zoneOne(c.api.stats.Snapshot().HTTPLimitConns, limitConnName, c.params[0])
	if !found {
		return fail(errLimitConnNotFound)
	}
	return ok(limitConnObject(z))
}

func deleteHTTPLimitConn(c *call) reply {
	return c.resetZone(SectionHTTPLimitConn, errLimitConnNotFound)
}

func getStreamLimitConns(c *call) reply {
	return ok(zoneMap(c.api.stats.Snapshot().StreamLimitConns, limitConnName, limitConnObject))
}

func getStreamLimitConn(c *call) reply {
	z, found := zoneOne(c.api.stats.Snapshot().StreamLimitConns, limitConnName, c.params[0])
	if !found {
		return fail(errLimitConnNotFound)
	}
	return ok(limitConnObject(z))
}

func deleteStreamLimitConn(c *call) reply {
	return c.resetZone(SectionStreamLimitConn, errLimitConnNotFound)
}

func getResolvers(c *call) reply {
	return ok(zoneMap(c.api.stats.Snapshot().Resolvers, resolverName, resolverObject))
}

func getResolver(c *call) reply {
	z, found := zoneOne(c.api.stats.Snapshot().Resolvers, resolverName, c.params[0])
	if !found {
		return fail(errResolverNotFound)
	}
	return ok(resolverObject(z))
}

func deleteResolver(c *call) reply { return c.resetZone(SectionResolver, errResolverNotFound) }

// resetZone is the DELETE of a per-zone counter section.
func (c *call) resetZone(s Section, missing *apiError) reply {
	if !c.api.stats.Reset(s, c.params[0]) {
		return fail(missing)
	}
	return noContent()
}

// limit_req zones come from the Registry; their counters from Stats.

func (c *call) limitReqZones() []string {
	var out []string
	for _, s := range c.api.reg.LimitReqs() {
		if s != nil && !slices.Contains(out, s.Name()) {
			out = append(out, s.Name())
		}
	}
	return out
}

func (c *call) limitReqCounters() map[string]LimitReq {
	m := map[string]LimitReq{}
	for _, z := range c.api.stats.Snapshot().HTTPLimitReqs {
		m[z.Name] = z
	}
	return m
}

func getLimitReqs(c *call) reply {
	counters := c.limitReqCounters()
	out := object{}
	for _, n := range c.limitReqZones() {
		out = append(out, member{n, limitReqObject(counters[n])})
	}
	return ok(out)
}

func getLimitReq(c *call) reply {
	name := c.params[0]
	if !slices.Contains(c.limitReqZones(), name) {
		return fail(errLimitReqNotFound)
	}
	return ok(limitReqObject(c.limitReqCounters()[name]))
}

func deleteLimitReq(c *call) reply {
	name := c.params[0]
	if !slices.Contains(c.limitReqZones(), name) {
		return fail(errLimitReqNotFound)
	}
	c.api.stats.Reset(SectionHTTPLimitReq, name)
	return noContent()
}

// Slabs: every zone the Registry knows is a shared memory zone with a slab
// allocator.

// slabZones lists the zones by name: http keyvals, stream keyvals, then
// limit_req zones; a name is listed once (nginx's zone names are unique).
func (c *call) slabZones() []*zone.Store {
	var out []*zone.Store
	seen := map[string]bool{}
	add := func(ss []*zone.Store) {
		for _, s := range ss {
			if s != nil && !seen[s.Name()] {
				seen[s.Name()] = true
				out = append(out, s)
			}
		}
	}
	add(c.api.reg.Keyvals(false))
	add(c.api.reg.Keyvals(true))
	add(c.api.reg.LimitReqs())
	return out
}

// pager and slotter are what a store may implement to report its memory in
// nginx's slab shape; without them the zone shows zero pages and no slots.
type pager interface{ Pages() (used, free int) }
type slotter interface {
	EachSlot(fn func(size, used, free, reqs, fails int64))
}

func slabObject(s *zone.Store) object {
	var used, free int
	if p, isPager := any(s).(pager); isPager {
		used, free = p.Pages()
	}
	slots := object{}
	if sl, isSlotter := any(s).(slotter); isSlotter {
		sl.EachSlot(func(size, u, f, reqs, fails int64) {
			slots = append(slots, member{strconv.FormatInt(size, 10),
				object{{"used", u}, {"free", f}, {"reqs", reqs}, {"fails", fails}}})
		})
	}
	return object{{"pages", object{{"used", used}, {"free", free}}}, {"slots", slots}}
}

func getSlabs(c *call) reply {
	out := object{}
	for _, s := range c.slabZones() {
		out = append(out, member{s.Name(), slabObject(s)})
	}
	return ok(out)
}

func (c *call) slab() *zone.Store {
	for _, s := range c.slabZones() {
		if s.Name() == c.params[0] {
			return s
		}
	}
	return nil
}

func getSlab(c *call) reply {
	s := c.slab()
	if s == nil {
		return fail(errSlabNotFound)
	}
	return ok(slabObject(s))
}

// deleteSlab resets reqs and fails; the stores keep none, so it only
// checks that the zone exists.
func deleteSlab(c *call) reply {
	if c.slab() == nil {
		return fail(errSlabNotFound)
	}
	return noContent()
}

// getZoneSync is /stream/zone_sync/ with the fields in NGINX Plus's order.
// Zones come in the Registry's order (http keyvals, limit_req zones, stream
// keyvals), then any other synced zone (sticky) by name.
func getZoneSync(c *call) reply {
	st := c.api.zoneSyncStatus()
	if st == nil {
		return fail(errPathNotFound)
	}
	zones := object{}
	seen := map[string]bool{}
	add := func(name string) {
		z, in := st.Zones[name]
		if !in || seen[name] {
			return
		}
		seen[name] = true
		zones = append(zones, member{name, object{{"records_pending", z.RecordsPending}, {"records_total", z.RecordsTotal}}})
	}
	for _, group := range [][]*zone.Store{c.api.reg.Keyvals(false), c.api.reg.LimitReqs(), c.api.reg.Keyvals(true)} {
		for _, s := range group {
			if s != nil {
				add(s.Name())
			}
		}
	}
	rest := make([]string, 0, len(st.Zones))
	for name := range st.Zones {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		add(name)
	}
	return ok(object{
		{"zones", zones},
		{"status", object{
			{"bytes_in", st.BytesIn},
			{"msgs_in", st.MsgsIn},
			{"msgs_out", st.MsgsOut},
			{"bytes_out", st.BytesOut},
			{"nodes_online", st.NodesOnline},
		}},
	})
}

// Workers: zonesync serves from one process, shown as worker 0.

func (c *call) workerObject() object {
	s := c.api.stats.Snapshot()
	return object{
		{"id", 0},
		{"pid", c.api.node.PID},
		{"connections", connectionsObject(s.Connections)},
		{"http", object{{"requests", requestsObject(s.HTTPRequests)}}},
	}
}

func getWorkers(c *call) reply { return ok([]any{c.workerObject()}) }

func getWorker(c *call) reply {
	if c.params[0] != "0" {
		return fail(errWorkerNotFound)
	}
	return ok(c.workerObject())
}

func deleteWorker(c *call) reply {
	if c.params[0] != "0" {
		return fail(errWorkerNotFound)
	}
	c.api.stats.Reset(SectionWorkers, "")
	return noContent()
}
