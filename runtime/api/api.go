// Package api serves the NGINX Plus REST API (version 9) in a location
// with the api directive: the keyval zones (http and stream), zone_sync's
// status, the limit_req counters and the status endpoints the official
// clients read. Replies and errors have NGINX Plus's JSON shapes, field
// order and error codes; README.md lists the endpoints and the choices made
// where NGINX Plus's behaviour is not documented.
package api

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/zone"
)

// Version is the API version this package implements; versions 1 to
// Version are accepted, each without the endpoints added after it.
const Version = 9

// Registry gives the API the zones of the running configuration.
type Registry interface {
	// Keyvals returns the http (false) or stream (true) keyval zones, in
	// configuration order.
	Keyvals(stream bool) []*zone.Store
	// LimitReqs returns the http limit_req zones, in configuration order.
	LimitReqs() []*zone.Store
}

// ZoneSyncZone is one synced zone in /stream/zone_sync/.
type ZoneSyncZone struct {
	RecordsPending int64 // records still to be sent to the cluster
	RecordsTotal   int64 // records in the zone
}

// ZoneSyncStatus is /stream/zone_sync/.
type ZoneSyncStatus struct {
	Zones                                           map[string]ZoneSyncZone
	BytesIn, MsgsIn, MsgsOut, BytesOut, NodesOnline int64
}

// NodeInfo describes the running node for /nginx.
type NodeInfo struct {
	Version    string           // nginx version zonesync reports, "1.29.8"
	Build      string           // build name, "zonesync-0.1.0"
	Generation func() int64     // configuration reloads; nil: 0
	LoadTime   func() time.Time // time of the last (re)load; nil: when New ran
	PID, PPID  int              // the serving process and its parent
}

// Deps are what the API reads from the rest of the node.
type Deps struct {
	Registry Registry
	// ZoneSync returns zone_sync's status. A nil func or a nil result
	// means zone_sync is not configured: /stream/zone_sync/ then answers
	// PathNotFound, as NGINX Plus does without a stream block.
	ZoneSync func() *ZoneSyncStatus
	// Stream says the configuration has a stream block. The stream
	// endpoints exist when it is set, when there are stream keyval zones or
	// when zone_sync is configured; otherwise they answer PathNotFound.
	Stream bool
	// Stats holds the counters the server cores feed; nil gives zeros.
	Stats Stats
	Node  NodeInfo
	Log   zerolog.Logger
	Clock func() time.Time // nil: time.Now
}

// API serves the REST API for the locations that have the api directive.
type API struct {
	reg      Registry
	zoneSync func() *ZoneSyncStatus
	stream   bool
	stats    Stats
	node     NodeInfo
	log      zerolog.Logger
	clock    func() time.Time
	started  time.Time
}

// New returns the API over d.
func New(d Deps) *API {
	a := &API{reg: d.Registry, zoneSync: d.ZoneSync, stream: d.Stream, stats: d.Stats, node: d.Node,
		log: d.Log, clock: d.Clock}
	if a.reg == nil {
		a.reg = emptyRegistry{}
	}
	if a.stats == nil {
		a.stats = NewCounters()
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	a.started = a.clock()
	return a
}

type emptyRegistry struct{}

func (emptyRegistry) Keyvals(bool) []*zone.Store { return nil }
func (emptyRegistry) LimitReqs() []*zone.Store   { return nil }

// defaultBodyBuffer is client_body_buffer_size's default (two pages).
const defaultBodyBuffer = 16384

// Handler serves the API in loc: the URI after the location's prefix is
// /<version>/<path>; write=on allows POST, PATCH and DELETE; request bodies
// must fit in client_body_buffer_size (and client_max_body_size).
func (a *API) Handler(loc *directives.HTTPLocationConf) http.Handler {
	h := &handler{api: a, maxBody: defaultBodyBuffer}
	if loc != nil {
		if loc.Location != nil {
			h.prefix = loc.Name
			h.byVersion = loc.Regex || loc.Named
		}
		h.write = loc.API != nil && loc.API.Write
		if loc.ClientBodyBufferSize > 0 {
			h.maxBody = loc.ClientBodyBufferSize
		}
		if m := loc.ClientMaxBodySize; m > 0 && m < h.maxBody {
			h.maxBody = m
		}
	}
	return h
}

type handler struct {
	api     *API
	prefix  string
	write   bool
	maxBody int64
	// byVersion: the location is a regex or named one, whose name is no
	// prefix; the API path starts at the first all-digit segment.
	byVersion bool
}

// call is one request being served.
type call struct {
	*handler
	w       http.ResponseWriter
	r       *http.Request
	id      string
	version int
	params  []string // the path segments the route's "*" matched
	query   url.Values
	allow   string // the route's methods, for the Allow header of MethodNotSupported
}

// reply is what a route handler returns: a status with a JSON body (nil:
// none), or an error.
type reply struct {
	status int
	body   any
	err    *apiError
}

func ok(body any) reply      { return reply{status: http.StatusOK, body: body} }
func fail(e *apiError) reply { return reply{err: e} }
func noContent() reply       { return reply{status: http.StatusNoContent} }
func created() reply         { return reply{status: http.StatusCreated} }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{handler: h, w: w, r: r, id: newRequestID()}
	c.query = parseArgs(r.URL.RawQuery)
	rep := c.serve()
	if rep.err != nil {
		c.sendError(rep.err)
		return
	}
	c.send(rep)
}

// serve finds the version and the route and runs the route's method.
func (c *call) serve() reply {
	rest, found := c.locate(c.r.URL.Path)
	if !found {
		return fail(errPathNotFound)
	}
	segs := splitPath(rest)
	readOnly := c.r.Method == http.MethodGet || c.r.Method == http.MethodHead
	if len(segs) == 0 {
		if !readOnly {
			if !c.handler.write {
				return fail(errMethodDisabled)
			}
			c.allow = "GET, HEAD"
			return fail(errMethodNotSupported)
		}
		return ok(versions())
	}
	v, valid := parseVersion(segs[0])
	if !valid {
		return fail(errUnknownVersion)
	}
	c.version = v
	if !readOnly && !c.handler.write {
		return fail(errMethodDisabled)
	}
	rt, params := c.api.match(segs[1:], v)
	if rt == nil {
		return fail(errPathNotFound)
	}
	c.params = params
	var fn func(*call) reply
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		fn = rt.get
	case http.MethodPost:
		fn = rt.post
	case http.MethodPatch:
		fn = rt.patch
	case http.MethodDelete:
		fn = rt.del
	}
	if fn == nil {
		c.allow = rt.allow()
		return fail(errMethodNotSupported)
	}
	rep := fn(c)
	if rep.err == nil && rep.body != nil && rt.fields != fieldsNone {
		if f, has := c.query["fields"]; has {
			rep.body = applyFields(rep.body, rt.fields, parseFields(strings.Join(f, ",")))
		}
	}
	return rep
}

// parseArgs splits the query string as nginx reads its arguments: pairs
// separated by "&", %XX escapes decoded, "+" kept as it is (a key may hold
// base64), and an escape that does not decode kept as written.
func parseArgs(raw string) url.Values {
	v := url.Values{}
	for _, arg := range strings.Split(raw, "&") {
		if arg == "" {
			continue
		}
		name, value, _ := strings.Cut(arg, "=")
		v[unescapeArg(name)] = append(v[unescapeArg(name)], unescapeArg(value))
	}
	return v
}

func unescapeArg(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// locate returns the URI after the location's prefix.
func (h *handler) locate(path string) (string, bool) {
	if h.byVersion {
		segs := strings.Split(path, "/")
		pos := 0
		for _, s := range segs {
			if s != "" && isDigits(s) {
				return path[pos:], true
			}
			pos += len(s) + 1
		}
		return "", true
	}
	return strings.CutPrefix(path, h.prefix)
}

// splitPath splits the URI after the prefix into segments. Empty segments
// are dropped, as nginx merges slashes, so a trailing slash is accepted
// everywhere (the official client sends one on PATCH and DELETE).
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseVersion accepts 1 to Version written in decimal digits.
func parseVersion(s string) (int, bool) {
	if !isDigits(s) || len(s) > 4 {
		return 0, false
	}
	v, _ := strconv.Atoi(s)
	return v, v >= 1 && v <= Version
}

// versions is the reply to GET <location>/.
func versions() []int {
	out := make([]int, Version)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func (c *call) send(rep reply) {
	h := c.w.Header()
	if rep.body == nil {
		if rep.status == http.StatusCreated {
			h.Set("Content-Length", "0")
		}
		c.w.WriteHeader(rep.status)
		return
	}
	b := appendJSON(make([]byte, 0, 512), rep.body)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(rep.status)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(b)
	}
}

func (c *call) sendError(e *apiError) {
	b := errorBody(e, c.id)
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if c.allow != "" {
		h.Set("Allow", c.allow)
	}
	c.w.WriteHeader(e.status)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(b)
	}
	if e.status >= 500 {
		c.api.log.Warn().Str("uri", c.r.URL.RequestURI()).Str("code", e.code).Msg(e.text)
	} else {
		c.api.log.Debug().Str("method", c.r.Method).Str("uri", c.r.URL.RequestURI()).
			Int("status", e.status).Str("code", e.code).Msg(e.text)
	}
}

// localAddress is /nginx's "address": the address of the server that
// accepted the request.
func (c *call) localAddress() string {
	a, okAddr := c.r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !okAddr || a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}
