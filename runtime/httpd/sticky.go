package httpd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
	"github.com/zonesync/zonesync/runtime/upstream"
	"github.com/zonesync/zonesync/runtime/zone"
)

// sticky of an upstream, as ngx_http_upstream_sticky_module runs it over
// the round robin:
//
//   - every server has an id (its SID): its route= value, or the hex MD5
//     of its address as $upstream_addr shows it;
//   - the request's id is the first non-empty lookup variable
//     ($cookie_NAME for "cookie"); for "cookie" and "route" it is a SID,
//     for "learn" it is a session that the zone maps to a SID;
//   - the server with that SID is chosen if it is neither down nor out
//     for failures nor already tried; otherwise the round robin chooses,
//     as for a request without an id;
//   - "cookie" sets the cookie of the chosen server on every response;
//   - "learn" stores, after a response, the session of the first
//     non-empty create variable (evaluated then, so $upstream_cookie_NAME
//     works) or else refreshes the looked-up one, pointing it at the
//     server that answered.

// stickyConf is the compiled sticky directive of an upstream.
type stickyConf struct {
	d        *directives.Sticky
	domain   script.Value // empty without domain=
	samesite script.Value // empty without samesite=
	ssVar    bool         // samesite= has variables
	store    *zone.Store  // learn: the sessions
}

// stickyMaxCookie is what nginx writes for expires=max.
const stickyMaxCookie = "; expires=Thu, 31-Dec-37 23:55:55 GMT; max-age=315360000"

// proxyGroup is an upstream group with what the HTTP proxy adds to it.
type proxyGroup struct {
	*upstream.Group
	sticky  *stickyConf   // nil without sticky
	hashKey *script.Value // the key of "hash"; nil for the other methods
}

// stickyFor compiles the sticky directive of u into g; nothing without
// one.
func (b *builder) stickyFor(g *proxyGroup, u *directives.Upstream) error {
	d := directives.StickyOf(u)
	if d == nil {
		return nil
	}
	sc := &stickyConf{d: d}
	if d.Domain != "" {
		sc.domain = script.Compile(d.Domain)
	}
	if d.SameSite != "" {
		sc.samesite = script.Compile(d.SameSite)
		sc.ssVar = !sc.samesite.Static()
	}
	if d.Method == "learn" {
		name := ""
		if d.Zone != nil {
			name = d.Zone.Name
		}
		if b.s.deps.StickyZone != nil {
			sc.store = b.s.deps.StickyZone(name)
		}
		if sc.store == nil {
			return fmt.Errorf(`upstream "%s": sticky zone "%s" has no store`, u.Name, name)
		}
	}
	g.sticky = sc
	return nil
}

// firstVar is the first non-empty variable of names.
func (r *request) firstVar(names []string) string {
	for _, n := range names {
		if v := r.Var(n); v != "" {
			return v
		}
	}
	return ""
}

// stickyBegin gives the pick the SID the request is bound to, and
// returns the request's id (the cookie or route SID, or the session).
func (r *request) stickyBegin(g *proxyGroup, pk *upstream.Pick) string {
	sc := g.sticky
	if sc == nil {
		return ""
	}
	id := r.firstVar(sc.d.Lookup)
	if id == "" {
		return ""
	}
	if sc.store == nil {
		pk.Hint = id
		return id
	}
	if sid, ok := sc.store.Lookup(id); ok {
		pk.Hint = sid
	}
	return id
}

// stickyDone is what sticky does once p answered with resp: the cookie
// of "cookie" and the session of "learn".
func (r *request) stickyDone(g *proxyGroup, id string, p *upstream.Peer, resp *response) {
	sc := g.sticky
	if sc == nil {
		return
	}
	if sc.d.Method == "cookie" && resp != nil {
		v := r.stickyCookie(sc, p.SID)
		resp.headers = append([]header{{name: "Set-Cookie", value: v}}, resp.headers...)
		if resp.locIndex >= 0 {
			resp.locIndex++
		}
	}
	if sc.store == nil {
		return
	}
	key := r.firstVar(sc.d.Create)
	if key == "" {
		// Only a known session is refreshed (the lookup did it) and
		// pointed at the server that answered.
		if id == "" {
			return
		}
		if sid, ok := sc.store.Lookup(id); !ok || sid == p.SID {
			return
		}
		key = id
	}
	if err := sc.store.Learn(key, p.SID); err != nil {
		r.logAt(r.c.s.log.Warn()).Str("upstream", g.Name).Msg("sticky: cannot store session: " + err.Error())
	}
}

// stickyCookie is the Set-Cookie value of the cookie method, in nginx's
// order: expires and max-age, domain, httponly, secure, samesite, path.
func (r *request) stickyCookie(sc *stickyConf, sid string) string {
	d := sc.d
	var b strings.Builder
	b.WriteString(d.Cookie + "=" + sid)
	switch {
	case d.Expires == directives.StickyMaxExpires:
		b.WriteString(stickyMaxCookie)
	case d.Expires >= 0:
		secs := int64(d.Expires / time.Second)
		at := r.c.s.now().Add(time.Duration(secs) * time.Second)
		b.WriteString("; expires=" + cookieTime(at) + "; max-age=" + strconv.FormatInt(secs, 10))
	}
	if d.Domain != "" {
		if v := sc.domain.Eval(r); v != "" {
			b.WriteString("; domain=" + v)
		}
	}
	if d.HTTPOnly {
		b.WriteString("; httponly")
	}
	if d.Secure {
		b.WriteString("; secure")
	}
	if d.SameSite != "" {
		v := sc.samesite.Eval(r)
		if sc.ssVar && v != "" && !validSameSite(v) {
			v = "strict"
		}
		if v != "" {
			b.WriteString("; samesite=" + v)
		}
	}
	if d.Path != "" {
		b.WriteString("; path=" + d.Path)
	}
	return b.String()
}

func validSameSite(v string) bool {
	return strings.EqualFold(v, "strict") || strings.EqualFold(v, "lax") || strings.EqualFold(v, "none")
}

// cookieTime is ngx_http_cookie_time: a two-digit year up to 2037, the
// full year after it.
func cookieTime(t time.Time) string {
	t = t.UTC()
	if t.Year() > 2037 {
		return t.Format("Mon, 02-Jan-2006 15:04:05 GMT")
	}
	return t.Format("Mon, 02-Jan-06 15:04:05 GMT")
}

// varUpstreamHTTP is $upstream_http_NAME: a header of the last upstream
// response, hidden ones included.
func (r *request) varUpstreamHTTP(name string) string {
	for _, h := range r.upstreamHeaders {
		if headerNameIs(h.name, name) {
			return h.value
		}
	}
	return ""
}

// varUpstreamCookie is $upstream_cookie_NAME: the value of cookie NAME
// (any case) that a Set-Cookie of the last upstream response sets.
func (r *request) varUpstreamCookie(name string) string {
	for _, h := range r.upstreamHeaders {
		if !strings.EqualFold(h.name, "set-cookie") {
			continue
		}
		k, v, ok := strings.Cut(h.value, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		if i := strings.IndexByte(v, ';'); i >= 0 {
			v = v[:i]
		}
		return strings.TrimSpace(v)
	}
	return ""
}
