package discovery

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/zonesync/zonesync/directives"
)

// dnsServer is a real DNS server on 127.0.0.1 (UDP, and TCP on the same
// port) whose records a test changes as it goes.
type dnsServer struct {
	addr netip.AddrPort

	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
	known   map[string]bool     // names that exist (NOERROR even without records)
	rcode   map[string]int      // names answered with this code
	queries map[string]int      // "name TYPE" -> count
	// truncate names answered over UDP with the TC bit and no records,
	// so that the client asks again over TCP.
	truncate map[string]bool
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	// The server answers on UDP and TCP on one port: take a UDP port whose
	// TCP twin is free too (another socket may hold it).
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ln == nil; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			if try == 20 {
				t.Fatal(err)
			}
		}
	}
	s := &dnsServer{
		addr:     netip.MustParseAddrPort(pc.LocalAddr().String()),
		records:  map[string][]dns.RR{},
		known:    map[string]bool{},
		rcode:    map[string]int{},
		queries:  map[string]int{},
		truncate: map[string]bool{},
	}
	for _, srv := range []*dns.Server{{PacketConn: pc}, {Listener: ln}} {
		started := make(chan struct{})
		srv.Handler, srv.NotifyStartedFunc = dns.HandlerFunc(s.serve), func() { close(started) }
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ActivateAndServe()
		}()
		<-started
		t.Cleanup(func() {
			srv.Shutdown()
			<-done
		})
	}
	return s
}

func (s *dnsServer) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	tcp := w.RemoteAddr().Network() == "tcp"
	key := strings.TrimSuffix(name, ".") + " " + dns.TypeToString[q.Qtype]
	if tcp {
		key += " tcp"
	}
	s.queries[key]++
	switch {
	case s.truncate[name] && !tcp:
		m.Truncated = true
	case s.rcode[name] != 0:
		m.Rcode = s.rcode[name]
	case !s.known[name]:
		m.Rcode = dns.RcodeNameError
	default:
		for _, rr := range s.records[name] {
			if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
	}
	s.mu.Unlock()
	w.WriteMsg(m)
}

// set gives name the addresses (A or AAAA by family) with ttl, replacing
// what it had; no addresses leaves the name existing with no records.
func (s *dnsServer) set(name string, ttl uint32, addrs ...string) {
	fq := dns.Fqdn(strings.ToLower(name))
	var rrs []dns.RR
	for _, a := range addrs {
		ip := netip.MustParseAddr(a)
		typ := "A"
		if ip.Is6() {
			typ = "AAAA"
		}
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", fq, ttl, typ, a))
		if err != nil {
			panic(err)
		}
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fq], s.known[fq] = rrs, true
	delete(s.rcode, fq)
}

// add gives name one more address, with its own TTL.
func (s *dnsServer) add(name string, ttl uint32, addr string) {
	fq := dns.Fqdn(strings.ToLower(name))
	typ := "A"
	if netip.MustParseAddr(addr).Is6() {
		typ = "AAAA"
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", fq, ttl, typ, addr))
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fq], s.known[fq] = append(s.records[fq], rr), true
}

// alias makes name a CNAME of target.
func (s *dnsServer) alias(name, target string, ttl uint32) {
	fq := dns.Fqdn(strings.ToLower(name))
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN CNAME %s", fq, ttl, dns.Fqdn(target)))
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fq], s.known[fq] = []dns.RR{rr}, true
}

// remove makes name not exist (NXDOMAIN).
func (s *dnsServer) remove(name string) {
	fq := dns.Fqdn(strings.ToLower(name))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, fq)
	delete(s.known, fq)
	delete(s.rcode, fq)
}

// fail makes every answer for name carry rcode.
func (s *dnsServer) fail(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcode[dns.Fqdn(strings.ToLower(name))] = rcode
}

// count returns how many queries of a type name has had.
func (s *dnsServer) count(name, qtype string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[strings.ToLower(name)+" "+qtype]
}

// silentServer is a UDP socket that reads queries and never answers; got
// receives a value for each query.
func silentServer(t *testing.T) (netip.AddrPort, chan struct{}) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			got <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return netip.MustParseAddrPort(pc.LocalAddr().String()), got
}

// closedPort returns a UDP address nothing listens on: a query there is
// refused at once (ICMP port unreachable).
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	return a
}

// logRecorder collects error log lines as "[level] message".
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(s directives.Severity, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("[%s] "+format, append([]any{s}, args...)...))
}

func (l *logRecorder) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// loadZoneSync loads a configuration with the given stream-level and
// zone_sync-server-level lines and returns its zone_sync setup.
func loadZoneSync(t *testing.T, stream, server string) *directives.ZoneSync {
	t.Helper()
	dir := t.TempDir()
	conf := "events {}\nstream {\n" + stream + "\nserver {\nzone_sync;\n" + server + "\n}\n}\n"
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := directives.Load(directives.Options{Prefix: dir + "/", ConfFile: file, Test: true})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, conf)
	}
	z := directives.ZoneSyncOf(cfg.Main)
	if z == nil {
		t.Fatal("no zone_sync server")
	}
	return z
}

// changes records the changes Discovery reports.
type changes struct {
	mu   sync.Mutex
	list []Change
}

func (c *changes) add(ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, ch)
}

func (c *changes) take() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.list
	c.list = nil
	return out
}

// addrs writes members as their addresses.
func addrs(ms []Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Addr)
	}
	return strings.Join(out, " ")
}

// describe writes changes as "+added -removed" lines.
func describe(chs []Change) []string {
	var out []string
	for _, ch := range chs {
		out = append(out, fmt.Sprintf("+[%s] -[%s]", addrs(ch.Added), addrs(ch.Removed)))
	}
	return out
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
