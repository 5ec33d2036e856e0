package api

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/zone"
)

// manualClock drives both the stores and the API; it moves only when told.
type manualClock struct{ ms atomic.Int64 }

func newClock() *manualClock {
	c := &manualClock{}
	c.ms.Store(time.Date(2026, 5, 13, 10, 0, 0, 114e6, time.UTC).UnixMilli())
	return c
}

func (c *manualClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// testRegistry holds the zones of a test configuration and their configs.
type testRegistry struct {
	http, stream, limit []*zone.Store
}

func (r *testRegistry) Keyvals(stream bool) []*zone.Store {
	if stream {
		return r.stream
	}
	return r.http
}

func (r *testRegistry) LimitReqs() []*zone.Store { return r.limit }

func (r *testRegistry) add(t testing.TB, list *[]*zone.Store, c zone.Config) *zone.Store {
	t.Helper()
	s, err := zone.New(c)
	if err != nil {
		t.Fatal(err)
	}
	*list = append(*list, s)
	return s
}

// env is an API over a small configuration:
//
//	http   keyval_zone zone=one:32k;  zone=timed:32k timeout=60s;  zone=ips:32k type=ip;
//	stream keyval_zone zone=skv:32k timeout=5s sync;
//	http   limit_req_zone $binary_remote_addr zone=perip:32k rate=10r/s;
type env struct {
	t        testing.TB
	clock    *manualClock
	reg      *testRegistry
	counters *Counters
	api      *API
	h        http.Handler
	zs       *ZoneSyncStatus
	one      *zone.Store
	timed    *zone.Store
	ips      *zone.Store
	skv      *zone.Store
	perip    *zone.Store
}

type envOption func(*Deps, *directives.HTTPLocationConf)

func readOnly(_ *Deps, l *directives.HTTPLocationConf) { l.API.Write = false }

func bodyBuffer(n int64) envOption {
	return func(_ *Deps, l *directives.HTTPLocationConf) { l.ClientBodyBufferSize = n }
}

func noStream(d *Deps, _ *directives.HTTPLocationConf) { d.Stream = false }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), reg: &testRegistry{}, counters: NewCounters()}
	kv := func(name string, timeout time.Duration, m zone.MatchType, sync bool) zone.Config {
		return zone.Config{Name: name, Kind: zone.KindKeyval, Size: 32 << 10, Timeout: timeout, Match: m,
			Sync: sync, Node: 1, Clock: e.clock}
	}
	e.one = e.reg.add(t, &e.reg.http, kv("one", 0, zone.MatchString, false))
	e.timed = e.reg.add(t, &e.reg.http, kv("timed", time.Minute, zone.MatchString, false))
	e.ips = e.reg.add(t, &e.reg.http, kv("ips", 0, zone.MatchIP, false))
	e.skv = e.reg.add(t, &e.reg.stream, kv("skv", 5*time.Second, zone.MatchString, true))
	e.perip = e.reg.add(t, &e.reg.limit, zone.Config{Name: "perip", Kind: zone.KindLimitReq, Size: 32 << 10,
		Rate: 10000, Node: 1, Clock: e.clock})
	e.counters.LimitReq("perip")
	e.zs = &ZoneSyncStatus{
		Zones:   map[string]ZoneSyncZone{"skv": {RecordsPending: 0, RecordsTotal: 3}, "sticky_a": {2, 7}},
		BytesIn: 1364923761, MsgsIn: 337236, MsgsOut: 346717, BytesOut: 1402765472, NodesOnline: 15,
	}
	d := Deps{
		Registry: e.reg,
		ZoneSync: func() *ZoneSyncStatus { return e.zs },
		Stream:   true,
		Stats:    e.counters,
		Node: NodeInfo{Version: "1.29.8", Build: "zonesync-0.1.0", PID: 4242, PPID: 4241,
			Generation: func() int64 { return 6 },
			LoadTime:   func() time.Time { return time.Date(2026, 5, 13, 9, 0, 0, 467e6, time.UTC) }},
		Log:   zerolog.Nop(),
		Clock: e.clock.Now,
	}
	loc := &directives.HTTPLocationConf{
		Location: &directives.Location{Name: "/api"},
		Settings: directives.Settings{API: &directives.API{Write: true}, ClientBodyBufferSize: 16384,
			ClientMaxBodySize: 1 << 20},
	}
	for _, o := range opts {
		o(&d, loc)
	}
	e.api = New(d)
	e.h = e.api.Handler(loc)
	return e
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, target, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header(), rec.Body.String()}
}

var errorShape = regexp.MustCompile(`^\{"error":\{"status":(\d+),"text":"((?:[^"\\]|\\.)*)","code":"([A-Za-z]+)"\},` +
	`"request_id":"[0-9a-f]{32}","href":"https://nginx\.org/en/docs/http/ngx_http_api_module\.html"\}$`)

// apiErr decodes an error reply, failing unless it has NGINX Plus's exact
// layout.
func apiErr(t testing.TB, r response) (status int, code, text string) {
	t.Helper()
	if !errorShape.MatchString(r.body) {
		t.Fatalf("error body %q does not have the NGINX Plus layout", r.body)
	}
	var v struct {
		Error struct {
			Status int
			Text   string
			Code   string
		}
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Error.Status != r.status {
		t.Fatalf("error.status %d, HTTP status %d", v.Error.Status, r.status)
	}
	return v.Error.Status, v.Error.Code, v.Error.Text
}

// contents lists a store's pairs as "k=v" in key order.
func contents(s *zone.Store) []string {
	var out []string
	s.Range(func(k string, v []byte, _ time.Duration) bool {
		out = append(out, k+"="+string(v))
		return true
	})
	sort.Strings(out)
	return out
}

// allContents is every keyval zone's contents, to check that a failed
// request changed nothing. Long keys and values appear as their length
// and a hash, so a failure stays readable.
func (e *env) allContents() string {
	var b strings.Builder
	for _, s := range append(append([]*zone.Store{}, e.reg.http...), e.reg.stream...) {
		var pairs []string
		s.Range(func(k string, v []byte, _ time.Duration) bool {
			pairs = append(pairs, short(k)+"="+short(string(v)))
			return true
		})
		sort.Strings(pairs)
		b.WriteString(s.Name() + ":" + strings.Join(pairs, ",") + ";")
	}
	return b.String()
}

func short(s string) string {
	if len(s) <= 32 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("<%d bytes %x>", len(s), sum[:6])
}
