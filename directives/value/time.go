package value

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// step is how far a time value has got through the units, largest first.
// Every unit must come later in this order than the one before it.
type step int

const (
	stepStart step = iota
	stepYear
	stepMonth
	stepWeek
	stepDay
	stepHour
	stepMin
	stepSec
	stepMsec
	stepBare // a number ended by a space, which counts as seconds
)

// timeUnit is one unit letter as the time parser sees it.
type timeUnit struct {
	after   step  // the unit is refused once the value has reached this step
	becomes step  // the step the value is at after the unit
	seconds int64 // length of the unit; 0 means one millisecond
}

// unitFor returns the unit starting with c (rest is what follows c) and how
// many bytes of rest it takes. ok is false for a byte that is no unit.
func unitFor(c byte, rest string) (u timeUnit, extra int, ok bool) {
	switch c {
	case 'y':
		return timeUnit{stepYear, stepYear, 365 * 24 * 3600}, 0, true
	case 'M':
		return timeUnit{stepMonth, stepMonth, 30 * 24 * 3600}, 0, true
	case 'w':
		return timeUnit{stepWeek, stepWeek, 7 * 24 * 3600}, 0, true
	case 'd':
		return timeUnit{stepDay, stepDay, 24 * 3600}, 0, true
	case 'h':
		return timeUnit{stepHour, stepHour, 3600}, 0, true
	case 'm':
		if strings.HasPrefix(rest, "s") {
			return timeUnit{stepMsec, stepMsec, 0}, 1, true
		}
		return timeUnit{stepMin, stepMin, 60}, 0, true
	case 's':
		return timeUnit{stepSec, stepSec, 1}, 0, true
	case ' ':
		return timeUnit{stepSec, stepBare, 1}, 0, true
	}
	return timeUnit{}, 0, false
}

// parseTime reads a time the way nginx's time parser does, returning a
// count of seconds (inSeconds) or of milliseconds.
//
// The value is a run of groups, each a decimal number followed by a unit:
// y (365 days), M (30 days), w, d, h, m, s, and ms. Units must appear in that
// order, each at most once; spaces may follow any group. A number with no
// unit counts as seconds: at the very end it is simply added, while one
// followed by a space is only allowed before any s or ms group. The
// millisecond form refuses y and M altogether; the second form refuses ms.
// A group with no digits counts as zero, but the value needs at least one
// digit somewhere. Each group and the running total must stay within
// math.MaxInt64 of the result's own unit.
func parseTime(s string, inSeconds bool) (int64, error) {
	at := stepStart
	if !inSeconds {
		at = stepMonth // so that y and M are refused
	}
	var total, n int64
	sawDigit := false
	for i := 0; i < len(s); {
		c := s[i]
		i++
		if c >= '0' && c <= '9' {
			d := int64(c - '0')
			if n > (math.MaxInt64-d)/10 {
				return 0, ErrInvalid
			}
			n, sawDigit = n*10+d, true
			continue
		}
		u, extra, ok := unitFor(c, s[i:])
		if !ok || at >= u.after || (inSeconds && u.becomes == stepMsec) {
			return 0, ErrInvalid
		}
		i += extra
		at = u.becomes
		add, ok := groupValue(n, u, inSeconds)
		if !ok || total > math.MaxInt64-add {
			return 0, ErrInvalid
		}
		total, n = total+add, 0
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	if !sawDigit {
		return 0, ErrInvalid
	}
	add, ok := groupValue(n, timeUnit{seconds: 1}, inSeconds)
	if !ok || total > math.MaxInt64-add {
		return 0, ErrInvalid
	}
	return total + add, nil
}

// groupValue converts n of unit u to the result's unit, failing when it
// would not fit in int64. The limit is worked out in two integer divisions
// for milliseconds, the same rounding nginx uses.
func groupValue(n int64, u timeUnit, inSeconds bool) (int64, bool) {
	if u.seconds == 0 { // ms, only reached in millisecond mode
		return n, true
	}
	limit, scale := math.MaxInt64/u.seconds, u.seconds
	if !inSeconds {
		limit, scale = limit/1000, scale*1000
	}
	if n > limit {
		return 0, false
	}
	return n * scale, true
}

// MsecCount reads a time as the msec slot does (proxy_connect_timeout,
// keepalive_timeout and the like) and returns it in milliseconds. A bare
// number is seconds: "5" is 5000. The units y and M are refused.
// Failures return ErrInvalid; nginx prints `"NAME" directive invalid value`.
func MsecCount(s string) (int64, error) {
	return parseTime(s, false)
}

// SecCount reads a time as the sec slot does (ssl_session_timeout and the
// like) and returns it in seconds. All units but ms are allowed.
// Failures return ErrInvalid; nginx prints `"NAME" directive invalid value`.
func SecCount(s string) (int64, error) {
	return parseTime(s, true)
}

// Msec is MsecCount as a time.Duration. nginx accepts values up to
// math.MaxInt64 milliseconds, far beyond what a Duration holds (about 292
// years); such values come back as the largest Duration, which for a
// timeout means "never".
func Msec(s string) (time.Duration, error) {
	ms, err := MsecCount(s)
	if err != nil {
		return 0, err
	}
	return saturate(ms, time.Millisecond), nil
}

// Sec is SecCount as a time.Duration, with values beyond a Duration's range
// coming back as the largest Duration (see Msec).
func Sec(s string) (time.Duration, error) {
	sec, err := SecCount(s)
	if err != nil {
		return 0, err
	}
	return saturate(sec, time.Second), nil
}

func saturate(n int64, unit time.Duration) time.Duration {
	if n > int64(math.MaxInt64/unit) {
		return math.MaxInt64
	}
	return time.Duration(n) * unit
}

// timeGroups are the units a formatter may use, largest first.
var timeGroups = []struct {
	suffix  string
	seconds int64
}{
	{"y", 365 * 24 * 3600},
	{"M", 30 * 24 * 3600},
	{"w", 7 * 24 * 3600},
	{"d", 24 * 3600},
	{"h", 3600},
	{"m", 60},
	{"s", 1},
}

// FormatMsec writes a non-negative millisecond count in a form MsecCount
// reads back to the same value: "1h30m", "1s500ms", "0s".
func FormatMsec(ms int64) string {
	var b strings.Builder
	sec := ms / 1000
	writeGroups(&b, sec, 2) // y and M are not valid in milliseconds
	if r := ms % 1000; r != 0 {
		b.WriteString(strconv.FormatInt(r, 10) + "ms")
	}
	return orZero(b.String())
}

// FormatSec writes a non-negative second count in a form SecCount reads
// back to the same value: "1y2M", "90s" comes out as "1m30s".
func FormatSec(sec int64) string {
	var b strings.Builder
	writeGroups(&b, sec, 0)
	return orZero(b.String())
}

func writeGroups(b *strings.Builder, sec int64, from int) {
	for _, g := range timeGroups[from:] {
		if q := sec / g.seconds; q != 0 {
			b.WriteString(strconv.FormatInt(q, 10) + g.suffix)
			sec %= g.seconds
		}
	}
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}
