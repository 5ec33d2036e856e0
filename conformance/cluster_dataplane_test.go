package conformance

// Data-plane scenarios on real zonesync clusters: what a synchronized zone
// written or charged on one node does to requests served by another.
//
//	go test -count=1 -run TestClusterDenyList ./conformance -v
//	go test -count=1 -run TestClusterStreamDenyList ./conformance -v
//	go test -count=1 -run TestClusterLimitReqAccuracy ./conformance -v

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clientFrom returns an HTTP client whose connections leave from the
// loopback address ip, so that a node sees ip as $remote_addr.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	src := net.ParseIP(ip)
	if src == nil {
		t.Fatalf("bad client address %q", ip)
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// statusOf returns the status of GET url through c, or -1 on a transport
// error.
func statusOf(c *http.Client, url string) int {
	resp, err := c.Get(url)
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// mustStatus is statusOf for a request that has to be answered.
func mustStatus(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	code := statusOf(c, url)
	if code < 0 {
		t.Fatalf("GET %s: no answer", url)
	}
	return code
}

// staticSite writes index.html files under a new root for the given
// locations ("" is the root itself) and returns the root.
func staticSite(t *testing.T, dirs ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range dirs {
		dir := filepath.Join(root, d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("ok\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dumpOnFailure logs every node's zone_sync status and log when the test
// has failed, leaving out limit_req's lines about single requests. Called
// after the nodes started, it runs before they are killed.
func dumpOnFailure(t *testing.T, nodes []*clusterNode) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range nodes {
			st, err := n.client().GetStreamZoneSync(context.Background())
			var lines []string
			for _, l := range strings.Split(n.log.String(), "\n") {
				if !strings.Contains(l, "limiting requests") && !strings.Contains(l, "delaying request") {
					lines = append(lines, l)
				}
			}
			t.Logf("%s: %+v %v\n%s", n.name, st, err, strings.Join(lines, "\n"))
		}
	})
}

// seed: "Currently, it is possible to synchronize HTTP sticky sessions,
// information about excessive HTTP requests, and key-value pairs both in
// http and stream." The keyval deny list: a pair written through one node's
// API refuses the client on the other nodes, and removing it there lets the
// client in again (the removal reaching every node is zonesync's choice,
// docs/differences.md "deletes with sync"). Two zones: an exact-address
// one (type=string) in front of a proxied backend and a type=ip one holding
// a CIDR block in front of static files.
func TestClusterDenyList(t *testing.T) {
	app := backend(t, "app")
	site := staticSite(t, "net")
	ports := []int{freeTCPPort(t, "127.0.0.1"), freeTCPPort(t, "127.0.0.1"), freeTCPPort(t, "127.0.0.1")}
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 3), http: func(i int) string {
		return fmt.Sprintf(`keyval_zone zone=denylist:1m timeout=1h sync;
    keyval $remote_addr $denied zone=denylist;
    keyval_zone zone=denynets:1m timeout=1h type=ip sync;
    keyval $remote_addr $netdenied zone=denynets;
    server {
        listen 127.0.0.1:%d;
        location /exact/ {
            if ($denied) { return 403; }
            proxy_pass http://127.0.0.1:%d;
        }
        location /net/ {
            if ($netdenied) { return 403; }
            root %s;
        }
    }`, ports[i], app, site)
	}})
	startAll(nodes)
	dumpOnFailure(t, nodes)
	writer := nodes[0]
	ctx := context.Background()

	cases := []struct {
		name, zone, path, key string
		denied, allowed       string // client addresses inside and outside key
	}{
		{"exact address", "denylist", "/exact/", "127.0.0.10", "127.0.0.10", "127.0.0.11"},
		{"CIDR block", "denynets", "/net/", "127.0.0.16/29", "127.0.0.20", "127.0.0.24"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			denied, allowed := clientFrom(t, tc.denied), clientFrom(t, tc.allowed)
			url := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d%s", ports[i], tc.path) }
			for i := range nodes {
				if got := mustStatus(t, denied, url(i)); got != 200 {
					t.Fatalf("%s before the write: client %s got %d, want 200", nodes[i].name, tc.denied, got)
				}
			}

			if err := writer.client().AddKeyValPair(ctx, tc.zone, tc.key, "1"); err != nil {
				t.Fatalf("%s: POST {%q: \"1\"} to %s: %v", writer.name, tc.key, tc.zone, err)
			}
			if got := mustStatus(t, denied, url(0)); got != 403 {
				t.Fatalf("%s, just written: client %s got %d, want 403", writer.name, tc.denied, got)
			}
			for i := 1; i < len(nodes); i++ {
				waitFor(t, fmt.Sprintf("%s to refuse %s", nodes[i].name, tc.denied), func() bool {
					return statusOf(denied, url(i)) == 403
				})
				if got := mustStatus(t, allowed, url(i)); got != 200 {
					t.Fatalf("%s refuses %s: client %s got %d, want 200", nodes[i].name, tc.key, tc.allowed, got)
				}
			}

			if err := writer.client().DeleteKeyValuePair(ctx, tc.zone, tc.key); err != nil {
				t.Fatalf("%s: delete %q from %s: %v", writer.name, tc.key, tc.zone, err)
			}
			if got := mustStatus(t, denied, url(0)); got != 200 {
				t.Fatalf("%s, just deleted: client %s got %d, want 200", writer.name, tc.denied, got)
			}
			for i := 1; i < len(nodes); i++ {
				waitFor(t, fmt.Sprintf("%s to serve %s again", nodes[i].name, tc.denied), func() bool {
					return statusOf(denied, url(i)) == 200
				})
			}
		})
	}
}

// limitLoad is the outcome of one paced run against a limited location.
type limitLoad struct {
	sent, accepted, rejected, failed int
	perURL                           []int         // accepted, per url
	span                             time.Duration // first send to last send
}

// paceRequests sends total GETs at rate per second in all, round robin over
// urls, each on its own goroutine so that pacing does not wait for answers.
// A ticker paces the sends; on each tick every request that is due by then
// goes out, so a late tick delays requests but never drops them.
func paceRequests(c *http.Client, urls []string, rate float64, total int) limitLoad {
	var (
		mu  sync.Mutex
		out = limitLoad{perURL: make([]int, len(urls))}
		wg  sync.WaitGroup
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	start := time.Now()
	for sent := 0; sent < total; {
		now := <-tick.C
		due := min(total, int(now.Sub(start).Seconds()*rate)+1)
		for ; sent < due; sent++ {
			wg.Add(1)
			go func(u int) {
				defer wg.Done()
				code := statusOf(c, urls[u])
				mu.Lock()
				defer mu.Unlock()
				switch code {
				case 200:
					out.accepted++
					out.perURL[u]++
				case 503:
					out.rejected++
				default:
					out.failed++
				}
			}(sent % len(urls))
		}
		out.span = time.Since(start)
	}
	wg.Wait()
	out.sent = total
	return out
}

// seed: "Currently, it is possible to synchronize HTTP sticky sessions,
// information about excessive HTTP requests, and key-value pairs". The
// accuracy of a synchronized limit_req, the measure at a reduced
// scale: three nodes limit one client to 20r/s with burst=5, the client
// sends 10 times that, spread evenly over the nodes, for 3 s, and the
// cluster should accept about r·T+burst. The ratio accepted / (r·T+burst)
// is logged at zone_sync_interval 100ms (where it is asserted) and 1s. Run
// it alone with
//
//	go test -count=1 -run TestClusterLimitReqAccuracy ./conformance -v
//
// bench/limitacc measures the same at full scale.
func TestClusterLimitReqAccuracy(t *testing.T) {
	const (
		rate     = 20.0 // r/s, the zone's rate
		burst    = 5
		factor   = 10 // the client sends factor·rate requests per second
		duration = 3 * time.Second
		maxRatio = 1.15 // at 100ms (the issue asks 1.10 at full scale); measured 1.00–1.03 since charges add up across nodes (3.0 before)
	)
	for _, tc := range []struct {
		interval string
		bound    float64 // 0: logged only
	}{
		{"100ms", maxRatio},
		{"1s", 0},
	} {
		t.Run("interval="+tc.interval, func(t *testing.T) {
			site := staticSite(t, "")
			ports := []int{freeTCPPort(t, "127.0.0.1"), freeTCPPort(t, "127.0.0.1"), freeTCPPort(t, "127.0.0.1")}
			nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 3), interval: tc.interval, http: func(i int) string {
				// Static content: limit_req runs after the rewrite phase,
				// so a location answering with return is never limited.
				return fmt.Sprintf(`limit_req_zone $binary_remote_addr zone=acc:1m rate=%gr/s sync;
    server {
        listen 127.0.0.1:%d;
        location / {
            limit_req zone=acc burst=%d nodelay;
            root %s;
        }
    }`, rate, ports[i], burst, site)
			}})
			startAll(nodes)
			dumpOnFailure(t, nodes)
			for _, n := range nodes {
				waitFor(t, n.name+" to have both peers online", func() bool { return online(n) == 2 })
			}

			var urls []string
			for _, p := range ports {
				urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d/", p))
			}
			total := int(rate * factor * duration.Seconds())
			got := paceRequests(clientFrom(t, "127.0.0.30"), urls, rate*factor, total)

			// The limit over the duration, or over the time the sends took
			// when the sender fell more than 5% behind (a busy machine).
			secs := duration.Seconds()
			if float64(got.span) > 1.05*float64(duration) {
				secs = got.span.Seconds()
			}
			limit := rate*secs + burst
			ratio := float64(got.accepted) / limit
			t.Logf("zone_sync_interval %s: accepted %d of %d sent (%d rejected; per node %v) over %.3fs; limit r·T+burst = %.1f; ratio accepted/limit = %.3f",
				tc.interval, got.accepted, got.sent, got.rejected, got.perURL, secs, limit, ratio)
			if got.failed != 0 {
				t.Fatalf("%d requests were answered with neither 200 nor 503", got.failed)
			}
			if ratio < 0.9 {
				t.Errorf("ratio %.3f: the cluster accepted less than the limit", ratio)
			}
			if tc.bound > 0 && ratio > tc.bound {
				t.Errorf("ratio %.3f above %.2f: the cluster let through more than its limit", ratio, tc.bound)
			}
		})
	}
}

// tcpGreeter is a TCP backend on loopback that sends its name and closes.
func tcpGreeter(t *testing.T, name string) int {
	t.Helper()
	port := freeTCPPort(t, "127.0.0.1")
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(name + "\n"))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return port
}

// streamSession connects from address from to addr and returns what it
// receives until the server closes ("" for a session closed at once).
func streamSession(t *testing.T, from, addr string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// seed: "...and key-value pairs both in http and stream." The stream
// deny list as users write it: a stream keyval zone read through a map that
// sends listed clients to an upstream that refuses them. A pair written
// through node 1's API cuts the client off on node 2, and deleting it
// there lets the client in again.
func TestClusterStreamDenyList(t *testing.T) {
	app := tcpGreeter(t, "app")
	dead := freeTCPPort(t, "127.0.0.1") // nothing listens: the blackhole
	ports := []int{freeTCPPort(t, "127.0.0.1"), freeTCPPort(t, "127.0.0.1")}
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 2), node: func(i int) (string, string, string) {
		return fmt.Sprintf(`keyval_zone zone=denylist:1m timeout=1h sync;
    keyval $remote_addr $blocked zone=denylist;
    map $blocked $target {
        ""      app;
        default blackhole;
    }
    upstream app { server 127.0.0.1:%d; }
    upstream blackhole { server 127.0.0.1:%d; }
    server {
        listen 127.0.0.1:%d;
        proxy_pass $target;
        proxy_connect_timeout 1s;
    }`, app, dead, ports[i]), "", ""
	}})
	startAll(nodes)
	dumpOnFailure(t, nodes)
	ctx := context.Background()
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	const listed, other = "127.0.0.12", "127.0.0.13"
	for i := range nodes {
		if got := streamSession(t, listed, addr(i)); got != "app\n" {
			t.Fatalf("%s before the write: client %s got %q, want the backend", nodes[i].name, listed, got)
		}
	}
	if err := nodes[0].client().AddStreamKeyValPair(ctx, "denylist", listed, "1"); err != nil {
		t.Fatalf("POST to the stream keyval zone of %s: %v", nodes[0].name, err)
	}
	waitFor(t, nodes[1].name+" to cut "+listed+" off", func() bool { return streamSession(t, listed, addr(1)) == "" })
	if got := streamSession(t, other, addr(1)); got != "app\n" {
		t.Fatalf("%s cuts %s off: client %s got %q, want the backend", nodes[1].name, listed, other, got)
	}
	if err := nodes[0].client().DeleteStreamKeyValuePair(ctx, "denylist", listed); err != nil {
		t.Fatalf("delete on %s: %v", nodes[0].name, err)
	}
	waitFor(t, nodes[1].name+" to let "+listed+" in again", func() bool { return streamSession(t, listed, addr(1)) == "app\n" })
}
