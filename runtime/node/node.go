// Package node runs a configuration: it owns the error log, the pid file,
// the zone stores, the HTTP and stream servers and the API, and follows
// nginx's signals (TERM/INT stop, QUIT stops gracefully, HUP reloads, USR1
// reopens the logs).
package node

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/api"
	"github.com/zonesync/zonesync/runtime/errlog"
	"github.com/zonesync/zonesync/runtime/httpd"
	"github.com/zonesync/zonesync/runtime/sockets"
	"github.com/zonesync/zonesync/runtime/streamd"
	"github.com/zonesync/zonesync/runtime/sync/cluster"
	"github.com/zonesync/zonesync/runtime/zone"
)

// Version is the zonesync version the node reports.
var Version = "0.1.0"

// Options say what to run.
type Options struct {
	Prefix   string // with a trailing "/"
	ConfFile string
	// ConfSource is the configuration's text when it is not read from
	// ConfFile (the built-in default).
	ConfSource []byte
	Globals    string
	Stderr     io.Writer
	// Signals delivers the process's signals; nil means the real ones.
	Signals <-chan os.Signal
	// Ready, if set, is closed once the node serves.
	Ready chan<- struct{}
}

// generation is one loaded configuration and everything built from it.
type generation struct {
	cfg     *directives.Config
	zones   *Zones
	http    *httpd.Server
	stream  *streamd.Server
	cluster *cluster.Cluster // nil without zone_sync
	loaded  time.Time
}

// Node is a running node.
type Node struct {
	opts Options
	log  *errlog.Log
	// id names this node's records and its side of every sync link; it
	// is drawn at start and kept across reloads.
	id uint64
	// syncing is the running cluster, for zones to tell of changes.
	syncing atomic.Pointer[cluster.Cluster]

	mu      sync.Mutex
	gen     *generation
	reloads int64
	saver   chan struct{} // closed to stop the state saver
	saverWG sync.WaitGroup
	// saveMu keeps a state save off stores a reload is closing.
	saveMu sync.Mutex
	// handover carries the listening sockets of the HTTP and stream
	// servers from one configuration to the next.
	handover sockets.Handover
	// draining is closed when the last drain has ended.
	draining chan struct{}
}

// stateSaveInterval is the largest delay between a change to a keyval zone
// with a state file and the file's rewrite.
const stateSaveInterval = time.Second

// Run loads the configuration, serves it until a stop signal and returns
// the exit code.
func Run(o Options) int {
	n := &Node{opts: o, id: randomID()}
	cfg, err := n.load()
	if err != nil {
		fmt.Fprintf(o.Stderr, "zonesync: [emerg] %v\n", err)
		return 1
	}
	n.log, err = errlog.New(errlog.FromConfig(cfg), o.Stderr)
	if err != nil {
		fmt.Fprintf(o.Stderr, "zonesync: [emerg] %v\n", err)
		return 1
	}
	defer n.log.Close()
	applyProcessSettings(cfg, n.log)
	if err := writePidFile(cfg); err != nil {
		n.log.Logf(directives.Emerg, "%v", err)
		return 1
	}
	defer removePidFile(cfg)

	gen, err := n.start(cfg, nil)
	if err != nil {
		n.log.Logf(directives.Emerg, "%v", err)
		return 1
	}
	n.gen = gen
	n.startSaver()
	n.log.Logf(directives.Notice, "zonesync/%s started, pid %d", Version, os.Getpid())
	if o.Ready != nil {
		close(o.Ready)
	}
	return n.loop()
}

// load parses and checks the configuration, logging its warnings.
func (n *Node) load() (*directives.Config, error) {
	cfg, err := directives.Load(directives.Options{
		Prefix:     n.opts.Prefix,
		ConfFile:   n.opts.ConfFile,
		ConfSource: n.opts.ConfSource,
		Globals:    n.opts.Globals,
		Log:        n.configLog,
	})
	if err != nil {
		return nil, err
	}
	return cfg, cfg.Check()
}

func (n *Node) configLog(s directives.Severity, err error) {
	if n.log == nil {
		fmt.Fprintf(n.opts.Stderr, "zonesync: [%s] %v\n", s, err)
		return
	}
	n.log.Logf(s, "%v", err)
}

// start builds the zones and servers of cfg, reusing the zones of old that
// did not change, and starts serving.
func (n *Node) start(cfg *directives.Config, old *generation) (*generation, error) {
	var oldZones *Zones
	if old != nil {
		oldZones = old.zones
	}
	zones, err := buildZones(cfg, oldZones, uint32(n.id), n.changed, n.log)
	if err != nil {
		return nil, err
	}
	g := &generation{cfg: cfg, zones: zones, loaded: time.Now()}
	stats := api.NewCounters()
	a := api.New(api.Deps{
		Registry: zones,
		Stats:    stats,
		ZoneSync: func() *api.ZoneSyncStatus { return zoneSyncStatus(g.cluster) },
		Node: api.NodeInfo{
			Version:    nginxVersion,
			Build:      "zonesync-" + Version,
			Generation: func() int64 { n.mu.Lock(); defer n.mu.Unlock(); return n.reloads },
			LoadTime:   func() time.Time { return g.loaded },
			PID:        os.Getpid(),
			PPID:       os.Getppid(),
		},
		Log:   n.log.Zerolog(),
		Clock: time.Now,
	})
	g.http, err = httpd.New(cfg, httpd.Deps{
		Log: n.log.Zerolog(),
		Zone: func(name string) httpd.KeyvalLookup {
			if s := zones.Keyval(name, false); s != nil {
				return s
			}
			return nil
		},
		API: a.Handler,
		LimitZone: func(name string) *zone.Store {
			for _, s := range zones.LimitReqs() {
				if s.Name() == name {
					return s
				}
			}
			return nil
		},
		StickyZone: func(name string) *zone.Store {
			for _, s := range zones.sticky {
				if s.Name() == name {
					return s
				}
			}
			return nil
		},
		Stats:    stats,
		Handover: &n.handover,
	})
	if err != nil {
		return nil, err
	}
	g.stream, err = streamd.New(cfg, streamd.Deps{
		Log:      n.log.Zerolog(),
		Handover: &n.handover,
		Zone: func(name string) streamd.KeyvalLookup {
			if s := zones.Keyval(name, true); s != nil {
				return s
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	n.warnUnimplemented(cfg, g)
	if old != nil {
		// As nginx hands its listening sockets to the new workers, the
		// old servers stop accepting and park theirs in n.handover, and
		// the new ones take those of the addresses they keep:
		// connections that arrive in between wait in the sockets'
		// backlogs. The old servers' requests in flight go on (see
		// drain); the old cluster frees its address at once.
		old.http.StopAccepting()
		old.stream.StopAccepting()
		if old.cluster != nil {
			old.cluster.Stop(false)
		}
	}
	if err := g.http.Listen(); err != nil {
		return nil, err
	}
	if err := g.stream.Listen(); err != nil {
		g.http.Shutdown(canceled())
		return nil, err
	}
	n.syncing.Store(nil)
	if zs := directives.ZoneSyncOf(cfg.Main); zs != nil {
		g.cluster, err = cluster.Start(cluster.Options{Config: zs, Zones: zones.synced(), Node: n.id, Log: n.log.Logf})
		if err != nil {
			g.http.Shutdown(canceled())
			g.stream.Shutdown(canceled())
			return nil, err
		}
		n.syncing.Store(g.cluster)
	}
	go g.http.Serve()
	go g.stream.Serve()
	return g, nil
}

// changed is every synced zone's change hook: with zone_sync_interval 0
// the cluster pushes at once.
func (n *Node) changed() {
	if c := n.syncing.Load(); c != nil {
		c.Changed()
	}
}

// zoneSyncStatus is /stream/zone_sync/ for the API; nil without zone_sync.
func zoneSyncStatus(c *cluster.Cluster) *api.ZoneSyncStatus {
	if c == nil {
		return nil
	}
	st := c.Status()
	out := &api.ZoneSyncStatus{
		Zones:   map[string]api.ZoneSyncZone{},
		BytesIn: st.BytesIn, MsgsIn: st.MsgsIn, MsgsOut: st.MsgsOut, BytesOut: st.BytesOut, NodesOnline: st.NodesOnline,
	}
	for _, z := range st.Zones {
		out.Zones[z.Name] = api.ZoneSyncZone{RecordsPending: z.RecordsPending, RecordsTotal: z.RecordsTotal}
	}
	return out
}

// randomID draws a node id; 0 is not an id.
func randomID() uint64 {
	var b [8]byte
	for {
		if _, err := crand.Read(b[:]); err != nil {
			panic(err)
		}
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// nginxVersion is the nginx version whose behaviour zonesync follows, as the
// API reports it.
const nginxVersion = "1.29.8"

// loop waits for signals.
func (n *Node) loop() int {
	sigs := n.opts.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1)
		defer signal.Stop(ch)
		sigs = ch
	}
	for sig := range sigs {
		switch sig {
		case syscall.SIGTERM, syscall.SIGINT:
			n.log.Logf(directives.Notice, "exiting")
			n.stop(false)
			return 0
		case syscall.SIGQUIT:
			n.log.Logf(directives.Notice, "gracefully shutting down")
			n.stop(true)
			return 0
		case syscall.SIGHUP:
			n.reload()
		case syscall.SIGUSR1:
			n.log.Logf(directives.Notice, "reopening logs")
			if err := n.log.Reopen(); err != nil {
				n.log.Logf(directives.Alert, "%v", err)
			}
		}
	}
	n.stop(false)
	return 0
}

// reload checks the configuration again and switches to it; a bad one is
// logged and the running one keeps serving.
func (n *Node) reload() {
	n.log.Logf(directives.Notice, "reconfiguring")
	cfg, err := n.load()
	if err != nil {
		n.log.Logf(directives.Emerg, "%v", err)
		return
	}
	n.mu.Lock()
	old := n.gen
	n.mu.Unlock()
	gen, err := n.start(cfg, old)
	// The sockets of the addresses the configuration dropped.
	defer n.handover.Close()
	if err != nil {
		n.log.Logf(directives.Emerg, "%v", err)
		// The old servers stopped accepting to hand their sockets over:
		// bring the old configuration back.
		if back, err2 := n.start(old.cfg, old); err2 == nil {
			n.mu.Lock()
			n.gen = back
			n.mu.Unlock()
			n.drain(old, back)
		} else {
			n.log.Logf(directives.Alert, "cannot restore the previous configuration: %v", err2)
		}
		return
	}
	applyProcessSettings(cfg, n.log)
	n.mu.Lock()
	n.gen = gen
	n.reloads++
	n.mu.Unlock()
	n.drain(old, gen)
}

// drain lets the servers of a replaced configuration finish the requests
// and sessions in flight, as nginx's old workers do (within
// gracefulTimeout, as worker_shutdown_timeout would bound them), then gives
// back the memory of the zones the current configuration cur dropped or
// replaced, which those requests may still use. Drains run one after the
// other's zones are given back, so a zone two reloads in a row drop is
// never freed under a request of the first.
func (n *Node) drain(old, cur *generation) {
	n.mu.Lock()
	prev := n.draining
	done := make(chan struct{})
	n.draining = done
	n.mu.Unlock()
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), gracefulTimeout)
		defer cancel()
		old.http.Shutdown(ctx)
		old.stream.Shutdown(ctx)
		if prev != nil {
			<-prev
		}
		n.saveMu.Lock()
		old.zones.closeUnused(cur.zones)
		n.saveMu.Unlock()
	}()
}

// stop stops serving: gracefully (QUIT) lets requests in flight finish.
func (n *Node) stop(graceful bool) {
	n.mu.Lock()
	g := n.gen
	n.mu.Unlock()
	if g != nil {
		stopServers(g, graceful)
	}
	if graceful {
		// The requests of configurations replaced just before end too.
		n.mu.Lock()
		d := n.draining
		n.mu.Unlock()
		if d != nil {
			<-d
		}
	}
	n.handover.Close()
	n.stopSaver()
	if g != nil {
		n.saveMu.Lock()
		g.zones.saveStates(n.log)
		n.saveMu.Unlock()
	}
}

// gracefulTimeout bounds a graceful stop, as worker_shutdown_timeout would.
const gracefulTimeout = 10 * time.Second

// stopServers stops serving: the servers first, so that nothing changes the
// zones any more, then the cluster, which pushes what is pending when the
// stop is graceful.
func stopServers(g *generation, graceful bool) {
	ctx := canceled()
	if graceful {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), gracefulTimeout)
		defer cancel()
	}
	g.http.Shutdown(ctx)
	g.stream.Shutdown(ctx)
	if g.cluster != nil {
		g.cluster.Stop(graceful)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// startSaver writes keyval state files shortly after their zones change.
func (n *Node) startSaver() {
	n.saver = make(chan struct{})
	n.saverWG.Add(1)
	go func() {
		defer n.saverWG.Done()
		t := time.NewTicker(stateSaveInterval)
		defer t.Stop()
		for {
			select {
			case <-n.saver:
				return
			case <-t.C:
				// The generation is read under saveMu: a reload swaps it
				// before closing the old one's stores under saveMu.
				n.saveMu.Lock()
				n.mu.Lock()
				g := n.gen
				n.mu.Unlock()
				g.zones.saveStates(n.log)
				n.saveMu.Unlock()
			}
		}
	}()
}

func (n *Node) stopSaver() {
	if n.saver != nil {
		close(n.saver)
		n.saverWG.Wait()
		n.saver = nil
	}
}

// applyProcessSettings gives worker_processes and daemon their meaning in
// one Go process: worker_processes sets how many threads run Go code at
// once (auto: one per CPU); zonesync never forks, so "daemon on" is noted
// and the node stays in the foreground.
func applyProcessSettings(cfg *directives.Config, log *errlog.Log) {
	if n, _ := cfg.Main.Get("worker_processes").(int); n > 0 {
		runtime.GOMAXPROCS(n)
	} else {
		runtime.GOMAXPROCS(runtime.NumCPU())
	}
	if on, _ := cfg.Main.Get("daemon").(bool); on {
		log.Logf(directives.Notice, `"daemon on" is ignored: zonesync runs in the foreground`)
	}
}

// warnUnimplemented names, in one warning, the directives of cfg that -t
// accepts and this node does not run.
func (n *Node) warnUnimplemented(cfg *directives.Config, g *generation) {
	known := map[string]bool{}
	for name := range nodeDirectives {
		known[name] = true
	}
	for name := range g.http.Implemented() {
		known[name] = true
	}
	for name := range g.stream.Implemented() {
		known[name] = true
	}
	missing := map[string]bool{}
	var walk func(l *directives.Level)
	walk = func(l *directives.Level) {
		for _, v := range l.Statements() {
			if !known[v.D.Name] {
				missing[v.D.Name] = true
			}
		}
		for _, c := range l.Children {
			walk(c)
		}
	}
	walk(cfg.Main)
	if len(missing) == 0 {
		return
	}
	names := make([]string, 0, len(missing))
	for name := range missing {
		names = append(names, name)
	}
	sort.Strings(names)
	n.log.Logf(directives.Warn, "these directives are accepted but not run by zonesync yet: %s", strings.Join(names, ", "))
}

// nodeDirectives are the directives the node itself runs.
var nodeDirectives = map[string]bool{
	"worker_processes": true, "pid": true, "daemon": true, "error_log": true, "load_module": true,
	"events": true, "worker_connections": true, "user": true, "master_process": true,
	"http": true, "stream": true, "include": true,
	"keyval_zone": true, "limit_req_zone": true, "client_body_buffer_size": true,
	"zone_sync": true, "zone_sync_server": true, "zone_sync_buffers": true,
	"zone_sync_connect_retry_interval": true, "zone_sync_connect_timeout": true,
	"zone_sync_interval": true, "zone_sync_recv_buffer_size": true, "zone_sync_timeout": true,
	"zone_sync_ssl": true, "zone_sync_ssl_certificate": true, "zone_sync_ssl_certificate_key": true,
	"zone_sync_ssl_ciphers": true, "zone_sync_ssl_conf_command": true, "zone_sync_ssl_crl": true,
	"zone_sync_ssl_name": true, "zone_sync_ssl_password_file": true, "zone_sync_ssl_protocols": true,
	"zone_sync_ssl_server_name": true, "zone_sync_ssl_trusted_certificate": true,
	"zone_sync_ssl_verify": true, "zone_sync_ssl_verify_depth": true,
	"resolver": true, "resolver_timeout": true,
}
