// Package sim is an in-memory network of zone_sync cores with real zone
// stores, for tests. Time is a number the test moves; nothing sleeps, and a
// run with the same seed and commands makes the same calls in the same order.
//
// Connections behave like TCP: frames arrive in order, once, unless the
// test turns on duplication or reordering of records frames (which the
// merge must survive). A partition holds the frames crossing it until it
// heals; a connection closed on one side reaches the other side as end of
// stream after the frames sent before it, or, across a partition, when the
// partition heals.
package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zonesync/zonesync/runtime/sync/core"
	"github.com/zonesync/zonesync/runtime/sync/wire"
	"github.com/zonesync/zonesync/runtime/zone"
)

// Epoch is where the simulated time starts.
var Epoch = time.UnixMilli(1_700_000_000_000).UTC()

// Defaults of the simulation.
const (
	DefaultStep          = 100 * time.Millisecond // time between two rounds of ticks
	DefaultRetryInterval = time.Second            // zone_sync_connect_retry_interval
	maxDeliveries        = 1 << 20                // a Deliver that needs more is a livelock
	zoneSize             = 256 << 10
)

// ErrReset is what both sides of a connection broken by Disconnect see.
var ErrReset = errors.New("connection reset by peer")

// ZoneSpec declares a zone of a node.
type ZoneSpec struct {
	Name    string
	Kind    zone.Kind
	Timeout time.Duration // keyval and sticky timeout=
}

// NodeOptions configure a node.
type NodeOptions struct {
	Interval       time.Duration // zone_sync_interval (0: flush on every change)
	Timeout        time.Duration // zone_sync_timeout
	BufferCount    int
	BufferSize     int
	RecvBufferSize int
	Cluster        string
	Zones          []ZoneSpec
	Skew           time.Duration // the node's clock minus the network's
}

// Entry is one line a core logged.
type Entry struct {
	Node  string
	Level core.Level
	Msg   string
}

func (e Entry) String() string { return fmt.Sprintf("%s: [%s] %s", e.Node, e.Level, e.Msg) }

// Traffic counts the records a node received for a zone.
type Traffic struct{ Push, Snapshot int }

// Network is the simulated cluster.
type Network struct {
	Step          time.Duration
	RetryInterval time.Duration
	// Dup delivers records frames twice; Reorder delivers the frames of
	// different connections in a random interleaving and records frames
	// of one connection out of order (control frames keep their place).
	Dup, Reorder bool
	// Log holds every line the cores logged, in order.
	Log []Entry

	now    atomic.Int64 // unix nanoseconds; atomic because stores read it through their clocks
	nodes  []*Node
	byName map[string]*Node
	conns  []*Conn
	nextID core.PeerID
	cut    map[[2]string]bool
	rng    *rand.Rand
	frame  wire.Frame
}

// Node is one simulated zonesync node.
type Node struct {
	Name  string
	ID    uint64
	Core  *core.Core
	Zones map[string]*zone.Store
	// Servers are the addresses (node names) it dials, itself included.
	Servers []string
	Opts    NodeOptions
	Stopped bool
	// Recv counts the records received per zone.
	Recv map[string]*Traffic

	net      *Network
	clock    *clock
	nextDial map[string]time.Time
	dirty    bool
}

// Conn is one connection; end 0 dialed, end 1 accepted.
type Conn struct {
	ID   int
	Ends [2]*End
}

// End is one side of a connection.
type End struct {
	Node   *Node
	Peer   core.PeerID
	Open   bool
	closed bool // this side closed: deliver its queue, then end of stream
	queue  [][]byte
}

type clock struct {
	net  *Network
	skew atomic.Int64
}

func (c *clock) Now() time.Time { return c.net.Now().Add(time.Duration(c.skew.Load())) }

// New returns an empty network; seed drives Dup and Reorder.
func New(seed int64) *Network {
	n := &Network{
		Step:          DefaultStep,
		RetryInterval: DefaultRetryInterval,
		byName:        map[string]*Node{},
		cut:           map[[2]string]bool{},
		rng:           rand.New(rand.NewSource(seed)),
	}
	n.now.Store(Epoch.UnixNano())
	return n
}

// Now is the network's time: what each node's monotonic clock reads (its
// wall clock reads Now plus its skew).
func (n *Network) Now() time.Time { return time.Unix(0, n.now.Load()).UTC() }

// Node returns the named node, or nil.
func (n *Network) Node(name string) *Node { return n.byName[name] }

// Nodes returns the nodes in the order they were added.
func (n *Network) Nodes() []*Node { return n.nodes }

// AddNode adds a node with the next node id (1, 2, ...). Every node lists
// every node as a zone_sync_server, itself included, as a shared
// configuration does; nodes added earlier learn the new one (a reload).
func (n *Network) AddNode(name string, o NodeOptions) (*Node, error) {
	if n.byName[name] != nil {
		return nil, fmt.Errorf("node %s exists", name)
	}
	nd := &Node{Name: name, ID: uint64(len(n.nodes) + 1), Zones: map[string]*zone.Store{}, Opts: o,
		Recv: map[string]*Traffic{}, net: n, nextDial: map[string]time.Time{}}
	nd.clock = &clock{net: n}
	nd.clock.skew.Store(int64(o.Skew))
	var zones []core.Zone
	for _, zs := range o.Zones {
		z, err := zone.New(zone.Config{Name: zs.Name, Kind: zs.Kind, Size: zoneSize, Timeout: zs.Timeout,
			Rate: 1000, Sync: true, Node: uint32(nd.ID), Clock: nd.clock})
		if err != nil {
			return nil, err
		}
		nd.Zones[zs.Name] = z
		zones = append(zones, z)
	}
	c, err := core.New(core.Config{Node: nd.ID, Cluster: o.Cluster, Listen: name, Interval: o.Interval,
		Timeout: o.Timeout, BufferCount: o.BufferCount, BufferSize: o.BufferSize,
		RecvBufferSize: o.RecvBufferSize, Zones: zones}, n.Now())
	if err != nil {
		return nil, err
	}
	nd.Core = c
	n.nodes = append(n.nodes, nd)
	n.byName[name] = nd
	for _, other := range n.nodes {
		if other != nd {
			other.Servers = append(other.Servers, name)
		}
		nd.Servers = append(nd.Servers, other.Name)
	}
	return nd, nil
}

// Now is the node's clock.
func (nd *Node) Now() time.Time { return nd.clock.Now() }

// SetSkew sets the node's clock to the network's plus d.
func (nd *Node) SetSkew(d time.Duration) { nd.clock.skew.Store(int64(d)) }

// Advance moves time forward by d in steps: each step every running node
// dials what it should, then ticks, then everything in flight is delivered.
func (n *Network) Advance(d time.Duration) error {
	for end := n.Now().Add(d); n.Now().Before(end); {
		n.now.Add(int64(min(n.Step, end.Sub(n.Now()))))
		for _, nd := range n.nodes {
			if nd.Stopped {
				continue
			}
			n.dial(nd)
			n.apply(nd, nd.Core.Tick(n.Now()))
		}
		if err := n.Deliver(); err != nil {
			return err
		}
	}
	return nil
}

// dial opens the connections a node is missing: one to each server it is
// not connected to, every RetryInterval at most.
func (n *Network) dial(nd *Node) {
	for _, addr := range nd.Servers {
		if nd.Core.IsSelf(addr) || n.Now().Before(nd.nextDial[addr]) || nd.dialedOpen(addr) {
			continue
		}
		nd.nextDial[addr] = n.Now().Add(n.RetryInterval)
		to := n.byName[addr]
		if to == nil || to.Stopped || n.cut[pair(nd.Name, addr)] {
			continue // connection refused or unreachable: retry later
		}
		n.nextID++
		e0 := &End{Node: nd, Peer: n.nextID, Open: true}
		n.nextID++
		e1 := &End{Node: to, Peer: n.nextID, Open: true}
		c := &Conn{ID: len(n.conns) + 1, Ends: [2]*End{e0, e1}}
		n.conns = append(n.conns, c)
		n.apply(nd, nd.Core.Connected(e0.Peer, true, addr))
		n.apply(to, to.Core.Connected(e1.Peer, false, nd.Name+":in"))
	}
}

// dialedOpen reports whether the node has an open connection it dialed to
// addr.
func (nd *Node) dialedOpen(addr string) bool {
	for _, c := range nd.net.conns {
		if e := c.Ends[0]; e.Node == nd && e.Open && c.Ends[1].Node.Name == addr {
			return true
		}
	}
	return false
}

// end finds the open end of node nd with peer id p.
func (n *Network) end(nd *Node, p core.PeerID) (*Conn, int) {
	for _, c := range n.conns {
		for i, e := range c.Ends {
			if e.Node == nd && e.Peer == p {
				return c, i
			}
		}
	}
	return nil, -1
}

// apply carries out a core's actions as a shell would.
func (n *Network) apply(nd *Node, acts []core.Action) {
	for _, a := range acts {
		switch a.Kind {
		case core.ActSend:
			if c, i := n.end(nd, a.Peer); c != nil && c.Ends[i].Open {
				c.Ends[i].queue = append(c.Ends[i].queue, a.Frame)
			}
		case core.ActDrop:
			if c, i := n.end(nd, a.Peer); c != nil {
				n.close(c, i)
			}
		case core.ActLog:
			n.Log = append(n.Log, Entry{Node: nd.Name, Level: a.Level, Msg: a.Msg})
		case core.ActStopped:
			nd.Stopped = true
		}
	}
}

// close closes end i of c: what it queued is still delivered, then the
// other end sees end of stream; frames queued toward it are lost.
func (n *Network) close(c *Conn, i int) {
	e, o := c.Ends[i], c.Ends[1-i]
	if !e.Open {
		return
	}
	e.Open, e.closed = false, true
	o.queue = nil
}

// Deliver delivers every frame in flight, and what the deliveries cause,
// until nothing is left to deliver. Partitioned links keep their frames.
// Whenever the deliverable frames run out, nodes with zone_sync_interval 0
// push again what changed while their last push was in flight.
func (n *Network) Deliver() error {
	for count := 0; ; count++ {
		if count > maxDeliveries {
			return fmt.Errorf("more than %d deliveries: the cores do not settle", maxDeliveries)
		}
		c, i := n.pick()
		if c == nil {
			if !n.reflush() {
				return nil
			}
			continue
		}
		n.deliverOne(c, i)
	}
}

// reflush does what a shell does once a push's frames are written (or their
// connection is gone): with zone_sync_interval 0, push again if changes came
// in meanwhile or the last push left a backlog. It reports whether any node
// pushed.
func (n *Network) reflush() bool {
	pushed := false
	for _, nd := range n.nodes {
		if nd.Stopped || nd.Opts.Interval != 0 || nd.inFlight() || !(nd.dirty || nd.Core.Backlog()) {
			continue
		}
		nd.dirty = false
		if acts := nd.Core.Flush(); len(acts) > 0 {
			n.apply(nd, acts)
			pushed = true
		}
	}
	return pushed
}

// ready reports whether end i of c has something to hand to the other end.
func (n *Network) ready(c *Conn, i int) bool {
	e, o := c.Ends[i], c.Ends[1-i]
	if n.cut[pair(e.Node.Name, o.Node.Name)] || !o.Open {
		return false
	}
	return len(e.queue) > 0 || e.closed
}

// pick chooses the next end to deliver from: the first ready one in
// connection order, or a random one when Reorder is on.
func (n *Network) pick() (*Conn, int) {
	var ready [][2]int
	for ci, c := range n.conns {
		for i := range c.Ends {
			if n.ready(c, i) {
				if !n.Reorder {
					return c, i
				}
				ready = append(ready, [2]int{ci, i})
			}
		}
	}
	if len(ready) == 0 {
		return nil, 0
	}
	r := ready[n.rng.Intn(len(ready))]
	return n.conns[r[0]], r[1]
}

func (n *Network) deliverOne(c *Conn, i int) {
	e, o := c.Ends[i], c.Ends[1-i]
	if len(e.queue) == 0 { // closed and drained: end of stream
		e.closed = false
		o.Open = false
		n.apply(o.Node, o.Node.Core.Disconnected(o.Peer, io.EOF))
		return
	}
	k := 0
	if n.Reorder && isRecords(e.queue[0]) {
		run := 1
		for run < len(e.queue) && isRecords(e.queue[run]) {
			run++
		}
		k = n.rng.Intn(run)
	}
	raw := e.queue[k]
	e.queue = slices.Delete(e.queue, k, k+1)
	times := 1
	if n.Dup && isRecords(raw) {
		times = 2
	}
	for ; times > 0 && o.Open; times-- {
		n.count(o.Node, raw)
		n.apply(o.Node, o.Node.Core.Frame(o.Peer, raw))
	}
}

// inFlight reports whether the node has frames not yet delivered on a
// connection it still has open.
func (nd *Node) inFlight() bool {
	for _, c := range nd.net.conns {
		for _, e := range c.Ends {
			if e.Node == nd && e.Open && len(e.queue) > 0 {
				return true
			}
		}
	}
	return false
}

func isRecords(raw []byte) bool { return len(raw) > 0 && wire.Type(raw[0]) == wire.TypeRecords }

// count adds a delivered records frame to the receiver's traffic.
func (n *Network) count(nd *Node, raw []byte) {
	if !isRecords(raw) || wire.Decode(raw, wire.MaxFrameLimit, &n.frame) != nil {
		return
	}
	t := nd.Recv[n.frame.Zone.Name]
	if t == nil {
		t = &Traffic{}
		nd.Recv[n.frame.Zone.Name] = t
	}
	if n.frame.Flags&wire.FlagSnapshot != 0 {
		t.Snapshot += len(n.frame.Records)
	} else {
		t.Push += len(n.frame.Records)
	}
}

// Changed tells the node that a zone changed locally, as the zone's owner
// would: with zone_sync_interval 0 it pushes at once, or after the frames
// of the push in flight are delivered.
func (n *Network) Changed(nd *Node) {
	if nd.Stopped || nd.Opts.Interval != 0 {
		return
	}
	if nd.inFlight() {
		nd.dirty = true
		return
	}
	n.apply(nd, nd.Core.Flush())
}

// Flush calls the node's Flush.
func (n *Network) Flush(nd *Node) { n.apply(nd, nd.Core.Flush()) }

// Stop sends QUIT to a node: its core pushes what is pending, says bye and
// closes its connections, which are then delivered.
func (n *Network) Stop(nd *Node) error {
	n.apply(nd, nd.Core.Stop())
	nd.Stopped = true
	return n.Deliver()
}

// Partition cuts every link between nodes of different groups. Frames on
// cut links wait; new connections across the cut fail.
func (n *Network) Partition(groups [][]string) {
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					n.cut[pair(a, b)] = true
				}
			}
		}
	}
}

// Heal removes every cut. Held frames flow again, and a connection that one
// side closed during the partition reaches the other side as end of stream.
func (n *Network) Heal() { clear(n.cut) }

// Disconnect breaks every connection between nodes a and b: both sides see
// the connection reset.
func (n *Network) Disconnect(a, b string) {
	for _, c := range n.conns {
		x, y := c.Ends[0], c.Ends[1]
		if pair(x.Node.Name, y.Node.Name) != pair(a, b) {
			continue
		}
		for _, e := range []*End{x, y} {
			if e.Open {
				e.Open, e.queue = false, nil
				n.apply(e.Node, e.Node.Core.Disconnected(e.Peer, ErrReset))
			}
		}
		x.closed, y.closed = false, false
	}
}

// Inject queues raw bytes as a frame on the open connection that node from
// dialed to node to, to be delivered to to. It reports whether there was
// such a connection.
func (n *Network) Inject(from, to string, raw []byte) bool {
	for _, c := range n.conns {
		if e := c.Ends[0]; e.Node.Name == from && e.Open && c.Ends[1].Node.Name == to && c.Ends[1].Open {
			e.queue = append(e.queue, raw)
			return true
		}
	}
	return false
}

// Links describes a node's online peers: "node 2 (b): 2 connections".
func (nd *Node) Links() []string {
	var out []string
	for id, conns := range nd.Core.Peers() {
		name := "?"
		if int(id) <= len(nd.net.nodes) {
			name = nd.net.nodes[id-1].Name
		}
		out = append(out, fmt.Sprintf("node %d (%s): %d %s", id, name, len(conns), plural(len(conns), "connection")))
	}
	sort.Strings(out)
	return out
}

// Dump lists a zone's records, tombstones included, sorted by key:
// "key=value" or "key deleted", each with its origin.
func (nd *Node) Dump(zoneName string) []string {
	z := nd.Zones[zoneName]
	if z == nil {
		return nil
	}
	var out []string
	z.Snapshot(func(r zone.Record) bool {
		if r.Deleted {
			out = append(out, fmt.Sprintf("%s deleted (origin %d)", r.Key, r.Origin))
		} else {
			out = append(out, fmt.Sprintf("%s=%s (origin %d)", r.Key, r.Value, r.Origin))
		}
		return true
	})
	sort.Strings(out)
	return out
}

// State is a zone's full contents with stamps, for convergence checks.
func (nd *Node) State(zoneName string) string {
	z := nd.Zones[zoneName]
	if z == nil {
		return ""
	}
	var lines []string
	z.Snapshot(func(r zone.Record) bool {
		lines = append(lines, fmt.Sprintf("%q %q %v %d %d %d", r.Key, r.Value, r.Deleted, r.Stamp, r.Origin, r.Expire))
		return true
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
