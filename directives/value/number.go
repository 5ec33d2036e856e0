package value

import "math"

// atoi reads what ngx_atoi reads: one or more decimal digits and nothing
// else (no sign, no spaces), with a value that fits in int64.
func atoi(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// Number reads a non-negative decimal integer the way the number slot does:
// digits only, leading zeros allowed, no sign, at most math.MaxInt64.
// Failures return ErrNumber; nginx prints `"NAME" directive invalid number`.
func Number(s string) (int, error) {
	n, ok := atoi(s)
	if !ok || n > math.MaxInt {
		return 0, ErrNumber
	}
	return int(n), nil
}

// Flag reads "on" or "off" in any mix of ASCII case, as the flag slot does.
// Anything else returns ErrFlag; nginx prints
// `invalid value "ARG" in "NAME" directive, it must be "on" or "off"`.
func Flag(s string) (bool, error) {
	switch {
	case asciiEqualFold(s, "on"):
		return true, nil
	case asciiEqualFold(s, "off"):
		return false, nil
	}
	return false, ErrFlag
}

// asciiEqualFold compares s with a lower-case ASCII word ignoring ASCII case
// only, as strcasecmp does in the C locale (no Unicode folding).
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
