package api

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenGets are the GET requests whose replies testdata/endpoints.golden
// holds byte for byte.
var goldenGets = []string{
	"/api/",
	"/api/9/",
	"/api/9/nginx",
	"/api/9/processes",
	"/api/9/connections",
	"/api/9/slabs/",
	"/api/9/slabs/one",
	"/api/9/slabs?fields=",
	"/api/9/http/",
	"/api/9/http/requests",
	"/api/9/http/server_zones/",
	"/api/9/http/server_zones/site1",
	"/api/9/http/server_zones/?fields=requests",
	"/api/9/http/location_zones/",
	"/api/9/http/caches/",
	"/api/9/http/limit_conns/",
	"/api/9/http/limit_reqs/",
	"/api/9/http/keyvals/",
	"/api/9/http/keyvals/ips",
	"/api/9/http/upstreams/",
	"/api/9/stream/",
	"/api/9/stream/server_zones/",
	"/api/9/stream/limit_conns/",
	"/api/9/stream/keyvals/",
	"/api/9/stream/upstreams/",
	"/api/9/stream/zone_sync/",
	"/api/9/resolvers/",
	"/api/9/ssl",
	"/api/9/workers/",
	"/api/9/workers/0?fields=id,pid",
	"/api/8/",
	"/api/9/nope",
}

// feedCounters sets counters as the server cores would.
func feedCounters(e *env) {
	c := e.counters
	c.Processes.Respawned.Add(1)
	c.Connections.Accepted.Add(4968119)
	c.Connections.Active.Add(5)
	c.Connections.Idle.Add(117)
	c.HTTPRequests.Total.Add(10624511)
	c.HTTPRequests.Current.Add(4)
	c.SSL.Handshakes.Add(79572)
	c.SSL.HandshakesFailed.Add(21025)
	c.SSL.VerifyExpiredCert.Add(2)
	z := c.HTTPServerZone("site1")
	z.Processing.Add(2)
	z.Requests.Add(6)
	for _, s := range []int{200, 200, 301, 404, 503} {
		z.Responses.Record(s)
	}
	z.Discarded.Add(1)
	z.Received.Add(1800)
	z.Sent.Add(20183)
	c.HTTPServerZone("site2")
	l := c.HTTPLocationZone("loc1")
	l.Requests.Add(1)
	l.Responses.Record(204)
	s := c.StreamServerZone("tcp1")
	s.Connections.Add(3)
	s.RecordSession(200)
	s.RecordSession(502)
	c.HTTPLimitConn("addr").Passed.Add(15)
	c.StreamLimitConn("saddr").Rejected.Add(2)
	c.LimitReq("perip").Delayed.Add(3)
	r := c.Resolver("resolver_zone1")
	r.Name.Add(25460)
	r.Noerror.Add(26499)
	e.one.Set("a", []byte("1"), 0)
	e.ips.Set("10.0.0.0/8", []byte("private"), 0)
	e.ips.Set("2001:db8::/32", []byte("doc"), 0)
	e.skv.Set("session", []byte("x"), 0)
}

var requestID = regexp.MustCompile(`"request_id":"[0-9a-f]{32}"`)

func TestGoldenEndpoints(t *testing.T) {
	e := newEnv(t)
	feedCounters(e)
	var b strings.Builder
	for _, target := range goldenGets {
		r := e.do("GET", target, "")
		body := requestID.ReplaceAllString(r.body, `"request_id":"<32 hex>"`)
		b.WriteString("GET " + target + "\n" + strconv.Itoa(r.status) + " " + body + "\n\n")
	}
	path := filepath.Join("testdata", "endpoints.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("replies differ from %s (go test -update rewrites it):\n%s", path, b.String())
	}
}
