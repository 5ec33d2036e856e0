package value

import (
	"math"
	"strconv"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// Size reads a byte count as the size slot does: decimal digits with an
// optional k/K (KiB) or m/M (MiB) suffix, the result at most math.MaxInt64.
// There is no g suffix here (Offset has one) and no spaces are allowed.
// Failures return ErrInvalid; nginx prints `"NAME" directive invalid value`.
func Size(s string) (int64, error) {
	return scaled(s, false)
}

// Offset reads a byte count as the offset slot does (client_max_body_size
// and the like): like Size, plus a g/G (GiB) suffix.
// Failures return ErrInvalid; nginx prints `"NAME" directive invalid value`.
func Offset(s string) (int64, error) {
	return scaled(s, true)
}

func scaled(s string, allowG bool) (int64, error) {
	if s == "" {
		return 0, ErrInvalid
	}
	digits, scale := s, int64(1)
	if m := sizeUnit(s[len(s)-1], allowG); m > 1 {
		digits, scale = s[:len(s)-1], m
	}
	n, ok := atoi(digits)
	if !ok || n > math.MaxInt64/scale {
		return 0, ErrInvalid
	}
	return n * scale, nil
}

// sizeUnit is the multiplier a trailing suffix letter stands for, or 1.
func sizeUnit(c byte, allowG bool) int64 {
	switch c {
	case 'k', 'K':
		return kib
	case 'm', 'M':
		return mib
	case 'g', 'G':
		if allowG {
			return gib
		}
	}
	return 1
}

// FormatSize writes n (non-negative) in the shortest form Size reads back
// to the same value: "1m", "512k", "1000".
func FormatSize(n int64) string {
	return formatScaled(n, false)
}

// FormatOffset writes n (non-negative) in the shortest form Offset reads
// back to the same value, using g where it divides evenly.
func FormatOffset(n int64) string {
	return formatScaled(n, true)
}

func formatScaled(n int64, allowG bool) string {
	units := []struct {
		size   int64
		suffix string
	}{{gib, "g"}, {mib, "m"}, {kib, "k"}}
	for _, u := range units {
		if u.size == gib && !allowG {
			continue
		}
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
