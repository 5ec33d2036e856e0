// Package cluster is the network shell around the zone_sync core: it
// dials every member discovery reports, accepts connections on the
// zone_sync server's listen addresses, reads and writes frames, keeps time,
// and feeds all of it to the core from one goroutine. The core decides
// everything the protocol does; this package only moves bytes and events.
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/sockets"
	"github.com/zonesync/zonesync/runtime/sync/core"
	"github.com/zonesync/zonesync/runtime/sync/discovery"
	"github.com/zonesync/zonesync/runtime/sync/tlsconf"
	"github.com/zonesync/zonesync/runtime/sync/wire"
)

// Logf is the node's error log.
type Logf func(s directives.Severity, format string, args ...any)

// Options describe one node's part in the cluster.
type Options struct {
	Config *directives.ZoneSync
	Zones  []core.Zone // the zones declared with sync
	Node   uint64
	Log    Logf
}

// Cluster is a running zone_sync node.
type Cluster struct {
	opts     Options
	core     *core.Core
	client   *tlsconf.Client
	server   *tlsconf.Server
	disc     *discovery.Discovery
	maxFrame int

	events  chan event
	changed chan struct{} // a zone has something pending (interval 0)
	done    chan struct{} // the loop has ended
	stopped chan struct{} // the core reported ActStopped

	listeners []net.Listener
	closing   atomic.Bool    // Stop has begun: the listeners are closing
	wg        sync.WaitGroup // every goroutine but the loop

	// Owned by the loop goroutine.
	conns   map[core.PeerID]*conn
	dialers map[string]*dialer // by member address
	nextID  core.PeerID

	stopOnce sync.Once
}

// event is something for the loop goroutine to hand to the core.
type event struct {
	kind   eventKind
	conn   *conn
	frame  []byte
	err    error
	change *discovery.Change
	// deadline, for evClose, is how long connections may take to write
	// what is queued for them (the last push of a graceful stop).
	deadline time.Time
}

type eventKind int

const (
	evConnected eventKind = iota
	evFrame
	evClosed
	evDrained
	evMembers
	evStop
	evClose
)

// Start binds the zone_sync listeners, starts discovery and the loop.
func Start(o Options) (*Cluster, error) {
	zs := o.Config
	c := &Cluster{
		opts:     o,
		events:   make(chan event, 64),
		changed:  make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		conns:    map[core.PeerID]*conn{},
		dialers:  map[string]*dialer{},
		maxFrame: int(zs.RecvBufferSize),
	}
	var listen []string
	for _, l := range zs.Listen {
		listen = append(listen, l.Text...)
	}
	var err error
	c.core, err = core.New(core.Config{
		Node:           o.Node,
		Listen:         strings.Join(listen, " "),
		Interval:       zs.Interval,
		Timeout:        zs.Timeout,
		BufferCount:    zs.Buffers.Number,
		BufferSize:     int(zs.Buffers.Size),
		RecvBufferSize: int(zs.RecvBufferSize),
		Zones:          o.Zones,
	}, time.Now())
	if err != nil {
		return nil, err
	}
	if c.client, err = tlsconf.NewClient(zs.SSL); err != nil {
		return nil, err
	}
	if c.server, err = tlsconf.NewServer(zs.InboundSSL); err != nil {
		return nil, err
	}
	if err := c.listen(zs); err != nil {
		return nil, err
	}
	dc := discovery.ConfigOf(zs)
	dc.Logf = discovery.LogFunc(o.Log)
	dc.OnChange = func(ch discovery.Change) { c.post(event{kind: evMembers, change: &ch}) }
	c.disc = discovery.New(dc)
	go c.loop()
	c.disc.Start()
	return c, nil
}

// listen binds the zone_sync server's listen addresses; TCP only.
func (c *Cluster) listen(zs *directives.ZoneSync) error {
	for _, l := range zs.Listen {
		for _, addr := range l.Text {
			network, address := "tcp", addr
			if path, ok := strings.CutPrefix(addr, "unix:"); ok {
				network, address = "unix", path
			}
			ln, err := sockets.Listen(network, address, addr, false)
			if err != nil {
				c.closeListeners()
				return err
			}
			if l.SSL && c.server != nil {
				ln = tls.NewListener(ln, c.server.Config())
			}
			c.listeners = append(c.listeners, ln)
			c.wg.Add(1)
			go c.accept(ln)
		}
	}
	return nil
}

func (c *Cluster) closeListeners() {
	for _, ln := range c.listeners {
		ln.Close()
	}
}

// accept takes connections from other nodes until Stop closes ln.
func (c *Cluster) accept(ln net.Listener) {
	defer c.wg.Done()
	logErr := func(err error) {
		c.opts.Log(directives.Err, "zone_sync: accept() on %s failed (%s)", ln.Addr(), directives.ErrnoText(err))
	}
	sockets.AcceptLoop(ln, c.done, c.closing.Load, logErr, func(nc net.Conn) {
		if !c.post(event{kind: evConnected, conn: newConn(nc, false, nc.RemoteAddr().String(), nil)}) {
			nc.Close()
		}
	})
}

// Changed tells the cluster that a zone has something pending; with
// zone_sync_interval 0 it is pushed at once. It never blocks.
func (c *Cluster) Changed() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Status returns the counters the API reports at /stream/zone_sync/.
func (c *Cluster) Status() core.Status { return c.core.Status() }

// post hands an event to the loop unless the loop has ended.
func (c *Cluster) post(ev event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.done:
		return false
	}
}

// Stop ends the node's part in the cluster. Graceful (QUIT) pushes what
// is pending to every online peer and says goodbye, bounded by
// zone_sync_timeout; otherwise (TERM) connections are closed at once.
// It is safe to call more than once.
func (c *Cluster) Stop(graceful bool) {
	c.stopOnce.Do(func() {
		c.disc.Stop()
		c.closing.Store(true)
		c.closeListeners()
		deadline := time.Now().Add(c.timeout())
		if graceful && c.post(event{kind: evStop}) {
			select {
			case <-c.stopped:
			case <-time.After(time.Until(deadline)):
				c.opts.Log(directives.Warn, "zone_sync: graceful stop timed out after %v", c.timeout())
			}
		} else {
			deadline = time.Now()
		}
		c.post(event{kind: evClose, deadline: deadline})
		<-c.done
		c.wg.Wait()
	})
}

func (c *Cluster) timeout() time.Duration {
	if t := c.opts.Config.Timeout; t > 0 {
		return t
	}
	return core.DefaultTimeout
}

// loop is the only goroutine that calls the core.
func (c *Cluster) loop() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		resetTimer(timer, c.core.Deadline())
		var acts []core.Action
		select {
		case ev := <-c.events:
			if ev.kind == evClose {
				c.closeAll(ev.deadline)
				return
			}
			acts = c.handle(ev)
		case <-timer.C:
			acts = c.core.Tick(time.Now())
		case <-c.changed:
			if c.opts.Config.Interval == 0 {
				acts = c.core.Flush()
			}
		}
		c.do(acts)
	}
}

func resetTimer(t *time.Timer, deadline time.Time) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	d := time.Hour
	if !deadline.IsZero() {
		d = time.Until(deadline)
		if d < 0 {
			d = 0
		}
	}
	t.Reset(d)
}

// handle turns one event into core calls.
func (c *Cluster) handle(ev event) []core.Action {
	switch ev.kind {
	case evConnected:
		cn := ev.conn
		if d := cn.dialer; d != nil && c.dialers[d.member.Addr] != d {
			cn.nc.Close() // the member was removed while it was dialed
			return nil
		}
		c.nextID++
		cn.id = c.nextID
		c.conns[cn.id] = cn
		if cn.dialer != nil {
			cn.dialer.conn = cn
		}
		c.wg.Add(2)
		go cn.read(c)
		go cn.write(c)
		return c.core.Connected(cn.id, cn.outbound, cn.addr)
	case evFrame:
		if cn := c.conns[ev.conn.id]; cn != nil && !cn.dropped {
			return c.core.Frame(cn.id, ev.frame)
		}
	case evClosed:
		if ev.conn.failedDial {
			if d := ev.conn.dialer; c.dialers[d.member.Addr] == d {
				d.retry(c)
			}
			return nil
		}
		return c.closed(ev.conn, ev.err)
	case evDrained:
		if c.opts.Config.Interval == 0 && c.core.Backlog() || c.core.Unfinished() {
			return c.core.Flush()
		}
	case evMembers:
		c.members(ev.change)
	case evStop:
		return c.core.Stop()
	}
	return nil
}

// closed is a connection that ended: by error, by the peer, or after the
// core dropped it.
func (c *Cluster) closed(cn *conn, err error) []core.Action {
	if c.conns[cn.id] != cn {
		return nil
	}
	delete(c.conns, cn.id)
	cn.close()
	if d := cn.dialer; d != nil && d.conn == cn {
		d.conn = nil
		if !cn.noRedial {
			d.retry(c)
		}
	}
	if cn.dropped {
		return nil // the core already forgot it
	}
	return c.core.Disconnected(cn.id, err)
}

// do carries out the core's actions in order.
func (c *Cluster) do(acts []core.Action) {
	for _, a := range acts {
		switch a.Kind {
		case core.ActSend:
			if cn := c.conns[a.Peer]; cn != nil {
				cn.send(a.Frame)
			}
		case core.ActDrop:
			if cn := c.conns[a.Peer]; cn != nil {
				cn.dropped = true
				cn.noRedial = errors.Is(a.Reason, core.ErrSelf) || errors.Is(a.Reason, core.ErrStopping)
				cn.closeAfterWrites()
			}
		case core.ActLog:
			c.opts.Log(severity(a.Level), "%s", a.Msg)
		case core.ActStopped:
			select {
			case <-c.stopped:
			default:
				close(c.stopped)
			}
		}
	}
}

func severity(l core.Level) directives.Severity {
	switch l {
	case core.LevelError:
		return directives.Err
	case core.LevelWarn:
		return directives.Warn
	case core.LevelNotice:
		return directives.Notice
	}
	return directives.Info
}

// members follows a change of membership: new members are dialed, removed
// ones are disconnected and forgotten.
func (c *Cluster) members(ch *discovery.Change) {
	for _, m := range ch.Added {
		if c.dialers[m.Addr] != nil || c.core.IsSelf(m.Addr) {
			continue
		}
		c.opts.Log(directives.Notice, "zone_sync: new cluster node %s", m.Addr)
		d := &dialer{member: m, stop: make(chan struct{})}
		c.dialers[m.Addr] = d
		d.dial(c)
	}
	for _, m := range ch.Removed {
		d := c.dialers[m.Addr]
		if d == nil {
			continue
		}
		c.opts.Log(directives.Notice, "zone_sync: cluster node %s removed", m.Addr)
		delete(c.dialers, m.Addr)
		close(d.stop)
		if d.conn != nil {
			d.conn.noRedial = true
			d.conn.close()
		}
	}
}

// closeAll stops every dialer and closes every connection (the end). A
// connection the core dropped closes itself once its queue is written;
// it is given until deadline to do so.
func (c *Cluster) closeAll(deadline time.Time) {
	for addr, d := range c.dialers {
		close(d.stop)
		delete(c.dialers, addr)
	}
	for id, cn := range c.conns {
		if cn.dropped {
			select {
			case <-cn.closedCh:
			case <-time.After(time.Until(deadline)):
			}
		}
		cn.close()
		delete(c.conns, id)
	}
}

// dialer keeps one outgoing connection to a member, redialing after
// zone_sync_connect_retry_interval.
type dialer struct {
	member discovery.Member
	stop   chan struct{}
	conn   *conn // owned by the loop
}

// dial connects in the background and posts the connection to the loop.
func (d *dialer) dial(c *Cluster) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		nc, err := c.connect(d)
		if err != nil {
			select {
			case <-d.stop:
				return
			default:
			}
			c.opts.Log(directives.Err, "zone_sync: connect() to %s failed (%s)", d.member.Addr, directives.ErrnoText(err))
			c.post(event{kind: evClosed, conn: &conn{dialer: d, failedDial: true}})
			return
		}
		if !c.post(event{kind: evConnected, conn: newConn(nc, true, d.member.Addr, d)}) {
			nc.Close()
		}
	}()
}

// retry dials again after the retry interval, unless stopped.
func (d *dialer) retry(c *Cluster) {
	wait := c.opts.Config.ConnectRetryInterval
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		select {
		case <-d.stop:
		default:
			d.dial(c)
		}
	}()
}

// connect dials a member with zone_sync_connect_timeout and TLS when
// zone_sync_ssl is on.
func (c *Cluster) connect(d *dialer) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Config.ConnectTimeout)
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	network, address := "tcp", d.member.Addr
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		network, address = "unix", path
	}
	var dl net.Dialer
	nc, err := dl.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if c.client == nil {
		return nc, nil
	}
	tc := tls.Client(nc, c.client.Config(d.member.Name))
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// conn is one connection to another node, with its reader and writer.
type conn struct {
	id         core.PeerID
	nc         net.Conn
	outbound   bool
	addr       string
	dialer     *dialer
	failedDial bool

	// Owned by the loop.
	dropped  bool
	noRedial bool

	mu        sync.Mutex
	queue     [][]byte
	wake      chan struct{}
	finishing bool // close once the queue is written
	closeOnce sync.Once
	closedCh  chan struct{}
}

func newConn(nc net.Conn, outbound bool, addr string, d *dialer) *conn {
	return &conn{nc: nc, outbound: outbound, addr: addr, dialer: d, wake: make(chan struct{}, 1), closedCh: make(chan struct{})}
}

func (cn *conn) send(frame []byte) {
	cn.mu.Lock()
	cn.queue = append(cn.queue, frame)
	cn.mu.Unlock()
	cn.signal()
}

func (cn *conn) closeAfterWrites() {
	cn.mu.Lock()
	cn.finishing = true
	cn.mu.Unlock()
	cn.signal()
}

func (cn *conn) signal() {
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

func (cn *conn) close() {
	if cn.nc == nil {
		return
	}
	cn.closeOnce.Do(func() {
		close(cn.closedCh)
		cn.nc.Close()
	})
}

// read hands every frame to the loop until the connection ends.
func (cn *conn) read(c *Cluster) {
	defer c.wg.Done()
	r := wire.NewReader(cn.nc, c.maxFrame)
	for {
		raw, err := r.Next()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = io.EOF
			}
			c.post(event{kind: evClosed, conn: cn, err: err})
			return
		}
		frame := append([]byte(nil), raw...)
		if !c.post(event{kind: evFrame, conn: cn, frame: frame}) {
			return
		}
	}
}

// write sends queued frames, each within zone_sync_timeout.
func (cn *conn) write(c *Cluster) {
	defer c.wg.Done()
	timeout := c.timeout()
	for {
		select {
		case <-cn.wake:
		case <-cn.closedCh:
			return
		}
		for {
			cn.mu.Lock()
			batch, finishing := cn.queue, cn.finishing
			cn.queue = nil
			cn.mu.Unlock()
			if len(batch) == 0 {
				if finishing {
					cn.close()
					return
				}
				c.postDrained(cn)
				break
			}
			for _, f := range batch {
				cn.nc.SetWriteDeadline(time.Now().Add(timeout))
				if _, err := cn.nc.Write(f); err != nil {
					cn.close()
					return
				}
			}
		}
	}
}

// postDrained tells the loop a connection's queue is empty, without
// blocking the writer if the loop is busy.
func (c *Cluster) postDrained(cn *conn) {
	select {
	case c.events <- event{kind: evDrained, conn: cn}:
	default:
	}
}
