package conformance

// Multi-node cluster scenarios: real zonesync processes on 127.0.0.x,
// driven through the NGINX Plus API with the official Go client. Each
// scenario cites the sentence of the zone_sync documentation it checks.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nginx/nginx-plus-go-client/v2/client"
	"github.com/zonesync/zonesync/runtime/testnet"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// zonesyncBinary builds cmd/zonesync once for every cluster test.
func zonesyncBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zonesync-cluster-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "zonesync")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/zonesync")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build failed: %v", buildErr)
	}
	return builtBin
}

// clusterNode is one zonesync process.
type clusterNode struct {
	t        *testing.T
	name     string
	dir      string
	apiPort  int
	syncAddr string // host:port of its zone_sync listen
	cmd      *exec.Cmd
	log      *testnet.Buffer
	exited   chan struct{}
}

// nodeConfig is a node's configuration; %s slots: pid dir, api port,
// zone_sync listen, the zone_sync server lines and extra stream lines.
const clusterConf = `
error_log stderr info;
pid %[1]s/zonesync.pid;
events {}
http {
    access_log off;
    keyval_zone zone=kv:1m timeout=1h sync;
    %[9]s
    server {
        listen 127.0.0.1:%[2]d;
        location /api/ { api write=on; }
    }
}
stream {
    %[5]s
    server {
        listen %[3]s%[7]s;
        zone_sync;
        zone_sync_interval %[6]s;
        zone_sync_connect_retry_interval 100ms;
        %[4]s
        %[8]s
    }
}
`

type clusterSpec struct {
	members  []string // zone_sync listen addresses, one per node
	servers  string   // zone_sync_server lines; "" lists every member statically
	stream   string   // extra stream-level lines (resolver)
	interval string
	// node, if set, gives node i's own extra stream-level lines, its
	// listen parameters and its extra zone_sync server lines (TLS).
	node func(i int) (stream, listen, server string)
	// http, if set, gives node i's extra http-level lines.
	http func(i int) string
}

func (s clusterSpec) serverLines() string {
	if s.servers != "" {
		return s.servers
	}
	var b strings.Builder
	for _, m := range s.members {
		fmt.Fprintf(&b, "zone_sync_server %s;\n        ", m)
	}
	return b.String()
}

func freeTCPPort(t *testing.T, host string) int { return testnet.Port(t, host) }

// newCluster prepares (does not start) one node per member address.
func newCluster(t *testing.T, spec clusterSpec) []*clusterNode {
	t.Helper()
	if spec.interval == "" {
		spec.interval = "100ms"
	}
	var nodes []*clusterNode
	for i, addr := range spec.members {
		n := &clusterNode{t: t, name: fmt.Sprintf("node%d", i+1), dir: t.TempDir(), apiPort: freeTCPPort(t, "127.0.0.1"), syncAddr: addr}
		stream, listen, server := spec.stream, "", ""
		if spec.node != nil {
			s, l, srv := spec.node(i)
			stream, listen, server = stream+"\n    "+s, l, srv
		}
		http := ""
		if spec.http != nil {
			http = spec.http(i)
		}
		conf := fmt.Sprintf(clusterConf, n.dir, n.apiPort, addr, spec.serverLines(), stream, spec.interval, listen, server, http)
		if err := os.WriteFile(filepath.Join(n.dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// syncAddrs returns n free zone_sync addresses, one per loopback address
// 127.0.0.1..n, all on the same port, so one configuration fits every node.
func syncAddrs(t *testing.T, n int) []string {
	t.Helper()
	for try := 0; try < 20; try++ {
		port := freeTCPPort(t, "127.0.0.1")
		var addrs []string
		for i := 1; i <= n && testnet.Free(fmt.Sprintf("127.0.0.%d", i), port); i++ {
			addrs = append(addrs, fmt.Sprintf("127.0.0.%d:%d", i, port))
		}
		if len(addrs) == n {
			return addrs
		}
	}
	t.Fatal("no common free port on 127.0.0.1..n")
	return nil
}

func (n *clusterNode) start() {
	n.t.Helper()
	n.log = &testnet.Buffer{}
	n.cmd = exec.Command(zonesyncBinary(n.t), "-p", n.dir+"/", "-c", filepath.Join(n.dir, "nginx.conf"))
	n.cmd.Stderr = n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(n.cmd, n.exited)
	n.t.Cleanup(n.kill)
	waitFor(n.t, n.name+" to serve its API", func() bool {
		_, err := n.client().GetNginxInfo(context.Background())
		return err == nil
	})
}

// kill stops the process with SIGKILL (and is the cleanup of every node).
func (n *clusterNode) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Kill()
	<-n.exited
}

// quit sends QUIT, as -s quit does, and waits for the process to exit.
func (n *clusterNode) quit() {
	n.t.Helper()
	n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.t.Fatalf("%s did not exit on QUIT:\n%s", n.name, n.log.String())
	}
}

func (n *clusterNode) client() *client.NginxClient {
	c, err := client.NewNginxClient(fmt.Sprintf("http://127.0.0.1:%d/api", n.apiPort), client.WithAPIVersion(9))
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

func (n *clusterNode) get(key string) string {
	pairs, err := n.client().GetKeyValPairs(context.Background(), "kv")
	if err != nil {
		return ""
	}
	return pairs[key]
}

func (n *clusterNode) put(key, value string) {
	n.t.Helper()
	if err := n.client().AddKeyValPair(context.Background(), "kv", key, value); err != nil {
		n.t.Fatalf("%s: POST %s: %v", n.name, key, err)
	}
}

// waitFor polls cond until it holds; the deadline bounds every wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

func startAll(nodes []*clusterNode) {
	for _, n := range nodes {
		n.start()
	}
}

// seed: "Enables the synchronization of shared memory zones between cluster
// nodes." A write on one node is read on every node.
func TestClusterWriteReadEverywhere(t *testing.T) {
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 3)})
	startAll(nodes)
	nodes[0].put("session", "abc")
	for _, n := range nodes {
		n := n
		waitFor(t, n.name+" to hold the key", func() bool { return n.get("session") == "abc" })
	}
}

// seed: "The new node will discover other nodes from DNS or static
// configuration and will start sending updates to them." A node killed
// with SIGKILL, restarted, catches up with what was written meanwhile.
func TestClusterNodeCatchesUpAfterKill9(t *testing.T) {
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 3)})
	startAll(nodes)
	a, b := nodes[0], nodes[1]
	a.put("before", "1")
	waitFor(t, "b to hold the first key", func() bool { return b.get("before") == "1" })
	b.kill()
	a.put("while-down", "2")
	b.start()
	waitFor(t, "b to catch up", func() bool { return b.get("while-down") == "2" && b.get("before") == "1" })
}

// seed: "To stop a node, send the QUIT signal to the instance. The node will
// finish zone synchronization and gracefully close open connections." With
// a push interval far away, QUIT still pushes what is pending.
func TestClusterQuitFlushesPending(t *testing.T) {
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 2), interval: "1h"})
	startAll(nodes)
	a, b := nodes[0], nodes[1]
	waitFor(t, "the nodes to connect", func() bool { return online(a) == 1 && online(b) == 1 })
	a.put("last-words", "bye")
	a.quit()
	waitFor(t, "b to hold what a pushed on QUIT", func() bool { return b.get("last-words") == "bye" })
}

func online(n *clusterNode) int64 {
	st, err := n.client().GetStreamZoneSync(context.Background())
	if err != nil || st == nil {
		return -1
	}
	return int64(st.Status.NodesOnline)
}

// The official Go client's expectations on two nodes, as NGINX Plus's own
// client test checks them: after a keyval POST on A, both report
// nodes_online > 0, A has msgs_out > 0, B has msgs_out 0, and both have
// records_pending 0 and records_total > 0.
func TestClusterStatusAsTheOfficialClientExpects(t *testing.T) {
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 2)})
	startAll(nodes)
	a, b := nodes[0], nodes[1]
	a.put("k", "v")
	waitFor(t, "b to hold the key", func() bool { return b.get("k") == "v" })
	ctx := context.Background()
	waitFor(t, "the status to settle", func() bool {
		sa, err1 := a.client().GetStreamZoneSync(ctx)
		sb, err2 := b.client().GetStreamZoneSync(ctx)
		if err1 != nil || err2 != nil || sa == nil || sb == nil {
			return false
		}
		za, zb := sa.Zones["kv"], sb.Zones["kv"]
		return sa.Status.NodesOnline > 0 && sb.Status.NodesOnline > 0 &&
			sa.Status.MsgsOut > 0 && sb.Status.MsgsOut == 0 && sb.Status.BytesOut == 0 &&
			za.RecordsPending == 0 && zb.RecordsPending == 0 && za.RecordsTotal > 0 && zb.RecordsTotal > 0
	})
}

// dnsServer is a real DNS server on 127.0.0.1 whose A records the test
// changes.
type dnsServer struct {
	mu      sync.Mutex
	records map[string][]string
	srv     *dns.Server
	addr    string
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	d := &dnsServer{records: map[string][]string{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = pc.LocalAddr().String()
	started := make(chan struct{})
	d.srv = &dns.Server{PacketConn: pc, Handler: d, NotifyStartedFunc: func() { close(started) }}
	go d.srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { d.srv.Shutdown() })
	return d
}

func (d *dnsServer) set(name string, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[dns.Fqdn(name)] = addrs
}

func (d *dnsServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	d.mu.Lock()
	addrs, ok := d.records[r.Question[0].Name]
	d.mu.Unlock()
	if !ok {
		m.Rcode = dns.RcodeNameError
	} else if r.Question[0].Qtype == dns.TypeA {
		for _, a := range addrs {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(a)})
		}
	}
	w.WriteMsg(m)
}

// seed: "The resolve parameter instructs nginx to monitor changes of the IP
// addresses that correspond to a domain name of the node and automatically
// modify the configuration without the need of restarting nginx." A node
// added to the DNS name joins. And: "To remove a node, update a DNS record
// of a cluster hostname and remove the IP address of the node. All other
// nodes will eventually discover that the node is removed, close
// connections to the node, and will no longer try to connect to it. After
// the node is removed, it can be stopped as described above."
func TestClusterMembershipFromDNS(t *testing.T) {
	d := startDNS(t)
	addrs := syncAddrs(t, 3)
	port := addrs[0][strings.LastIndexByte(addrs[0], ':')+1:]
	d.set("cluster.zonesync.test", "127.0.0.1", "127.0.0.2")
	nodes := newCluster(t, clusterSpec{
		members: addrs,
		servers: "zone_sync_server cluster.zonesync.test:" + port + " resolve;",
		stream:  "resolver " + d.addr + " valid=1s;",
	})
	a, b, c := nodes[0], nodes[1], nodes[2]
	startAll([]*clusterNode{a, b})
	waitFor(t, "a and b to connect", func() bool { return online(a) == 1 && online(b) == 1 })
	a.put("first", "1")
	waitFor(t, "b to hold the key", func() bool { return b.get("first") == "1" })

	d.set("cluster.zonesync.test", "127.0.0.1", "127.0.0.2", "127.0.0.3")
	c.start()
	waitFor(t, "c to join and catch up", func() bool { return c.get("first") == "1" && online(a) == 2 })

	d.set("cluster.zonesync.test", "127.0.0.1", "127.0.0.3")
	bAddr := addrs[1]
	waitFor(t, "a to notice b's removal", func() bool {
		return strings.Contains(a.log.String(), "cluster node "+bAddr+" removed")
	})
	b.quit()
	waitFor(t, "a to have only c online", func() bool { return online(a) == 1 })
	// a no longer tries to connect to b: no connect error for b appears
	// while two writes of c reach a, each a push interval (100ms) apart,
	// longer than the retry interval (100ms) a dialer would redial after.
	before := strings.Count(a.log.String(), "connect() to "+bAddr)
	for i, key := range []string{"after1", "after2"} {
		c.put(key, fmt.Sprint(i))
		waitFor(t, "a to hold c's write", func() bool { return a.get(key) == fmt.Sprint(i) })
	}
	if after := strings.Count(a.log.String(), "connect() to "+bAddr); after != before {
		t.Errorf("a kept connecting to the removed node b (%d -> %d attempts)", before, after)
	}
}

// rewrite replaces text in a node's configuration file.
func (n *clusterNode) rewrite(old, new string) {
	n.t.Helper()
	path := filepath.Join(n.dir, "nginx.conf")
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), old) {
		n.t.Fatalf("%s: cannot rewrite %q: %v", n.name, old, err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// seed: "In case of static configuration, other nodes need to be reloaded
// in order to send updates to the new node." A reload (HUP, as -s reload
// sends) applies a changed static list: the reloaded nodes connect to the
// new node, which receives their records, and keep their own.
func TestClusterReloadAddsStaticNode(t *testing.T) {
	addrs := syncAddrs(t, 3)
	nodes := newCluster(t, clusterSpec{members: addrs})
	a, b, c := nodes[0], nodes[1], nodes[2]
	cLine := "zone_sync_server " + addrs[2] + ";"
	a.rewrite(cLine, "")
	b.rewrite(cLine, "")
	for _, other := range addrs[:2] {
		c.rewrite("zone_sync_server "+other+";", "") // c starts alone
	}
	startAll(nodes)
	a.put("old", "1")
	waitFor(t, "b to hold a's key", func() bool { return b.get("old") == "1" })
	if c.get("old") != "" {
		t.Fatal("c is not in the cluster yet but holds its records")
	}
	a.rewrite("zone_sync;", "zone_sync;\n        "+cLine)
	b.rewrite("zone_sync;", "zone_sync;\n        "+cLine)
	for _, n := range []*clusterNode{a, b} {
		n.cmd.Process.Signal(syscall.SIGHUP)
	}
	waitFor(t, "c to receive the records after the reload", func() bool { return c.get("old") == "1" })
	if a.get("old") != "1" || b.get("old") != "1" {
		t.Fatal("a reload lost zone contents")
	}
	c.put("from-c", "2")
	for _, n := range []*clusterNode{a, b} {
		n := n
		waitFor(t, n.name+" to receive c's write", func() bool { return n.get("from-c") == "2" })
	}
}

// seed: "Currently, it is possible to synchronize HTTP sticky sessions,
// information about excessive HTTP requests, and key-value pairs". With
// limit_req_zone ... sync a request limit holds for the cluster: the state a
// request leaves on one node refuses the next request on another.
func TestClusterLimitReqHoldsAcrossNodes(t *testing.T) {
	ports := []int{freeTCPPort(t, "127.0.0.1"), freeTCPPort(t, "127.0.0.1")}
	// A static page: limit_req runs after the rewrite phase, so a location
	// that answers with return would never be limited, in nginx too.
	site := t.TempDir()
	if err := os.WriteFile(filepath.Join(site, "index.html"), []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 2), http: func(i int) string {
		return fmt.Sprintf(`limit_req_zone $binary_remote_addr zone=perip:1m rate=1r/m sync;
    server {
        listen 127.0.0.1:%d;
        location / {
            limit_req zone=perip nodelay;
            root %s;
        }
    }`, ports[i], site)
	}})
	startAll(nodes)
	status := func(port int) int {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(ports[0]); got != 200 {
		t.Fatalf("first request on node1: %d, want 200", got)
	}
	b := nodes[1]
	defer func() {
		if t.Failed() {
			for _, n := range nodes {
				st, err := n.client().GetStreamZoneSync(context.Background())
				t.Logf("%s: %+v %v\n%s", n.name, st, err, n.log.String())
			}
		}
	}()
	waitFor(t, "node2 to hold node1's limit_req state", func() bool {
		st, err := b.client().GetStreamZoneSync(context.Background())
		return err == nil && st != nil && st.Zones["perip"].RecordsTotal == 1
	})
	if got := status(ports[1]); got != 503 {
		t.Fatalf("a request on node2 after one on node1 at 1r/m: %d, want 503", got)
	}
}

// backend is an HTTP server on loopback that names itself in its answer and
// sets a session cookie naming itself, as an application server would.
func backend(t *testing.T, name string) int {
	t.Helper()
	port := freeTCPPort(t, "127.0.0.1")
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("session"); err != nil {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-" + name})
		}
		fmt.Fprint(w, name)
	})}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return port
}

// seed: "Currently, it is possible to synchronize HTTP sticky sessions". A
// session learned through node A sends the client to the same backend
// through node B, where round robin alone would alternate.
func TestClusterStickyLearnAcrossNodes(t *testing.T) {
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	ports := []int{freeTCPPort(t, "127.0.0.1"), freeTCPPort(t, "127.0.0.1")}
	nodes := newCluster(t, clusterSpec{members: syncAddrs(t, 2), http: func(i int) string {
		return fmt.Sprintf(`upstream app {
        server 127.0.0.1:%d;
        server 127.0.0.1:%d;
        sticky learn create=$upstream_cookie_session lookup=$cookie_session
                     zone=sessions:1m timeout=1h sync;
    }
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://app;
        }
    }`, b1, b2, ports[i])
	}})
	startAll(nodes)
	get := func(port int, cookie string) (string, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		if cookie != "" {
			req.Header.Set("Cookie", "session="+cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		set := ""
		for _, c := range resp.Cookies() {
			if c.Name == "session" {
				set = c.Value
			}
		}
		return body.String(), set
	}
	first, session := get(ports[0], "")
	if session != "s-"+first {
		t.Fatalf("node1 answered by %q with session %q", first, session)
	}
	b := nodes[1]
	waitFor(t, "node2 to hold the learned session", func() bool {
		st, err := b.client().GetStreamZoneSync(context.Background())
		return err == nil && st != nil && st.Zones["sessions"].RecordsTotal == 1
	})
	for i := 0; i < 4; i++ {
		if got, _ := get(ports[1], session); got != first {
			t.Fatalf("request %d with session %q through node2 went to %q, want %q", i+1, session, got, first)
		}
	}
}
