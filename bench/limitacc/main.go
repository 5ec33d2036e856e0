// Command limitacc measures how closely a cluster of zonesync nodes holds a
// synchronized limit_req limit: one client sends factor × r requests per
// second, spread evenly (round robin) over the nodes, for a fixed time, all
// from one source address so that every request has the same key, and the
// cluster should accept no more than one node alone would: r·T + burst.
//
//	limitacc -nodes http://127.0.0.1:8081/,http://127.0.0.1:8082/,http://127.0.0.1:8083/ \
//	         -rate 100r/s -burst 10 -factor 10 -duration 30s
//
// Each node serves the URL given to it from a location such as
//
//	limit_req_zone $binary_remote_addr zone=acc:1m rate=100r/s sync;
//	server {
//	    listen 127.0.0.1:8081;
//	    location / { limit_req zone=acc burst=10 nodelay; root /some/dir; }
//	}
//
// (static content: limit_req runs after the rewrite phase, so a location
// answering with return is never limited). The nodes must be joined by
// zone_sync before the run, and the key must be fresh: a new cluster, or a
// source address (-from, any of 127.0.0.0/8 on Linux) not used since the
// zone last saw it.
//
// Pacing: request i is due at i/(factor·r) s after the start; a ticker
// sends every request due by each tick, each on its own goroutine over
// keep-alive connections, so neither a late tick nor a slow answer drops or
// delays the ones after it. 200 counts as accepted, 503 as rejected;
// anything else, or no answer, is an error and makes the exit status 1.
// Output, first line fixed:
//
//	accepted N of M sent; limit r·T+burst = X; ratio accepted/X = Y
//	rate=100r/s burst=10 client=1000r/s duration=30s span=29.999s rejected=26990 errors=0
//	node http://127.0.0.1:8081/: sent=10000 accepted=1003 rejected=8997 errors=0
//	...
//
// T is the duration, or the time the sends took (span: from the start to
// the last send) when the sender fell more than 5% behind.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds on the flags, so a typo cannot start an unbounded run.
const (
	maxNodes       = 64
	maxClientRate  = 100_000 // requests per second in all
	maxDuration    = 10 * time.Minute
	maxInFlight    = 8192 // requests awaiting an answer; the sender waits beyond
	minTick        = 500 * time.Microsecond
	maxErrorsShown = 5
	lagAllowed     = 0.05 // the sends may end this much past the duration
)

// options are the command's inputs.
type options struct {
	nodes    []string
	rate     float64 // limit rate, requests per second
	rateText string  // as given, for the output
	burst    int
	factor   float64 // the client sends factor × rate requests per second
	duration time.Duration
	from     string        // source address of every connection; "" = the kernel's choice
	wait     time.Duration // how long to wait for every node to accept connections
	timeout  time.Duration // bound on one request
}

// nodeCount is what one node answered.
type nodeCount struct {
	sent, accepted, rejected, errors int
}

// result is what a run measured.
type result struct {
	sent, accepted, rejected, errors int
	nodes                            []nodeCount
	span                             time.Duration // first send to last send
	firstErrs                        []string
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "limitacc:", err)
		os.Exit(2)
	}
	if err := waitReady(o); err != nil {
		fmt.Fprintln(os.Stderr, "limitacc:", err)
		os.Exit(1)
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "limitacc:", err)
		os.Exit(1)
	}
	fmt.Print(report(o, res))
	for _, e := range res.firstErrs {
		fmt.Fprintln(os.Stderr, "limitacc:", e)
	}
	if res.errors > 0 {
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("limitacc", flag.ContinueOnError)
	nodes := fs.String("nodes", "", "comma-separated URLs of the limited location, one per node")
	fs.StringVar(&o.rateText, "rate", "", "the zone's rate: Nr/s or Nr/m, as in limit_req_zone")
	fs.IntVar(&o.burst, "burst", 0, "the location's burst")
	fs.Float64Var(&o.factor, "factor", 10, "the client sends factor × rate requests per second in all")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send")
	fs.StringVar(&o.from, "from", "", "source address of every connection (default: the kernel's choice)")
	fs.DurationVar(&o.wait, "wait", 10*time.Second, "wait this long for every node to accept connections")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "bound on one request")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, n := range strings.Split(*nodes, ",") {
		if n = strings.TrimSpace(n); n != "" {
			o.nodes = append(o.nodes, n)
		}
	}
	var err error
	switch {
	case len(o.nodes) == 0:
		return o, errors.New("-nodes is required")
	case len(o.nodes) > maxNodes:
		return o, fmt.Errorf("-nodes: at most %d", maxNodes)
	case o.burst < 0:
		return o, errors.New("-burst must not be negative")
	case o.factor <= 0:
		return o, errors.New("-factor must be positive")
	case o.duration <= 0 || o.duration > maxDuration:
		return o, fmt.Errorf("-duration must be in (0, %s]", maxDuration)
	case o.timeout <= 0:
		return o, errors.New("-timeout must be positive")
	case o.from != "" && net.ParseIP(o.from) == nil:
		return o, fmt.Errorf("-from: %q is not an IP address", o.from)
	}
	if o.rate, err = parseRate(o.rateText); err != nil {
		return o, err
	}
	if c := o.rate * o.factor; c > maxClientRate {
		return o, fmt.Errorf("client rate %g r/s is above %d", c, maxClientRate)
	}
	return o, nil
}

// parseRate reads a limit_req_zone rate: "20r/s", "600r/m", or a bare
// number of requests per second.
func parseRate(s string) (float64, error) {
	num, per := s, 1.0
	switch {
	case strings.HasSuffix(s, "r/s"):
		num = strings.TrimSuffix(s, "r/s")
	case strings.HasSuffix(s, "r/m"):
		num, per = strings.TrimSuffix(s, "r/m"), 60
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("-rate: %q is not a rate such as 20r/s or 600r/m", s)
	}
	return n / per, nil
}

// waitReady waits until every node accepts a TCP connection. It does not
// send a request, which would charge the limit.
func waitReady(o options) error {
	deadline := time.Now().Add(o.wait)
	for _, n := range o.nodes {
		req, err := http.NewRequest("GET", n, nil)
		if err != nil {
			return fmt.Errorf("node %s: %v", n, err)
		}
		addr := req.URL.Host
		if req.URL.Port() == "" {
			addr = net.JoinHostPort(req.URL.Hostname(), "80")
		}
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %s does not accept connections: %v", n, err)
			}
			time.Sleep(20 * time.Millisecond) // polling until a deadline
		}
	}
	return nil
}

// newClient returns an HTTP client whose connections leave from o.from
// and are kept alive for reuse.
func newClient(o options) *http.Client {
	d := &net.Dialer{Timeout: o.timeout}
	if o.from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.from)}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: maxInFlight, DisableCompression: true}
	return &http.Client{Transport: tr, Timeout: o.timeout}
}

// run sends rate × factor × duration requests, paced and round robin, and
// counts the answers.
func run(o options) (result, error) {
	c := newClient(o)
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	perSec := o.rate * o.factor
	total := int(perSec * o.duration.Seconds())
	if total == 0 {
		return result{}, errors.New("rate × factor × duration is below one request")
	}
	res := result{nodes: make([]nodeCount, len(o.nodes))}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		slots = make(chan struct{}, maxInFlight)
	)
	answered := func(node int, code int, err error) {
		mu.Lock()
		defer mu.Unlock()
		nc := &res.nodes[node]
		switch {
		case err == nil && code == http.StatusOK:
			res.accepted++
			nc.accepted++
		case err == nil && code == http.StatusServiceUnavailable:
			res.rejected++
			nc.rejected++
		default:
			res.errors++
			nc.errors++
			if len(res.firstErrs) < maxErrorsShown {
				if err == nil {
					err = fmt.Errorf("status %d", code)
				}
				res.firstErrs = append(res.firstErrs, fmt.Sprintf("node %s: %v", o.nodes[node], err))
			}
		}
	}

	tick := time.NewTicker(max(time.Duration(float64(time.Second)/perSec), minTick))
	defer tick.Stop()
	start := time.Now()
	for sent := 0; sent < total; {
		now := <-tick.C
		due := min(total, int(now.Sub(start).Seconds()*perSec)+1)
		for ; sent < due; sent++ {
			node := sent % len(o.nodes)
			res.nodes[node].sent++
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				code, err := get(c, o.nodes[node])
				answered(node, code, err)
			}()
		}
		res.span = time.Since(start)
	}
	wg.Wait()
	res.sent = total
	return res, nil
}

// get sends one GET and reads the answer to its end, so the connection can
// be reused.
func get(c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// limitSeconds is the T of the limit r·T+burst: the duration, or the span
// of the sends when the sender fell more than lagAllowed behind it.
func limitSeconds(duration, span time.Duration) float64 {
	if float64(span) > float64(duration)*(1+lagAllowed) {
		return span.Seconds()
	}
	return duration.Seconds()
}

// report formats a result; the first line is the one the bench reads.
func report(o options, r result) string {
	secs := limitSeconds(o.duration, r.span)
	limit := o.rate*secs + float64(o.burst)
	var b strings.Builder
	fmt.Fprintf(&b, "accepted %d of %d sent; limit r·T+burst = %s; ratio accepted/X = %.3f\n",
		r.accepted, r.sent, num(limit), float64(r.accepted)/limit)
	fmt.Fprintf(&b, "rate=%s burst=%d client=%sr/s duration=%s span=%.3fs rejected=%d errors=%d\n",
		o.rateText, o.burst, num(o.rate*o.factor), o.duration, r.span.Seconds(), r.rejected, r.errors)
	for i, n := range r.nodes {
		fmt.Fprintf(&b, "node %s: sent=%d accepted=%d rejected=%d errors=%d\n", o.nodes[i], n.sent, n.accepted, n.rejected, n.errors)
	}
	return b.String()
}

// num prints a count that may be fractional, to 3 decimals at most: 3010,
// 3010.5.
func num(x float64) string {
	return strconv.FormatFloat(math.Round(x*1000)/1000, 'f', -1, 64)
}
