package core

import (
	"fmt"

	"github.com/zonesync/zonesync/runtime/sync/wire"
	"github.com/zonesync/zonesync/runtime/zone"
)

// onHello checks the peer's hello and brings the connection online.
func (c *Core) onHello(cn *conn, h *wire.Hello) {
	cn.listen = h.Listen
	if _, ok := wire.Negotiate(*h); !ok {
		c.drop(cn, fmt.Errorf("%w: peer speaks %d to %d, this node %d to %d", ErrVersion,
			h.VersionMin, h.VersionMax, wire.ProtocolVersionMin, wire.ProtocolVersionMax), "no common protocol version",
			LevelError, "no common protocol version: the peer speaks %d to %d, this node %d to %d",
			h.VersionMin, h.VersionMax, wire.ProtocolVersionMin, wire.ProtocolVersionMax)
		return
	}
	if h.Node == c.cfg.Node {
		if cn.outbound {
			c.selfMu.Lock()
			first := !c.selfAddrs[cn.addr]
			c.selfAddrs[cn.addr] = true
			c.selfMu.Unlock()
			if first {
				c.logf(LevelNotice, cn.id, "zone_sync: %s is this node's own address, not syncing with it", cn.addr)
			}
		}
		c.act(Action{Kind: ActDrop, Peer: cn.id, Reason: ErrSelf})
		c.remove(cn)
		return
	}
	cn.peer = &node{id: h.Node} // for labels until it is online
	if !c.clusterOK(cn, h) {
		return
	}
	cn.state = stateOnline
	cn.maxFrame = int(min(h.MaxFrame, wire.MaxFrameLimit))
	n := c.byNode[h.Node]
	if n == nil {
		n = &node{id: h.Node}
		c.byNode[h.Node] = n
		c.nodes = append(c.nodes, n)
		c.nodesOnline.Store(int64(len(c.nodes)))
	}
	cn.peer = n
	n.conns = append(n.conns, cn)
	if len(n.conns) > 1 {
		if first := n.conns[0].listen; first != "" && cn.listen != "" && first != cn.listen {
			c.logf(LevelWarn, cn.id, "zone_sync: node %x announces itself as %s and as %s: do two nodes share an id?",
				n.id, first, cn.listen)
		}
		c.logf(LevelInfo, cn.id, "zone_sync: %s: another connection to the node is online", cn.label())
		return
	}
	c.logf(LevelNotice, cn.id, "zone_sync: node %x at %s is online; nodes online: %d", n.id, cn.name(), len(c.nodes))
	if len(c.nodes) == 1 {
		c.discardPending()
	}
	c.sendSnapshot(cn)
}

// discardPending empties the zones' queues when the first peer comes online:
// nobody has received those changes, and the snapshot about to go out holds
// them all, so pushing them as well would only send them twice.
func (c *Core) discardPending() {
	for _, zs := range c.zones {
		zs.carry = nil
		zs.carryLen.Store(0)
		for zs.z.TakePending(0, func(zone.Record) {}) > 0 {
		}
	}
}

// clusterOK applies the cluster identity rules of docs/protocol.md.
func (c *Core) clusterOK(cn *conn, h *wire.Hello) bool {
	switch {
	case h.Named == c.named && h.Cluster == c.cluster:
		return true
	case !h.Named && !c.named:
		c.logf(LevelWarn, cn.id, "zone_sync: %s syncs other zones (%s, here %s); syncing the zones both have",
			cn.label(), h.Cluster, c.cluster)
		return true
	case h.Named && c.named:
		c.drop(cn, fmt.Errorf("%w: peer in cluster %q, this node in %q", ErrCluster, h.Cluster, c.cluster),
			"cluster mismatch", LevelError, "the peer belongs to cluster %q, this node to %q", h.Cluster, c.cluster)
	case h.Named:
		c.drop(cn, fmt.Errorf("%w: peer in cluster %q, this node has no cluster name", ErrCluster, h.Cluster),
			"cluster mismatch", LevelError, "the peer belongs to cluster %q, this node has no cluster name", h.Cluster)
	default:
		c.drop(cn, fmt.Errorf("%w: peer has no cluster name, this node is in %q", ErrCluster, c.cluster),
			"cluster mismatch", LevelError, "the peer has no cluster name, this node belongs to cluster %q", c.cluster)
	}
	return false
}

// drop closes a connection the core gives up on: a bye with byeReason
// first ("" for none: the peer is not listening), the log line, the drop.
func (c *Core) drop(cn *conn, reason error, byeReason string, level Level, format string, args ...any) {
	c.logf(level, cn.id, "zone_sync: %s: %s; closing the connection", cn.label(), fmt.Sprintf(format, args...))
	if byeReason != "" {
		c.send(cn, wire.ByeFrame(byeReason), false)
	}
	c.act(Action{Kind: ActDrop, Peer: cn.id, Reason: reason})
	c.remove(cn)
}

// remove forgets a connection. When it was a node's send link and another
// connection to the node is online, that one becomes the send link and gets
// a new snapshot (what went to the closed one may be lost); when it was the
// node's last, the node is offline.
func (c *Core) remove(cn *conn) {
	delete(c.byPeer, cn.id)
	c.conns = deleteFrom(c.conns, cn)
	if cn.state != stateOnline {
		return
	}
	n := cn.peer
	wasSend := n.conns[0] == cn
	n.conns = deleteFrom(n.conns, cn)
	switch {
	case len(n.conns) == 0:
		delete(c.byNode, n.id)
		c.nodes = deleteFrom(c.nodes, n)
		c.nodesOnline.Store(int64(len(c.nodes)))
		c.logf(LevelNotice, cn.id, "zone_sync: node %x at %s is offline; nodes online: %d", n.id, cn.name(), len(c.nodes))
	case wasSend:
		c.logf(LevelInfo, n.conns[0].id, "zone_sync: %s: sending on another connection to the node", cn.label())
		c.sendSnapshot(n.conns[0])
	}
}

// name is the peer's address: the one it listens on once known, else the
// one dialed or accepted.
func (cn *conn) name() string {
	if cn.listen != "" {
		return cn.listen
	}
	return cn.addr
}

// label names the peer in log lines.
func (cn *conn) label() string {
	if cn.peer != nil {
		return fmt.Sprintf("peer %s (node %x)", cn.name(), cn.peer.id)
	}
	return "peer " + cn.name()
}
