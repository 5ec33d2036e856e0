package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/zonesync/zonesync/runtime/zone"
)

// AppendFrame appends the encoding of f to dst. It refuses (ErrEncode) what
// Decode would refuse, so a frame it encodes decodes to f again. Records
// frames built from a zone are better encoded with a Batch, which keeps
// them within a buffer.
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	flags := f.Flags
	if f.Type == TypeHello {
		flags &^= FlagNamed
		if f.Hello.Named {
			flags |= FlagNamed
		}
	}
	if !f.Type.Known() {
		return dst, fmt.Errorf("wire: %w: frame %v", ErrEncode, f.Type)
	}
	if bad := flags &^ f.Type.allowed(); bad != 0 {
		return dst, fmt.Errorf("wire: %w: %v frame with flags 0x%02x", ErrEncode, f.Type, uint8(bad))
	}
	start := len(dst)
	dst = appendHeader(dst, f.Type, flags)
	var err error
	switch f.Type {
	case TypeHello:
		dst, err = appendHello(dst, &f.Hello)
	case TypeHeartbeat:
	case TypeRecords:
		if dst, err = appendZoneID(dst, f.Zone); err != nil {
			break
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Records)))
		for i := range f.Records {
			if dst, err = appendRecord(dst, &f.Records[i]); err != nil {
				break
			}
		}
	case TypeSnapshotStart, TypeSnapshotEnd:
		if dst, err = appendZoneID(dst, f.Zone); err == nil {
			dst = binary.BigEndian.AppendUint64(dst, f.Count)
		}
	case TypeBye:
		dst, err = appendString(dst, f.Reason, "reason")
	}
	if err != nil {
		return dst[:start], err
	}
	if n := len(dst) - start; n > MaxFrameLimit {
		return dst[:start], fmt.Errorf("wire: %w: %v frame of %d bytes, the largest is %d", ErrEncode, f.Type, n, MaxFrameLimit)
	}
	setLength(dst[start:])
	return dst, nil
}

// Hello, heartbeat, snapshot markers and bye as single frames.

// HelloFrame encodes a hello.
func HelloFrame(h Hello) ([]byte, error) {
	return AppendFrame(nil, &Frame{Type: TypeHello, Hello: h})
}

// HeartbeatFrame encodes a heartbeat.
func HeartbeatFrame() []byte {
	return appendHeader(make([]byte, 0, HeaderSize), TypeHeartbeat, 0)
}

// SnapshotStartFrame encodes a snapshot start; expect is the number of
// records the sender expects to send.
func SnapshotStartFrame(z ZoneID, expect uint64) ([]byte, error) {
	return AppendFrame(nil, &Frame{Type: TypeSnapshotStart, Zone: z, Count: expect})
}

// SnapshotEndFrame encodes a snapshot end; sent is the number of records
// the snapshot's records frames held.
func SnapshotEndFrame(z ZoneID, sent uint64) ([]byte, error) {
	return AppendFrame(nil, &Frame{Type: TypeSnapshotEnd, Zone: z, Count: sent})
}

// ByeFrame encodes a bye; a reason longer than MaxString is cut.
func ByeFrame(reason string) []byte {
	if len(reason) > MaxString {
		reason = reason[:MaxString]
	}
	b, _ := AppendFrame(nil, &Frame{Type: TypeBye, Reason: reason})
	return b
}

func appendHeader(dst []byte, t Type, f Flags) []byte {
	return append(dst, byte(t), byte(f), 0, 0, 0, 0)
}

// setLength writes the payload length into the header of frame.
func setLength(frame []byte) {
	binary.BigEndian.PutUint32(frame[2:], uint32(len(frame)-HeaderSize))
}

func appendString(dst []byte, s, what string) ([]byte, error) {
	if len(s) > MaxString {
		return dst, fmt.Errorf("wire: %w: %s of %d bytes, the longest is %d", ErrEncode, what, len(s), MaxString)
	}
	return append(append(dst, byte(len(s))), s...), nil
}

func appendHello(dst []byte, h *Hello) ([]byte, error) {
	switch {
	case h.VersionMin == 0 || h.VersionMin > h.VersionMax:
		return dst, fmt.Errorf("wire: %w: versions %d to %d", ErrEncode, h.VersionMin, h.VersionMax)
	case h.Node == 0:
		return dst, fmt.Errorf("wire: %w: node id 0", ErrEncode)
	case h.MaxFrame < MinFrameLimit:
		return dst, fmt.Errorf("wire: %w: frame limit %d below %d", ErrEncode, h.MaxFrame, MinFrameLimit)
	case h.Cluster == "":
		return dst, fmt.Errorf("wire: %w: empty cluster", ErrEncode)
	}
	dst = append(dst, Magic...)
	dst = append(dst, h.VersionMin, h.VersionMax)
	dst = binary.BigEndian.AppendUint64(dst, h.Node)
	dst = binary.BigEndian.AppendUint32(dst, h.MaxFrame)
	dst, err := appendString(dst, h.Cluster, "cluster")
	if err != nil {
		return dst, err
	}
	return appendString(dst, h.Listen, "listen address")
}

func checkZoneID(z ZoneID) error {
	switch {
	case z.Name == "":
		return fmt.Errorf("wire: %w: empty zone name", ErrEncode)
	case len(z.Name) > MaxString:
		return fmt.Errorf("wire: %w: zone name of %d bytes, the longest is %d", ErrEncode, len(z.Name), MaxString)
	case z.Kind == 0 || z.Version == 0:
		return fmt.Errorf("wire: %w: zone %q of kind %d version %d", ErrEncode, z.Name, z.Kind, z.Version)
	}
	return nil
}

func appendZoneID(dst []byte, z ZoneID) ([]byte, error) {
	if err := checkZoneID(z); err != nil {
		return dst, err
	}
	dst = append(append(dst, byte(len(z.Name))), z.Name...)
	return append(dst, byte(z.Kind), z.Version), nil
}

// recordSize is the encoded size of r; a tombstone's value is not sent.
func recordSize(r *zone.Record) int {
	n := RecordHeaderSize + len(r.Key)
	if !r.Deleted {
		n += len(r.Value)
	}
	return n
}

func appendRecord(dst []byte, r *zone.Record) ([]byte, error) {
	if len(r.Key) > MaxKey {
		return dst, fmt.Errorf("wire: %w: key of %d bytes, the longest is %d", ErrRecordTooLarge, len(r.Key), MaxKey)
	}
	if r.Expire < 0 {
		return dst, fmt.Errorf("wire: %w: negative expiry %d", ErrEncode, r.Expire)
	}
	val := r.Value
	var flags byte
	if r.Deleted {
		flags, val = recordDeleted, nil
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Key)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(val)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Expire))
	dst = binary.BigEndian.AppendUint64(dst, r.Stamp)
	dst = binary.BigEndian.AppendUint32(dst, r.Origin)
	dst = append(dst, r.Key...)
	return append(dst, val...), nil
}

// MinBatchLimit is the smallest Batch limit. A zone whose empty records
// frame does not fit in the limit cannot be sent (Reset says so).
const MinBatchLimit = 64

// Batch builds records frames of at most a fixed size (one zone_sync_buffers
// buffer) in a buffer allocated once. Use: Reset, Add until ErrBatchFull,
// Bytes, Reset again.
type Batch struct {
	limit int
	buf   []byte
	n     uint32
	open  bool
}

// NewBatch returns a batch whose frames are at most limit bytes, header
// included (brought into [MinBatchLimit, MaxFrameLimit]).
func NewBatch(limit int) *Batch {
	limit = min(max(limit, MinBatchLimit), MaxFrameLimit)
	return &Batch{limit: limit}
}

// Limit is the largest frame the batch builds.
func (b *Batch) Limit() int { return b.limit }

// Reset starts a new, empty records frame for zone z; flags may hold
// FlagSnapshot.
func (b *Batch) Reset(z ZoneID, flags Flags) error {
	b.open = false
	if err := checkZoneID(z); err != nil {
		return err
	}
	if bad := flags &^ TypeRecords.allowed(); bad != 0 {
		return fmt.Errorf("wire: %w: records frame with flags 0x%02x", ErrEncode, uint8(bad))
	}
	if n := HeaderSize + z.size() + countSize; n > b.limit {
		return fmt.Errorf("wire: %w: an empty frame for zone %q takes %d bytes, the buffer holds %d", ErrEncode, z.Name, n, b.limit)
	}
	if b.buf == nil {
		b.buf = make([]byte, 0, b.limit)
	}
	b.buf = appendHeader(b.buf[:0], TypeRecords, flags)
	b.buf, _ = appendZoneID(b.buf, z)
	b.buf = append(b.buf, 0, 0, 0, 0) // count, set by Bytes
	b.n, b.open = 0, true
	return nil
}

// Add appends r to the frame. ErrBatchFull: it does not fit in what is
// left (send this frame, then Reset and add r again); ErrRecordTooLarge: it
// would not fit even alone, so it can never be sent with this limit. The
// record's bytes are copied.
func (b *Batch) Add(r zone.Record) error {
	if !b.open {
		return fmt.Errorf("wire: %w: Add before Reset", ErrEncode)
	}
	size := recordSize(&r)
	if len(r.Key) > MaxKey || b.emptySize()+size > b.limit {
		return fmt.Errorf("wire: %w: %d-byte key and %d-byte value make a %d-byte frame, the buffer holds %d",
			ErrRecordTooLarge, len(r.Key), len(r.Value), b.emptySize()+size, b.limit)
	}
	if len(b.buf)+size > b.limit {
		return ErrBatchFull
	}
	buf, err := appendRecord(b.buf, &r)
	if err != nil {
		return err
	}
	b.buf = buf
	b.n++
	return nil
}

// emptySize is the size of the current frame without records.
func (b *Batch) emptySize() int {
	return HeaderSize + 1 + int(b.buf[HeaderSize]) + 2 + countSize
}

// Len is the number of records in the frame.
func (b *Batch) Len() int { return int(b.n) }

// Size is the size of the frame so far, header included.
func (b *Batch) Size() int { return len(b.buf) }

// Bytes returns the frame in a new slice of its exact size; the batch keeps
// its buffer for the next Reset.
func (b *Batch) Bytes() []byte {
	if !b.open {
		return nil
	}
	binary.BigEndian.PutUint32(b.buf[b.emptySize()-countSize:], b.n)
	setLength(b.buf)
	return bytes.Clone(b.buf)
}

// RecordFrameSize is the size of a records frame for zone z holding only r:
// what a buffer must hold to send r.
func RecordFrameSize(z ZoneID, r zone.Record) int {
	return HeaderSize + z.size() + countSize + recordSize(&r)
}
