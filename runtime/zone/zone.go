// Package zone implements the shared memory zones that zone_sync replicates:
// keyval_zone (http and stream), sticky learn and limit_req_zone.
//
// A Store holds one zone. Its capacity comes from the declared size, as in
// nginx: every record and the hash index live in one byte arena of exactly
// that size, carved by a slab allocator (see arena.go and README.md). When
// the arena is full, sticky and limit_req zones evict the least recently
// used record and keyval zones refuse the new key with ErrFull.
//
// Each record carries what zone_sync needs: a hybrid logical clock stamp,
// the id of the node that made the change, and membership in a queue of
// locally changed records (Pending, TakePending). Apply merges a record from
// a peer: the newer stamp wins, ties go to the higher node id.
package zone

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Kind says which nginx module owns a zone.
type Kind int

const (
	KindKeyval   Kind = iota // keyval_zone (http or stream)
	KindSticky               // sticky learn
	KindLimitReq             // limit_req_zone
)

func (k Kind) String() string {
	switch k {
	case KindKeyval:
		return "keyval"
	case KindSticky:
		return "sticky"
	case KindLimitReq:
		return "limit_req"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MatchType is keyval_zone's type= parameter.
type MatchType int

const (
	MatchString MatchType = iota // type=string: exact match
	MatchIP                      // type=ip: the most specific stored address or CIDR block that contains the lookup
	MatchPrefix                  // type=prefix: the longest stored key that is a prefix of the lookup
)

func (m MatchType) String() string {
	switch m {
	case MatchString:
		return "string"
	case MatchIP:
		return "ip"
	case MatchPrefix:
		return "prefix"
	}
	return fmt.Sprintf("MatchType(%d)", int(m))
}

// Limits of the store.
const (
	// MinSize is the smallest zone, 8 pages, as nginx requires of sticky and
	// limit_req zones ("zone ... is too small").
	MinSize = 8 * pageSize
	// MaxSize is the largest zone: records are addressed by 32-bit offsets
	// in 8-byte units.
	MaxSize = 1 << 35
	// MaxKeyLen is the longest key (nginx's limit_req refuses keys longer
	// than 65535 bytes too).
	MaxKeyLen = math.MaxUint16
	// DefaultStickyTimeout is sticky learn's default timeout=.
	DefaultStickyTimeout = 10 * time.Minute
	// MaxRate bounds limit_req rates (in 1/1000 requests per second).
	MaxRate = 1 << 40

	limitIdle      = 60000 // ms: nginx's limit_req idle rule
	defaultTombTTL = 60000 // ms: tombstone lifetime when the zone has no timeout
	scanChunk      = 256   // records copied per lock hold by Range, Snapshot, TakePending
	scanChunkBytes = 64 << 10
)

// Config describes a zone.
type Config struct {
	Name string
	Kind Kind
	// Size is the declared size in bytes (zone=name:size); the store uses
	// exactly this much memory for records and index.
	Size int64
	// Timeout: keyval timeout= (0: pairs never expire); sticky timeout=
	// (0: DefaultStickyTimeout); ignored for limit_req. With Sync it is also
	// the lifetime of tombstones (60 s when 0).
	Timeout time.Duration
	// Match is keyval's type= (MatchString for other kinds).
	Match MatchType
	// Rate is limit_req_zone's rate= in 1/1000 requests per second, as
	// nginx keeps it: rate=10r/s is 10000, rate=30r/m is 500.
	Rate int64
	// Sync turns on the pending queue and tombstones for zone_sync.
	Sync bool
	// Node is this node's id, recorded as the origin of local changes.
	Node uint32
	// Clock gives the physical time; nil means SystemClock.
	Clock Clock
	// Changed, if set, is called when a local change puts a record on the
	// pending queue of a Sync zone (zone_sync_interval 0 pushes at once).
	// It runs with a shard lock held: it must not block or call the store.
	Changed func()
}

// Errors returned by the store, wrapped with the zone's kind and name; test
// them with errors.Is.
var (
	ErrExists   = errors.New("key already exists")
	ErrNotFound = errors.New("key not found")
	ErrFull     = errors.New("zone is full")
	ErrTooLarge = errors.New("record does not fit in the zone")
	ErrKey      = errors.New("invalid key")
	ErrRecord   = errors.New("malformed record")
	ErrKind     = errors.New("operation not supported by this kind of zone")
	ErrTooSmall = errors.New("zone is too small")
	ErrConfig   = errors.New("invalid zone configuration")

	errNoRoom = errors.New("no room") // internal: retry after reclaim
)

// Store is one zone. All methods are safe for concurrent use.
type Store struct {
	name      string
	kind      Kind
	match     MatchType
	sync      bool
	node      uint32
	timeout   int64 // ms
	tombTTL   int64 // ms
	rate      int64
	clock     Clock
	clk       hlc
	seed      maphash.Seed
	mem       []byte
	arena     *arena
	bbits     uint   // log2 of buckets per shard
	bmask     uint64 // buckets per shard - 1
	lens      lengths
	iplens    *ipLengths
	plens     *prefixLengths
	rr        atomic.Uint32
	changes   atomic.Uint64 // local and applied changes, for Changes
	changed   func()
	release   func() // gives mem back; see Close
	closeOnce sync.Once
	shards    [nShards]shard
}

// New creates an empty zone. It fails if the size is too small for the kind
// (under MinSize) or the configuration is inconsistent.
func New(c Config) (*Store, error) {
	if c.Kind < KindKeyval || c.Kind > KindLimitReq {
		return nil, fmt.Errorf("zone %q: %w: unknown kind %d", c.Name, ErrConfig, int(c.Kind))
	}
	if c.Match < MatchString || c.Match > MatchPrefix || c.Match != MatchString && c.Kind != KindKeyval {
		return nil, fmt.Errorf("%s zone %q: %w: type=%s", c.Kind, c.Name, ErrConfig, c.Match)
	}
	if c.Size < MinSize {
		return nil, fmt.Errorf("%s zone %q: %w: %d bytes, the minimum is %d", c.Kind, c.Name, ErrTooSmall, c.Size, MinSize)
	}
	if c.Size > MaxSize {
		return nil, fmt.Errorf("%s zone %q: %w: %d bytes, the maximum is %d", c.Kind, c.Name, ErrConfig, c.Size, int64(MaxSize))
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("%s zone %q: %w: negative timeout", c.Kind, c.Name, ErrConfig)
	}
	if c.Kind == KindLimitReq && (c.Rate <= 0 || c.Rate > MaxRate) {
		return nil, fmt.Errorf("%s zone %q: %w: rate %d", c.Kind, c.Name, ErrConfig, c.Rate)
	}
	// One bucket per 128 bytes (64 for limit_req, whose states are small):
	// about one record per bucket when the zone is full.
	div := int64(128)
	if c.Kind == KindLimitReq {
		div = 64
	}
	nb := int64(nShards * 8)
	for nb < c.Size/div {
		nb <<= 1
	}
	base := int(nb * 4)
	if (c.Size-int64(base))/pageSize < 4 {
		return nil, fmt.Errorf("%s zone %q: %w: %d bytes", c.Kind, c.Name, ErrTooSmall, c.Size)
	}
	s := &Store{
		name:    c.Name,
		kind:    c.Kind,
		match:   c.Match,
		sync:    c.Sync,
		node:    c.Node,
		rate:    c.Rate,
		clock:   c.Clock,
		changed: c.Changed,
		seed:    maphash.MakeSeed(),
		mem:     make([]byte, int(c.Size)),
	}
	mem, release, err := allocate(int(c.Size))
	if err != nil {
		return nil, fmt.Errorf("zone %q: cannot allocate %d bytes: %w", c.Name, c.Size, err)
	}
	s.mem, s.release = mem, release
	// A store nobody can reach any more gives its mapping back even if
	// Close was not called (tests and fuzzing make many).
	runtime.SetFinalizer(s, (*Store).Close)
	if s.clock == nil {
		s.clock = SystemClock
	}
	s.timeout = durMs(c.Timeout)
	if c.Kind == KindSticky && s.timeout == 0 {
		s.timeout = durMs(DefaultStickyTimeout)
	}
	s.tombTTL = s.timeout
	if s.tombTTL == 0 {
		s.tombTTL = defaultTombTTL
	}
	s.arena = newArena(s.mem, base)
	per := uint64(nb / nShards)
	s.bbits = uint(bits.TrailingZeros64(per))
	s.bmask = per - 1
	for i := range s.shards {
		s.shards[i].idx = i
		s.shards[i].tailWhen.Store(math.MaxInt64)
		s.shards[i].minWhen.Store(math.MaxInt64)
	}
	switch c.Match {
	case MatchIP:
		s.iplens = &ipLengths{}
		s.lens = s.iplens
	case MatchPrefix:
		s.plens = &prefixLengths{count: map[int]int32{}}
		s.lens = s.plens
	default:
		s.lens = noLengths{}
	}
	return s, nil
}

// Name returns the zone's name.
func (s *Store) Name() string { return s.name }

// Kind returns the zone's kind.
func (s *Store) Kind() Kind { return s.kind }

func (s *Store) fail(err error) error {
	return fmt.Errorf("%s zone %q: %w", s.kind, s.name, err)
}

func (s *Store) nowMs() int64 { return s.clock.Now().UnixMilli() }

func (s *Store) hashString(k string) uint64 { return maphash.String(s.seed, k) }

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// durMs converts a duration to milliseconds, rounding up.
func durMs(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// expireAt is the expiry time of a pair written at now: after expire if it
// is positive, else after the zone's timeout, else never (0).
func (s *Store) expireAt(now int64, expire time.Duration) int64 {
	if expire > 0 {
		return now + durMs(expire)
	}
	if s.timeout > 0 {
		return now + s.timeout
	}
	return 0
}

// stamp records a local change: a new HLC stamp, this node as origin, the
// record's new place on the order list and the pending queue.
func (s *Store) stamp(sh *shard, ref uint32, now int64) {
	s.changes.Add(1)
	o := off(ref)
	s.put64(o+hStamp, s.clk.next(now))
	s.put32(o+hOrigin, s.node)
	s.link(sh, ref)
	s.queue(sh, ref)
}

// Get returns the value stored under exactly key. For type=ip zones the key
// is normalized first ("10.0.0.1/32" and "10.0.0.1" are the same key).
// Expired pairs and tombstones are not found. The slice is a copy.
func (s *Store) Get(key string) ([]byte, bool) { return s.AppendGet(nil, key) }

// AppendGet is Get appending the value to dst, without allocating when dst
// has room.
func (s *Store) AppendGet(dst []byte, key string) ([]byte, bool) {
	var buf ipBuf
	k, err := s.storeKey(key, &buf)
	if err != nil {
		return dst, false
	}
	return s.appendValue(dst, k, s.nowMs())
}

// Match looks up a value the way the keyval module evaluates its $variable:
// type=string is Get; type=ip returns the value of the most specific stored
// address or block containing the lookup address (or block); type=prefix
// returns the value of the longest stored key that is a prefix of lookup.
func (s *Store) Match(lookup string) ([]byte, bool) { return s.AppendMatch(nil, lookup) }

// AppendMatch is Match appending the value to dst.
func (s *Store) AppendMatch(dst []byte, lookup string) ([]byte, bool) {
	switch s.match {
	case MatchIP:
		return s.matchIP(dst, lookup)
	case MatchPrefix:
		return s.matchPrefix(dst, lookup)
	}
	return s.AppendGet(dst, lookup)
}

func (s *Store) appendValue(dst []byte, k string, now int64) ([]byte, bool) {
	h := s.hashString(k)
	sh := s.shardOf(h)
	sh.mu.RLock()
	ref := s.find(h, k)
	if ref == 0 || !s.visible(off(ref), now) {
		sh.mu.RUnlock()
		return dst, false
	}
	dst = append(dst, s.valAt(off(ref))...)
	sh.mu.RUnlock()
	return dst, true
}

type writeMode int

const (
	modeInsert writeMode = iota
	modeSet
	modeUpdate
)

// Insert adds a keyval pair that must not exist yet (ErrExists). expire > 0
// is the pair's own lifetime (the API's "expire", ms); 0 means the zone's
// timeout (or never). A full zone returns ErrFull and keeps every stored pair.
func (s *Store) Insert(key string, value []byte, expire time.Duration) error {
	return s.write(modeInsert, key, value, &expire)
}

// Set adds or replaces a keyval pair; expire as for Insert.
func (s *Store) Set(key string, value []byte, expire time.Duration) error {
	return s.write(modeSet, key, value, &expire)
}

// Update changes an existing keyval pair (ErrNotFound otherwise). A nil
// value keeps the stored value; a nil expire keeps the pair's expiry time,
// otherwise it is restarted as for Insert.
func (s *Store) Update(key string, value []byte, expire *time.Duration) error {
	return s.write(modeUpdate, key, value, expire)
}

func (s *Store) write(mode writeMode, key string, value []byte, expire *time.Duration) error {
	if s.kind != KindKeyval {
		return s.fail(ErrKind)
	}
	var buf ipBuf
	k, err := s.storeKey(key, &buf)
	if err != nil {
		return s.fail(err)
	}
	if hdrSize+len(k)+len(value) > s.arena.capacity() {
		return s.fail(ErrTooLarge)
	}
	for try := 0; ; try++ {
		err := s.writeOnce(mode, k, value, expire)
		if err == nil {
			return nil
		}
		if err != errNoRoom {
			return s.fail(err)
		}
		if !s.reclaim(try) {
			return s.fail(ErrFull)
		}
	}
}

func (s *Store) writeOnce(mode writeMode, k string, value []byte, expire *time.Duration) error {
	now := s.nowMs()
	h := s.hashString(k)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ref := s.find(h, k)
	live := ref != 0 && s.visible(off(ref), now)
	if mode == modeInsert && live {
		return ErrExists
	}
	if mode == modeUpdate && !live {
		return ErrNotFound
	}
	var when int64
	if expire == nil {
		when = s.when(ref)
	} else {
		when = s.expireAt(now, *expire)
	}
	setValue := mode != modeUpdate || value != nil
	if ref == 0 {
		var ok bool
		if ref, ok = s.create(sh, h, k, len(value)); !ok {
			return errNoRoom
		}
	} else if setValue {
		nref, ok := s.resize(sh, h, ref, len(value))
		if !ok {
			return errNoRoom
		}
		ref = nref
	}
	o := off(ref)
	if setValue {
		copy(s.mem[s.valOff(o):], value)
	}
	s.markLive(sh, o)
	s.putI64(o+hWhen, when)
	s.stamp(sh, ref, now)
	return nil
}

// Delete removes a pair and reports whether it existed. With Sync, keyval
// and sticky zones keep a tombstone (key, stamp, no value) for the zone's
// timeout so the delete reaches the peers and beats older copies.
func (s *Store) Delete(key string) bool {
	var buf ipBuf
	k, err := s.storeKey(key, &buf)
	if err != nil {
		return false
	}
	now := s.nowMs()
	h := s.hashString(k)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ref := s.find(h, k)
	if ref == 0 || !s.visible(off(ref), now) {
		return false
	}
	s.kill(sh, ref, now)
	return true
}

func (s *Store) kill(sh *shard, ref uint32, now int64) {
	if !s.sync || s.kind == KindLimitReq {
		s.remove(sh, ref)
		return
	}
	o := off(ref)
	s.markDeleted(sh, o)
	s.put32(o+hValLen, 0) // the slot is kept; it is freed when the tombstone expires
	s.putI64(o+hWhen, now+s.tombTTL)
	s.stamp(sh, ref, now)
}

// Clear deletes every pair (as Delete does for each).
func (s *Store) Clear() {
	now := s.nowMs()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.eachRef(sh, func(ref uint32) {
			if s.visible(off(ref), now) {
				s.kill(sh, ref, now)
			}
		})
		sh.mu.Unlock()
	}
}

// Close gives the zone's memory back. The store must not be used after it:
// the node closes a zone only when no server of any configuration can
// reach it any more. It is safe to call more than once.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		if s.release != nil {
			s.release()
		}
	})
}

// Timeout returns the zone's timeout= (0 for none).
func (s *Store) Timeout() time.Duration { return time.Duration(s.timeout) * time.Millisecond }

// MatchType returns keyval's type=.
func (s *Store) MatchType() MatchType { return s.match }

// Changes counts the changes made to the zone, local or applied from a
// peer; a caller compares two readings to know whether anything changed in
// between (the keyval state file is rewritten only then).
func (s *Store) Changes() uint64 { return s.changes.Load() }

// Range calls fn for every live pair until fn returns false. ttl is the
// remaining lifetime (0: none). The value slice is only valid during the
// call. Range copies records out in small batches, so fn may call the store;
// pairs changed during Range may or may not be seen.
func (s *Store) Range(fn func(key string, value []byte, ttl time.Duration) bool) {
	s.scan(false, func(r *Record, now int64) bool {
		var ttl time.Duration
		if r.Expire != 0 {
			ttl = time.Duration(r.Expire-now) * time.Millisecond
		}
		return fn(string(r.Key), r.Value, ttl)
	})
}

// Len returns the number of live records (records_total). It first frees
// what has expired.
func (s *Store) Len() int {
	now := s.nowMs()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.sweep(sh, now)
		n += sh.live
		sh.mu.Unlock()
	}
	return n
}

// Sweep frees every expired record and tombstone it can find cheaply and
// returns how many it freed. Expired records are invisible anyway; the
// owner may call Sweep periodically to return their memory early.
func (s *Store) Sweep() int {
	now := s.nowMs()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += s.sweep(sh, now)
		sh.mu.Unlock()
	}
	return n
}

// reclaim makes room after an allocation failed; try counts the caller's
// failed attempts. It reports whether anything was freed.
func (s *Store) reclaim(try int) bool {
	if try > 0 && s.isLRU() {
		return s.evict()
	}
	now := s.nowMs()
	freed := 0
	for i := range s.shards {
		sh := &s.shards[i]
		if !s.needsSweep(sh, now) {
			continue
		}
		sh.mu.Lock()
		freed += s.sweep(sh, now)
		sh.mu.Unlock()
	}
	if freed > 0 {
		return true
	}
	if s.isLRU() {
		return s.evict()
	}
	return s.dropTombstones()
}

func (s *Store) needsSweep(sh *shard, now int64) bool {
	switch s.kind {
	case KindLimitReq:
		return sh.tailWhen.Load() <= now-limitIdle
	case KindKeyval:
		return sh.tailWhen.Load() <= now || sh.minWhen.Load() <= now
	}
	return sh.tailWhen.Load() <= now
}

// evict removes the least recently used record of the zone: the tail of the
// shard whose tail is oldest.
func (s *Store) evict() bool {
	for attempt := 0; attempt < 3; attempt++ {
		best, bw := -1, int64(math.MaxInt64)
		for i := range s.shards {
			if w := s.shards[i].tailWhen.Load(); w < bw {
				best, bw = i, w
			}
		}
		if best < 0 {
			return false
		}
		sh := &s.shards[best]
		sh.mu.Lock()
		if sh.tail != 0 {
			s.remove(sh, sh.tail)
			sh.mu.Unlock()
			return true
		}
		sh.mu.Unlock()
	}
	return false
}

// dropTombstones frees the tombstones of one shard that has some; a keyval
// zone sacrifices them before refusing a new pair.
func (s *Store) dropTombstones() bool {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n := 0
		if sh.tombs > 0 {
			s.eachRef(sh, func(ref uint32) {
				if s.deleted(off(ref)) {
					s.remove(sh, ref)
					n++
				}
			})
		}
		sh.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// expireTail frees up to n expired records at the tail of a sticky or
// limit_req shard before a new record is created, as nginx does.
func (s *Store) expireTail(sh *shard, now int64, n int) {
	for ; n > 0 && sh.tail != 0; n-- {
		if s.alive(off(sh.tail), now) {
			return
		}
		s.remove(sh, sh.tail)
	}
}
