package httpd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/api"
	"github.com/zonesync/zonesync/runtime/zone"
)

// limit_req in the preaccess phase, checked against nginx's
// ngx_http_limit_req_module: the leaky bucket of the zone store driven by
// an injected clock, delays recorded instead of slept, $limit_req_status,
// limit_req_status, the log lines and the API counters.

// handClock is a zone clock that moves only when told to.
type handClock struct{ ms atomic.Int64 }

func (c *handClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *handClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// waits records the delays limit_req asks for, without sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) wait(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return nil
}

func (w *waits) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.d
	w.d = nil
	return out
}

// limitStores creates a store for every limit_req zone the configuration
// uses, with the rate limit_req_zone gives it.
func limitStores(t testing.TB, cfg *directives.Config, clock zone.Clock) map[string]*zone.Store {
	t.Helper()
	stores := map[string]*zone.Store{}
	var walk func(st directives.Settings, locs []*directives.HTTPLocationConf)
	walk = func(st directives.Settings, locs []*directives.HTTPLocationConf) {
		for _, lr := range st.LimitReqs {
			if stores[lr.Zone.Name] != nil {
				continue
			}
			p := lr.Zone.Params.(*directives.LimitReqZone)
			s, err := zone.New(zone.Config{Name: lr.Zone.Name, Kind: zone.KindLimitReq, Size: lr.Zone.Size,
				Rate: p.Rate.PerMilliSec, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			stores[lr.Zone.Name] = s
		}
		for _, l := range locs {
			walk(l.Settings, l.Locations)
		}
	}
	for _, sc := range directives.HTTPServers(cfg.Main) {
		walk(sc.Settings, sc.Locations)
	}
	return stores
}

// limitRig is a server under test with its zones, counters and delays.
type limitRig struct {
	*running
	addr   string
	clock  *handClock
	stores map[string]*zone.Store
	stats  *api.Counters
	waits  *waits
}

// startLimit runs an http block (with {{PORT}} and {{DIR}}) that serves
// html/index.html ("hello\n").
func startLimit(t *testing.T, httpBlock string) *limitRig {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	if err := os.MkdirAll(filepath.Join(dir, "html"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "html", "index.html"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := expand("events {}\nhttp {\n  access_log off;\n"+httpBlock+"\n}\n",
		map[string]string{"PORT": fmt.Sprint(port), "DIR": dir})
	cfg := loadConfig(t, dir, text)
	rig := &limitRig{clock: &handClock{}, stats: api.NewCounters(), waits: &waits{},
		addr: fmt.Sprintf("127.0.0.1:%d", port)}
	rig.clock.ms.Store(1_700_000_000_000)
	rig.stores = limitStores(t, cfg, rig.clock)
	deps := Deps{
		LimitZone: func(name string) *zone.Store { return rig.stores[name] },
		Stats:     rig.stats,
		Wait:      rig.waits.wait,
		API: func(loc *directives.HTTPLocationConf) http.Handler {
			reg := &limitRegistry{}
			for _, s := range rig.stores {
				reg.limit = append(reg.limit, s)
			}
			return api.New(api.Deps{Registry: reg, Stats: rig.stats}).Handler(loc)
		},
	}
	rig.running = startServer(t, dir, text, deps)
	return rig
}

type limitRegistry struct{ limit []*zone.Store }

func (r *limitRegistry) Keyvals(bool) []*zone.Store { return nil }
func (r *limitRegistry) LimitReqs() []*zone.Store   { return r.limit }

// step is one request of a sequence: the clock moves by advance first.
type step struct {
	advance time.Duration
	status  string        // the status code
	limit   string        // $limit_req_status, sent back in X-Limit
	delay   time.Duration // the delay asked for (0: none)
}

// run sends the steps on one keep-alive connection, with extra headers.
func (rig *limitRig) run(t *testing.T, uri string, steps []step, headers ...string) {
	t.Helper()
	c := dial(t, "tcp", rig.addr)
	for i, s := range steps {
		rig.clock.Advance(s.advance)
		c.send(rq("GET "+uri+" HTTP/1.1", headers...))
		r := c.read(false)
		got := r.status[9:12]
		var delay time.Duration
		if ws := rig.waits.take(); len(ws) > 0 {
			delay = ws[0]
			if len(ws) > 1 {
				t.Errorf("request %d waited %d times: %v", i+1, len(ws), ws)
			}
		}
		if got != s.status || r.header("X-Limit") != s.limit || delay != s.delay {
			t.Errorf("request %d (+%v): %s %q delay %v, want %s %q delay %v",
				i+1, s.advance, got, r.header("X-Limit"), delay, s.status, s.limit, s.delay)
		}
		if r.closed {
			t.Fatalf("request %d: connection closed", i+1)
		}
	}
}

// counters returns a zone's API counters.
func (rig *limitRig) counters(name string) api.LimitReq {
	for _, z := range rig.stats.Snapshot().HTTPLimitReqs {
		if z.Name == name {
			return z
		}
	}
	return api.LimitReq{Name: name}
}

// logEntry is one zerolog line of the server's log.
type logEntry struct {
	Level   string `json:"level"`
	NLevel  string `json:"nginx_level"`
	Message string `json:"message"`
}

func (rig *limitRig) logEntries(t *testing.T, prefix string) []logEntry {
	t.Helper()
	return logEntries(t, rig.log, prefix)
}

// logEntries decodes the lines of a server's log whose message starts
// with prefix.
func logEntries(t *testing.T, log *testLog, prefix string) []logEntry {
	t.Helper()
	var out []logEntry
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var e logEntry
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.HasPrefix(e.Message, prefix) {
			out = append(out, e)
		}
	}
	return out
}

const limitServer = `
  limit_req_zone $binary_remote_addr zone=one:1m rate=10r/s;
  server {
    listen 127.0.0.1:{{PORT}};
    server_name t;
    root {{DIR}}/html;
    add_header X-Limit $limit_req_status always;
    %s
  }`

// With rate=10r/s the bucket drains 1000 (one request) every 100 ms;
// burst=5 lets the excess reach 5000. nginx adds 1000 per request,
// rejects above the burst without storing, and a new key starts at 0.
func TestLimitReqNodelay(t *testing.T) {
	rig := startLimit(t, fmt.Sprintf(limitServer, `location / { limit_req zone=one burst=5 nodelay; }`))
	ok, rej := step{status: "200", limit: "PASSED"}, step{status: "503", limit: "REJECTED"}
	after := func(d time.Duration, s step) step { s.advance = d; return s }
	rig.run(t, "/", []step{
		ok, ok, ok, ok, ok, ok, // excess 0, 1000 ... 5000
		rej, rej, // 6000 > 5000: the state stays at 5000
		after(100*time.Millisecond, ok), // 5000 - 1000 + 1000
		rej,
		after(250*time.Millisecond, ok), // 5000 - 2500 + 1000 = 3500
		ok,                              // 4500
		rej,                             // 5500
		after(time.Minute, ok),          // drained: 0
	})
	want := api.LimitReq{Name: "one", Passed: 10, Rejected: 4}
	if got := rig.counters("one"); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	lines := rig.logEntries(t, "limiting requests")
	if len(lines) != 4 {
		t.Fatalf("%d limiting lines, want 4: %+v", len(lines), lines)
	}
	wantMsg := `limiting requests, excess: 6.000 by zone "one", client: 127.0.0.1, server: t, request: "GET / HTTP/1.1", host: "t"`
	if lines[0].Message != wantMsg || lines[0].Level != "error" {
		t.Errorf("log %+v, want error %q", lines[0], wantMsg)
	}
	if lines[3].Message != strings.Replace(wantMsg, "6.000", "5.500", 1) {
		t.Errorf("log %q, want excess 5.500", lines[3].Message)
	}
}

// Without nodelay a request waits excess/rate: 100 ms per request of
// excess at 10r/s; with delay=2 the first two of excess pass at once.
func TestLimitReqDelays(t *testing.T) {
	rig := startLimit(t, fmt.Sprintf(limitServer, `
    location / { limit_req zone=one burst=5; }
    location /two/ { limit_req zone=one burst=5 delay=2; limit_req_log_level warn; alias {{DIR}}/html/; }`))
	ms := time.Millisecond
	d := func(delay time.Duration) step { return step{status: "200", limit: "DELAYED", delay: delay} }
	ok, rej := step{status: "200", limit: "PASSED"}, step{status: "503", limit: "REJECTED"}
	rig.run(t, "/", []step{ok, d(100 * ms), d(200 * ms), d(300 * ms), d(400 * ms), d(500 * ms), rej,
		{advance: 150 * ms, status: "200", limit: "DELAYED", delay: 450 * ms}, // 5000 - 1500 + 1000
	})
	if got, want := rig.counters("one"), (api.LimitReq{Name: "one", Passed: 1, Delayed: 6, Rejected: 1}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	delayed := rig.logEntries(t, "delaying request")
	wantMsg := `delaying request, excess: 1.000, by zone "one", client: 127.0.0.1, server: t, request: "GET / HTTP/1.1", host: "t"`
	if len(delayed) != 6 || delayed[0].Message != wantMsg || delayed[0].Level != "warn" {
		t.Errorf("delay lines %+v, want 6 starting with warn %q", delayed, wantMsg)
	}

	rig.clock.Advance(time.Minute)
	rig.run(t, "/two/", []step{ok, ok, ok, d(100 * ms), d(200 * ms), d(300 * ms), rej})
	lines := rig.logEntries(t, "limiting requests")
	if len(lines) != 2 {
		t.Fatalf("%d limiting lines, want 2: %+v", len(lines), lines)
	}
	last := lines[1]
	if last.Level != "warn" || !strings.Contains(last.Message, `excess: 6.000 by zone "one"`) {
		t.Errorf("limit_req_log_level warn: %+v", last)
	}
	delayed = rig.logEntries(t, "delaying request")
	if len(delayed) != 9 {
		t.Fatalf("%d delay lines, want 9", len(delayed))
	}
	if last := delayed[8]; last.Level != "info" || last.NLevel != "notice" {
		t.Errorf("a delay under limit_req_log_level warn logs at notice: %+v", last)
	}
}

// limit_req_status, inherited from the server; dry run counts and logs
// without rejecting or delaying; the API reports the counters.
func TestLimitReqStatusDryRunAPI(t *testing.T) {
	rig := startLimit(t, fmt.Sprintf(limitServer, `
    limit_req_status 429;
    location / { limit_req zone=one burst=1 nodelay; }
    location /dry/ { limit_req zone=one burst=1; limit_req_dry_run on; alias {{DIR}}/html/; }
    location /api/ { api; }`))
	ok := step{status: "200", limit: "PASSED"}
	rig.run(t, "/", []step{ok, ok, {status: "429", limit: "REJECTED"}})
	rig.clock.Advance(time.Minute)
	rig.run(t, "/dry/", []step{ok, {status: "200", limit: "DELAYED_DRY_RUN"},
		{status: "200", limit: "REJECTED_DRY_RUN"}, {status: "200", limit: "REJECTED_DRY_RUN"}})
	lines := rig.logEntries(t, "limiting requests, dry run")
	if len(lines) != 2 || !strings.HasPrefix(lines[0].Message, `limiting requests, dry run, excess: 2.000 by zone "one"`) {
		t.Errorf("dry run lines %+v", lines)
	}
	r := get(t, rig.addr, "t", "/api/9/http/limit_reqs/one")
	want := `{"passed":3,"delayed":0,"rejected":1,"delayed_dry_run":1,"rejected_dry_run":2}`
	if !strings.HasPrefix(r.status, "HTTP/1.1 200") || strings.TrimSpace(r.body) != want {
		t.Errorf("API: %s %s, want %s", r.status, r.body, want)
	}
}

// Several limit_req: all are checked in order; a rejection by one leaves
// the zones before it unaccounted; an empty key is not accounted, and a
// request with only empty keys has no $limit_req_status.
func TestLimitReqSeveralZones(t *testing.T) {
	rig := startLimit(t, `
  limit_req_zone $binary_remote_addr zone=addr:1m rate=10r/s;
  limit_req_zone $http_x_user zone=user:1m rate=10r/s;
  server {
    listen 127.0.0.1:{{PORT}};
    server_name t;
    root {{DIR}}/html;
    add_header X-Limit $limit_req_status always;
    location / { limit_req zone=addr burst=10 nodelay; limit_req zone=user burst=1 nodelay; }
    location /user/ { limit_req zone=user burst=1 nodelay; alias {{DIR}}/html/; }
    location /both/ { limit_req zone=addr burst=10; limit_req zone=user burst=5 nodelay; alias {{DIR}}/html/; }
  }`)
	ok, rej := step{status: "200", limit: "PASSED"}, step{status: "503", limit: "REJECTED"}
	rig.run(t, "/", []step{ok, ok, rej, rej}, "X-User: u")
	// addr was accounted twice (excess 1000): the rejected requests left
	// it as it was. A request without X-User is accounted in addr alone.
	rig.run(t, "/", []step{ok}, "X-Other: 1")
	res, err := rig.stores["addr"].LimitReqCheck("\x7f\x00\x00\x01", zone.Limit{Burst: 10, NoDelay: true})
	if err != nil || res.Excess != 3000 {
		t.Errorf("addr zone: next excess %d (%v), want 3000 after three accounted requests", res.Excess, err)
	}
	if got, want := rig.counters("user"), (api.LimitReq{Name: "user", Passed: 2, Rejected: 2}); got != want {
		t.Errorf("user counters %+v, want %+v", got, want)
	}
	if got, want := rig.counters("addr"), (api.LimitReq{Name: "addr", Passed: 3}); got != want {
		t.Errorf("addr counters %+v, want %+v", got, want)
	}
	rig.run(t, "/user/", []step{{status: "200"}, {status: "200"}, {status: "200"}})
	if lines := rig.logEntries(t, "limiting requests"); len(lines) != 2 || !strings.Contains(lines[1].Message, `by zone "user"`) {
		t.Errorf("limiting lines %+v", lines)
	}
	// The delay comes from the zone that asks for the longest one, here
	// the first (addr at excess 3000: 300 ms), whose counter says delayed.
	rig.run(t, "/both/", []step{{status: "200", limit: "DELAYED", delay: 300 * time.Millisecond}}, "X-User: w")
	if got, want := rig.counters("addr"), (api.LimitReq{Name: "addr", Passed: 3, Delayed: 1}); got != want {
		t.Errorf("addr counters %+v, want %+v", got, want)
	}
	if got, want := rig.counters("user"), (api.LimitReq{Name: "user", Passed: 3, Rejected: 2}); got != want {
		t.Errorf("user counters %+v, want %+v", got, want)
	}
	if d := rig.logEntries(t, "delaying request"); len(d) != 1 || !strings.HasPrefix(d[0].Message, `delaying request, excess: 3.000, by zone "addr"`) {
		t.Errorf("delay lines %+v", d)
	}
}

// Without Deps.LimitZone the module is not run, and not reported as
// implemented.
func TestLimitReqNeedsZones(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t, dir, "events {}\nhttp { limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s; limit_req zone=one; server { listen 127.0.0.1:8080; } }\n")
	s, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Implemented()["limit_req"] {
		t.Error("limit_req reported as implemented without zones")
	}
	s, err = New(cfg, Deps{LimitZone: func(string) *zone.Store { return nil }})
	if err == nil || !strings.Contains(err.Error(), `limit_req zone "one"`) {
		t.Errorf("New with an unknown zone: %v", err)
	}
	st, _ := zone.New(zone.Config{Name: "one", Kind: zone.KindLimitReq, Size: 1 << 20, Rate: 1000})
	defer st.Close()
	if s, err = New(cfg, Deps{LimitZone: func(string) *zone.Store { return st }}); err != nil || !s.Implemented()["limit_req_dry_run"] {
		t.Errorf("New with zones: %v, implemented %v", err, s != nil && s.Implemented()["limit_req"])
	}
}

// The same burst to nginx and zonesync: with rate=1r/m nothing drains
// while the test runs, so both answer 200 four times (excess 0 to 3000)
// then 503.
func TestNginxLimitReq(t *testing.T) {
	bin := nginxPath(t)
	g := diffGroup{name: "limit_req", http: `
  limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
  limit_req_zone $binary_remote_addr zone=two:1m rate=1r/m;
  server {
    listen 127.0.0.1:{{PORT}};
    server_name t;
    root {{DIR}}/html;
    add_header X-Limit $limit_req_status always;
    location / { limit_req zone=one burst=3 nodelay; }
    location /e/ { limit_req zone=two burst=1 nodelay; error_page 503 = /e/index.html; alias {{DIR}}/html/; }
  }`, files: map[string]string{"html/index.html": "hello\n"}}
	var reqs []string
	for range 7 {
		reqs = append(reqs, rq("GET / HTTP/1.1"))
	}
	// A rejected request redirected by error_page is not limited again:
	// it gets the file (with "=", the file's status: error_page keeping
	// 503 would show that this core still sends Last-Modified there).
	for range 3 {
		reqs = append(reqs, rq("GET /e/ HTTP/1.1"))
	}
	c := diffCase{name: "burst", reqs: reqs}
	mk := func(name string) side { return side{name: name, dir: t.TempDir(), ports: []int{freePort(t)}} }
	ng, zs := mk("nginx"), mk("zonesync")
	g.prepare(t, ng)
	startNginx(t, bin, ng.dir, [][2]string{{"tcp", fmt.Sprintf("127.0.0.1:%d", ng.ports[0])}})
	conf := g.prepare(t, zs)
	cfg := loadConfig(t, zs.dir, conf)
	stores := limitStores(t, cfg, nil)
	rn := startServer(t, zs.dir, conf, Deps{LimitZone: func(name string) *zone.Store { return stores[name] }})
	want := c.exchange(t, ng)
	got := c.exchange(t, zs)
	var codes []string
	for _, w := range want {
		codes = append(codes, w[9:12])
	}
	if strings.Join(codes, " ") != "200 200 200 200 503 503 503 200 200 200" || !strings.Contains(want[9], "X-Limit: REJECTED") {
		t.Errorf("nginx answered %v", codes)
	}
	if strings.Join(got, "\n----\n") != strings.Join(want, "\n----\n") {
		t.Errorf("zonesync answers\n%s\n\nnginx answers\n%s\n\nzonesync log:\n%s",
			strings.Join(got, "\n----\n"), strings.Join(want, "\n----\n"), rn.log)
	}
	nlog, _ := os.ReadFile(filepath.Join(ng.dir, "logs", "error.log"))
	// The excess drains by 0.001 every 60 ms at 1r/m: only its shape is
	// compared.
	line := regexp.MustCompile(`limiting requests, excess: [34]\.[0-9]{3} by zone "one", client: 127\.0\.0\.1, server: t, request: "GET / HTTP/1\.1", host: "t"`)
	if !line.Match(nlog) {
		t.Errorf("nginx's log lacks the line zonesync writes:\n%s", nlog)
	}
	var msgs []string
	for _, e := range logEntries(t, rn.log, "limiting requests") {
		msgs = append(msgs, e.Message)
	}
	if !line.MatchString(strings.Join(msgs, "\n")) {
		t.Errorf("zonesync's log lacks nginx's line:\n%s", rn.log)
	}
}
