package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/zonesync/zonesync/runtime/zone"
)

const fuzzLimit = 64 << 10

func addSeeds(f *testing.F) {
	for _, tc := range sampleFrames {
		raw, err := AppendFrame(nil, &tc.f)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Add(frame(TypeRecords, 0, zoneHdr, be(3, 4), rec(0, "k", 1, 0, "v")))
}

// FuzzDecode: Decode never panics, never keeps more records than the bytes
// can hold, and whatever it accepts encodes back to the same bytes (the
// encoding is canonical).
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fr Frame
		err := Decode(raw, fuzzLimit, &fr)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			if len(fr.Records) != 0 {
				t.Fatal("records left after an error")
			}
			return
		}
		if len(raw) > fuzzLimit {
			t.Fatalf("accepted a %d-byte frame over the %d limit", len(raw), fuzzLimit)
		}
		if cap(fr.Records) > len(raw)/RecordHeaderSize {
			t.Fatalf("room for %d records in a %d-byte frame", cap(fr.Records), len(raw))
		}
		again, err := AppendFrame(nil, &fr)
		if err != nil {
			t.Fatalf("re-encoding an accepted frame: %v", err)
		}
		if !bytes.Equal(again, raw) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", again, raw)
		}
	})
}

// FuzzReader: the reader cuts any stream into frames no larger than its
// limit, never grows its buffer past the limit, and ends with an error.
func FuzzReader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, stream []byte) {
		limit := MinFrameLimit + len(stream)%(4*MinFrameLimit)
		r := NewReader(bytes.NewReader(stream), limit)
		for n := 0; ; n++ {
			raw, err := r.Next()
			if r.BufferCap() > limit {
				t.Fatalf("buffer of %d bytes, limit %d", r.BufferCap(), limit)
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(raw) > limit || n > len(stream)/HeaderSize {
				t.Fatalf("frame %d of %d bytes", n, len(raw))
			}
		}
	})
}

// FuzzRoundTrip: records built from fuzz input go through a Batch and come
// back equal, tombstones without their value; a hello likewise.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("zone1"), []byte("key"), []byte("value"), int64(1700000000000), uint64(42), uint32(7), false, uint16(512), uint64(9))
	f.Add([]byte("z"), []byte{}, []byte{}, int64(0), uint64(0), uint32(0), true, uint16(0), uint64(1))
	f.Fuzz(func(t *testing.T, name, key, value []byte, expire int64, stamp uint64, origin uint32, deleted bool, limit uint16, node uint64) {
		z := ZoneID{Name: string(name), Kind: Kind(1 + origin%3), Version: uint8(1 + stamp%2)}
		r := zone.Record{Key: key, Value: value, Expire: expire, Stamp: stamp, Origin: origin, Deleted: deleted}
		b := NewBatch(int(limit))
		if err := b.Reset(z, FlagSnapshot); err != nil {
			if len(name) == 0 || len(name) > MaxString || HeaderSize+z.size()+countSize > b.Limit() {
				return
			}
			t.Fatalf("Reset: %v", err)
		}
		for i := 0; i < 3; i++ {
			err := b.Add(r)
			switch {
			case errors.Is(err, ErrRecordTooLarge):
				if RecordFrameSize(z, r) <= b.Limit() && len(key) <= MaxKey {
					t.Fatalf("refused a record that fits: %v", err)
				}
				return
			case errors.Is(err, ErrEncode):
				if expire >= 0 {
					t.Fatalf("refused a valid record: %v", err)
				}
				return
			case err == ErrBatchFull:
				if b.Len() == 0 || b.Size()+recordSize(&r) <= b.Limit() {
					t.Fatalf("full with %d records, %d of %d bytes", b.Len(), b.Size(), b.Limit())
				}
			case err != nil:
				t.Fatal(err)
			}
		}
		raw := b.Bytes()
		if len(raw) > b.Limit() {
			t.Fatalf("frame of %d bytes, limit %d", len(raw), b.Limit())
		}
		var fr Frame
		if err := Decode(raw, MaxFrameLimit, &fr); err != nil {
			t.Fatal(err)
		}
		want := r
		if deleted {
			want.Value = nil
		}
		if fr.Zone != z || fr.Flags != FlagSnapshot || len(fr.Records) != b.Len() {
			t.Fatalf("decoded %+v", fr)
		}
		for _, got := range fr.Records {
			if !recordsEqual(got, want) {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}
		}

		h := Hello{VersionMin: 1, VersionMax: uint8(1 + limit%4), Node: node, MaxFrame: binary.BigEndian.Uint32(append(make([]byte, 4), key...)[len(key):]),
			Cluster: string(value), Listen: string(name), Named: deleted}
		hraw, err := HelloFrame(h)
		if err != nil {
			if h.Node != 0 && h.MaxFrame >= MinFrameLimit && h.Cluster != "" && len(h.Cluster) <= MaxString && len(h.Listen) <= MaxString {
				t.Fatalf("refused a valid hello: %v", err)
			}
			return
		}
		if err := Decode(hraw, MinFrameLimit, &fr); err != nil || fr.Hello != h {
			t.Fatalf("hello decoded as %+v (%v), want %+v", fr.Hello, err, h)
		}
	})
}
