package directives

import (
	"strings"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The limit_req module: limit_req_zone declares a zone (NGINX Plus can sync
// it with "sync"), limit_req uses one by name.

func init() {
	// limit_req_zone has an open-source row (3 arguments) and an NGINX
	// Plus row (3 or 4, for sync); zonesync reads the Plus syntax.
	var plus []*Spec
	for _, s := range table["limit_req_zone"] {
		if s.Avail == "plus" {
			plus = append(plus, s)
		}
	}
	table["limit_req_zone"] = plus
	Register("limit_req_zone", HTTP, Def{Set: setLimitReqZone, Multi: true,
		Doc: "Declares a shared zone of request states by key, with a rate; sync shares it with the cluster."})
	registerHTTP("limit_req", Def{Set: setLimitReq, Multi: true, Inherit: true, Doc: "Limits the request rate by a zone."})
	registerHTTP("limit_req_status", Def{Set: setLimitReqStatus, Inherit: true, Default: 503, DefaultDoc: "503",
		Doc: "Status code of rejected requests."})
}

// LimitReqZone is the Params of a ZoneLimitReq zone.
type LimitReqZone struct {
	Key  string
	Rate value.Rate
	D    *grammar.Directive
}

// setLimitReqZone is ngx_http_limit_req_zone.
func setLimitReqZone(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	p := &LimitReqZone{Key: d.Args[0], D: d, Rate: value.Rate{PerMilliSec: 1000, Requests: 1, Period: 1e9, Text: "1r/s"}}
	if err := checkScript(d, p.Key); err != nil {
		return nil, err
	}
	var name string
	var size int64
	sync := false
	for _, a := range d.Args[1:] {
		switch {
		case strings.HasPrefix(a, "zone="):
			n, sz, ok := strings.Cut(a[5:], ":")
			if !ok {
				return nil, d.Errorf(`invalid zone size "%s"`, a)
			}
			v, err := value.Size(sz)
			switch {
			case err != nil:
				return nil, d.Errorf(`invalid zone size "%s"`, a)
			case v < minZoneSize:
				return nil, d.Errorf(`zone "%s" is too small`, a)
			}
			name, size = n, v
		case strings.HasPrefix(a, "rate="):
			r, err := value.ParseRate(a)
			if err != nil {
				return nil, d.Errorf("%s", err)
			}
			p.Rate = r
		case a == "sync":
			sync = true
		default:
			return nil, d.Errorf(`invalid parameter "%s"`, a)
		}
	}
	if name == "" {
		return nil, d.Errorf(`"%s" must have "zone" parameter`, d.Name)
	}
	z, err := ZonesOf(ld).Add(d, name, ZoneLimitReq, "", size)
	if err != nil {
		return nil, err
	}
	if old, ok := z.Params.(*LimitReqZone); ok {
		return nil, d.Errorf(`%s "%s" is already bound to key "%s"`, d.Name, name, old.Key)
	}
	z.Params, z.Sync = p, sync
	return z, nil
}

// LimitReq is one limit_req.
type LimitReq struct {
	Zone    *Zone
	Burst   int
	Delay   int // requests served without delay; NoDelay means all
	NoDelay bool
}

// setLimitReq is ngx_http_limit_req.
func setLimitReq(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	r := LimitReq{}
	var name string
	for _, a := range d.Args {
		switch {
		case strings.HasPrefix(a, "zone="):
			name = a[5:]
		case strings.HasPrefix(a, "burst="):
			n, err := value.Number(a[6:])
			if err != nil || n == 0 {
				return nil, d.Errorf(`invalid burst value "%s"`, a)
			}
			r.Burst = n
		case strings.HasPrefix(a, "delay="):
			n, err := value.Number(a[6:])
			if err != nil || n == 0 {
				return nil, d.Errorf(`invalid delay value "%s"`, a)
			}
			r.Delay = n
		case a == "nodelay":
			r.NoDelay = true
		default:
			return nil, d.Errorf(`invalid parameter "%s"`, a)
		}
	}
	if name == "" {
		return nil, d.Errorf(`"%s" must have "zone" parameter`, d.Name)
	}
	z, err := ZonesOf(ld).Add(d, name, ZoneLimitReq, "", 0)
	if err != nil {
		return nil, err
	}
	for _, v := range l.Own(d.Name) {
		if v.V.(LimitReq).Zone == z {
			return nil, Msg("is duplicate")
		}
	}
	r.Zone = z
	return r, nil
}

// setLimitReqStatus is the number slot with nginx's 400..599 bounds.
func setLimitReqStatus(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	n, err := value.Number(d.Args[0])
	switch {
	case err != nil:
		return nil, Msg("invalid number")
	case n < 400 || n > 599:
		return nil, d.Errorf("value must be between 400 and 599")
	}
	return n, nil
}
