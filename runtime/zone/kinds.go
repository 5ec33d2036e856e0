package zone

import (
	"encoding/binary"
	"time"
)

// Sticky learn.

// Learn records that session key is served by server (sticky learn's create
// step): the session is created, or re-pointed and refreshed, and lives
// until it is not used for the zone's timeout. A full zone evicts the least
// recently used session.
func (s *Store) Learn(key, server string) error {
	if s.kind != KindSticky {
		return s.fail(ErrKind)
	}
	if key == "" {
		return s.fail(ErrKey)
	}
	if len(key) > MaxKeyLen || hdrSize+len(key)+len(server) > s.arena.capacity() {
		return s.fail(ErrTooLarge)
	}
	for try := 0; ; try++ {
		err := s.learnOnce(key, server)
		if err != errNoRoom {
			return err
		}
		if !s.reclaim(try) {
			return s.fail(ErrFull)
		}
	}
}

func (s *Store) learnOnce(key, server string) error {
	now := s.nowMs()
	h := s.hashString(key)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ref := s.find(h, key)
	if ref == 0 {
		s.expireTail(sh, now, 2)
		var ok bool
		if ref, ok = s.create(sh, h, key, len(server)); !ok {
			return errNoRoom
		}
	} else {
		nref, ok := s.resize(sh, h, ref, len(server))
		if !ok {
			return errNoRoom
		}
		ref = nref
	}
	o := off(ref)
	copy(s.mem[s.valOff(o):], server)
	s.markLive(sh, o)
	s.putI64(o+hWhen, now+s.timeout)
	s.stamp(sh, ref, now)
	return nil
}

// Lookup returns the server of session key and refreshes the session's
// lifetime (sticky learn's lookup step).
func (s *Store) Lookup(key string) (server string, ok bool) {
	if s.kind != KindSticky || key == "" || len(key) > MaxKeyLen {
		return "", false
	}
	now := s.nowMs()
	h := s.hashString(key)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ref := s.find(h, key)
	if ref == 0 || !s.visible(off(ref), now) {
		return "", false
	}
	o := off(ref)
	s.putI64(o+hWhen, now+s.timeout)
	s.stamp(sh, ref, now)
	return string(s.valAt(o)), true
}

// limit_req.

// limitValLen is the size of a limit_req state: excess (int64, in 1/1000
// requests), last (int64, unix ms of the last accounted request) and
// unsent (int64, the requests this node accepted since its last push),
// all little-endian. unsent is what makes the limit hold for a cluster:
// a push carries it and the receiver accounts that many requests, so
// every node's bucket fills with every node's requests (see Apply).
const limitValLen = 24

// LimitReqState decodes a limit_req record value.
func LimitReqState(v []byte) (excess, last, unsent int64, ok bool) {
	if len(v) != limitValLen {
		return 0, 0, 0, false
	}
	le := binary.LittleEndian
	return int64(le.Uint64(v)), int64(le.Uint64(v[8:])), int64(le.Uint64(v[16:])), true
}

func appendLimitReqState(dst []byte, excess, last, unsent int64) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(excess))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(last))
	return binary.LittleEndian.AppendUint64(dst, uint64(unsent))
}

// limitAccount is nginx's accounting of one request at now against a state
// last charged at last: the excess drains at rate for the time between
// (an interval below -60 s counts as 1 ms, any other negative one as 0),
// the request adds 1000, and the result is never negative. It returns the
// new excess and the elapsed milliseconds.
func limitAccount(excess, last, now, rate int64) (int64, int64) {
	ms := now - last
	if ms < -limitIdle {
		ms = 1
	} else if ms < 0 {
		ms = 0
	}
	excess = excess - drain(rate, ms) + 1000
	if excess < 0 {
		excess = 0
	}
	return excess, ms
}

// Limit holds the parameters of one limit_req directive.
type Limit struct {
	Burst   int64 // burst=, in requests
	Delay   int64 // delay=, in requests passed without delay
	NoDelay bool  // nodelay
}

// LimitResult is the outcome of accounting one request.
type LimitResult struct {
	Excess   int64         // excess after the request, in 1/1000 requests (nginx logs it as excess/1000)
	Delay    time.Duration // how long to delay the request (0: pass at once)
	Rejected bool          // the request exceeds the burst and must be rejected
}

// drain is how much excess (1/1000 requests) a rate of rate/1000 r/s drains
// in ms milliseconds: rate*ms/1000 without overflow.
func drain(rate, ms int64) int64 {
	if ms > 1<<31 {
		ms = 1 << 31
	}
	return rate/1000*ms + rate%1000*ms/1000
}

// limitStateGone applies nginx's limit_req expiry rule to a state: it can
// be removed once idle for 60 s with its excess drained at the zone's rate.
func limitStateGone(v []byte, rate, now int64) bool {
	excess, last, _, ok := LimitReqState(v)
	if !ok {
		return true
	}
	ms := now - last
	if ms < 0 {
		ms = -ms
	}
	return ms >= limitIdle && excess-drain(rate, ms) <= 0
}

func (s *Store) limitGone(o int, now int64) bool {
	return limitStateGone(s.valAt(o), s.rate, now)
}

// LimitReq accounts one request for key with nginx's leaky bucket: the
// state's excess drains at the zone's rate since the last accounted request
// and the request adds 1000 (one request). If the result exceeds the burst
// the request is rejected and the state is left as it was; otherwise the
// state is updated and the request is delayed by the excess above delay=
// (never with nodelay). A new key starts with no excess. A full zone evicts
// the least recently used state. Empty keys are not accounted (ErrKey), as
// in nginx.
func (s *Store) LimitReq(key string, l Limit) (LimitResult, error) {
	return s.limitReq(key, l, true)
}

// LimitReqCheck computes what LimitReq would return without changing the
// state. With several limit_req directives, nginx rejects the request if any
// zone rejects it and updates the zones only when none does; the caller gets
// that by checking every zone but the last, then calling LimitReq on each.
func (s *Store) LimitReqCheck(key string, l Limit) (LimitResult, error) {
	return s.limitReq(key, l, false)
}

func (s *Store) limitReq(key string, l Limit, commit bool) (LimitResult, error) {
	if s.kind != KindLimitReq {
		return LimitResult{}, s.fail(ErrKind)
	}
	if key == "" {
		return LimitResult{}, s.fail(ErrKey)
	}
	if len(key) > MaxKeyLen {
		return LimitResult{}, s.fail(ErrTooLarge)
	}
	for try := 0; ; try++ {
		r, err := s.limitOnce(key, l, commit)
		if err != errNoRoom {
			return r, err
		}
		if !s.reclaim(try) {
			return LimitResult{}, s.fail(ErrFull)
		}
	}
}

func clampReq(n int64) int64 {
	if n < 0 {
		return 0
	}
	if n > MaxRate {
		return MaxRate
	}
	return n * 1000
}

func (s *Store) limitOnce(key string, l Limit, commit bool) (LimitResult, error) {
	burst := clampReq(l.Burst)
	delay := clampReq(l.Delay)
	if l.NoDelay {
		delay = burst
	}
	now := s.nowMs()
	h := s.hashString(key)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ref := s.find(h, key)
	var excess int64
	if ref != 0 && s.visible(off(ref), now) {
		o := off(ref)
		v := s.valOff(o)
		var ms int64
		excess, ms = limitAccount(s.i64(v), s.i64(v+8), now, s.rate)
		s.putI64(o+hWhen, now) // the lookup makes it most recently used
		s.link(sh, ref)
		if excess > burst {
			return LimitResult{Excess: excess, Rejected: true}, nil
		}
		if commit {
			s.putI64(v, excess)
			if ms != 0 {
				s.putI64(v+8, now)
			}
			if s.sync {
				s.putI64(v+16, s.i64(v+16)+1)
			}
			s.stamp(sh, ref, now)
		}
	} else if commit {
		if ref == 0 {
			s.expireTail(sh, now, 2)
			var ok bool
			if ref, ok = s.create(sh, h, key, limitValLen); !ok {
				return LimitResult{}, errNoRoom
			}
		} else if ref, _ = s.resize(sh, h, ref, limitValLen); ref == 0 {
			return LimitResult{}, errNoRoom
		}
		o := off(ref)
		v := s.valOff(o)
		s.markLive(sh, o)
		s.putI64(v, 0)
		s.putI64(v+8, now)
		s.putI64(v+16, 0)
		if s.sync {
			s.putI64(v+16, 1)
		}
		s.putI64(o+hWhen, now)
		s.stamp(sh, ref, now)
	}
	r := LimitResult{Excess: excess}
	if excess > delay {
		r.Delay = time.Duration((excess-delay)*1000/s.rate) * time.Millisecond
	}
	return r, nil
}
