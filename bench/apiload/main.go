// Command apiload drives a keyval zone of a running node through the NGINX
// Plus API, for the api and memory sections of bench/run.sh.
//
// It sends a fixed number of requests over a fixed number of keep-alive
// connections (one goroutine each, speaking HTTP/1.1 by hand: see raw.go) and prints one line of
// results: requests per second, the 50th and 99th percentile latency, the
// errors and the CPU time the client itself used. Every request must get the
// operation's success status; any other answer or a transport error counts
// as an error and makes the exit status 1. The run is bounded in count (-n)
// and in time (-timeout): past the deadline the workers stop and it fails.
//
//	apiload -url http://127.0.0.1:8080/api/9/http/keyvals/kv -op post  -n 100000 -c 50
//	apiload -url ... -op patch -n 100000 -c 50 -keys 100000
//	apiload -url ... -op get   -n 100000 -c 50 -keys 100000
//	apiload -url ... -wait 10s      # only wait until the node answers
//
// Operations, each on 32-byte keys and values by default (see keyName):
//
//	post   POST {"KEY":"VALUE"} for keys first .. first+n-1, each new: 201
//	patch  PATCH {"KEY":"VALUE"} of random keys in 0 .. keys-1: 204
//	get    GET ?key=KEY of random keys in 0 .. keys-1: 200
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds on the flags, so a typo cannot start an unbounded run.
const (
	maxRequests    = 100_000_000
	maxConcurrency = 4096
	maxFieldSize   = 1 << 16
	maxErrorsShown = 5
)

// options are the command's inputs.
type options struct {
	url       string
	op        string
	n         int           // requests
	c         int           // connections (= goroutines)
	keys      int           // key space for patch and get
	first     int           // first key index for post
	prefix    string        // key name prefix
	keySize   int           // bytes per key
	valueSize int           // bytes per value
	timeout   time.Duration // bound on the whole run
	reqTime   time.Duration // bound on one request
	seed      uint64
}

// result is what a run measured.
type result struct {
	requests  int           // requests answered (successfully or not)
	errors    int           // requests that failed
	firstErrs []string      // the first few failures, for the log
	elapsed   time.Duration // wall time of the whole run
	latencies []time.Duration
	clientCPU time.Duration // user+system CPU time of this process
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "the keyval zone's API URL, e.g. http://127.0.0.1:8080/api/9/http/keyvals/kv")
	flag.StringVar(&o.op, "op", "get", "operation: post, patch or get")
	flag.IntVar(&o.n, "n", 10000, "number of requests")
	flag.IntVar(&o.c, "c", 50, "number of concurrent keep-alive connections")
	flag.IntVar(&o.keys, "keys", 0, "patch, get: keys 0..keys-1 are used at random (default -n)")
	flag.IntVar(&o.first, "first", 0, "post: index of the first new key")
	flag.StringVar(&o.prefix, "prefix", "k", "prefix of every key name")
	flag.IntVar(&o.keySize, "key-size", 32, "bytes per key")
	flag.IntVar(&o.valueSize, "value-size", 32, "bytes per value")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up (and fail) after this long")
	flag.DurationVar(&o.reqTime, "request-timeout", 10*time.Second, "give up on one request after this long")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the random key choice")
	wait := flag.Duration("wait", 0, "only wait up to this long until the URL answers, then exit")
	flag.Parse()

	if *wait > 0 {
		if err := waitReady(o.url, *wait); err != nil {
			fmt.Fprintln(os.Stderr, "apiload:", err)
			os.Exit(1)
		}
		return
	}
	if o.keys == 0 {
		o.keys = o.n
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(2)
	}
	r, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(1)
	}
	fmt.Println(r.line(o))
	for _, e := range r.firstErrs {
		fmt.Fprintln(os.Stderr, "apiload: error:", e)
	}
	if r.errors > 0 {
		os.Exit(1)
	}
}

func (o options) check() error {
	switch {
	case o.url == "":
		return errors.New("-url is required")
	case o.op != "post" && o.op != "patch" && o.op != "get":
		return fmt.Errorf("-op %q: want post, patch or get", o.op)
	case o.n < 1 || o.n > maxRequests:
		return fmt.Errorf("-n must be between 1 and %d", maxRequests)
	case o.c < 1 || o.c > maxConcurrency:
		return fmt.Errorf("-c must be between 1 and %d", maxConcurrency)
	case o.keys < 1 || o.first < 0:
		return errors.New("-keys must be positive and -first not negative")
	case o.valueSize < 1 || o.valueSize > maxFieldSize:
		return fmt.Errorf("-value-size must be between 1 and %d", maxFieldSize)
	case o.keySize > maxFieldSize:
		return fmt.Errorf("-key-size must be at most %d", maxFieldSize)
	case o.timeout <= 0 || o.reqTime <= 0:
		return errors.New("-timeout and -request-timeout must be positive")
	}
	last := o.keys - 1
	if o.op == "post" {
		last = o.first + o.n - 1
	}
	if _, err := keyName(o.prefix, last, o.keySize); err != nil {
		return err
	}
	return validPrefix(o.prefix)
}

// validPrefix refuses prefixes that would need escaping in JSON or in a URL,
// so that keys go into both as they are.
func validPrefix(p string) error {
	for _, c := range []byte(p) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("-prefix %q: use letters, digits, '-', '_' and '.' only", p)
		}
	}
	return nil
}

// keyName is key number i: the prefix, then i zero-padded to size bytes in
// all. bench/memrecord writes the same names for Redis.
func keyName(prefix string, i, size int) (string, error) {
	digits := size - len(prefix)
	s := fmt.Sprintf("%s%0*d", prefix, max(digits, 1), i)
	if len(s) != size {
		return "", fmt.Errorf("key %d with prefix %q does not fit in %d bytes", i, prefix, size)
	}
	return s, nil
}

// value is the value written with key number i: size bytes, starting with
// "v" and the number, so that no two neighbours are equal.
func value(i, size int) string {
	s := fmt.Sprintf("v%d-", i)
	if len(s) >= size {
		return s[:size]
	}
	return s + strings.Repeat("x", size-len(s))
}

// request builds the request for key number i.
// request returns the method, path and body of request i.
func (o options) request(path string, i int) (method, target, body string, err error) {
	key, err := keyName(o.prefix, i, o.keySize)
	if err != nil {
		return "", "", "", err
	}
	switch o.op {
	case "get":
		return "GET", path + "?key=" + key, "", nil
	case "post":
		return "POST", path, `{"` + key + `":"` + value(i, o.valueSize) + `"}`, nil
	case "patch":
		return "PATCH", path, `{"` + key + `":"` + value(i, o.valueSize) + `"}`, nil
	}
	return "", "", "", fmt.Errorf("unknown op %q", o.op)
}

// wantStatus is the status every answer to op must have.
func wantStatus(op string) int {
	switch op {
	case "post":
		return http.StatusCreated
	case "patch":
		return http.StatusNoContent
	}
	return http.StatusOK
}

// run sends the requests and collects the result.
func run(o options) (*result, error) {
	addr, host, path, err := target(o.url)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	want := wantStatus(o.op)

	var next atomic.Int64 // index of the next request to send
	lat := make([][]time.Duration, o.c)
	errs := make([][]string, o.c)
	nerr := make([]int, o.c)
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range o.c {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(o.seed, uint64(w)))
			conn := &rawConn{addr: addr, host: host, timeout: o.reqTime}
			defer conn.close()
			lat[w] = make([]time.Duration, 0, o.n/o.c+1)
			for ctx.Err() == nil {
				j := int(next.Add(1)) - 1
				if j >= o.n {
					return
				}
				i := o.first + j
				if o.op != "post" {
					i = rng.IntN(o.keys)
				}
				d, err := do(conn, o, path, i, want)
				if ctx.Err() != nil {
					return // the deadline, not the server, failed this one
				}
				lat[w] = append(lat[w], d)
				if err != nil {
					nerr[w]++
					if len(errs[w]) < maxErrorsShown {
						errs[w] = append(errs[w], err.Error())
					}
				}
			}
		})
	}
	wg.Wait()
	r := &result{elapsed: time.Since(start), clientCPU: cpuTime() - cpu0}
	for w := range o.c {
		r.latencies = append(r.latencies, lat[w]...)
		r.errors += nerr[w]
		for _, e := range errs[w] {
			if len(r.firstErrs) < maxErrorsShown {
				r.firstErrs = append(r.firstErrs, e)
			}
		}
	}
	r.requests = len(r.latencies)
	if ctx.Err() != nil {
		return r, fmt.Errorf("stopped after %v with %d of %d requests done (-timeout)", o.timeout, r.requests, o.n)
	}
	return r, nil
}

// do sends request i on conn and reads the whole answer. It returns the
// latency and an error for any unexpected answer.
func do(conn *rawConn, o options, path string, i, want int) (time.Duration, error) {
	method, target, body, err := o.request(path, i)
	if err != nil {
		return 0, err
	}
	t := time.Now()
	status, answer, err := conn.roundTrip(method, target, body)
	d := time.Since(t)
	if err != nil {
		return d, err
	}
	if status != want {
		return d, fmt.Errorf("%s %s: status %d, want %d: %s", method, target, status, want, bytes.TrimSpace(answer))
	}
	return d, nil
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// line is the one-line report, fields as name=value for bench/run.sh.
func (r *result) line(o options) string {
	slices.Sort(r.latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rps := 0.0
	if r.elapsed > 0 {
		rps = float64(r.requests) / r.elapsed.Seconds()
	}
	return fmt.Sprintf("op=%s requests=%d connections=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d client_cpu_s=%.2f",
		o.op, r.requests, o.c, r.elapsed.Seconds(), rps,
		ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99)), r.errors, r.clientCPU.Seconds())
}

// cpuTime is the user and system CPU time used by this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitReady polls url until it gives any HTTP answer, for up to limit.
func waitReady(url string, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v: %v", url, limit, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a server that is starting
	}
}
