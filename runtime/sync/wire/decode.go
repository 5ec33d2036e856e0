package wire

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/zonesync/zonesync/runtime/zone"
)

// Header is a decoded frame header.
type Header struct {
	Type  Type
	Flags Flags
	// Length is the payload length, the header not included.
	Length uint32
}

// ParseHeader decodes and checks the header at the start of b: a known
// type, flags that type defines, and a frame (header included) no larger
// than maxFrame (brought into range by ClampFrameLimit).
func ParseHeader(b []byte, maxFrame int) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, malformed(0, ErrTruncated, "header needs %d bytes, %d given", HeaderSize, len(b))
	}
	h := Header{Type: Type(b[0]), Flags: Flags(b[1]), Length: binary.BigEndian.Uint32(b[2:])}
	if !h.Type.Known() {
		return h, malformed(0, ErrUnknownType, "%d", b[0])
	}
	if bad := h.Flags &^ h.Type.allowed(); bad != 0 {
		return h, malformed(h.Type, ErrFlags, "0x%02x", uint8(bad))
	}
	limit := ClampFrameLimit(maxFrame)
	if uint64(h.Length) > uint64(limit-HeaderSize) {
		return h, malformed(h.Type, ErrFrameTooLarge, "%d bytes, the limit is %d", uint64(h.Length)+HeaderSize, limit)
	}
	return h, nil
}

// Decode decodes the frame raw (header and payload, exactly one frame) into
// f, whose Records slice is reused. The byte slices in f.Records alias raw.
// maxFrame is the receiver's frame limit, as for ParseHeader. Every length
// in the payload is checked against what is left of raw before it is used,
// so nothing is allocated beyond len(raw)/RecordHeaderSize records and the
// strings of the frame.
func Decode(raw []byte, maxFrame int, f *Frame) error {
	h, err := ParseHeader(raw, maxFrame)
	if err != nil {
		return err
	}
	if n := len(raw) - HeaderSize; n != int(h.Length) {
		if n < int(h.Length) {
			return malformed(h.Type, ErrTruncated, "payload of %d bytes announced, %d given", h.Length, n)
		}
		return malformed(h.Type, ErrTrailing, "payload of %d bytes announced, %d given", h.Length, n)
	}
	recs := f.Records[:0]
	*f = Frame{Type: h.Type, Flags: h.Flags}
	d := decoder{t: h.Type, b: raw[HeaderSize:]}
	switch h.Type {
	case TypeHello:
		d.hello(&f.Hello, h.Flags)
	case TypeHeartbeat:
	case TypeRecords:
		f.Zone = d.zoneID()
		recs = d.records(recs)
	case TypeSnapshotStart, TypeSnapshotEnd:
		f.Zone = d.zoneID()
		f.Count = d.u64("count")
	case TypeBye:
		f.Reason = d.str("reason")
	}
	f.Records = recs
	if d.err == nil && d.off != len(d.b) {
		d.fail(ErrTrailing, "%d bytes", len(d.b)-d.off)
	}
	if d.err != nil {
		f.Records = recs[:0]
		return d.err
	}
	return nil
}

// decoder reads the payload of one frame; the first error sticks and every
// later read returns zero values.
type decoder struct {
	t   Type
	b   []byte
	off int
	err error
}

func (d *decoder) fail(err error, format string, args ...any) {
	if d.err == nil {
		d.err = malformed(d.t, err, format, args...)
	}
}

// take returns the next n bytes, or nil (and an error) when fewer are left.
func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail(ErrTruncated, "%s needs %d bytes, %d left", what, n, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8(what string) uint8 {
	if p := d.take(1, what); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if p := d.take(2, what); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if p := d.take(4, what); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if p := d.take(8, what); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// str reads a string with a 1-byte length (so at most MaxString bytes).
func (d *decoder) str(what string) string {
	n := int(d.u8(what))
	return string(d.take(n, what))
}

func (d *decoder) hello(h *Hello, flags Flags) {
	if m := d.take(len(Magic), "magic"); m != nil && string(m) != Magic {
		d.fail(ErrMagic, "%q", m)
	}
	h.VersionMin = d.u8("version min")
	h.VersionMax = d.u8("version max")
	h.Node = d.u64("node id")
	h.MaxFrame = d.u32("frame limit")
	h.Cluster = d.str("cluster")
	h.Listen = d.str("listen address")
	h.Named = flags&FlagNamed != 0
	switch {
	case d.err != nil:
	case h.VersionMin == 0 || h.VersionMin > h.VersionMax:
		d.fail(ErrField, "versions %d to %d", h.VersionMin, h.VersionMax)
	case h.Node == 0:
		d.fail(ErrField, "node id 0")
	case h.MaxFrame < MinFrameLimit:
		d.fail(ErrField, "frame limit %d below %d", h.MaxFrame, MinFrameLimit)
	case h.Cluster == "":
		d.fail(ErrField, "empty cluster")
	}
}

func (d *decoder) zoneID() ZoneID {
	z := ZoneID{Name: d.str("zone name")}
	z.Kind = Kind(d.u8("zone kind"))
	z.Version = d.u8("kind version")
	switch {
	case d.err != nil:
	case z.Name == "":
		d.fail(ErrField, "empty zone name")
	case z.Kind == 0:
		d.fail(ErrField, "zone kind 0")
	case z.Version == 0:
		d.fail(ErrField, "kind version 0")
	}
	return z
}

func (d *decoder) records(recs []zone.Record) []zone.Record {
	count := d.u32("record count")
	if d.err != nil {
		return recs
	}
	if left := len(d.b) - d.off; uint64(count) > uint64(left/RecordHeaderSize) {
		d.fail(ErrTruncated, "%d records need at least %d bytes, %d left", count, uint64(count)*RecordHeaderSize, left)
		return recs
	}
	if cap(recs) < int(count) {
		recs = make([]zone.Record, 0, count)
	}
	for i := 0; i < int(count) && d.err == nil; i++ {
		flags := d.u8("record flags")
		kl := int(d.u16("key length"))
		vl := d.u32("value length")
		expire := int64(d.u64("expiry"))
		r := zone.Record{Expire: expire, Deleted: flags&recordDeleted != 0}
		r.Stamp = d.u64("stamp")
		r.Origin = d.u32("origin")
		if d.err != nil {
			break
		}
		switch {
		case flags&^recordDeleted != 0:
			d.fail(ErrFlags, "record %d: 0x%02x", i, flags&^recordDeleted)
		case expire < 0:
			d.fail(ErrField, "record %d: negative expiry %d", i, expire)
		case r.Deleted && vl != 0:
			d.fail(ErrField, "record %d: tombstone with a %d-byte value", i, vl)
		case uint64(vl) > uint64(len(d.b)):
			d.fail(ErrTruncated, "record %d: value of %d bytes", i, vl)
		}
		r.Key = d.take(kl, "key")
		r.Value = d.take(int(vl), "value")
		if d.err == nil {
			recs = append(recs, r)
		}
	}
	return recs
}

// Reader cuts a byte stream into frames. It checks each header with
// ParseHeader before it reads the payload, so its buffer never grows past
// the frame limit.
type Reader struct {
	r     io.Reader
	limit int
	buf   []byte
}

// NewReader reads frames of at most maxFrame bytes (ClampFrameLimit applies)
// from r.
func NewReader(r io.Reader, maxFrame int) *Reader {
	return &Reader{r: r, limit: ClampFrameLimit(maxFrame)}
}

// Next returns the next frame, header included, valid until the next call.
// It returns io.EOF at the end of the stream between frames,
// io.ErrUnexpectedEOF inside one, a *Error for a bad header, or the
// underlying reader's error.
func (r *Reader) Next() ([]byte, error) {
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r.r, hb[:]); err != nil {
		return nil, err
	}
	h, err := ParseHeader(hb[:], r.limit)
	if err != nil {
		return nil, err
	}
	n := HeaderSize + int(h.Length)
	if cap(r.buf) < n {
		r.buf = make([]byte, n, max(n, min(2*cap(r.buf), r.limit)))
	}
	frame := r.buf[:n]
	copy(frame, hb[:])
	if _, err := io.ReadFull(r.r, frame[HeaderSize:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return frame, nil
}

// BufferCap is the capacity of the reader's buffer (never above its limit).
func (r *Reader) BufferCap() int { return cap(r.buf) }
