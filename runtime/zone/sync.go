package zone

import "math"

// Record is one record as zone_sync moves it between nodes and as the state
// file stores it.
type Record struct {
	// Key in text form (type=ip keys are normalized addresses or blocks).
	Key []byte
	// Value: the keyval value, the sticky server id, or a limit_req state
	// (24 bytes, see LimitReqState). Empty for tombstones.
	Value []byte
	// Expire is the expiry time in unix ms, 0 for none. limit_req states
	// have none: they age out by nginx's idle rule.
	Expire int64
	// Stamp is the HLC stamp of the change that produced the record.
	Stamp uint64
	// Origin is the id of the node that made that change.
	Origin uint32
	// Deleted marks a tombstone.
	Deleted bool
}

// newer reports whether change (a, ao) beats change (b, bo): the later stamp
// wins, ties go to the higher node id.
func newer(a uint64, ao uint32, b uint64, bo uint32) bool {
	return a > b || a == b && ao > bo
}

// Pending returns the number of records changed locally and not yet taken
// (records_pending).
func (s *Store) Pending() int {
	n := int64(0)
	for i := range s.shards {
		n += s.shards[i].pending.Load()
	}
	return int(n)
}

// TakePending removes up to max records (all when max <= 0) from the queue
// of locally changed records and calls fn with each, oldest change first
// within a shard. A record changed several times since the last take is
// taken once, in its latest state; records that expired meanwhile are
// dropped, as nginx sends nothing for them. The slices in the Record are
// only valid during the call. It returns how many records fn got.
func (s *Store) TakePending(max int, fn func(Record)) int {
	if max <= 0 {
		max = math.MaxInt
	}
	var b batch
	n := 0
	start := int(s.rr.Add(1))
	for i := 0; i < nShards && n < max; i++ {
		sh := &s.shards[(start+i)%nShards]
		for n < max && sh.pending.Load() > 0 {
			b.reset()
			now := s.nowMs()
			sh.mu.Lock()
			for sh.pendHead != 0 && len(b.ents) < scanChunk && n+len(b.ents) < max {
				ref := sh.pendHead
				s.unqueue(sh, ref)
				if s.alive(off(ref), now) {
					s.appendRecord(&b, off(ref), true)
				}
			}
			sh.mu.Unlock()
			n += len(b.ents)
			b.emit(now, func(r *Record, _ int64) bool { fn(*r); return true })
		}
	}
	return n
}

// Snapshot calls fn with every record, tombstones included, until fn returns
// false: the full state a node sends when a connection to a peer is set up.
// The slices in the Record are only valid during the call.
func (s *Store) Snapshot(fn func(Record) bool) {
	s.scan(true, func(r *Record, _ int64) bool { return fn(*r) })
}

// Apply merges a record received from a peer (or read from a state file).
// A missing key is inserted; an existing one is replaced only if the record
// is newer (later stamp, or the same stamp and a higher origin). Applied
// records are not queued for sending, and a local change they replace is
// dropped from the queue. Records that already expired are ignored; so are
// tombstones in limit_req zones, whose states are never deleted remotely.
// limit_req states are not replaced but merged (see applyLimit).
// It reports whether the zone changed. A keyval zone that is full refuses
// the record with ErrFull.
func (s *Store) Apply(r Record) (bool, error) {
	s.clk.observe(r.Stamp)
	if r.Deleted && s.kind == KindLimitReq {
		return false, nil
	}
	var buf ipBuf
	k, err := s.storeKey(unsafeString(r.Key), &buf)
	if err != nil {
		return false, s.fail(err)
	}
	vlen := len(r.Value)
	if r.Deleted {
		vlen = 0
	}
	if s.kind == KindLimitReq && vlen != limitValLen {
		return false, s.fail(ErrRecord)
	}
	if hdrSize+len(k)+vlen > s.arena.capacity() {
		return false, s.fail(ErrTooLarge)
	}
	now := s.nowMs()
	if r.Expire != 0 && r.Expire <= now {
		return false, nil
	}
	if s.kind == KindLimitReq && limitStateGone(r.Value, s.rate, now) {
		return false, nil
	}
	for try := 0; ; try++ {
		apply := s.applyOnce
		if s.kind == KindLimitReq {
			apply = s.applyLimit
		}
		changed, err := apply(k, &r, vlen, now)
		if err != errNoRoom {
			if changed {
				s.changes.Add(1)
			}
			return changed, err
		}
		if !s.reclaim(try) {
			return false, s.fail(ErrFull)
		}
		now = s.nowMs()
	}
}

func (s *Store) applyOnce(k string, r *Record, vlen int, now int64) (bool, error) {
	h := s.hashString(k)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ref := s.find(h, k)
	if ref != 0 {
		o := off(ref)
		if s.alive(o, now) && !newer(r.Stamp, r.Origin, s.stampAt(o), s.originAt(o)) {
			return false, nil
		}
		if r.Deleted && !s.sync { // no tombstones without sync
			s.remove(sh, ref)
			return true, nil
		}
		nref, ok := s.resize(sh, h, ref, vlen)
		if !ok {
			return false, errNoRoom
		}
		ref = nref
	} else {
		if r.Deleted && !s.sync {
			return false, nil
		}
		if s.isLRU() {
			s.expireTail(sh, now, 2)
		}
		var ok bool
		if ref, ok = s.create(sh, h, k, vlen); !ok {
			return false, errNoRoom
		}
	}
	o := off(ref)
	when := r.Expire
	switch {
	case r.Deleted:
		s.markDeleted(sh, o)
		if when == 0 {
			when = now + s.tombTTL
		}
	case s.kind == KindLimitReq:
		s.markLive(sh, o)
		when = now // last access
	case s.kind == KindSticky && when == 0:
		s.markLive(sh, o)
		when = now + s.timeout
	default:
		s.markLive(sh, o)
	}
	if !r.Deleted {
		copy(s.mem[s.valOff(o):], r.Value)
	}
	s.putI64(o+hWhen, when)
	s.put64(o+hStamp, r.Stamp)
	s.put32(o+hOrigin, r.Origin)
	if s.isPending(o) {
		s.unqueue(sh, ref)
	}
	s.link(sh, ref)
	return true, nil
}

// limitMaxUnsent and limitMaxExcess bound what a peer's limit_req record
// can add: a million requests per push, and an excess of 2^40 (about a
// billion requests), far beyond any burst.
const (
	limitMaxUnsent = 1 << 20
	limitMaxExcess = 1 << 40
)

// applyLimit merges a peer's limit_req state into ours so that the limit
// holds for the cluster. The record carries the peer's state (excess as of
// its last request) and the requests it accepted since its previous push
// (unsent). Those requests are accounted here as if they had just arrived,
// by nginx's rule, so every node's bucket fills with every node's traffic;
// and the result is never below the peer's own excess drained to now, which
// is all a snapshot (unsent 0) brings. Taking the larger of the two keeps a
// state sent twice (a push and a snapshot) from counting twice. The local
// unsent count is left alone: it is this node's, not yet pushed.
func (s *Store) applyLimit(k string, r *Record, _ int, now int64) (bool, error) {
	rExcess, rLast, unsent, _ := LimitReqState(r.Value)
	rExcess = min(max(rExcess, 0), limitMaxExcess)
	unsent = min(max(unsent, 0), limitMaxUnsent)
	if ms := now - rLast; ms > 0 {
		rExcess = max(rExcess-drain(s.rate, ms), 0)
	}
	h := s.hashString(k)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ref := s.find(h, k)
	var excess, local int64
	if ref != 0 && s.visible(off(ref), now) {
		v := s.valOff(off(ref))
		last := s.i64(v + 8)
		excess, local = s.i64(v), s.i64(v+16)
		if unsent > 0 {
			excess, _ = limitAccount(excess, last, now, s.rate)
			excess += (unsent - 1) * 1000
		} else if ms := now - last; ms > 0 {
			excess = max(excess-drain(s.rate, ms), 0)
		}
		if max(excess, rExcess) == s.i64(v) && last == now {
			s.putI64(off(ref)+hWhen, now)
			s.link(sh, ref)
			return false, nil
		}
	} else {
		if ref == 0 {
			s.expireTail(sh, now, 2)
			var ok bool
			if ref, ok = s.create(sh, h, k, limitValLen); !ok {
				return false, errNoRoom
			}
		} else if ref, _ = s.resize(sh, h, ref, limitValLen); ref == 0 {
			return false, errNoRoom
		}
		s.put64(off(ref)+hStamp, r.Stamp)
		s.put32(off(ref)+hOrigin, r.Origin)
		if unsent > 0 {
			excess = (unsent - 1) * 1000
		}
	}
	o := off(ref)
	v := s.valOff(o)
	s.markLive(sh, o)
	s.putI64(v, max(excess, rExcess))
	s.putI64(v+8, now)
	s.putI64(v+16, local)
	s.putI64(o+hWhen, now)
	s.link(sh, ref)
	return true, nil
}

// batch holds records copied out of a shard, so callbacks run without the
// shard's lock.
type batch struct {
	buf  []byte
	ents []batchEnt
}

type batchEnt struct {
	ks, vs, ve int
	expire     int64
	stamp      uint64
	origin     uint32
	deleted    bool
}

func (b *batch) reset() {
	b.buf = b.buf[:0]
	b.ents = b.ents[:0]
}

// appendRecord copies the record at o into b. A limit_req state's unsent
// requests go out once: take (a push, under the write lock) copies them and
// resets them in the store; a scan (a snapshot or a state file) copies
// none, since the state's excess already holds them.
func (s *Store) appendRecord(b *batch, o int, take bool) {
	ks := len(b.buf)
	if s.match == MatchIP {
		b.buf = appendIPKey(b.buf, s.keyAt(o))
	} else {
		b.buf = append(b.buf, s.keyAt(o)...)
	}
	vs := len(b.buf)
	b.buf = append(b.buf, s.valAt(o)...)
	if s.kind == KindLimitReq && !s.deleted(o) {
		if take {
			s.putI64(s.valOff(o)+16, 0)
		} else {
			clear(b.buf[vs+16:])
		}
	}
	e := batchEnt{ks: ks, vs: vs, ve: len(b.buf), stamp: s.stampAt(o), origin: s.originAt(o), deleted: s.deleted(o)}
	if e.deleted || s.kind != KindLimitReq {
		e.expire = s.i64(o + hWhen)
	}
	b.ents = append(b.ents, e)
}

func (b *batch) emit(now int64, fn func(*Record, int64) bool) bool {
	for _, e := range b.ents {
		r := Record{
			Key:     b.buf[e.ks:e.vs:e.vs],
			Value:   b.buf[e.vs:e.ve:e.ve],
			Expire:  e.expire,
			Stamp:   e.stamp,
			Origin:  e.origin,
			Deleted: e.deleted,
		}
		if !fn(&r, now) {
			return false
		}
	}
	return true
}

// scan copies the records of each shard out in chunks of whole buckets and
// hands them to fn outside the lock.
func (s *Store) scan(tombs bool, fn func(*Record, int64) bool) {
	var b batch
	per := int(s.bmask) + 1
	for i := range s.shards {
		sh := &s.shards[i]
		last := (i + 1) * per
		for bk := i * per; bk < last; {
			b.reset()
			now := s.nowMs()
			sh.mu.RLock()
			for ; bk < last && len(b.ents) < scanChunk && len(b.buf) < scanChunkBytes; bk++ {
				for ref := s.u32(bk * 4); ref != 0; ref = s.u32(off(ref) + hChain) {
					o := off(ref)
					if s.alive(o, now) && (tombs || !s.deleted(o)) {
						s.appendRecord(&b, o, false)
					}
				}
			}
			sh.mu.RUnlock()
			if !b.emit(now, fn) {
				return
			}
		}
	}
}
