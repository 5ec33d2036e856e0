package httpd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/api"
	"github.com/zonesync/zonesync/runtime/httpd/script"
	"github.com/zonesync/zonesync/runtime/zone"
)

// The limit_req module (ngx_http_limit_req_module) in the preaccess phase:
// every limit_req of the location, in order, accounts the request in its
// zone under the zone's key; a request over a burst gets limit_req_status,
// one over delay= waits; limit_req_dry_run only counts and logs. The
// leaky bucket itself is the zone store's (zone.Store.LimitReq).

// The values of $limit_req_status.
const (
	limitPassed         = "PASSED"
	limitDelayed        = "DELAYED"
	limitRejected       = "REJECTED"
	limitDelayedDryRun  = "DELAYED_DRY_RUN"
	limitRejectedDryRun = "REJECTED_DRY_RUN"
)

// limitReqStatusKey keeps $limit_req_status among the request's variables.
// The space keeps configurations from naming it; once it is set the
// module does not run again for the request (nginx's
// r->main->limit_req_status), internal redirects included.
const limitReqStatusKey = " limit_req_status"

func init() {
	builtins["limit_req_status"] = func(r *request) string { return r.vars[limitReqStatusKey] }
}

// limitReq is one compiled limit_req directive.
type limitReq struct {
	zone   string
	keySrc string       // the limit_req_zone key as written, for nginx's messages
	key    script.Value // the limit_req_zone key
	store  *zone.Store
	limit  zone.Limit
	stats  *api.LimitReqCounters // nil without Deps.Stats
}

// limitReqConf is the limit_req configuration of one level.
type limitReqConf struct {
	limits   []*limitReq
	status   int    // limit_req_status
	logLevel string // limit_req_log_level: info, notice, warn or error
	dryRun   bool   // limit_req_dry_run
}

// limitReqs compiles the effective limit_req directives of a level; nil
// when it has none or the node gave no zones (Deps.LimitZone).
func (b *builder) limitReqs(l *directives.Level, st directives.Settings) (*limitReqConf, error) {
	deps := b.s.deps
	if len(st.LimitReqs) == 0 || deps.LimitZone == nil {
		return nil, nil
	}
	lc := &limitReqConf{
		status:   st.LimitReqStatus,
		logLevel: getOr(l, "limit_req_log_level", "error"),
		dryRun:   getOr(l, "limit_req_dry_run", false),
	}
	if lc.status == 0 {
		lc.status = 503
	}
	for _, d := range st.LimitReqs {
		p, _ := d.Zone.Params.(*directives.LimitReqZone)
		if p == nil {
			return nil, fmt.Errorf(`limit_req zone "%s" is not declared by limit_req_zone`, d.Zone.Name)
		}
		store := deps.LimitZone(d.Zone.Name)
		if store == nil {
			return nil, fmt.Errorf(`the limit_req zone "%s" in %s:%d has no store`, d.Zone.Name, p.D.File(), p.D.Line)
		}
		lr := &limitReq{zone: d.Zone.Name, keySrc: p.Key, key: script.Compile(p.Key), store: store,
			limit: zone.Limit{Burst: int64(d.Burst), Delay: int64(d.Delay), NoDelay: d.NoDelay}}
		if deps.Stats != nil {
			lr.stats = deps.Stats.LimitReq(d.Zone.Name)
		}
		lc.limits = append(lc.limits, lr)
	}
	return lc, nil
}

// limitReqImplemented are the directives the module runs once the node
// gives it zones.
var limitReqImplemented = []string{"limit_req", "limit_req_status", "limit_req_log_level", "limit_req_dry_run"}

// accounted is a zone a request was looked up or accounted in.
type accounted struct {
	lr     *limitReq
	key    string
	excess int64
	delay  time.Duration
}

// limitLookup is what the lookups of one request found.
type limitLookup struct {
	held   []accounted // zones looked up without accounting: all but the last
	final  *accounted  // the last zone, accounted at lookup
	busy   *accounted  // the zone that rejects the request
	failed bool        // a zone could not store a new state
	looked bool        // some key was not empty
}

// limitRequests is ngx_http_limit_req_handler: it returns the status that
// ends the request (limit_req_status, or statusClose when a delay is cut
// short by a forced shutdown), or 0 to go on.
func (r *request) limitRequests() int {
	lc := r.conf.limitReq
	if lc == nil || r.vars[limitReqStatusKey] != "" {
		return 0
	}
	lk := r.limitLookup(lc)
	switch {
	case !lk.looked:
		return 0
	case lk.busy != nil || lk.failed:
		return r.limitReject(lc, lk)
	}
	return r.limitAccount(lc, lk)
}

// limitLookup looks the request up in every zone but the last without
// accounting it, and accounts it in the last, stopping at the first zone
// that rejects it. Empty keys are skipped, as nginx does.
func (r *request) limitLookup(lc *limitReqConf) limitLookup {
	var lk limitLookup
	last := len(lc.limits) - 1
	for i, lr := range lc.limits {
		key := lr.key.Eval(r)
		if key == "" {
			continue
		}
		if len(key) > zone.MaxKeyLen {
			r.logError().Msg(fmt.Sprintf(`the value of the "%s" key is more than 65535 bytes: "%s"`, lr.keySrc, key) + r.logContext())
			continue
		}
		lk.looked = true
		var res zone.LimitResult
		var err error
		if i < last {
			res, err = lr.store.LimitReqCheck(key, lr.limit)
		} else {
			res, err = lr.store.LimitReq(key, lr.limit)
		}
		if err != nil {
			// Only a full zone that cannot make room fails: nginx's
			// "could not allocate node", answered with limit_req_status.
			lk.failed = true
			lr.count(pick(lc.dryRun, limitRejectedDryRun, limitRejected))
			r.c.s.log.WithLevel(zerolog.FatalLevel).Str("nginx_level", "alert").
				Msg(fmt.Sprintf(`could not allocate node in limit_req zone "%s"`, lr.zone))
			return lk
		}
		a := accounted{lr: lr, key: key, excess: res.Excess, delay: res.Delay}
		switch {
		case res.Rejected:
			lk.busy = &a
			return lk
		case i < last:
			lk.held = append(lk.held, a)
		default:
			lk.final = &a
		}
	}
	return lk
}

// limitReject ends a rejected request: limit_req_status, or with
// limit_req_dry_run only the log line and the counters.
func (r *request) limitReject(lc *limitReqConf, lk limitLookup) int {
	status := pick(lc.dryRun, limitRejectedDryRun, limitRejected)
	if lk.busy != nil {
		r.logLevel(lc.logLevel).Msg(fmt.Sprintf(`limiting requests%s, excess: %s by zone "%s"`,
			pick(lc.dryRun, ", dry run", ""), thousandths(lk.busy.excess), lk.busy.lr.zone) + r.logContext())
		lk.busy.lr.count(status)
	}
	r.setVar(limitReqStatusKey, status)
	if lc.dryRun {
		return 0
	}
	return lc.status
}

// limitAccount is ngx_http_limit_req_account: the held zones are
// accounted from the last to the first; the request waits for the
// longest delay any zone asks (the last zone's first, a later one only
// replacing it when longer).
func (r *request) limitAccount(lc *limitReqConf, lk limitLookup) int {
	var slowest *accounted
	if lk.final != nil && lk.final.delay > 0 {
		slowest = lk.final
	}
	for i := len(lk.held) - 1; i >= 0; i-- {
		a := &lk.held[i]
		res, err := a.lr.store.LimitReq(a.key, a.lr.limit)
		if err != nil || res.Rejected {
			// Another request took the room between the lookup and
			// now: nginx accounts anyway, zonesync lets it pass.
			continue
		}
		a.excess, a.delay = res.Excess, res.Delay
		if a.delay > 0 && (slowest == nil || a.delay > slowest.delay) {
			slowest = a
		}
	}
	all := lk.held
	if lk.final != nil {
		all = append(all, *lk.final)
	}
	status := limitPassed
	if slowest != nil {
		status = pick(lc.dryRun, limitDelayedDryRun, limitDelayed)
	}
	for _, a := range all {
		if slowest != nil && a.lr == slowest.lr {
			a.lr.count(status)
		} else {
			a.lr.count(limitPassed)
		}
	}
	r.setVar(limitReqStatusKey, status)
	if slowest == nil {
		return 0
	}
	r.logLevel(delayLevel(lc.logLevel)).Msg(fmt.Sprintf(`delaying request%s, excess: %s, by zone "%s"`,
		pick(lc.dryRun, ", dry run", ""), thousandths(slowest.excess), slowest.lr.zone) + r.logContext())
	if lc.dryRun {
		return 0
	}
	if err := r.c.s.wait(r.ctx, slowest.delay); err != nil {
		return statusClose
	}
	return 0
}

// pick is a if cond, else b.
func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

// count adds the request's outcome to the zone's API counters.
func (lr *limitReq) count(status string) {
	c := lr.stats
	if c == nil {
		return
	}
	switch status {
	case limitPassed:
		c.Passed.Add(1)
	case limitDelayed:
		c.Delayed.Add(1)
	case limitRejected:
		c.Rejected.Add(1)
	case limitDelayedDryRun:
		c.DelayedDryRun.Add(1)
	case limitRejectedDryRun:
		c.RejectedDryRun.Add(1)
	}
}

// thousandths prints an excess (1/1000 requests) as nginx does: "5.000".
func thousandths(n int64) string { return fmt.Sprintf("%d.%03d", n/1000, n%1000) }

// delayLevel is nginx's delay_log_level: one level below
// limit_req_log_level, info staying info.
func delayLevel(level string) string {
	switch level {
	case "error":
		return "warn"
	case "warn":
		return "notice"
	}
	return "info"
}

// logLevel starts an entry at one of limit_req_log_level's levels; zerolog
// has no notice, so it carries nginx's level name for the error log.
func (r *request) logLevel(level string) *zerolog.Event {
	log := r.c.s.log
	var e *zerolog.Event
	switch level {
	case "error":
		e = log.Error()
	case "warn":
		e = log.Warn()
	case "notice":
		e = log.WithLevel(zerolog.InfoLevel).Str("nginx_level", "notice")
	default:
		e = log.Info()
	}
	return r.logAt(e)
}

// logContext is the context nginx's http error log lines end with
// (ngx_http_log_error): client, server, request, host and referrer.
func (r *request) logContext() string {
	var b strings.Builder
	b.WriteString(", client: " + r.c.remoteAddr())
	if r.srv != nil {
		b.WriteString(", server: " + r.srv.name)
	}
	if r.line != "" {
		b.WriteString(`, request: "` + r.line + `"`)
	}
	if h, ok := r.headerValue("host"); ok {
		b.WriteString(`, host: "` + h + `"`)
	}
	if ref, ok := r.headerValue("referer"); ok {
		b.WriteString(`, referrer: "` + ref + `"`)
	}
	return b.String()
}

// wait delays a request for limit_req: Deps.Wait when set, else a timer
// that a forced shutdown (ctx) cuts short.
func (s *Server) wait(ctx context.Context, d time.Duration) error {
	if s.deps.Wait != nil {
		return s.deps.Wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
