package zone

import (
	"sync/atomic"
	"time"
)

// Clock gives the physical time. Tests inject a manual clock; production uses
// SystemClock.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock reads the operating system's clock.
var SystemClock Clock = systemClock{}

// A stamp is a hybrid logical clock value: physical unix milliseconds in the
// high 48 bits and a logical counter in the low 16 bits. Stamps compare as
// plain integers; a larger stamp is newer.
const logicalBits = 16

// MakeStamp packs milliseconds and a logical counter into a stamp.
func MakeStamp(ms int64, logical uint16) uint64 {
	if ms < 0 {
		ms = 0
	}
	return uint64(ms)<<logicalBits | uint64(logical)
}

// StampMillis returns the physical part of a stamp in unix milliseconds.
func StampMillis(stamp uint64) int64 { return int64(stamp >> logicalBits) }

// hlc is a hybrid logical clock (Kulkarni et al.) in packed form: a local
// event takes max(physical, last+1); observing a remote stamp raises last.
// A node whose physical clock lags therefore still stamps its next change
// above every stamp it has seen.
type hlc struct {
	last atomic.Uint64
}

// next returns a new stamp for a local change at physical time ms.
func (h *hlc) next(ms int64) uint64 {
	pt := MakeStamp(ms, 0)
	for {
		old := h.last.Load()
		n := old + 1
		if pt > old {
			n = pt
		}
		if h.last.CompareAndSwap(old, n) {
			return n
		}
	}
}

// observe merges a stamp received from a peer or a state file.
func (h *hlc) observe(stamp uint64) {
	for {
		old := h.last.Load()
		if stamp <= old || h.last.CompareAndSwap(old, stamp) {
			return
		}
	}
}
