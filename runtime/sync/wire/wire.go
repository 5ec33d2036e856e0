// Package wire is the byte layout of the zone_sync protocol between zonesync
// nodes: a fixed frame header, a hello that opens every connection, records
// frames that carry zone contents, snapshot markers, heartbeats and a bye.
// docs/protocol.md specifies it; this package encodes and decodes it and owns
// every size limit. It does no I/O beyond Reader, which cuts a byte stream
// into frames.
//
// Every length read from a peer is checked against a named constant or the
// configured frame limit (zone_sync_recv_buffer_size) before anything is
// allocated, and anything out of rule is a *Error that unwraps to one of the
// Err* sentinels and matches ErrMalformed.
package wire

import (
	"fmt"

	"github.com/zonesync/zonesync/runtime/zone"
)

// Protocol versions this package speaks. Each version lists what it adds.
const (
	// 1: hello, heartbeat, records, snapshot start and end, bye.
	ProtocolVersionMin = 1
	ProtocolVersionMax = 1
)

// Magic opens the payload of every hello.
const Magic = "ZSNC"

// Sizes of the fixed parts of the format, and the limits on the variable ones.
const (
	// HeaderSize is the frame header: type (1), flags (1), payload length (4).
	HeaderSize = 6
	// MaxString is the longest string (zone name, cluster identity, listen
	// address, bye reason): strings carry a 1-byte length.
	MaxString = 255
	// MaxKey is the longest record key: keys carry a 2-byte length.
	MaxKey = zone.MaxKeyLen
	// RecordHeaderSize is the fixed part of a record: flags (1), key length
	// (2), value length (4), expiry (8), stamp (8), origin (4).
	RecordHeaderSize = 27
	// MinFrameLimit is the smallest frame limit a node may set: every hello
	// fits in it.
	MinFrameLimit = 1024
	// MaxFrameLimit is the largest frame limit a node may set.
	MaxFrameLimit = 256 << 20
	// MaxHelloSize is the largest possible hello frame.
	MaxHelloSize = HeaderSize + helloFixed + 2*MaxString
	// MaxZoneHeaderSize is the largest zone header: name, kind, kind version.
	MaxZoneHeaderSize = 1 + MaxString + 2

	helloFixed = len(Magic) + 1 + 1 + 8 + 4 + 1 + 1
	countSize  = 4 // records count in a records frame
	markerSize = 8 // count in snapshot start and end
)

// ClampFrameLimit brings a configured frame limit (a receive buffer size)
// into [MinFrameLimit, MaxFrameLimit].
func ClampFrameLimit(n int) int {
	return min(max(n, MinFrameLimit), MaxFrameLimit)
}

// Type is a frame type.
type Type uint8

// Frame types.
const (
	TypeHello         Type = 1
	TypeHeartbeat     Type = 2
	TypeRecords       Type = 3
	TypeSnapshotStart Type = 4
	TypeSnapshotEnd   Type = 5
	TypeBye           Type = 6
)

var typeNames = [...]string{
	TypeHello:         "hello",
	TypeHeartbeat:     "heartbeat",
	TypeRecords:       "records",
	TypeSnapshotStart: "snapshot start",
	TypeSnapshotEnd:   "snapshot end",
	TypeBye:           "bye",
}

// Known reports whether t is a frame type of this protocol.
func (t Type) Known() bool { return t >= TypeHello && t <= TypeBye }

func (t Type) String() string {
	if t.Known() {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Flags are a frame header's flag bits; their meaning depends on the type.
type Flags uint8

const (
	// FlagNamed (hello): the cluster identity is a configured name, not one
	// derived from the zones.
	FlagNamed Flags = 0x01
	// FlagSnapshot (records): the records belong to a snapshot, not a push.
	FlagSnapshot Flags = 0x01
)

// allowedFlags is the set of flag bits each type defines.
var allowedFlags = [...]Flags{
	TypeHello:   FlagNamed,
	TypeRecords: FlagSnapshot,
}

func (t Type) allowed() Flags {
	if int(t) < len(allowedFlags) {
		return allowedFlags[t]
	}
	return 0
}

// recordDeleted is the record flag of a tombstone.
const recordDeleted = 0x01

// Kind is the wire tag of a zone's kind. Tags are part of the protocol and
// never change meaning; zone.Kind values may.
type Kind uint8

// Kind tags.
const (
	KindKeyval   Kind = 1 // keyval_zone, http or stream
	KindSticky   Kind = 2 // sticky learn
	KindLimitReq Kind = 3 // limit_req_zone
)

// KindVersion is the record format version of keyval and sticky records.
// A receiver applies records only to a zone of the same kind and kind
// version.
const KindVersion = 1

// LimitReqVersion is the record format version of limit_req records:
// version 2 added the requests accepted since the last push (24-byte
// values, see zone.LimitReqState), which receivers add to their state.
const LimitReqVersion = 2

// VersionOf is the record format version of a kind.
func VersionOf(k Kind) uint8 {
	if k == KindLimitReq {
		return LimitReqVersion
	}
	return KindVersion
}

func (k Kind) String() string {
	switch k {
	case KindKeyval:
		return "keyval"
	case KindSticky:
		return "sticky"
	case KindLimitReq:
		return "limit_req"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// KindOf returns the wire tag of a zone kind (0 for an unknown one).
func KindOf(k zone.Kind) Kind {
	switch k {
	case zone.KindKeyval:
		return KindKeyval
	case zone.KindSticky:
		return KindSticky
	case zone.KindLimitReq:
		return KindLimitReq
	}
	return 0
}

// ZoneID names a zone in records and snapshot frames: its name, the kind of
// zone and the version of that kind's record format.
type ZoneID struct {
	Name    string
	Kind    Kind
	Version uint8
}

// ZoneIDOf returns the ZoneID this node announces for a zone.
func ZoneIDOf(name string, k zone.Kind) ZoneID {
	kind := KindOf(k)
	return ZoneID{Name: name, Kind: kind, Version: VersionOf(kind)}
}

func (z ZoneID) String() string {
	return fmt.Sprintf("%s zone %q (version %d)", z.Kind, z.Name, z.Version)
}

func (z ZoneID) size() int { return 1 + len(z.Name) + 2 }

// Hello opens a connection; both sides send one first.
type Hello struct {
	// VersionMin and VersionMax are the protocol versions the sender speaks.
	VersionMin, VersionMax uint8
	// Node is the sender's node id (not 0).
	Node uint64
	// MaxFrame is the largest frame the sender accepts, header included
	// (its zone_sync_recv_buffer_size).
	MaxFrame uint32
	// Cluster is the sender's cluster identity (not empty): a configured
	// name when Named, otherwise ClusterHash of its zones.
	Cluster string
	Named   bool
	// Listen is the address the sender's peers dial to reach it ("" when
	// it has none to offer).
	Listen string
}

// Frame is one decoded frame. Which fields are set depends on Type:
//
//	TypeHello          Hello
//	TypeHeartbeat      -
//	TypeRecords        Zone, Records, Flags&FlagSnapshot
//	TypeSnapshotStart  Zone, Count (the records the sender expects to send)
//	TypeSnapshotEnd    Zone, Count (the records it sent)
//	TypeBye            Reason
//
// Flags holds the header flags (for a hello, FlagNamed mirrors Hello.Named).
type Frame struct {
	Type    Type
	Flags   Flags
	Hello   Hello
	Zone    ZoneID
	Records []zone.Record
	Count   uint64
	Reason  string
}
