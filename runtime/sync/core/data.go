package core

import (
	"errors"
	"math"

	"github.com/zonesync/zonesync/runtime/sync/wire"
	"github.com/zonesync/zonesync/runtime/zone"
)

// maxWarned bounds the zones a connection's unusable frames are logged for,
// so that a peer sending endless zone names cannot grow the map.
const maxWarned = 64

// zoneFor returns the local zone a zone frame is for, or nil (logged once
// per connection and zone) when there is none of that name, kind and kind
// version.
func (c *Core) zoneFor(cn *conn, id wire.ZoneID) *zstate {
	zs := c.byName[id.Name]
	if zs != nil && zs.id == id {
		return zs
	}
	if cn.warned[id.Name] || len(cn.warned) >= maxWarned {
		return nil
	}
	if cn.warned == nil {
		cn.warned = map[string]bool{}
	}
	cn.warned[id.Name] = true
	if zs == nil {
		c.logf(LevelInfo, cn.id, "zone_sync: ignoring zone %q from %s: not synced here", id.Name, cn.label())
	} else {
		c.logf(LevelWarn, cn.id, "zone_sync: ignoring %v from %s: here it is a %v", id, cn.label(), zs.id)
	}
	return nil
}

func (c *Core) onRecords(cn *conn, f *wire.Frame) {
	zs := c.zoneFor(cn, f.Zone)
	if zs == nil {
		return
	}
	refused := 0
	var first error
	for _, r := range f.Records {
		if _, err := zs.z.Apply(r); err != nil {
			refused++
			if first == nil {
				first = err
			}
		}
	}
	if refused > 0 {
		c.logf(LevelError, cn.id, "zone_sync: %d of %d records from %s refused: %v", refused, len(f.Records), cn.label(), first)
	}
	if f.Flags&wire.FlagSnapshot != 0 {
		if n, ok := cn.snaps[f.Zone.Name]; ok {
			cn.snaps[f.Zone.Name] = n + uint64(len(f.Records))
		}
	}
}

func (c *Core) onSnapshotEnd(cn *conn, f *wire.Frame) {
	if c.zoneFor(cn, f.Zone) == nil {
		return
	}
	got, ok := cn.snaps[f.Zone.Name]
	delete(cn.snaps, f.Zone.Name)
	switch {
	case !ok:
		c.logf(LevelWarn, cn.id, "zone_sync: %s ended a snapshot of zone %q it did not start", cn.label(), f.Zone.Name)
	case got != f.Count:
		c.logf(LevelWarn, cn.id, "zone_sync: snapshot of zone %q from %s: %d records received, %d sent",
			f.Zone.Name, cn.label(), got, f.Count)
	default:
		c.logf(LevelInfo, cn.id, "zone_sync: snapshot of zone %q from %s: %d %s", f.Zone.Name, cn.label(),
			got, plural(int(got), "record", "records"))
	}
}

// push takes each zone's local changes, at most maxFrames frames per zone
// (0: all of them), and sends the frames to every online node on its send
// link. With no node online the queues are left alone.
func (c *Core) push(maxFrames int) {
	if len(c.nodes) == 0 {
		return
	}
	limit := c.cfg.BufferSize
	for _, n := range c.nodes {
		limit = min(limit, n.conns[0].maxFrame)
	}
	for _, zs := range c.zones {
		for _, fr := range c.drain(zs, limit, maxFrames) {
			for _, n := range c.nodes {
				c.send(n.conns[0], fr, true)
			}
		}
	}
}

// drain encodes a zone's carried and queued records into frames of at most
// limit bytes, at most maxFrames of them (0: no limit). Records taken from
// the queue that do not fit are carried to the next push.
func (c *Core) drain(zs *zstate, limit, maxFrames int) [][]byte {
	if len(zs.carry) == 0 && zs.z.Pending() == 0 {
		return nil
	}
	if maxFrames <= 0 {
		maxFrames = math.MaxInt
	}
	b := c.batchOf(limit)
	if err := b.Reset(zs.id, 0); err != nil {
		c.logf(LevelError, 0, "zone_sync: %v zone %q: %v", zs.id.Kind, zs.id.Name, err)
		return nil
	}
	var frames [][]byte
	full := false
	// add puts r in the batch, starting a new frame when the batch is full;
	// false means there is no room left in this push.
	add := func(r zone.Record) bool {
		if full {
			return false
		}
		err := b.Add(r)
		if err == wire.ErrBatchFull {
			if len(frames)+1 >= maxFrames {
				full = true
				return false
			}
			frames = append(frames, b.Bytes())
			_ = b.Reset(zs.id, 0)
			err = b.Add(r)
		}
		if err != nil {
			c.tooLarge(zs, r, limit, err)
		}
		return true
	}
	carry := zs.carry
	zs.carry = nil
	for i, r := range carry {
		if !add(r) {
			zs.carry = append(zs.carry, carry[i:]...)
			break
		}
	}
	for !full {
		took := zs.z.TakePending(takeChunk, func(r zone.Record) {
			if !add(r) {
				zs.carry = append(zs.carry, cloneRecord(r))
			}
		})
		if took == 0 {
			break
		}
	}
	if b.Len() > 0 {
		frames = append(frames, b.Bytes())
	}
	zs.carryLen.Store(int64(len(zs.carry)))
	return frames
}

// sendSnapshot sends every zone's full contents to one connection: for each
// zone a snapshot start, records frames with the snapshot flag, a snapshot
// end.
func (c *Core) sendSnapshot(cn *conn) {
	limit := min(c.cfg.BufferSize, cn.maxFrame)
	records, frames := 0, 0
	for _, zs := range c.zones {
		start, err := wire.SnapshotStartFrame(zs.id, uint64(zs.z.Len()))
		if err != nil {
			c.logf(LevelError, 0, "zone_sync: %v zone %q: %v", zs.id.Kind, zs.id.Name, err)
			continue
		}
		b := c.batchOf(limit)
		if err := b.Reset(zs.id, wire.FlagSnapshot); err != nil {
			c.logf(LevelError, 0, "zone_sync: %v zone %q: %v", zs.id.Kind, zs.id.Name, err)
			continue
		}
		c.send(cn, start, false)
		sent := 0
		zs.z.Snapshot(func(r zone.Record) bool {
			err := b.Add(r)
			if err == wire.ErrBatchFull {
				sent += b.Len()
				frames++
				c.send(cn, b.Bytes(), true)
				_ = b.Reset(zs.id, wire.FlagSnapshot)
				err = b.Add(r)
			}
			if err != nil {
				c.tooLarge(zs, r, limit, err)
			}
			return true
		})
		if b.Len() > 0 {
			sent += b.Len()
			frames++
			c.send(cn, b.Bytes(), true)
		}
		end, _ := wire.SnapshotEndFrame(zs.id, uint64(sent))
		c.send(cn, end, false)
		records += sent
	}
	c.logf(LevelInfo, cn.id, "zone_sync: sent %s a snapshot: %d %s in %d %s", cn.label(),
		records, plural(records, "record", "records"), frames, plural(frames, "frame", "frames"))
}

func (c *Core) tooLarge(zs *zstate, r zone.Record, limit int, err error) {
	if errors.Is(err, wire.ErrRecordTooLarge) {
		c.logf(LevelError, 0, "zone_sync: %v zone %q: record %s needs a %d-byte buffer, the buffer holds %d; skipped",
			zs.id.Kind, zs.id.Name, keyText(r.Key), wire.RecordFrameSize(zs.id, r), limit)
		return
	}
	c.logf(LevelError, 0, "zone_sync: %v zone %q: record %s: %v; skipped", zs.id.Kind, zs.id.Name, keyText(r.Key), err)
}

// batchOf returns the core's batch, rebuilt when the limit changes.
func (c *Core) batchOf(limit int) *wire.Batch {
	if c.batch == nil || c.batch.Limit() != min(max(limit, wire.MinBatchLimit), wire.MaxFrameLimit) {
		c.batch = wire.NewBatch(limit)
	}
	return c.batch
}
