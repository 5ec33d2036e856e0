package api

import (
	"strings"
)

// route is one API endpoint: its path after the version ("*" matches one
// segment, the zone name), the API version that added it, and its methods.
type route struct {
	path   string
	since  int
	fields fieldsMode
	get    func(*call) reply
	post   func(*call) reply
	patch  func(*call) reply
	del    func(*call) reply
}

// allow lists the route's methods for the Allow header.
func (rt *route) allow() string {
	var m []string
	if rt.get != nil {
		m = append(m, "GET", "HEAD")
	}
	if rt.post != nil {
		m = append(m, "POST")
	}
	if rt.patch != nil {
		m = append(m, "PATCH")
	}
	if rt.del != nil {
		m = append(m, "DELETE")
	}
	return strings.Join(m, ", ")
}

// routes is the API, in the order of the swagger. Versions follow the
// compatibility notes of the api module: keyvals for stream in 2,
// zone_sync in 3, location zones and resolvers in 5, limit_conns and
// limit_reqs in 6, workers in 9.
var routes []route

func init() {
	routes = []route{
		{path: "", since: 1, get: getRoot},
		{path: "nginx", since: 1, fields: fieldsTop, get: getNginx},
		{path: "processes", since: 1, fields: fieldsTop, get: getProcesses, del: resetSection(SectionProcesses)},
		{path: "connections", since: 1, fields: fieldsTop, get: getConnections, del: resetSection(SectionConnections)},
		{path: "slabs", since: 1, fields: fieldsMembers, get: getSlabs},
		{path: "slabs/*", since: 1, fields: fieldsTop, get: getSlab, del: deleteSlab},
		{path: "http", since: 1, get: getHTTP},
		{path: "http/requests", since: 1, fields: fieldsTop, get: getHTTPRequests, del: resetSection(SectionHTTPRequests)},
		{path: "http/server_zones", since: 1, fields: fieldsMembers, get: getServerZones},
		{path: "http/server_zones/*", since: 1, fields: fieldsTop, get: getServerZone, del: deleteServerZone},
		{path: "http/location_zones", since: 5, fields: fieldsMembers, get: getLocationZones},
		{path: "http/location_zones/*", since: 5, fields: fieldsTop, get: getLocationZone, del: deleteLocationZone},
		{path: "http/caches", since: 1, fields: fieldsMembers, get: emptyMap},
		{path: "http/caches/*", since: 1, get: notFound(errCacheNotFound), del: notFound(errCacheNotFound)},
		{path: "http/limit_conns", since: 6, fields: fieldsMembers, get: getHTTPLimitConns},
		{path: "http/limit_conns/*", since: 6, fields: fieldsTop, get: getHTTPLimitConn, del: deleteHTTPLimitConn},
		{path: "http/limit_reqs", since: 6, fields: fieldsMembers, get: getLimitReqs},
		{path: "http/limit_reqs/*", since: 6, fields: fieldsTop, get: getLimitReq, del: deleteLimitReq},
		{path: "http/keyvals", since: 1, get: getKeyvals(false)}, // getKeyvals applies ?fields= to keys,
		{path: "http/keyvals/*", since: 1, get: getKeyval(false), post: postKeyval(false),
			patch: patchKeyval(false), del: deleteKeyval(false)},
		{path: "http/upstreams", since: 1, fields: fieldsMembers, get: emptyMap},
		{path: "http/upstreams/*", since: 1, get: upstreamNotFound, del: upstreamNotFound},
		{path: "http/upstreams/*/servers", since: 1, get: upstreamNotFound, post: upstreamNotFound},
		{path: "http/upstreams/*/servers/*", since: 1, get: upstreamNotFound, patch: upstreamNotFound,
			del: upstreamNotFound},
		{path: "stream", since: 1, get: getStream},
		{path: "stream/server_zones", since: 1, fields: fieldsMembers, get: getStreamServerZones},
		{path: "stream/server_zones/*", since: 1, fields: fieldsTop, get: getStreamServerZone,
			del: deleteStreamServerZone},
		{path: "stream/limit_conns", since: 6, fields: fieldsMembers, get: getStreamLimitConns},
		{path: "stream/limit_conns/*", since: 6, fields: fieldsTop, get: getStreamLimitConn,
			del: deleteStreamLimitConn},
		{path: "stream/keyvals", since: 2, get: getKeyvals(true)},
		{path: "stream/keyvals/*", since: 2, get: getKeyval(true), post: postKeyval(true),
			patch: patchKeyval(true), del: deleteKeyval(true)},
		{path: "stream/upstreams", since: 1, fields: fieldsMembers, get: emptyMap},
		{path: "stream/upstreams/*", since: 1, get: upstreamNotFound, del: upstreamNotFound},
		{path: "stream/upstreams/*/servers", since: 1, get: upstreamNotFound, post: upstreamNotFound},
		{path: "stream/upstreams/*/servers/*", since: 1, get: upstreamNotFound, patch: upstreamNotFound,
			del: upstreamNotFound},
		{path: "stream/zone_sync", since: 3, get: getZoneSync},
		{path: "resolvers", since: 5, fields: fieldsMembers, get: getResolvers},
		{path: "resolvers/*", since: 5, fields: fieldsTop, get: getResolver, del: deleteResolver},
		{path: "ssl", since: 1, fields: fieldsTop, get: getSSL, del: resetSection(SectionSSL)},
		{path: "workers", since: 9, fields: fieldsMembers, get: getWorkers, del: resetSection(SectionWorkers)},
		{path: "workers/*", since: 9, fields: fieldsTop, get: getWorker, del: deleteWorker},
	}
}

// listing is a first-level endpoint list (GET /9/, /9/http/, /9/stream/).
type listing struct {
	name  string
	since int
}

var (
	rootList   = []listing{{"nginx", 1}, {"processes", 1}, {"connections", 1}, {"slabs", 1}, {"http", 1}, {"stream", 1}, {"resolvers", 5}, {"ssl", 1}, {"workers", 9}}
	httpList   = []listing{{"requests", 1}, {"server_zones", 1}, {"location_zones", 5}, {"caches", 1}, {"limit_conns", 6}, {"limit_reqs", 6}, {"keyvals", 1}, {"upstreams", 1}}
	streamList = []listing{{"server_zones", 1}, {"keyvals", 2}, {"upstreams", 1}, {"limit_conns", 6}, {"zone_sync", 3}}
)

// match finds the route of the segments after the version.
func (a *API) match(segs []string, v int) (*route, []string) {
	if len(segs) > 0 && segs[0] == "stream" && !a.hasStream() {
		return nil, nil
	}
	if len(segs) >= 2 && segs[0] == "stream" && segs[1] == "zone_sync" && a.zoneSyncStatus() == nil {
		return nil, nil
	}
	for i := range routes {
		rt := &routes[i]
		if rt.since > v {
			continue
		}
		if params, ok := matchPath(rt.path, segs); ok {
			return rt, params
		}
	}
	return nil, nil
}

func matchPath(pattern string, segs []string) ([]string, bool) {
	if pattern == "" {
		return nil, len(segs) == 0
	}
	pat := strings.Split(pattern, "/")
	if len(pat) != len(segs) {
		return nil, false
	}
	var params []string
	for i, p := range pat {
		switch {
		case p == "*":
			params = append(params, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return params, true
}

// hasStream says whether the stream endpoints exist.
func (a *API) hasStream() bool {
	return a.stream || len(a.reg.Keyvals(true)) > 0 || a.zoneSyncStatus() != nil
}

func (a *API) zoneSyncStatus() *ZoneSyncStatus {
	if a.zoneSync == nil {
		return nil
	}
	return a.zoneSync()
}

func (c *call) list(l []listing, skip func(string) bool) reply {
	out := []string{}
	for _, e := range l {
		if e.since <= c.version && !skip(e.name) {
			out = append(out, e.name)
		}
	}
	return ok(out)
}

func getRoot(c *call) reply {
	return c.list(rootList, func(n string) bool { return n == "stream" && !c.api.hasStream() })
}

func getHTTP(c *call) reply { return c.list(httpList, func(string) bool { return false }) }

func getStream(c *call) reply {
	return c.list(streamList, func(n string) bool { return n == "zone_sync" && c.api.zoneSyncStatus() == nil })
}

func emptyMap(*call) reply { return ok(object{}) }

func notFound(e *apiError) func(*call) reply { return func(*call) reply { return fail(e) } }

// upstreamNotFound answers every upstream path: zonesync has no upstream
// zones to configure.
func upstreamNotFound(*call) reply { return fail(errUpstreamNotFound) }

func resetSection(s Section) func(*call) reply {
	return func(c *call) reply {
		c.api.stats.Reset(s, "")
		return noContent()
	}
}
