package zone

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
)

// Record header, 48 bytes, followed by the key and the value. All fields are
// little-endian; links are refs (0 = none).
const (
	hChain   = 0  // u32: next record in the hash bucket
	hPendPrv = 4  // u32: pending queue, previous (older) record
	hPendNxt = 8  // u32: pending queue, next (newer) record
	hListPrv = 12 // u32: order list, toward the head (newer)
	hListNxt = 16 // u32: order list, toward the tail (older)
	hOrigin  = 20 // u32: node id that made the change
	hStamp   = 24 // u64: HLC stamp of the change
	hWhen    = 32 // i64: unix ms; expiry (keyval, sticky, tombstones) or last access (limit_req)
	hKeyLen  = 40 // u16
	hFlags   = 42 // u8
	hClass   = 43 // u8: slab class of the slot, classLarge for page runs
	hValLen  = 44 // u32
	hdrSize  = 48
)

// Record flags.
const (
	fDeleted = 1 << iota // tombstone
	fPending             // on the shard's pending queue
	fListed              // on the shard's order list
)

// Shards: the top shardBits bits of a key's hash pick its shard.
const (
	shardBits = 5
	nShards   = 1 << shardBits
)

// A shard owns a slice of the hash buckets and every record that hashes into
// it, with its own lock. A record's key decides its shard once and for all.
type shard struct {
	mu sync.RWMutex
	// Order list, sorted by when with the latest at the head: the LRU list
	// for sticky and limit_req, the expiry order for keyval (see link).
	head, tail uint32
	// Pending queue (FIFO): records changed locally since the last push.
	pendHead, pendTail uint32
	live, tombs        int
	pending            atomic.Int64
	// tailWhen is the when of the list tail (math.MaxInt64 when empty); it
	// lets eviction pick the globally oldest record without locking shards.
	tailWhen atomic.Int64
	// minWhen is a lower bound of the expiry of keyval records that are off
	// the order list (math.MaxInt64 when none); a full scan is needed only
	// once it has passed.
	minWhen atomic.Int64
	idx     int
	_       [32]byte // keep shards on separate cache lines
}

func (s *Store) u16(off int) int           { return int(binary.LittleEndian.Uint16(s.mem[off:])) }
func (s *Store) put16(off, v int)          { binary.LittleEndian.PutUint16(s.mem[off:], uint16(v)) }
func (s *Store) u32(off int) uint32        { return binary.LittleEndian.Uint32(s.mem[off:]) }
func (s *Store) put32(off int, v uint32)   { binary.LittleEndian.PutUint32(s.mem[off:], v) }
func (s *Store) u64(off int) uint64        { return binary.LittleEndian.Uint64(s.mem[off:]) }
func (s *Store) put64(off int, v uint64)   { binary.LittleEndian.PutUint64(s.mem[off:], v) }
func (s *Store) i64(off int) int64         { return int64(s.u64(off)) }
func (s *Store) putI64(off int, v int64)   { s.put64(off, uint64(v)) }
func (s *Store) flags(off int) byte        { return s.mem[off+hFlags] }
func (s *Store) setFlag(off int, f byte)   { s.mem[off+hFlags] |= f }
func (s *Store) clrFlag(off int, f byte)   { s.mem[off+hFlags] &^= f }
func (s *Store) when(ref uint32) int64     { return s.i64(int(ref)*refUnit + hWhen) }
func (s *Store) keyLen(off int) int        { return s.u16(off + hKeyLen) }
func (s *Store) valLen(off int) int        { return int(s.u32(off + hValLen)) }
func (s *Store) keyAt(off int) []byte      { return s.mem[off+hdrSize : off+hdrSize+s.keyLen(off)] }
func (s *Store) valOff(off int) int        { return off + hdrSize + s.keyLen(off) }
func (s *Store) valAt(off int) []byte      { v := s.valOff(off); return s.mem[v : v+s.valLen(off)] }
func (s *Store) recSize(off int) int       { return hdrSize + s.keyLen(off) + s.valLen(off) }
func (s *Store) shardOf(h uint64) *shard   { return &s.shards[h>>(64-shardBits)] }
func (s *Store) bucketOff(h uint64) int    { return int((h>>(64-shardBits))<<s.bbits|h&s.bmask) * 4 }
func (s *Store) isLRU() bool               { return s.kind != KindKeyval }
func off(ref uint32) int                   { return int(ref) * refUnit }
func (s *Store) deleted(off int) bool      { return s.flags(off)&fDeleted != 0 }
func (s *Store) isPending(off int) bool    { return s.flags(off)&fPending != 0 }
func (s *Store) stampAt(off int) uint64    { return s.u64(off + hStamp) }
func (s *Store) originAt(off int) uint32   { return s.u32(off + hOrigin) }
func (s *Store) slotCap(ref uint32) int    { return s.capOf(ref, s.mem[off(ref)+hClass]) }
func (s *Store) hashBytes(k []byte) uint64 { return s.hashString(unsafeString(k)) }

func (s *Store) capOf(ref uint32, class byte) int {
	if class == classLarge {
		return s.arena.largeCap(ref)
	}
	return classSize[class]
}

// find returns the record for key in its bucket, expired or not.
func (s *Store) find(h uint64, key string) uint32 {
	ref := s.u32(s.bucketOff(h))
	for ref != 0 {
		o := off(ref)
		kl := s.keyLen(o)
		if kl == len(key) && string(s.mem[o+hdrSize:o+hdrSize+kl]) == key {
			return ref
		}
		ref = s.u32(o + hChain)
	}
	return 0
}

// alive reports whether a record (live or tombstone) still exists at now.
func (s *Store) alive(o int, now int64) bool {
	if s.kind == KindLimitReq && !s.deleted(o) {
		return !s.limitGone(o, now)
	}
	w := s.i64(o + hWhen)
	return w == 0 || w > now
}

// visible reports whether a record is a live, unexpired pair.
func (s *Store) visible(o int, now int64) bool {
	return !s.deleted(o) && s.alive(o, now)
}

// create allocates a record for key with room for vlen value bytes and links
// it into its bucket. The caller fills value, when, stamp and origin, and
// then calls link. It fails when the arena has no room.
func (s *Store) create(sh *shard, h uint64, key string, vlen int) (uint32, bool) {
	ref, class, ok := s.arena.alloc(hdrSize + len(key) + vlen)
	if !ok {
		return 0, false
	}
	o := off(ref)
	b := s.bucketOff(h)
	s.put32(o+hChain, s.u32(b))
	s.put32(b, ref)
	s.put32(o+hPendPrv, 0)
	s.put32(o+hPendNxt, 0)
	s.put32(o+hListPrv, 0)
	s.put32(o+hListNxt, 0)
	s.put16(o+hKeyLen, len(key))
	s.mem[o+hFlags] = 0
	s.mem[o+hClass] = class
	s.put32(o+hValLen, uint32(vlen))
	copy(s.mem[o+hdrSize:], key)
	sh.live++
	s.lens.add(key)
	return ref, true
}

// remove unlinks a record from every list and frees its memory.
func (s *Store) remove(sh *shard, ref uint32) {
	o := off(ref)
	key := s.keyAt(o)
	b := s.bucketOff(s.hashBytes(key))
	s.replaceInChain(b, ref, s.u32(o+hChain))
	if s.flags(o)&fListed != 0 {
		s.unlink(sh, ref)
	}
	if s.isPending(o) {
		s.unqueue(sh, ref)
	}
	if s.deleted(o) {
		sh.tombs--
	} else {
		sh.live--
	}
	s.lens.del(unsafeString(key))
	s.arena.free(ref)
}

// replaceInChain makes the bucket chain point to repl where it pointed to ref.
func (s *Store) replaceInChain(b int, ref, repl uint32) {
	if s.u32(b) == ref {
		s.put32(b, repl)
		return
	}
	for p := s.u32(b); p != 0; {
		n := s.u32(off(p) + hChain)
		if n == ref {
			s.put32(off(p)+hChain, repl)
			return
		}
		p = n
	}
}

// resize makes sure the record has room for a value of vlen bytes, moving it
// to another slot when its own is too small (or much too large). On return
// the record's old value bytes are intact up to min(old, vlen) and the value
// length is set to vlen. It fails, leaving the record untouched, when the
// arena has no room.
func (s *Store) resize(sh *shard, h uint64, ref uint32, vlen int) (uint32, bool) {
	o := off(ref)
	need := hdrSize + s.keyLen(o) + vlen
	class := s.mem[o+hClass]
	fits := need <= s.capOf(ref, class)
	want := byte(classLarge)
	if need <= pageUsable {
		want = byte(classOf(need))
	}
	if fits && want == class {
		s.put32(o+hValLen, uint32(vlen))
		return ref, true
	}
	nref, nclass, ok := s.arena.alloc(need)
	if !ok {
		if fits { // shrinking: stay in the bigger slot
			s.put32(o+hValLen, uint32(vlen))
			return ref, true
		}
		return 0, false
	}
	n := off(nref)
	keep := s.recSize(o)
	if need < keep {
		keep = need
	}
	copy(s.mem[n:n+keep], s.mem[o:o+keep])
	s.mem[n+hClass] = nclass
	s.put32(n+hValLen, uint32(vlen))
	s.replaceInChain(s.bucketOff(h), ref, nref)
	if s.flags(n)&fListed != 0 {
		s.relink(sh, ref, nref, hListPrv, hListNxt, &sh.head, &sh.tail)
		if sh.tail == nref {
			s.syncTail(sh)
		}
	}
	if s.isPending(n) {
		s.relink(sh, ref, nref, hPendPrv, hPendNxt, &sh.pendHead, &sh.pendTail)
	}
	s.arena.free(ref)
	return nref, true
}

// relink points the neighbours of a moved record at its new place.
func (s *Store) relink(sh *shard, old, nref uint32, prvF, nxtF int, head, tail *uint32) {
	n := off(nref)
	prv, nxt := s.u32(n+prvF), s.u32(n+nxtF)
	if prv != 0 {
		s.put32(off(prv)+nxtF, nref)
	} else if *head == old {
		*head = nref
	}
	if nxt != 0 {
		s.put32(off(nxt)+prvF, nref)
	} else if *tail == old {
		*tail = nref
	}
}

// link (re)places a record on the shard's order list after its when
// changed. The list is sorted by when, latest at the head: for limit_req
// when is the last access and for sticky the expiry (last access plus the
// timeout), so the list is the LRU list; for keyval it is the expiry order.
// Local changes land at the head. A record whose place is more than
// listWalk steps from the head (a peer's record with an older time, or a
// keyval pair with a short expire) goes to the head in LRU zones, which must
// list every record, and off the list in keyval zones, where minWhen then
// covers it. Keyval pairs that never expire are not listed.
func (s *Store) link(sh *shard, ref uint32) {
	o := off(ref)
	if s.flags(o)&fListed != 0 {
		s.unlink(sh, ref)
	}
	w := s.i64(o + hWhen)
	if w == 0 && !s.isLRU() {
		return
	}
	cur := sh.head
	for steps := 0; cur != 0 && s.when(cur) > w; steps++ {
		if steps == listWalk {
			if s.isLRU() {
				cur = sh.head
				break
			}
			if w < sh.minWhen.Load() {
				sh.minWhen.Store(w)
			}
			return
		}
		cur = s.u32(off(cur) + hListNxt)
	}
	s.insertBefore(sh, ref, cur)
	s.syncTail(sh)
}

const listWalk = 8

// insertBefore puts ref on the order list just before cur (toward the
// head); cur == 0 appends at the tail.
func (s *Store) insertBefore(sh *shard, ref, cur uint32) {
	o := off(ref)
	var prv uint32
	if cur == 0 {
		prv = sh.tail
	} else {
		prv = s.u32(off(cur) + hListPrv)
	}
	s.put32(o+hListPrv, prv)
	s.put32(o+hListNxt, cur)
	if prv == 0 {
		sh.head = ref
	} else {
		s.put32(off(prv)+hListNxt, ref)
	}
	if cur == 0 {
		sh.tail = ref
	} else {
		s.put32(off(cur)+hListPrv, ref)
	}
	s.setFlag(o, fListed)
}

func (s *Store) unlink(sh *shard, ref uint32) {
	o := off(ref)
	prv, nxt := s.u32(o+hListPrv), s.u32(o+hListNxt)
	if prv == 0 {
		sh.head = nxt
	} else {
		s.put32(off(prv)+hListNxt, nxt)
	}
	if nxt == 0 {
		sh.tail = prv
	} else {
		s.put32(off(nxt)+hListPrv, prv)
	}
	s.clrFlag(o, fListed)
	s.syncTail(sh)
}

func (s *Store) syncTail(sh *shard) {
	if sh.tail == 0 {
		sh.tailWhen.Store(math.MaxInt64)
		return
	}
	sh.tailWhen.Store(s.when(sh.tail))
}

// queue puts a locally changed record on the pending queue, once.
func (s *Store) queue(sh *shard, ref uint32) {
	o := off(ref)
	if !s.sync || s.isPending(o) {
		return
	}
	s.put32(o+hPendPrv, sh.pendTail)
	s.put32(o+hPendNxt, 0)
	if sh.pendTail == 0 {
		sh.pendHead = ref
	} else {
		s.put32(off(sh.pendTail)+hPendNxt, ref)
	}
	sh.pendTail = ref
	s.setFlag(o, fPending)
	sh.pending.Add(1)
	if s.changed != nil {
		s.changed()
	}
}

func (s *Store) unqueue(sh *shard, ref uint32) {
	o := off(ref)
	prv, nxt := s.u32(o+hPendPrv), s.u32(o+hPendNxt)
	if prv == 0 {
		sh.pendHead = nxt
	} else {
		s.put32(off(prv)+hPendNxt, nxt)
	}
	if nxt == 0 {
		sh.pendTail = prv
	} else {
		s.put32(off(nxt)+hPendPrv, prv)
	}
	s.clrFlag(o, fPending)
	sh.pending.Add(-1)
}

// markDeleted and markLive move a record between the live and tombstone
// counts.
func (s *Store) markDeleted(sh *shard, o int) {
	if !s.deleted(o) {
		s.setFlag(o, fDeleted)
		sh.live--
		sh.tombs++
	}
}

func (s *Store) markLive(sh *shard, o int) {
	if s.deleted(o) {
		s.clrFlag(o, fDeleted)
		sh.tombs--
		sh.live++
	}
}

// sweep frees the records of one shard that have expired by now and returns
// how many it freed. The caller holds the shard's write lock.
func (s *Store) sweep(sh *shard, now int64) int {
	n := 0
	switch s.kind {
	case KindLimitReq:
		// nginx removes an idle state once its excess has drained; LRU
		// order puts the idle ones at the tail.
		for ref := sh.tail; ref != 0 && s.when(ref) <= now-limitIdle; {
			prv := s.u32(off(ref) + hListPrv)
			if !s.alive(off(ref), now) {
				s.remove(sh, ref)
				n++
			}
			ref = prv
		}
	case KindSticky:
		for sh.tail != 0 && s.when(sh.tail) <= now {
			s.remove(sh, sh.tail)
			n++
		}
	case KindKeyval:
		for sh.tail != 0 && s.when(sh.tail) <= now {
			s.remove(sh, sh.tail)
			n++
		}
		if sh.minWhen.Load() <= now {
			n += s.scanExpired(sh, now)
		}
	}
	return n
}

// scanExpired walks every bucket of a keyval shard, frees what has expired
// and recomputes minWhen over the records left off the order list.
func (s *Store) scanExpired(sh *shard, now int64) int {
	n := 0
	minW := int64(math.MaxInt64)
	s.eachRef(sh, func(ref uint32) {
		o := off(ref)
		if !s.alive(o, now) {
			s.remove(sh, ref)
			n++
			return
		}
		if w := s.i64(o + hWhen); w != 0 && s.flags(o)&fListed == 0 && w < minW {
			minW = w
		}
	})
	sh.minWhen.Store(minW)
	return n
}

// eachRef calls fn for every record of a shard; fn may remove the record.
func (s *Store) eachRef(sh *shard, fn func(ref uint32)) {
	first := sh.idx << s.bbits
	for b := first; b < first+int(s.bmask)+1; b++ {
		for ref := s.u32(b * 4); ref != 0; {
			next := s.u32(off(ref) + hChain)
			fn(ref)
			ref = next
		}
	}
}
