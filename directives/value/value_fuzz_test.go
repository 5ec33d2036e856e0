package value

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
)

// FuzzSize checks that Offset reads everything Size reads, to the same
// value, and that both formatters write text that reads back unchanged.
func FuzzSize(f *testing.F) {
	for _, c := range sizeCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		size, serr := Size(s)
		off, oerr := Offset(s)
		if serr == nil {
			if size < 0 || oerr != nil || off != size {
				t.Fatalf("Size(%q) = %d but Offset = %d, %v", s, size, off, oerr)
			}
			if back, err := Size(FormatSize(size)); err != nil || back != size {
				t.Fatalf("Size(FormatSize(%d) = %q) = %d, %v", size, FormatSize(size), back, err)
			}
		}
		if oerr == nil {
			if back, err := Offset(FormatOffset(off)); err != nil || back != off {
				t.Fatalf("Offset(FormatOffset(%d) = %q) = %d, %v", off, FormatOffset(off), back, err)
			}
		} else if !errors.Is(oerr, ErrInvalid) {
			t.Fatalf("Offset(%q) error %v is not ErrInvalid", s, oerr)
		}
	})
}

// FuzzMsec checks the two time readers against each other and the
// formatters against the readers. Where a value uses neither y and M
// (seconds only) nor ms (milliseconds only), both readers must agree, up
// to the factor of 1000 and the smaller range of the millisecond form.
func FuzzMsec(f *testing.F) {
	for _, c := range timeCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, merr := MsecCount(s)
		sec, serr := SecCount(s)
		if merr == nil {
			if ms < 0 {
				t.Fatalf("MsecCount(%q) = %d", s, ms)
			}
			if back, err := MsecCount(FormatMsec(ms)); err != nil || back != ms {
				t.Fatalf("MsecCount(FormatMsec(%d) = %q) = %d, %v", ms, FormatMsec(ms), back, err)
			}
			if !strings.Contains(s, "ms") && (serr != nil || sec*1000 != ms) {
				t.Fatalf("MsecCount(%q) = %d but SecCount = %d, %v", s, ms, sec, serr)
			}
		}
		if serr == nil {
			if back, err := SecCount(FormatSec(sec)); err != nil || back != sec {
				t.Fatalf("SecCount(FormatSec(%d) = %q) = %d, %v", sec, FormatSec(sec), back, err)
			}
			if !strings.ContainsAny(s, "yM") && sec <= math.MaxInt64/1000 && (merr != nil || ms != sec*1000) {
				t.Fatalf("SecCount(%q) = %d but MsecCount = %d, %v", s, sec, ms, merr)
			}
		}
	})
}

var urlErrors = []error{
	ErrInvalidHost, ErrInvalidPort, ErrInvalidPortRange, ErrNoHost,
	ErrInvalidIPv6, ErrNoUnixPath, ErrUnixPathTooLong, ErrNoPort,
}

// FuzzURL checks that an accepted address is consistent and that its
// String form reads back to the same Addr, and that failures are always
// one of nginx's address errors.
func FuzzURL(f *testing.F) {
	for _, c := range urlCases {
		f.Add(c.in, c.opt.Listen, c.opt.RequirePort, uint16(c.opt.DefaultPort))
	}
	f.Fuzz(func(t *testing.T, s string, listen, requirePort bool, defaultPort uint16) {
		o := URLOptions{Listen: listen, RequirePort: requirePort, DefaultPort: int(defaultPort)}
		a, err := ParseURL(s, o)
		if err != nil {
			if !isOneOf(err, urlErrors) {
				t.Fatalf("ParseURL(%q) error %v is not an address error", s, err)
			}
			return
		}
		checkAddr(t, s, o, a)
		if back, err := ParseURL(a.String(), o); err != nil || back != a {
			t.Fatalf("ParseURL(%q) = %+v; its String %q reads back as %+v, %v", s, a, a.String(), back, err)
		}
	})
}

func checkAddr(t *testing.T, s string, o URLOptions, a Addr) {
	t.Helper()
	switch {
	case a.Unix:
		if a.Path == "" || a.Host != "" || a.HasPort {
			t.Fatalf("ParseURL(%q) = %+v: a unix socket with a host or port", s, a)
		}
	case a.HasPort && (a.Port < 1 || a.Port > 65535):
		t.Fatalf("ParseURL(%q) = %+v: port out of range", s, a)
	case !a.HasPort && (a.Port != o.DefaultPort || o.RequirePort):
		t.Fatalf("ParseURL(%q) = %+v: no port but not the default", s, a)
	case a.LastPort != 0 && (!o.Listen || a.LastPort < a.Port):
		t.Fatalf("ParseURL(%q) = %+v: bad port range", s, a)
	case a.IPv6 && !a.IP.Is6():
		t.Fatalf("ParseURL(%q) = %+v: bracketed but not IPv6", s, a)
	case a.Wildcard && !a.IP.IsUnspecified():
		t.Fatalf("ParseURL(%q) = %+v: wildcard with a specific address", s, a)
	}
}

func isOneOf(err error, list []error) bool {
	for _, e := range list {
		if err == e {
			return true
		}
	}
	return false
}

// FuzzRate checks that an accepted rate is positive, keeps its text, and
// reads back unchanged from its String form.
func FuzzRate(f *testing.F) {
	for _, c := range rateCases {
		f.Add(c.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		r, err := ParseRate(arg)
		if err != nil {
			if err.Error() != `invalid rate "`+arg+`"` {
				t.Fatalf("ParseRate(%q) error %q", arg, err)
			}
			return
		}
		if r.PerMilliSec <= 0 || r.Requests <= 0 || "rate="+r.Text != arg {
			t.Fatalf("ParseRate(%q) = %+v", arg, r)
		}
		back, err := ParseRate("rate=" + r.String())
		back.Text = r.Text
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %+v; its String %q reads back as %+v, %v", arg, r, r.String(), back, err)
		}
	})
}

// FuzzCIDR checks that accepted blocks come back masked, that their
// standard text form reads back unchanged, and that wherever both nginx's
// address reader and Go's accept a text, they agree on the address.
func FuzzCIDR(f *testing.F) {
	for _, c := range cidrCases {
		f.Add(c.in)
	}
	for _, c := range ipCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ip, ok := ParseIP(s); ok {
			if std, err := netip.ParseAddr(s); err == nil && std != ip {
				t.Fatalf("ParseIP(%q) = %v; netip reads %v", s, ip, std)
			}
		}
		p, low, err := ParseCIDR(s)
		if err != nil {
			if err != ErrInvalidParameter {
				t.Fatalf("ParseCIDR(%q) error %v", s, err)
			}
			return
		}
		if p != p.Masked() {
			t.Fatalf("ParseCIDR(%q) = %v, not masked", s, p)
		}
		back, backLow, err := ParseCIDR(p.String())
		if err != nil || back != p || backLow {
			t.Fatalf("ParseCIDR(%q) = %v, %v; its String reads back as %v, %v, %v", s, p, low, back, backLow, err)
		}
	})
}
