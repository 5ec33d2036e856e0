package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		status int
		body   string
		close  bool
		err    error // nil: no error; errAny: some error
	}{
		{name: "content-length", raw: "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", status: 201},
		{name: "body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello", status: 200, body: "hello"},
		{name: "chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: 1\r\n\r\n", status: 200, body: "abcde"},
		{name: "no content", raw: "HTTP/1.1 204 No Content\r\n\r\n", status: 204},
		{name: "close", raw: "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", status: 201, close: true},
		{name: "http/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", close: true},
		{name: "http/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
		{name: "body to the end", raw: "HTTP/1.1 200 OK\r\n\r\nrest", status: 200, body: "rest", close: true},
		{name: "nothing", raw: "", err: io.EOF},
		{name: "cut in the headers", raw: "HTTP/1.1 200 OK\r\nContent-Len", err: io.ErrUnexpectedEOF},
		{name: "cut in the body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", err: io.ErrUnexpectedEOF},
		{name: "not http", raw: "SSH-2.0-OpenSSH\r\n\r\n", err: errAny},
		{name: "bad length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := readResponse(bufio.NewReader(strings.NewReader(tt.raw)))
			switch {
			case tt.err == errAny && err == nil, tt.err != errAny && !errors.Is(err, tt.err):
				t.Fatalf("error %v, want %v", err, tt.err)
			case tt.err != nil:
				return
			}
			if r.status != tt.status || string(r.body) != tt.body || r.close != tt.close {
				t.Errorf("got status %d body %q close %v, want %d %q %v", r.status, r.body, r.close, tt.status, tt.body, tt.close)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestReadReply(t *testing.T) {
	tests := []struct {
		raw  string
		want redisReply
		bad  bool
	}{
		{raw: "+OK\r\n", want: redisReply{kind: '+', text: "OK"}},
		{raw: "-LOADING Redis is loading\r\n", want: redisReply{kind: '-', text: "LOADING Redis is loading"}},
		{raw: ":1000000\r\n", want: redisReply{kind: ':', n: 1000000}},
		{raw: "$5\r\nab\r\nc\r\n", want: redisReply{kind: '$', n: 5, text: "ab\r\nc"}},
		{raw: "$-1\r\n", want: redisReply{kind: '$', n: -1, null: true}},
		{raw: "*2\r\n$1\r\na\r\n:1\r\n", want: redisReply{kind: '*', n: 2}},
		{raw: "$3\r\nabcd\r\n", bad: true},
		{raw: "$3\r\nab", bad: true},
		{raw: ":x\r\n", bad: true},
		{raw: "?\r\n", bad: true},
		{raw: "\r\n", bad: true},
	}
	for _, tt := range tests {
		got, err := readReply(bufio.NewReader(strings.NewReader(tt.raw)), 0)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: no error, got %+v", tt.raw, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.raw, got, err, tt.want)
		}
	}
}

func TestInfoField(t *testing.T) {
	info := "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nmaster_repl_offset:4242\r\n"
	if v, ok := infoField(info, "master_repl_offset"); !ok || v != "4242" {
		t.Errorf("master_repl_offset: %q %v", v, ok)
	}
	if _, ok := infoField(info, "master_link_status"); ok {
		t.Error("found a field that is not there")
	}
}

// closingServer answers pipelined GETs with the request's path as the
// body and closes every connection after perConn responses, the last one
// saying "Connection: close", as nginx does at keepalive_requests.
func closingServer(t *testing.T, perConn int) (addr string, conns func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
			wg.Go(func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for i := 1; i <= perConn; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					conn := "keep-alive"
					if i == perConn {
						conn = "close"
					}
					fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nConnection: %s\r\nContent-Length: %d\r\n\r\n%s", conn, len(req.URL.Path), req.URL.Path)
				}
			})
		}
	})
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func TestRoundTripsResendsWhatAClosedConnectionDidNotAnswer(t *testing.T) {
	addr, conns := closingServer(t, 3)
	c := &httpConn{addr: addr, deadline: time.Now().Add(time.Minute)}
	defer c.drop()
	var reqs [][]byte
	for i := range 10 {
		reqs = append(reqs, request("GET", addr, "/"+strconv.Itoa(i), nil))
	}
	var got []string
	err := c.roundTrips(reqs, func(i int, r *httpResponse) error {
		if r.status != 200 {
			return fmt.Errorf("status %d", r.status)
		}
		got = append(got, fmt.Sprintf("%d=%s", i, r.body))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "0=/0 1=/1 2=/2 3=/3 4=/4 5=/5 6=/6 7=/7 8=/8 9=/9"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if n := conns(); n != 4 {
		t.Errorf("%d connections for 10 requests at 3 per connection, want 4", n)
	}
}

func TestRoundTripsGivesUpOnAServerThatNeverAnswers(t *testing.T) {
	addr, _ := closingServer(t, 0)
	c := &httpConn{addr: addr, deadline: time.Now().Add(time.Minute)}
	_, err := c.roundTrip(request("GET", addr, "/", nil))
	if err == nil || !strings.Contains(err.Error(), "without an answer") {
		t.Errorf("error %v, want one about connections closed without an answer", err)
	}
}

func TestStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (a b) (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1000 1000000 500"
	got, err := statCPU(stat)
	if err != nil || got != 325 {
		t.Errorf("got %d, %v; want 325", got, err)
	}
	if _, err := statCPU("4242 (x) S 1"); err == nil {
		t.Error("no error for a short line")
	}
}

func TestRunning(t *testing.T) {
	if !running(os.Getpid()) {
		t.Error("this process is not running")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	if running(cmd.Process.Pid) {
		t.Errorf("process %d exited and was reaped, yet is running", cmd.Process.Pid)
	}
}

func TestKeysAndValues(t *testing.T) {
	k, err := keyName("s", 42, 32)
	if err != nil || k != "s0000000000000000000000000000042" {
		t.Errorf("keyName: %q %v", k, err)
	}
	if _, err := keyName("prefix", 1e6, 8); err == nil {
		t.Error("no error for a key that does not fit")
	}
	if v := value(42, 32); len(v) != 32 || !strings.HasPrefix(v, "v42-x") {
		t.Errorf("value: %q", v)
	}
	if v := value(123456, 4); v != "v123" {
		t.Errorf("short value: %q", v)
	}
	for _, p := range []string{`a"b`, "a b", "a/b", "a%b"} {
		if validPrefix(p) == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 50); p != 100*time.Millisecond {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(d, 99); p != 198*time.Millisecond {
		t.Errorf("p99 %v", p)
	}
	if p := percentile(d[:1], 99); p != time.Millisecond {
		t.Errorf("p99 of one %v", p)
	}
}

func TestParseRefusesUnboundedOrMalformedRuns(t *testing.T) {
	for _, args := range [][]string{
		{"-a", "http://x/api/9", "-b", "http://y/api/9", "-n", "0"},
		{"-a", "http://x/api/9", "-b", "http://y/api/9", "-n", "100000000"},
		{"-a", "http://x/api/9", "-b", "http://y/api/9", "-timeout", "0"},
		{"-a", "http://x/api/9"},
		{"-kind", "redis", "-a", "h:1", "-b", "h:2", "-bulk"},
		{"-a", "http://x/api/9", "-b", "http://y/api/9", "-pids", "1"},
		{"-a", "http://x/api/9", "-b", "http://y/api/9", "-prefix", "a b"},
	} {
		if _, err := parse("steady", args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := parse("wait", []string{"-b", "http://y/api/9", "-n", "5"}); err != nil {
		t.Errorf("wait with -b only: %v", err)
	}
}

// fakeCluster is two zonesync nodes whose replication is instantaneous: A's
// API adds to the shared pairs, B's reads them.
type fakeCluster struct {
	mu     sync.Mutex
	pairs  map[string]string
	posts  int
	a, b   *httptest.Server
	expire string
}

const fakeRecordBytes = 91

func newFakeCluster(t *testing.T) *fakeCluster {
	c := &fakeCluster{pairs: map[string]string{}}
	c.a = httptest.NewServer(http.HandlerFunc(c.serve))
	c.b = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(func() { c.a.Close(); c.b.Close() })
	return c
}

func (c *fakeCluster) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.URL.Path == "/api/9/stream/zone_sync/":
		fmt.Fprintf(w, `{"zones":{"bench":{"records_pending":0,"records_total":%d}},"status":{"bytes_in":0,"msgs_in":0,"msgs_out":1,"bytes_out":%d,"nodes_online":1}}`,
			len(c.pairs), len(c.pairs)*fakeRecordBytes)
	case r.URL.Path != "/api/9/http/keyvals/bench":
		http.NotFound(w, r)
	case r.Method == "GET":
		v, ok := c.pairs[r.URL.Query().Get("key")]
		if !ok {
			w.WriteHeader(404)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{r.URL.Query().Get("key"): v})
	case r.Method == "POST":
		var body map[string]struct {
			Value  string `json:"value"`
			Expire int64  `json:"expire"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body) == 0 || len(body) > 1 && len(c.pairs) > 0 {
			w.WriteHeader(400)
			return
		}
		for k, v := range body {
			if _, dup := c.pairs[k]; dup || v.Expire != 60000 || len(k) != 32 || len(v.Value) != 32 {
				w.WriteHeader(409)
				return
			}
			c.pairs[k] = v.Value
		}
		c.posts++
		w.WriteHeader(201)
	}
}

// fieldsOf splits a syncbench line.
func fieldsOf(t *testing.T, line string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("field %q in %q", f, line)
		}
		m[k] = v
	}
	return m
}

func mustParse(t *testing.T, cmd string, args ...string) *options {
	t.Helper()
	o, err := parse(cmd, args)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSteadyZonesync(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		c := newFakeCluster(t)
		args := []string{"-a", c.a.URL + "/api/9", "-b", c.b.URL + "/api/9", "-n", "1000", "-c", "3", "-pipeline", "7", "-poll", "0",
			"-pids", fmt.Sprintf("%d,%d", os.Getpid(), os.Getpid())}
		if bulk {
			args = append(args, "-bulk")
		}
		line, err := runSteady(mustParse(t, "steady", args...))
		if err != nil {
			t.Fatal(err)
		}
		f := fieldsOf(t, line)
		if f["records"] != "1000" || f["held"] != "1000" || f["bytes_per_record"] != "91.0" || f["cpu_a_s"] == "" {
			t.Errorf("bulk %v: %s", bulk, line)
		}
		wantPosts := 1000
		if bulk {
			wantPosts = 1
		}
		if len(c.pairs) != 1000 || c.posts != wantPosts {
			t.Errorf("bulk %v: %d pairs in %d POSTs, want 1000 in %d", bulk, len(c.pairs), c.posts, wantPosts)
		}
	}
}

func TestLoadWaitReadyDelayZonesync(t *testing.T) {
	c := newFakeCluster(t)
	a, b := c.a.URL+"/api/9", c.b.URL+"/api/9"
	if _, err := runReady(mustParse(t, "ready", "-a", a, "-online", "1")); err != nil {
		t.Fatal(err)
	}
	line, err := runLoad(mustParse(t, "load", "-a", a, "-n", "500", "-bulk", "-prefix", "n"))
	if err != nil || fieldsOf(t, line)["records"] != "500" {
		t.Fatalf("load: %q %v", line, err)
	}
	self := strconv.Itoa(os.Getpid())
	line, err = runWait(mustParse(t, "wait", "-b", b, "-n", "500", "-since", strconv.FormatInt(time.Now().UnixNano(), 10), "-pids", self+","+self))
	if f := fieldsOf(t, line); err != nil || f["records"] != "500" || f["cpu_b_per_million_s"] == "" {
		t.Fatalf("wait: %q %v", line, err)
	}
	line, err = runDelay(mustParse(t, "delay", "-a", a, "-b", b, "-n", "20", "-c", "3", "-prefix", "d"))
	if err != nil || fieldsOf(t, line)["probes"] != "20" {
		t.Fatalf("delay: %q %v", line, err)
	}
	if len(c.pairs) != 520 {
		t.Errorf("%d pairs, want 520", len(c.pairs))
	}
}

func TestReadyGivesUp(t *testing.T) {
	c := newFakeCluster(t)
	_, err := runReady(mustParse(t, "ready", "-a", c.a.URL+"/api/9", "-online", "2", "-timeout", "50ms"))
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("error %v, want not ready", err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err == nil {
		_, err = runReady(mustParse(t, "ready", "-a", c.a.URL+"/api/9", "-online", "2", "-pid", strconv.Itoa(cmd.Process.Pid)))
		if err == nil || !strings.Contains(err.Error(), "has exited") {
			t.Errorf("error %v, want one about the exited process", err)
		}
	}
}

// fakeRedis is a primary and its replica in one: SET on either is seen by
// both at once.
type fakeRedis struct {
	mu     sync.Mutex
	keys   map[string]string
	offset int64
	ln     []net.Listener
	wg     sync.WaitGroup
}

func newFakeRedis(t *testing.T) (*fakeRedis, string, string) {
	r := &fakeRedis{keys: map[string]string{}}
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.ln = append(r.ln, ln)
		addrs = append(addrs, ln.Addr().String())
		r.wg.Go(func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				r.wg.Go(func() { r.serve(nc) })
			}
		})
	}
	t.Cleanup(func() {
		for _, ln := range r.ln {
			ln.Close()
		}
		r.wg.Wait()
	})
	return r, addrs[0], addrs[1]
}

func (r *fakeRedis) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	bw := bufio.NewWriter(nc)
	for {
		args, err := readCommand(br)
		if err != nil {
			return
		}
		r.mu.Lock()
		switch strings.ToUpper(args[0]) {
		case "PING":
			bw.WriteString("+PONG\r\n")
		case "SET":
			if len(args) == 5 && args[3] == "EX" && args[4] == "60" {
				r.keys[args[1]] = args[2]
				r.offset += int64(len(args[1]) + len(args[2]) + 30)
				bw.WriteString("+OK\r\n")
			} else {
				bw.WriteString("-ERR syntax error\r\n")
			}
		case "GET":
			if v, ok := r.keys[args[1]]; ok {
				fmt.Fprintf(bw, "$%d\r\n%s\r\n", len(v), v)
			} else {
				bw.WriteString("$-1\r\n")
			}
		case "DBSIZE":
			fmt.Fprintf(bw, ":%d\r\n", len(r.keys))
		case "INFO":
			info := fmt.Sprintf("# Replication\r\nrole:master\r\nconnected_slaves:1\r\nmaster_link_status:up\r\nmaster_sync_in_progress:0\r\nmaster_repl_offset:%d\r\n", r.offset)
			fmt.Fprintf(bw, "$%d\r\n%s\r\n", len(info), info)
		default:
			bw.WriteString("-ERR unknown command\r\n")
		}
		r.mu.Unlock()
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(line, "*"))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad command %q", line)
	}
	args := make([]string, n)
	for i := range args {
		r, err := readReply(br, 0)
		if err != nil || r.kind != '$' {
			return nil, fmt.Errorf("bad argument: %v", err)
		}
		args[i] = r.text
	}
	return args, nil
}

func TestRedis(t *testing.T) {
	r, primary, replica := newFakeRedis(t)
	if _, err := runReady(mustParse(t, "ready", "-kind", "redis", "-a", replica, "-linked", "-online", "1")); err != nil {
		t.Fatal(err)
	}
	line, err := runSteady(mustParse(t, "steady", "-kind", "redis", "-a", primary, "-b", replica, "-n", "1000", "-c", "3", "-pipeline", "7", "-poll", "0"))
	if err != nil {
		t.Fatal(err)
	}
	if f := fieldsOf(t, line); f["held"] != "1000" || f["bytes_per_record"] != "94.0" {
		t.Errorf("steady: %s", line)
	}
	line, err = runDelay(mustParse(t, "delay", "-kind", "redis", "-a", primary, "-b", replica, "-n", "10", "-prefix", "d"))
	if err != nil || fieldsOf(t, line)["probes"] != "10" {
		t.Fatalf("delay: %q %v", line, err)
	}
	if len(r.keys) != 1010 {
		t.Errorf("%d keys, want 1010", len(r.keys))
	}
}
