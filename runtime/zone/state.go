package zone

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"unicode/utf8"
)

// The state file of keyval_zone state=file. nginx's own layout is not
// published; ours is:
//
//	{
//	  "zone": "one",
//	  "kind": "keyval",
//	  "records": [
//	    {"key": "a", "value": "1", "expire": 59000, "stamp": 112233, "origin": 1},
//	    {"key": "b", "deleted": true, "expire": 60000, "stamp": 112240, "origin": 2}
//	  ]
//	}
//
// expire is the remaining lifetime in milliseconds when the file was saved
// (0 or absent: none), so lifetimes continue where they stopped after a
// restart. stamp and origin keep the sync metadata. A value that is not
// valid UTF-8 is written as "value_base64" instead of "value".

const stateVersion = 1

type stateFile struct {
	Version int           `json:"version"`
	Zone    string        `json:"zone"`
	Kind    string        `json:"kind"`
	Records []stateRecord `json:"records"`
}

type stateRecord struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 *string `json:"value_base64,omitempty"`
	Expire      int64   `json:"expire,omitempty"`
	Stamp       uint64  `json:"stamp"`
	Origin      uint32  `json:"origin"`
	Deleted     bool    `json:"deleted,omitempty"`
}

// SaveState writes the zone's records (tombstones included, sorted by key)
// to path atomically: a temporary file in the same directory is written, synced and
// renamed over path.
func (s *Store) SaveState(path string) error {
	f := stateFile{Version: stateVersion, Zone: s.name, Kind: s.kind.String(), Records: []stateRecord{}}
	now := s.nowMs()
	s.scan(true, func(r *Record, _ int64) bool {
		sr := stateRecord{Key: string(r.Key), Stamp: r.Stamp, Origin: r.Origin, Deleted: r.Deleted}
		if r.Expire != 0 {
			sr.Expire = max(r.Expire-now, 1)
		}
		if !r.Deleted {
			if utf8.Valid(r.Value) {
				v := string(r.Value)
				sr.Value = &v
			} else {
				v := base64.StdEncoding.EncodeToString(r.Value)
				sr.ValueBase64 = &v
			}
		}
		f.Records = append(f.Records, sr)
		return true
	})
	sort.Slice(f.Records, func(i, j int) bool { return f.Records[i].Key < f.Records[j].Key })
	data, err := json.MarshalIndent(&f, "", " ")
	if err != nil {
		return s.fail(err)
	}
	data = append(data, '\n')
	if err := writeAtomic(path, data); err != nil {
		return s.fail(err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return nil
}

// ErrCorrupt is wrapped by LoadState when the file cannot be used; the
// caller moves it aside and starts empty.
var ErrCorrupt = errors.New("corrupt state file")

// LoadState reads a file written by SaveState and merges its records into
// the zone as Apply does (newer stamps win; nothing is queued for sync).
// A missing file returns an error satisfying errors.Is(err, fs.ErrNotExist).
// A file that does not parse, belongs to another kind of zone, or holds an
// invalid record returns ErrCorrupt and loads nothing. Records that do not
// fit any more (a smaller zone) stop the load with ErrFull.
func (s *Store) LoadState(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return s.fail(err)
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return s.corrupt(path, err.Error())
	}
	if dec.More() {
		return s.corrupt(path, "data after the JSON object")
	}
	if f.Version != stateVersion {
		return s.corrupt(path, fmt.Sprintf("version %d", f.Version))
	}
	if f.Kind != s.kind.String() {
		return s.corrupt(path, fmt.Sprintf("kind %q", f.Kind))
	}
	now := s.nowMs()
	recs := make([]Record, 0, len(f.Records))
	var buf ipBuf
	for i, sr := range f.Records {
		r := Record{Key: []byte(sr.Key), Stamp: sr.Stamp, Origin: sr.Origin, Deleted: sr.Deleted}
		if _, err := s.storeKey(sr.Key, &buf); err != nil {
			return s.corrupt(path, fmt.Sprintf("record %d: key %q: %v", i, sr.Key, err))
		}
		switch {
		case sr.Deleted:
		case sr.Value != nil && sr.ValueBase64 == nil:
			r.Value = []byte(*sr.Value)
		case sr.ValueBase64 != nil && sr.Value == nil:
			if r.Value, err = base64.StdEncoding.DecodeString(*sr.ValueBase64); err != nil {
				return s.corrupt(path, fmt.Sprintf("record %d: %v", i, err))
			}
		default:
			return s.corrupt(path, fmt.Sprintf("record %d: one of value and value_base64 is required", i))
		}
		if s.kind == KindLimitReq && !sr.Deleted && len(r.Value) != limitValLen {
			return s.corrupt(path, fmt.Sprintf("record %d: limit_req state of %d bytes", i, len(r.Value)))
		}
		if sr.Expire < 0 {
			return s.corrupt(path, fmt.Sprintf("record %d: negative expire", i))
		}
		if sr.Expire > 0 {
			r.Expire = now + sr.Expire
		}
		recs = append(recs, r)
	}
	for _, r := range recs {
		if _, err := s.Apply(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) corrupt(path, why string) error {
	return s.fail(fmt.Errorf("%w %s: %s", ErrCorrupt, path, why))
}
