package value

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Rate is the rate= parameter of limit_req_zone.
type Rate struct {
	// PerMilliSec is the rate in the unit nginx keeps internally:
	// requests per second multiplied by 1000, rounded down, so "1r/s" is
	// 1000 and "1r/m" is 16. Values whose product would overflow int64
	// (nginx's own arithmetic wraps there) are held at math.MaxInt64.
	PerMilliSec int64
	// Requests is the number as written, and Period the time it is per:
	// time.Second for r/s or no suffix, time.Minute for r/m.
	Requests int64
	Period   time.Duration
	// Text is the value as written, without the "rate=" prefix.
	Text string
}

// ParseRate reads a whole rate= argument of limit_req_zone, prefix
// included: "rate=10r/s", "rate=30r/m", or "rate=10" (per second, as nginx
// allows). The number must be a positive decimal; the suffix is case
// sensitive and only r/s and r/m exist.
//
// The returned *Error is nginx's complete message,
// `invalid rate "rate=ARG"`, printed as it is.
func ParseRate(arg string) (Rate, error) {
	text, ok := strings.CutPrefix(arg, "rate=")
	if !ok {
		return Rate{}, rateError(arg)
	}
	digits, period := text, time.Second
	if d, ok := strings.CutSuffix(text, "r/s"); ok {
		digits = d
	} else if d, ok := strings.CutSuffix(text, "r/m"); ok {
		digits, period = d, time.Minute
	}
	n, ok := atoi(digits)
	if !ok || n == 0 {
		return Rate{}, rateError(arg)
	}
	perSec := int64(period / time.Second)
	per := int64(math.MaxInt64)
	if n <= math.MaxInt64/1000 {
		per = n * 1000 / perSec
	}
	return Rate{PerMilliSec: per, Requests: n, Period: period, Text: text}, nil
}

func rateError(arg string) error {
	return &Error{Text: `invalid rate "` + arg + `"`}
}

// String writes the rate the way it is normally written, "10r/s" or
// "30r/m"; ParseRate reads "rate=" followed by it back to the same rate.
func (r Rate) String() string {
	if r.Period == time.Minute {
		return fmt.Sprintf("%dr/m", r.Requests)
	}
	return fmt.Sprintf("%dr/s", r.Requests)
}
