package core

import (
	"errors"
	"fmt"
	"time"

	"github.com/zonesync/zonesync/runtime/sync/wire"
	"github.com/zonesync/zonesync/runtime/zone"
)

// PeerID is the shell's handle for one connection. The shell picks it (any
// value, unique among the connections it has open) when it calls Connected.
type PeerID uint64

// Zone is what the core needs of a synced zone; *zone.Store has it. The
// methods must be safe for concurrent use (Status reads Pending and Len
// from another goroutine).
type Zone interface {
	Name() string
	Kind() zone.Kind
	// Pending is the number of local changes not yet taken.
	Pending() int
	// TakePending removes up to max local changes from the queue and calls
	// fn with each; the record's slices are valid only during the call.
	TakePending(max int, fn func(zone.Record)) int
	// Snapshot calls fn with every record, tombstones included.
	Snapshot(fn func(zone.Record) bool)
	// Apply merges a record received from a peer.
	Apply(zone.Record) (bool, error)
	// Len is the number of live records.
	Len() int
}

// Defaults for the zero fields of Config: nginx's defaults.
const (
	DefaultTimeout     = 5 * time.Second // zone_sync_timeout
	DefaultBufferCount = 8               // zone_sync_buffers number
	DefaultBufferSize  = 4096            // zone_sync_buffers size (one page)
)

// Config is what the core needs from the configuration.
type Config struct {
	// Node is this node's id (not 0): pick a random one at start-up, so a
	// restarted node is a new node to its peers.
	Node uint64
	// Cluster is a configured cluster name; "" derives the identity from
	// the zones (wire.ClusterHash).
	Cluster string
	// Listen is the address peers dial to reach this node, sent in the
	// hello (may be "").
	Listen string
	// Interval is zone_sync_interval: Tick pushes local changes this
	// often. 0 means the shell calls Flush when a zone changes.
	Interval time.Duration
	// Timeout is zone_sync_timeout (0: DefaultTimeout): a connection
	// silent this long is closed, and heartbeats go out every third of it.
	Timeout time.Duration
	// BufferCount and BufferSize are zone_sync_buffers (0: the defaults):
	// the largest frame sent, and the frames per zone per push.
	BufferCount int
	BufferSize  int
	// RecvBufferSize is zone_sync_recv_buffer_size, the largest frame
	// accepted (0: BufferCount × BufferSize). It must be at least
	// BufferSize; wire.ClampFrameLimit applies.
	RecvBufferSize int
	// Zones are the synced zones, matched with the peers' by name.
	Zones []Zone
}

func (cfg *Config) setDefaults() error {
	if cfg.Node == 0 {
		return errors.New("zone_sync: node id 0")
	}
	if cfg.Interval < 0 || cfg.Timeout < 0 || cfg.BufferCount < 0 || cfg.BufferSize < 0 || cfg.RecvBufferSize < 0 {
		return errors.New("zone_sync: negative interval, timeout or buffer size")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BufferCount == 0 {
		cfg.BufferCount = DefaultBufferCount
	}
	if cfg.BufferSize == 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	cfg.BufferSize = min(max(cfg.BufferSize, wire.MinBatchLimit), wire.MaxFrameLimit)
	if cfg.RecvBufferSize == 0 {
		cfg.RecvBufferSize = min(cfg.BufferCount*cfg.BufferSize, wire.MaxFrameLimit)
	}
	if cfg.RecvBufferSize < cfg.BufferSize {
		return fmt.Errorf("zone_sync: receive buffer of %d bytes is smaller than a buffer of %d", cfg.RecvBufferSize, cfg.BufferSize)
	}
	cfg.RecvBufferSize = wire.ClampFrameLimit(cfg.RecvBufferSize)
	if len(cfg.Cluster) > wire.MaxString {
		return fmt.Errorf("zone_sync: cluster name of %d bytes, the longest is %d", len(cfg.Cluster), wire.MaxString)
	}
	if len(cfg.Listen) > wire.MaxString {
		return fmt.Errorf("zone_sync: listen address of %d bytes, the longest is %d", len(cfg.Listen), wire.MaxString)
	}
	seen := map[string]bool{}
	for _, z := range cfg.Zones {
		switch n := z.Name(); {
		case n == "" || len(n) > wire.MaxString:
			return fmt.Errorf("zone_sync: zone name %q: empty or longer than %d bytes", n, wire.MaxString)
		case seen[n]:
			return fmt.Errorf("zone_sync: zone %q given twice", n)
		case wire.KindOf(z.Kind()) == 0:
			return fmt.Errorf("zone_sync: zone %q of unknown kind %v", n, z.Kind())
		case wire.RecordFrameSize(wire.ZoneIDOf(n, z.Kind()), zone.Record{}) > cfg.BufferSize:
			return fmt.Errorf("zone_sync: a buffer of %d bytes cannot hold a record of zone %q", cfg.BufferSize, n)
		default:
			seen[n] = true
		}
	}
	return nil
}

// Level is a log level, named as nginx names them.
type Level uint8

// Levels the core logs at.
const (
	LevelError  Level = iota + 1 // nginx "error"
	LevelWarn                    // "warn"
	LevelNotice                  // "notice"
	LevelInfo                    // "info"
)

func (l Level) String() string {
	switch l {
	case LevelError:
		return "error"
	case LevelWarn:
		return "warn"
	case LevelNotice:
		return "notice"
	case LevelInfo:
		return "info"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// ActionKind says what an Action asks of the shell.
type ActionKind uint8

// Action kinds.
const (
	// ActSend: write Frame to Peer. Frames may be shared between actions
	// (a push goes to every peer): never modify them.
	ActSend ActionKind = iota + 1
	// ActDrop: close Peer once the frames already queued for it are
	// written (within zone_sync_timeout). Reason says why; the core has
	// forgotten the peer, so do not call Disconnected for it. Dial an
	// outbound connection's address again after
	// zone_sync_connect_retry_interval, unless Reason is ErrSelf or
	// ErrStopping.
	ActDrop
	// ActLog: write Msg to the error log at Level.
	ActLog
	// ActStopped: Stop is done; exit once the queued frames are written.
	ActStopped
)

func (k ActionKind) String() string {
	switch k {
	case ActSend:
		return "send"
	case ActDrop:
		return "drop"
	case ActLog:
		return "log"
	case ActStopped:
		return "stopped"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is one thing for the shell to do. The shell carries out a call's
// actions in order.
type Action struct {
	Kind   ActionKind
	Peer   PeerID // ActSend, ActDrop; the peer an ActLog is about, if any
	Frame  []byte // ActSend
	Reason error  // ActDrop
	Level  Level  // ActLog
	Msg    string // ActLog
}

// Why the core drops a connection (Action.Reason wraps one of these, or is
// a *wire.Error for a malformed frame).
var (
	ErrTimeout  = errors.New("timed out")
	ErrProtocol = errors.New("protocol error")
	ErrVersion  = errors.New("no common protocol version")
	ErrCluster  = errors.New("cluster mismatch")
	ErrSelf     = errors.New("connected to itself")
	ErrPeerBye  = errors.New("peer closed the connection")
	ErrStopping = errors.New("stopping")
)

// ZoneStatus is one zone in /stream/zone_sync/.
type ZoneStatus struct {
	Name           string
	RecordsPending int64
	RecordsTotal   int64
}

// Status is /stream/zone_sync/: zones in configuration order.
type Status struct {
	Zones                                           []ZoneStatus
	BytesIn, MsgsIn, MsgsOut, BytesOut, NodesOnline int64
}
