// Package core is the zone_sync protocol as a deterministic state machine
// with no I/O, no goroutines and no clock of its own. The shell feeds it
// events (Connected, Frame, Disconnected, Tick, Flush, Stop) and carries out
// the actions each call returns, in order: frames to send, connections to
// close, lines to log. docs/protocol.md describes the protocol; the wire
// package encodes it.
//
// A Core is not safe for concurrent use: call it from one goroutine (or
// under one lock). Status and IsSelf are the exceptions; any goroutine may
// call them at any time.
package core

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zonesync/zonesync/runtime/sync/wire"
	"github.com/zonesync/zonesync/runtime/zone"
)

// byeStopping is the reason in the bye of a node that stops.
const byeStopping = "stopping"

// takeChunk is how many records a push takes from a zone's queue at a time;
// what does not fit in the push's buffers is kept for the next one.
const takeChunk = 64

// Core is one node's side of the protocol.
type Core struct {
	cfg      Config
	cluster  string
	named    bool
	hello    []byte
	hbEvery  time.Duration
	zones    []*zstate
	byName   map[string]*zstate
	conns    []*conn
	byPeer   map[PeerID]*conn
	nodes    []*node
	byNode   map[uint64]*node
	now      time.Time
	nextPush time.Time
	stopped  bool
	frame    wire.Frame
	batch    *wire.Batch
	out      []Action

	selfMu    sync.Mutex
	selfAddrs map[string]bool

	bytesIn, msgsIn, msgsOut, bytesOut, nodesOnline atomic.Int64
}

// zstate is a synced zone and the records taken from its queue that did not
// fit in the last push.
type zstate struct {
	z        Zone
	id       wire.ZoneID
	carry    []zone.Record
	carryLen atomic.Int64
}

type connState uint8

const (
	stateHello  connState = iota // our hello sent, waiting for the peer's
	stateOnline                  // the peer's hello checked
)

// conn is one connection.
type conn struct {
	id       PeerID
	outbound bool
	addr     string
	state    connState
	peer     *node
	listen   string
	maxFrame int
	lastRecv time.Time
	lastSend time.Time
	// snaps counts the snapshot records received per zone since its
	// snapshot start.
	snaps map[string]uint64
	// warned holds the zones this connection's unusable frames were
	// already logged for.
	warned map[string]bool
}

// node is a peer that is online: every connection whose hello carried its
// id, in the order they came online. conns[0] is the send link.
type node struct {
	id    uint64
	conns []*conn
}

// New returns the core of a node with the given configuration; now is the
// time of the shell's clock (the first push is due one Interval later).
func New(cfg Config, now time.Time) (*Core, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	c := &Core{
		cfg:       cfg,
		hbEvery:   cfg.Timeout / 3,
		byName:    map[string]*zstate{},
		byPeer:    map[PeerID]*conn{},
		byNode:    map[uint64]*node{},
		selfAddrs: map[string]bool{},
		now:       now,
		nextPush:  now.Add(cfg.Interval),
	}
	ids := make([]wire.ZoneID, 0, len(cfg.Zones))
	for _, z := range cfg.Zones {
		zs := &zstate{z: z, id: wire.ZoneIDOf(z.Name(), z.Kind())}
		c.zones = append(c.zones, zs)
		c.byName[zs.id.Name] = zs
		ids = append(ids, zs.id)
	}
	c.cluster, c.named = cfg.Cluster, cfg.Cluster != ""
	if !c.named {
		c.cluster = wire.ClusterHash(ids)
	}
	hello, err := wire.HelloFrame(wire.Hello{
		VersionMin: wire.ProtocolVersionMin, VersionMax: wire.ProtocolVersionMax,
		Node: cfg.Node, MaxFrame: uint32(cfg.RecvBufferSize),
		Cluster: c.cluster, Named: c.named, Listen: cfg.Listen,
	})
	if err != nil {
		return nil, err
	}
	c.hello = hello
	return c, nil
}

// Cluster is the cluster identity this node announces.
func (c *Core) Cluster() string { return c.cluster }

// Connected reports a new connection: outbound when this node dialed it,
// addr the address dialed (outbound) or the remote address (inbound). The
// core sends its hello at once.
func (c *Core) Connected(p PeerID, outbound bool, addr string) []Action {
	if c.stopped {
		c.act(Action{Kind: ActDrop, Peer: p, Reason: ErrStopping})
		return c.flush()
	}
	if c.byPeer[p] != nil {
		c.logf(LevelError, p, "zone_sync: connection %d reported twice; ignored", p)
		return c.flush()
	}
	cn := &conn{id: p, outbound: outbound, addr: addr, lastRecv: c.now, lastSend: c.now, maxFrame: wire.MinFrameLimit}
	c.conns = append(c.conns, cn)
	c.byPeer[p] = cn
	if outbound {
		c.logf(LevelInfo, p, "zone_sync: connected to %s", addr)
	} else {
		c.logf(LevelInfo, p, "zone_sync: connection from %s", addr)
	}
	c.send(cn, c.hello, false)
	return c.flush()
}

// Frame reports one frame received on a connection: raw is exactly one
// frame, header included, as wire.Reader cuts them. The core does not keep
// raw. A malformed frame closes that connection only.
func (c *Core) Frame(p PeerID, raw []byte) []Action {
	cn := c.byPeer[p]
	if c.stopped || cn == nil {
		return nil
	}
	c.msgsIn.Add(1)
	c.bytesIn.Add(int64(len(raw)))
	cn.lastRecv = c.now
	f := &c.frame
	if err := wire.Decode(raw, c.cfg.RecvBufferSize, f); err != nil {
		c.drop(cn, err, "malformed frame", LevelError, "%v", err)
		return c.flush()
	}
	if cn.state == stateHello && f.Type != wire.TypeBye {
		if f.Type != wire.TypeHello {
			c.drop(cn, fmt.Errorf("%w: %v frame before hello", ErrProtocol, f.Type), "protocol error", LevelError,
				"protocol error: %v frame before hello", f.Type)
			return c.flush()
		}
		c.onHello(cn, &f.Hello)
		return c.flush()
	}
	switch f.Type {
	case wire.TypeHello:
		c.drop(cn, fmt.Errorf("%w: second hello", ErrProtocol), "protocol error", LevelError, "protocol error: second hello")
	case wire.TypeHeartbeat:
	case wire.TypeRecords:
		c.onRecords(cn, f)
	case wire.TypeSnapshotStart:
		if c.zoneFor(cn, f.Zone) != nil {
			if cn.snaps == nil {
				cn.snaps = map[string]uint64{}
			}
			cn.snaps[f.Zone.Name] = 0
		}
	case wire.TypeSnapshotEnd:
		c.onSnapshotEnd(cn, f)
	case wire.TypeBye:
		level := LevelWarn // the peer found fault with this node's frames or configuration
		if f.Reason == byeStopping {
			level = LevelInfo
		}
		c.logf(level, cn.id, "zone_sync: %s closed the connection: %s", cn.label(), f.Reason)
		c.act(Action{Kind: ActDrop, Peer: cn.id, Reason: fmt.Errorf("%w: %s", ErrPeerBye, f.Reason)})
		c.remove(cn)
	}
	return c.flush()
}

// Disconnected reports that a connection closed or failed (a read or write
// error, end of stream, a malformed header from wire.Reader); cause may be
// nil. Unknown peers (already dropped by the core) are ignored.
func (c *Core) Disconnected(p PeerID, cause error) []Action {
	cn := c.byPeer[p]
	if c.stopped || cn == nil {
		return nil
	}
	switch {
	case cause == nil || errors.Is(cause, io.EOF):
		c.logf(LevelInfo, p, "zone_sync: %s closed the connection", cn.label())
	default:
		c.logf(LevelError, p, "zone_sync: %s: %v", cn.label(), cause)
	}
	c.remove(cn)
	return c.flush()
}

// Tick tells the core the time. It closes connections silent for
// zone_sync_timeout, pushes local changes when zone_sync_interval has
// passed since the last push, and sends heartbeats. Call it at Deadline at
// the latest.
func (c *Core) Tick(now time.Time) []Action {
	if c.stopped {
		return nil
	}
	if now.After(c.now) {
		c.now = now
	}
	for _, cn := range append([]*conn(nil), c.conns...) {
		if silent := c.now.Sub(cn.lastRecv); silent >= c.cfg.Timeout {
			c.drop(cn, fmt.Errorf("%w: nothing received for %v", ErrTimeout, silent), "", LevelError,
				"timed out: nothing received for %v", silent)
		}
	}
	if c.cfg.Interval > 0 && !c.now.Before(c.nextPush) {
		c.push(c.cfg.BufferCount)
		c.nextPush = c.now.Add(c.cfg.Interval)
	}
	for _, cn := range c.conns {
		if c.now.Sub(cn.lastSend) >= c.hbEvery {
			c.send(cn, wire.HeartbeatFrame(), false)
		}
	}
	return c.flush()
}

// Deadline is when the core next needs a Tick: the next push, heartbeat or
// timeout, and never more than a quarter of zone_sync_timeout ahead (the
// core dates frames by the last Tick). The zero time after Stop.
func (c *Core) Deadline() time.Time {
	if c.stopped {
		return time.Time{}
	}
	d := c.now.Add(c.cfg.Timeout / 4)
	if c.cfg.Interval > 0 && c.nextPush.Before(d) {
		d = c.nextPush
	}
	for _, cn := range c.conns {
		if t := cn.lastRecv.Add(c.cfg.Timeout); t.Before(d) {
			d = t
		}
		if t := cn.lastSend.Add(c.hbEvery); t.Before(d) {
			d = t
		}
	}
	return d
}

// Flush pushes local changes now, at most zone_sync_buffers number frames
// per zone. With zone_sync_interval 0 the shell calls it when a zone
// changes; changes made while its frames are being written wait, and the
// shell calls Flush again once they are written if Backlog says so.
func (c *Core) Flush() []Action {
	if c.stopped {
		return nil
	}
	c.push(c.cfg.BufferCount)
	return c.flush()
}

// Backlog reports whether a push would send something: a peer is online
// and some zone has local changes left.
func (c *Core) Backlog() bool {
	if c.stopped || len(c.nodes) == 0 {
		return false
	}
	for _, zs := range c.zones {
		if len(zs.carry) > 0 || zs.z.Pending() > 0 {
			return true
		}
	}
	return false
}

// Unfinished reports whether the last push stopped because
// zone_sync_buffers were full, carrying records to the next push. The
// shell pushes again as soon as the link has written what it has, rather
// than at the next interval: the buffers bound how much a push holds, not
// how fast changes flow.
func (c *Core) Unfinished() bool {
	if c.stopped || len(c.nodes) == 0 {
		return false
	}
	for _, zs := range c.zones {
		if len(zs.carry) > 0 {
			return true
		}
	}
	return false
}

// Stop is QUIT: push every local change left (however many frames it
// takes) to every online peer, say bye on every connection and close them
// all, then ActStopped. Every later call does nothing.
func (c *Core) Stop() []Action {
	if c.stopped {
		return nil
	}
	n := len(c.nodes)
	c.push(0)
	c.logf(LevelNotice, 0, "zone_sync: stopping: pushed the last changes to %d %s, closing %d %s",
		n, plural(n, "node", "nodes"), len(c.conns), plural(len(c.conns), "connection", "connections"))
	bye := wire.ByeFrame(byeStopping)
	for _, cn := range c.conns {
		c.send(cn, bye, false)
		c.act(Action{Kind: ActDrop, Peer: cn.id, Reason: ErrStopping})
	}
	c.conns, c.nodes = nil, nil
	clear(c.byPeer)
	clear(c.byNode)
	c.nodesOnline.Store(0)
	c.stopped = true
	c.act(Action{Kind: ActStopped})
	return c.flush()
}

// Stopped reports whether Stop was called.
func (c *Core) Stopped() bool { return c.stopped }

// IsSelf reports whether addr, dialed earlier, led to this node itself: the
// shell stops dialing it.
func (c *Core) IsSelf(addr string) bool {
	c.selfMu.Lock()
	defer c.selfMu.Unlock()
	return c.selfAddrs[addr]
}

// Status returns the /stream/zone_sync/ numbers. Unlike the other methods
// it is safe to call from any goroutine at any time.
func (c *Core) Status() Status {
	s := Status{
		BytesIn: c.bytesIn.Load(), MsgsIn: c.msgsIn.Load(),
		MsgsOut: c.msgsOut.Load(), BytesOut: c.bytesOut.Load(),
		NodesOnline: c.nodesOnline.Load(),
		Zones:       make([]ZoneStatus, len(c.zones)),
	}
	for i, zs := range c.zones {
		s.Zones[i] = ZoneStatus{
			Name:           zs.id.Name,
			RecordsPending: int64(zs.z.Pending()) + zs.carryLen.Load(),
			RecordsTotal:   int64(zs.z.Len()),
		}
	}
	return s
}

// Peers returns the node ids online, in the order they came online, each
// with its connections (the send link first). For tests and debugging.
func (c *Core) Peers() map[uint64][]PeerID {
	m := make(map[uint64][]PeerID, len(c.nodes))
	for _, n := range c.nodes {
		for _, cn := range n.conns {
			m[n.id] = append(m[n.id], cn.id)
		}
	}
	return m
}

// send queues a frame for a connection; data frames (records) count in
// msgs_out and bytes_out.
func (c *Core) send(cn *conn, frame []byte, data bool) {
	cn.lastSend = c.now
	if data {
		c.msgsOut.Add(1)
		c.bytesOut.Add(int64(len(frame)))
	}
	c.act(Action{Kind: ActSend, Peer: cn.id, Frame: frame})
}

func (c *Core) act(a Action) { c.out = append(c.out, a) }

func (c *Core) logf(level Level, p PeerID, format string, args ...any) {
	c.act(Action{Kind: ActLog, Peer: p, Level: level, Msg: fmt.Sprintf(format, args...)})
}

func (c *Core) flush() []Action {
	out := c.out
	c.out = nil
	return out
}

func deleteFrom[T comparable](s []T, v T) []T {
	for i := range s {
		if s[i] == v {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

func cloneRecord(r zone.Record) zone.Record {
	r.Key = append([]byte(nil), r.Key...)
	r.Value = append([]byte(nil), r.Value...)
	return r
}

// keyText quotes a key for a log line, cut to 64 bytes.
func keyText(k []byte) string {
	if len(k) > 64 {
		return fmt.Sprintf("%q...", k[:64])
	}
	return fmt.Sprintf("%q", k)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
