package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/zonesync/zonesync/runtime/zone"
)

var update = flag.Bool("update", false, "rewrite testdata/frames.golden")

var zone1 = ZoneID{Name: "zone1", Kind: KindKeyval, Version: KindVersion}

// sampleFrames are one frame of each type, as the golden file pins them.
var sampleFrames = []struct {
	name string
	f    Frame
}{
	{"hello", Frame{Type: TypeHello, Hello: Hello{VersionMin: 1, VersionMax: 1, Node: 0x0102030405060708,
		MaxFrame: 32768, Cluster: "zones-00112233aabbccdd", Listen: "10.0.0.1:12345"}}},
	{"hello named", Frame{Type: TypeHello, Flags: FlagNamed, Hello: Hello{VersionMin: 1, VersionMax: 3, Node: 7,
		MaxFrame: MinFrameLimit, Cluster: "prod", Named: true}}},
	{"heartbeat", Frame{Type: TypeHeartbeat}},
	{"records", Frame{Type: TypeRecords, Zone: zone1, Records: []zone.Record{
		{Key: []byte("k1"), Value: []byte("v1"), Expire: 1700000060000, Stamp: zone.MakeStamp(1700000000000, 3), Origin: 2},
		{Key: []byte("k2"), Value: []byte{}, Stamp: zone.MakeStamp(1700000000001, 0), Origin: 1, Deleted: true},
	}}},
	{"records snapshot", Frame{Type: TypeRecords, Flags: FlagSnapshot,
		Zone: ZoneID{Name: "sessions", Kind: KindSticky, Version: 1}, Records: []zone.Record{
			{Key: []byte("abc"), Value: []byte("srv1"), Expire: 5, Stamp: 9, Origin: 4},
		}}},
	{"records empty", Frame{Type: TypeRecords, Zone: ZoneID{Name: "lr", Kind: KindLimitReq, Version: 1}, Records: []zone.Record{}}},
	{"snapshot start", Frame{Type: TypeSnapshotStart, Zone: zone1, Count: 12}},
	{"snapshot end", Frame{Type: TypeSnapshotEnd, Zone: zone1, Count: 11}},
	{"bye", Frame{Type: TypeBye, Reason: "stopping"}},
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range sampleFrames {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := AppendFrame(nil, &tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got Frame
			if err := Decode(raw, len(raw), &got); err != nil {
				t.Fatal(err)
			}
			if !framesEqual(&got, &tc.f) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, tc.f)
			}
			again, err := AppendFrame(nil, &got)
			if err != nil || !bytes.Equal(again, raw) {
				t.Fatalf("re-encoding differs (%v):\n%x\n%x", err, again, raw)
			}
		})
	}
}

// framesEqual compares frames, treating nil and empty byte slices alike.
func framesEqual(a, b *Frame) bool {
	if a.Type != b.Type || a.Flags != b.Flags || a.Hello != b.Hello || a.Zone != b.Zone ||
		a.Count != b.Count || a.Reason != b.Reason || len(a.Records) != len(b.Records) {
		return false
	}
	for i := range a.Records {
		if !recordsEqual(a.Records[i], b.Records[i]) {
			return false
		}
	}
	return true
}

func recordsEqual(a, b zone.Record) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) && a.Expire == b.Expire &&
		a.Stamp == b.Stamp && a.Origin == b.Origin && a.Deleted == b.Deleted
}

// TestGoldenFrames pins the byte layout: a change here breaks every node
// that speaks the old one. Rewrite with -update and read the diff.
func TestGoldenFrames(t *testing.T) {
	var out strings.Builder
	for _, tc := range sampleFrames {
		raw, err := AppendFrame(nil, &tc.f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "# %s\n%s", tc.name, hex.Dump(raw))
	}
	const path = "testdata/frames.golden"
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("frames differ from %s (rerun with -update and read the diff):\n%s", path, out.String())
	}
}

// frame builds a raw frame from a header and payload pieces.
func frame(t Type, flags Flags, parts ...[]byte) []byte {
	p := bytes.Join(parts, nil)
	b := appendHeader(nil, t, flags)
	b = append(b, p...)
	setLength(b)
	return b
}

func be(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

func str(s string) []byte { return append([]byte{byte(len(s))}, s...) }

var zoneHdr = bytes.Join([][]byte{str("zone1"), {byte(KindKeyval), 1}}, nil)

func rec(flags byte, key string, vlen uint32, expire int64, val string) []byte {
	return bytes.Join([][]byte{{flags}, be(uint64(len(key)), 2), be(uint64(vlen), 4), be(uint64(expire), 8),
		be(1, 8), be(1, 4), []byte(key), []byte(val)}, nil)
}

func helloPayload(magic string, vmin, vmax byte, node uint64, maxFrame uint32, cluster string) []byte {
	return bytes.Join([][]byte{[]byte(magic), {vmin, vmax}, be(node, 8), be(uint64(maxFrame), 4), str(cluster), str("a:1")}, nil)
}

func TestDecodeMalformed(t *testing.T) {
	good := helloPayload(Magic, 1, 1, 5, 4096, "c")
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"short header", []byte{1, 0, 0}, ErrTruncated},
		{"unknown type", frame(9, 0), ErrUnknownType},
		{"type zero", frame(0, 0), ErrUnknownType},
		{"heartbeat with flags", frame(TypeHeartbeat, 1), ErrFlags},
		{"records with flag 2", frame(TypeRecords, 2, zoneHdr, be(0, 4)), ErrFlags},
		{"over the limit", append([]byte{byte(TypeBye), 0}, be(MinFrameLimit, 4)...), ErrFrameTooLarge},
		{"length past the end", append(frame(TypeBye, 0, str("abc"))[:HeaderSize], 0, 0), ErrTruncated},
		{"bytes after the frame", append(frame(TypeBye, 0, str("")), 0), ErrTrailing},
		{"heartbeat with payload", frame(TypeHeartbeat, 0, []byte{0}), ErrTrailing},
		{"hello ok but extra byte", frame(TypeHello, 0, good, []byte{0}), ErrTrailing},
		{"hello bad magic", frame(TypeHello, 0, helloPayload("NGNX", 1, 1, 5, 4096, "c")), ErrMagic},
		{"hello min above max", frame(TypeHello, 0, helloPayload(Magic, 2, 1, 5, 4096, "c")), ErrField},
		{"hello version 0", frame(TypeHello, 0, helloPayload(Magic, 0, 1, 5, 4096, "c")), ErrField},
		{"hello node 0", frame(TypeHello, 0, helloPayload(Magic, 1, 1, 0, 4096, "c")), ErrField},
		{"hello frame limit too small", frame(TypeHello, 0, helloPayload(Magic, 1, 1, 5, 100, "c")), ErrField},
		{"hello empty cluster", frame(TypeHello, 0, helloPayload(Magic, 1, 1, 5, 4096, "")), ErrField},
		{"hello truncated", frame(TypeHello, 0, good[:len(good)-2]), ErrTruncated},
		{"zone empty name", frame(TypeSnapshotEnd, 0, str(""), []byte{1, 1}, be(0, 8)), ErrField},
		{"zone kind 0", frame(TypeSnapshotEnd, 0, str("z"), []byte{0, 1}, be(0, 8)), ErrField},
		{"zone version 0", frame(TypeSnapshotEnd, 0, str("z"), []byte{1, 0}, be(0, 8)), ErrField},
		{"zone name past the end", frame(TypeSnapshotStart, 0, []byte{200, 'a'}), ErrTruncated},
		{"count beyond the bytes", frame(TypeRecords, 0, zoneHdr, be(1<<31, 4), rec(0, "k", 1, 0, "v")), ErrTruncated},
		{"count above the records", frame(TypeRecords, 0, zoneHdr, be(2, 4), rec(0, "k", 1, 0, "v"), make([]byte, 20)), ErrTruncated},
		{"count below the records", frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(0, "k", 1, 0, "v"), rec(0, "k", 1, 0, "v")), ErrTrailing},
		{"record flags", frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(2, "k", 1, 0, "v")), ErrFlags},
		{"negative expiry", frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(0, "k", 1, -5, "v")), ErrField},
		{"tombstone with value", frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(1, "k", 1, 0, "v")), ErrField},
		{"value past the end", frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(0, "k", 1<<31, 0, "v")), ErrTruncated},
		{"value length 4 GiB", frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(0, "k", 0xffffffff, 0, "v")), ErrTruncated},
		{"key past the end", frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(0, "k", 0, 0, "")[:RecordHeaderSize]), ErrTruncated},
		{"bye reason past the end", frame(TypeBye, 0, []byte{5, 'a'}), ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Frame{Records: make([]zone.Record, 0, 1)}
			err := Decode(tc.raw, MinFrameLimit, &f)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("%T is not a *Error", err)
			}
			if len(f.Records) != 0 {
				t.Fatalf("%d records left in the frame after an error", len(f.Records))
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	err := Decode(frame(TypeRecords, 0, zoneHdr, be(1, 4), rec(0, "k", 1, -5, "v")), MinFrameLimit, &Frame{})
	const want = "malformed records frame: invalid field: record 0: negative expiry -5"
	if err == nil || err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}

func TestDecodeReusesRecords(t *testing.T) {
	raw, _ := AppendFrame(nil, &sampleFrames[3].f)
	f := Frame{Records: make([]zone.Record, 0, 8)}
	before := reflect.ValueOf(f.Records).Pointer()
	if err := Decode(raw, len(raw), &f); err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(f.Records).Pointer() != before || len(f.Records) != 2 {
		t.Fatal("Decode did not reuse the records slice")
	}
	allocs := testing.AllocsPerRun(100, func() { _ = Decode(raw, len(raw), &f) })
	if allocs > 1 { // the zone name string
		t.Fatalf("Decode allocates %v times per records frame", allocs)
	}
}

func TestBatch(t *testing.T) {
	rec := func(k string, vlen int) zone.Record {
		return zone.Record{Key: []byte(k), Value: bytes.Repeat([]byte{'v'}, vlen), Stamp: 1, Origin: 1}
	}
	// The limit holds the empty frame and exactly two 20-byte values.
	empty := HeaderSize + zone1.size() + countSize
	one := RecordFrameSize(zone1, rec("k", 20)) - empty
	b := NewBatch(empty + 2*one)
	if err := b.Add(rec("k", 1)); !errors.Is(err, ErrEncode) {
		t.Fatalf("Add before Reset: %v", err)
	}
	if err := b.Reset(zone1, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := b.Add(rec("k", 20)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := b.Add(rec("k", 0)); err != ErrBatchFull {
		t.Fatalf("third record: %v, want ErrBatchFull", err)
	}
	if err := b.Add(rec("k", 2*one)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("huge record: %v, want ErrRecordTooLarge", err)
	}
	if b.Size() != b.Limit() || b.Len() != 2 {
		t.Fatalf("size %d of %d, %d records", b.Size(), b.Limit(), b.Len())
	}
	raw := b.Bytes()
	var f Frame
	if err := Decode(raw, len(raw), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 2 || f.Zone != zone1 || f.Flags != 0 {
		t.Fatalf("decoded %+v", f)
	}
	// A tombstone is sent without its value.
	if err := b.Reset(zone1, FlagSnapshot); err != nil {
		t.Fatal(err)
	}
	tomb := rec("gone", 30)
	tomb.Deleted = true
	if err := b.Add(tomb); err != nil {
		t.Fatal(err)
	}
	if err := Decode(b.Bytes(), MaxFrameLimit, &f); err != nil {
		t.Fatal(err)
	}
	if f.Flags != FlagSnapshot || len(f.Records) != 1 || !f.Records[0].Deleted || len(f.Records[0].Value) != 0 {
		t.Fatalf("tombstone decoded as %+v", f)
	}
}

func TestBatchRefuses(t *testing.T) {
	b := NewBatch(0)
	if b.Limit() != MinBatchLimit {
		t.Fatalf("limit %d", b.Limit())
	}
	for name, z := range map[string]ZoneID{
		"empty name": {Kind: KindKeyval, Version: 1},
		"long name":  {Name: strings.Repeat("z", MaxString+1), Kind: KindKeyval, Version: 1},
		"kind 0":     {Name: "z", Version: 1},
		"no room":    {Name: strings.Repeat("z", 60), Kind: KindKeyval, Version: 1},
	} {
		if err := b.Reset(z, 0); !errors.Is(err, ErrEncode) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := b.Reset(zone1, 0x80); !errors.Is(err, ErrEncode) {
		t.Errorf("bad flags: %v", err)
	}
	big := NewBatch(MaxFrameLimit)
	_ = big.Reset(zone1, 0)
	if err := big.Add(zone.Record{Key: make([]byte, MaxKey+1)}); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("long key: %v", err)
	}
	if err := big.Add(zone.Record{Key: []byte("k"), Expire: -1}); !errors.Is(err, ErrEncode) {
		t.Errorf("negative expiry: %v", err)
	}
}

func TestAppendFrameRefuses(t *testing.T) {
	tests := map[string]Frame{
		"unknown type":   {Type: 42},
		"hello node 0":   {Type: TypeHello, Hello: Hello{VersionMin: 1, VersionMax: 1, MaxFrame: 4096, Cluster: "c"}},
		"hello versions": {Type: TypeHello, Hello: Hello{VersionMin: 2, VersionMax: 1, Node: 1, MaxFrame: 4096, Cluster: "c"}},
		"hello limit":    {Type: TypeHello, Hello: Hello{VersionMin: 1, VersionMax: 1, Node: 1, MaxFrame: 10, Cluster: "c"}},
		"hello cluster":  {Type: TypeHello, Hello: Hello{VersionMin: 1, VersionMax: 1, Node: 1, MaxFrame: 4096}},
		"long listen": {Type: TypeHello, Hello: Hello{VersionMin: 1, VersionMax: 1, Node: 1, MaxFrame: 4096, Cluster: "c",
			Listen: strings.Repeat("a", 256)}},
		"bye flags":    {Type: TypeBye, Flags: 1},
		"records zone": {Type: TypeRecords},
		"marker zone":  {Type: TypeSnapshotEnd, Zone: ZoneID{Name: "z"}},
	}
	for name, f := range tests {
		if out, err := AppendFrame([]byte("x"), &f); !errors.Is(err, ErrEncode) || string(out) != "x" {
			t.Errorf("%s: %v, %q", name, err, out)
		}
	}
	if b := ByeFrame(strings.Repeat("r", 300)); len(b) != HeaderSize+1+MaxString {
		t.Errorf("long bye reason: %d bytes", len(b))
	}
}

func TestReader(t *testing.T) {
	var stream []byte
	for _, tc := range sampleFrames {
		raw, _ := AppendFrame(nil, &tc.f)
		stream = append(stream, raw...)
	}
	r := NewReader(bytes.NewReader(stream), 0)
	for _, tc := range sampleFrames {
		raw, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var f Frame
		if err := Decode(raw, MinFrameLimit, &f); err != nil || !framesEqual(&f, &tc.f) {
			t.Fatalf("%s: %v %+v", tc.name, err, f)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	if r.BufferCap() > MinFrameLimit {
		t.Fatalf("buffer of %d bytes", r.BufferCap())
	}

	cut := NewReader(bytes.NewReader(stream[:len(stream)-2]), 0)
	var err error
	for err == nil {
		_, err = cut.Next()
	}
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("cut stream: %v", err)
	}
}

// failAfter returns the given bytes, then fails the test if read again.
type failAfter struct {
	t *testing.T
	b []byte
}

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		f.t.Fatal("the reader read past a header it should have refused")
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

func TestReaderRefusesBeforeReading(t *testing.T) {
	hdr := append([]byte{byte(TypeRecords), 0}, be(1<<30, 4)...)
	r := NewReader(&failAfter{t: t, b: hdr}, 8192)
	_, err := r.Next()
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v", err)
	}
	if r.BufferCap() != 0 {
		t.Fatalf("allocated %d bytes for a refused frame", r.BufferCap())
	}
}

func TestClusterHash(t *testing.T) {
	a := ClusterHash([]ZoneID{zone1, {Name: "s", Kind: KindSticky, Version: 1}})
	b := ClusterHash([]ZoneID{{Name: "s", Kind: KindSticky, Version: 1}, zone1})
	c := ClusterHash([]ZoneID{zone1, {Name: "s", Kind: KindKeyval, Version: 1}})
	if a != b || a == c || !strings.HasPrefix(a, "zones-") || len(a) != len("zones-")+16 {
		t.Fatalf("%s %s %s", a, b, c)
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		min, max uint8
		want     uint8
		ok       bool
	}{
		{1, 1, 1, true},
		{1, 9, ProtocolVersionMax, true},
		{ProtocolVersionMax + 1, ProtocolVersionMax + 2, 0, false},
	}
	for _, tc := range tests {
		v, ok := Negotiate(Hello{VersionMin: tc.min, VersionMax: tc.max})
		if v != tc.want || ok != tc.ok {
			t.Errorf("%d-%d: %d %v", tc.min, tc.max, v, ok)
		}
	}
}

func TestKinds(t *testing.T) {
	for _, k := range []zone.Kind{zone.KindKeyval, zone.KindSticky, zone.KindLimitReq} {
		if KindOf(k) == 0 || KindOf(k).String() != k.String() {
			t.Errorf("%v maps to %v", k, KindOf(k))
		}
	}
	if KindOf(zone.Kind(99)) != 0 {
		t.Error("unknown kind has a tag")
	}
}
