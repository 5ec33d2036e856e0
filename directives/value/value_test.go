package value

import (
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"
)

// The accept/reject verdicts in these tables were checked against nginx
// 1.22.1 with `nginx -t`; oracle_test.go re-checks them when given -nginx.

const maxI = math.MaxInt64

// bad marks a case nginx rejects.
const bad = -1

type sizeCase struct {
	in           string
	size, offset int64 // bad when rejected
}

var sizeCases = []sizeCase{
	{"0", 0, 0},
	{"1", 1, 1},
	{"01k", 1024, 1024},
	{"1k", 1024, 1024},
	{"1K", 1024, 1024},
	{"1m", 1 << 20, 1 << 20},
	{"1M", 1 << 20, 1 << 20},
	{"1g", bad, 1 << 30},
	{"1G", bad, 1 << 30},
	{"", bad, bad},
	{"k", bad, bad},
	{"m", bad, bad},
	{"1kk", bad, bad},
	{"1.5k", bad, bad},
	{"-1", bad, bad},
	{"+1", bad, bad},
	{" 1", bad, bad},
	{"1 ", bad, bad},
	{"1b", bad, bad},
	{"1kb", bad, bad},
	{"9223372036854775807", maxI, maxI},
	{"9223372036854775808", bad, bad},
	{"9007199254740991k", 9007199254740991 << 10, 9007199254740991 << 10},
	{"9007199254740992k", bad, bad},
	{"8796093022207m", 8796093022207 << 20, 8796093022207 << 20},
	{"8796093022208m", bad, bad},
	{"8589934591g", bad, 8589934591 << 30},
	{"8589934592g", bad, bad},
}

func TestSizeAndOffset(t *testing.T) {
	for _, c := range sizeCases {
		t.Run(c.in, func(t *testing.T) {
			n, err := Size(c.in)
			checkInt(t, "Size", c.in, n, err, c.size, ErrInvalid)
			n, err = Offset(c.in)
			checkInt(t, "Offset", c.in, n, err, c.offset, ErrInvalid)
		})
	}
}

// checkInt checks a (value, error) pair against want, where want == bad
// means the call must have failed with wantErr.
func checkInt(t *testing.T, fn, in string, got int64, err error, want int64, wantErr error) {
	t.Helper()
	if want == bad {
		if !errors.Is(err, wantErr) {
			t.Errorf("%s(%q) = %d, %v; want error %q", fn, in, got, err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Errorf("%s(%q) = %d, %v; want %d", fn, in, got, err, want)
	}
}

type timeCase struct {
	in   string
	msec int64 // milliseconds, or bad
	sec  int64 // seconds, or bad
}

const (
	minute = 60
	hour   = 60 * minute
	day    = 24 * hour
	week   = 7 * day
	month  = 30 * day
	year   = 365 * day
)

var timeCases = []timeCase{
	{"0", 0, 0},
	{"5", 5000, 5},
	{"01", 1000, 1},
	{"0s", 0, 0},
	{"0ms", 0, bad},
	{"500ms", 500, bad},
	{"1h30m", (hour + 30*minute) * 1000, hour + 30*minute},
	{"1h 30m", (hour + 30*minute) * 1000, hour + 30*minute},
	{"1h  30m ", (hour + 30*minute) * 1000, hour + 30*minute},
	{"1w", week * 1000, week},
	{"1d1h1m1s1ms", (day+hour+minute+1)*1000 + 1, bad},
	{"1y1M1w1d1h1m1s", bad, year + month + week + day + hour + minute + 1},
	{"1s1ms", 1001, bad},
	// y and M exist only for seconds.
	{"1y", bad, year},
	{"1M", bad, month},
	{"1y1M", bad, year + month},
	{"1y2", bad, year + 2},
	{"292y", bad, 292 * year},
	// Units must go from large to small, each once.
	{"1m1h", bad, bad},
	{"1M1y", bad, bad},
	{"1y1y", bad, bad},
	{"1s1s", bad, bad},
	{"1ms1s", bad, bad},
	{"1ms2ms", bad, bad},
	{"1mss", bad, bad},
	{"1mm", bad, bad},
	// A trailing bare number is added as seconds whatever came before.
	{"1h30", (hour + 30) * 1000, hour + 30},
	{"1s30", 31000, 31},
	{"500ms5", 5500, bad},
	{"1m0", minute * 1000, minute},
	// A group may have no digits as long as some group has.
	{"1hm", hour * 1000, hour},
	{"1dms", day * 1000, bad},
	{"h1", 1000, 1},
	{"ms", bad, bad},
	{"h", bad, bad},
	// A space ends a bare number, which then counts as seconds, but only
	// before any s or ms group and so at most once.
	{" 5", 5000, 5},
	{"5 ", 5000, 5},
	{"1 ", 1000, 1},
	{"1 2", 3000, 3},
	{"1h 2", (hour + 2) * 1000, hour + 2},
	{"1m 2", (minute + 2) * 1000, minute + 2},
	{"1s 2", 3000, 3},
	{"1s ", 1000, 1},
	{"1ms 2", 2001, bad},
	{"1y 2", bad, year + 2},
	{"1 2 3", bad, bad},
	{"1 30m", bad, bad},
	{" 1h", bad, bad},
	{" 1y", bad, bad},
	{" ", bad, bad},
	{"   ", bad, bad},
	{"", bad, bad},
	// Only spaces, ASCII digits and the unit letters, in their case.
	{"1h\t30m", bad, bad},
	{"1x", bad, bad},
	{"1S", bad, bad},
	{"1H", bad, bad},
	{"-1", bad, bad},
	{"+1", bad, bad},
	{"1.5", bad, bad},
	// Limits: each group and the total must fit in int64 of the result's unit.
	{"2147483648", 2147483648000, 2147483648},
	{"2147483648ms", 2147483648, bad},
	{"9223372036854775", 9223372036854775000, 9223372036854775},
	{"9223372036854776", bad, 9223372036854776},
	{"9223372036854775807", bad, maxI},
	{"9223372036854775808", bad, bad},
	{"9223372036854775807s", bad, maxI},
	{"9223372036854775ms", 9223372036854775, bad},
	{"9223372036854775807ms", maxI, bad},
	{"9223372036854775808ms", bad, bad},
	{"15250284452w", 15250284452 * week * 1000, 15250284452 * week},
	{"15250284453w", bad, 15250284453 * week},
	{"106751991d", 106751991 * day * 1000, 106751991 * day},
	{"292471208677y", bad, 292471208677 * year},
	{"292471208678y", bad, bad},
	{"9223372036854775s1ms", 9223372036854775001, bad},
	{"9223372036854775s807ms", maxI, bad},
	{"9223372036854775s808ms", bad, bad},
}

func TestTime(t *testing.T) {
	for _, c := range timeCases {
		t.Run(c.in, func(t *testing.T) {
			n, err := MsecCount(c.in)
			checkInt(t, "MsecCount", c.in, n, err, c.msec, ErrInvalid)
			n, err = SecCount(c.in)
			checkInt(t, "SecCount", c.in, n, err, c.sec, ErrInvalid)
		})
	}
}

func TestDurations(t *testing.T) {
	cases := []struct {
		in   string
		msec time.Duration
		sec  time.Duration
	}{
		{"1h30m", 90 * time.Minute, 90 * time.Minute},
		{"5", 5 * time.Second, 5 * time.Second},
		{"1s 2", 3 * time.Second, 3 * time.Second},
		// Beyond a Duration's range: held at the largest Duration.
		{"9223372036854775807ms", maxI, 0},
		{"292y", 0, 292 * 365 * 24 * time.Hour},
		{"293y", 0, maxI},
	}
	for _, c := range cases {
		if c.msec != 0 {
			if got, err := Msec(c.in); err != nil || got != c.msec {
				t.Errorf("Msec(%q) = %v, %v; want %v", c.in, got, err, c.msec)
			}
		}
		if c.sec != 0 {
			if got, err := Sec(c.in); err != nil || got != c.sec {
				t.Errorf("Sec(%q) = %v, %v; want %v", c.in, got, err, c.sec)
			}
		}
	}
	if _, err := Msec("1y"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Msec(1y) error = %v; want %v", err, ErrInvalid)
	}
	if _, err := Sec("1ms"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Sec(1ms) error = %v; want %v", err, ErrInvalid)
	}
}

func TestFormatTime(t *testing.T) {
	msec := map[int64]string{
		0:                         "0s",
		500:                       "500ms",
		1500:                      "1s500ms",
		(hour + 30*minute) * 1000: "1h30m",
		(week + day) * 1000:       "1w1d",
		maxI:                      "15250284452w3d7h12m55s807ms",
	}
	for in, want := range msec {
		if got := FormatMsec(in); got != want {
			t.Errorf("FormatMsec(%d) = %q; want %q", in, got, want)
		}
	}
	sec := map[int64]string{
		0:                "0s",
		90:               "1m30s",
		year + month + 1: "1y1M1s",
		400 * day:        "1y1M5d",
	}
	for in, want := range sec {
		if got := FormatSec(in); got != want {
			t.Errorf("FormatSec(%d) = %q; want %q", in, got, want)
		}
	}
}

var numberCases = []struct {
	in   string
	want int64 // or bad
}{
	{"0", 0},
	{"01", 1},
	{"9223372036854775807", maxI},
	{"9223372036854775808", bad},
	{"", bad},
	{"-1", bad},
	{"+1", bad},
	{"1k", bad},
	{" 1", bad},
}

func TestNumber(t *testing.T) {
	for _, c := range numberCases {
		n, err := Number(c.in)
		checkInt(t, "Number", c.in, int64(n), err, c.want, ErrNumber)
	}
}

var flagCases = []struct {
	in     string
	on, ok bool
}{
	{"on", true, true},
	{"off", false, true},
	{"ON", true, true},
	{"Off", false, true},
	{"oN", true, true},
	{"yes", false, false},
	{"", false, false},
	{"1", false, false},
	{"o\u212a", false, false}, // no Unicode folding: U+212A is not "n" or "k"
}

func TestFlag(t *testing.T) {
	for _, c := range flagCases {
		got, err := Flag(c.in)
		if !c.ok {
			if !errors.Is(err, ErrFlag) {
				t.Errorf("Flag(%q) = %v, %v; want %v", c.in, got, err, ErrFlag)
			}
			continue
		}
		if err != nil || got != c.on {
			t.Errorf("Flag(%q) = %v, %v; want %v", c.in, got, err, c.on)
		}
	}
}

var rateCases = []struct {
	arg      string
	perMilli int64 // or bad
}{
	{"rate=5", 5000},
	{"rate=5r/s", 5000},
	{"rate=05r/s", 5000},
	{"rate=1r/m", 16},
	{"rate=120r/m", 2000},
	{"rate=9223372036854775807r/s", maxI},
	{"rate=0r/s", bad},
	{"rate=r/s", bad},
	{"rate=", bad},
	{"rate=5r/h", bad},
	{"rate=5R/s", bad},
	{"rate=-1r/s", bad},
	{"rate=9223372036854775808r/s", bad},
	{"rate=5r/sr/s", bad},
	{"rate=5r/ss", bad},
}

func TestParseRate(t *testing.T) {
	for _, c := range rateCases {
		got, err := ParseRate(c.arg)
		if c.perMilli == bad {
			want := `invalid rate "` + c.arg + `"`
			if err == nil || err.Error() != want {
				t.Errorf("ParseRate(%q) = %+v, %v; want error %s", c.arg, got, err, want)
			}
			continue
		}
		if err != nil || got.PerMilliSec != c.perMilli || "rate="+got.Text != c.arg {
			t.Errorf("ParseRate(%q) = %+v, %v; want PerMilliSec %d", c.arg, got, err, c.perMilli)
		}
	}
	r, _ := ParseRate("rate=30r/m")
	if r.Requests != 30 || r.Period != time.Minute || r.String() != "30r/m" {
		t.Errorf("ParseRate(rate=30r/m) = %+v, String %q", r, r.String())
	}
	if _, err := ParseRate("Rate=5r/s"); err == nil {
		t.Error("ParseRate accepted a capitalised prefix")
	}
}

var cidrCases = []struct {
	in      string
	want    string // the stored prefix; "" when rejected
	lowBits bool
}{
	{"10.0.0.1", "10.0.0.1/32", false},
	{"10.0.0.0/8", "10.0.0.0/8", false},
	{"10.0.0.0/08", "10.0.0.0/8", false},
	{"10.0.0.1/8", "10.0.0.0/8", true},
	{"0.0.0.0/0", "0.0.0.0/0", false},
	{"1.2.3.4/0", "0.0.0.0/0", true},
	{"1..2.3", "1.0.2.3/32", false},
	{"::1/128", "::1/128", false},
	{"::1/64", "::/64", true},
	{"::/0", "::/0", false},
	{":1:2:3:4:5:6:7:8/128", "1:2:3:4:5:6:7:8/128", false},
	{"10.0.0.0/33", "", false},
	{"10.0.0.0/", "", false},
	{"10.0.0.0/+8", "", false},
	{"10.0.0.0/8/8", "", false},
	{"1::/129", "", false},
	{"[::1]", "", false},
	{"ALL", "", false},
	{"fe80::1%eth0", "", false},
	{"255.255.255.255", "", false},
	{"255.255.255.255/32", "", false},
}

func TestParseCIDR(t *testing.T) {
	for _, c := range cidrCases {
		got, low, err := ParseCIDR(c.in)
		if c.want == "" {
			if !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("ParseCIDR(%q) = %v, %v; want %v", c.in, got, err, ErrInvalidParameter)
			}
			continue
		}
		if err != nil || got != netip.MustParsePrefix(c.want) || low != c.lowBits {
			t.Errorf("ParseCIDR(%q) = %v, low %v, %v; want %s, low %v", c.in, got, low, err, c.want, c.lowBits)
		}
	}
}

var ipCases = []struct {
	in   string
	want string // "" when not a literal
}{
	{"127.0.0.1", "127.0.0.1"},
	{"01.2.3.4", "1.2.3.4"},
	{".1.2.3", "0.1.2.3"},
	{"1.2.3.", "1.2.3.0"},
	{"1.2.3", ""},
	{"1.2.3.4.", ""},
	{"256.1.1.1", ""},
	{"255.255.255.255", ""},
	{"::", "::"},
	{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
	{"::0255.1.1.1", "::255.1.1.1"},
	{"::1.2.3.4", "::1.2.3.4"},
	{"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
	{"1:2:3:4:5:6:7:1.2.3.4", ""},
	{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
	{":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
	{"1:2:3:4:5:6:7:8:9", ""},
	{"1:2:3:4:5:6:7::", ""},
	{"::1:2:3:4:5:6:7:8", ""},
	{"1::2::3", ""},
	{"12345::", ""},
	{"1::", "1::"},
	{"ABCD::ef", "abcd::ef"},
	{"1:", ""},
	{":", ""},
	{"", ""},
	{"::.1.2.3", ""},
	{"1.2.3.4::", ""},
	{"zz", ""},
}

func TestParseIP(t *testing.T) {
	for _, c := range ipCases {
		got, ok := ParseIP(c.in)
		if c.want == "" {
			if ok {
				t.Errorf("ParseIP(%q) = %v; want not an address", c.in, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(c.want) {
			t.Errorf("ParseIP(%q) = %v, %v; want %s", c.in, got, ok, c.want)
		}
	}
}

var (
	listen   = URLOptions{Listen: true, DefaultPort: 80}
	upstream = URLOptions{DefaultPort: 80}
	stream   = URLOptions{RequirePort: true}
)

var (
	any4 = netip.IPv4Unspecified()
	lo4  = netip.MustParseAddr("127.0.0.1")
	lo6  = netip.MustParseAddr("::1")
)

type urlCase struct {
	in   string
	opt  URLOptions
	want Addr  // when err is nil
	err  error // nil when accepted
}

var urlCases = []urlCase{
	// listen
	{"80", listen, Addr{IP: any4, Port: 80, HasPort: true, Wildcard: true}, nil},
	{"8000-8001", listen, Addr{IP: any4, Port: 8000, LastPort: 8001, HasPort: true, Wildcard: true}, nil},
	{"*:80", listen, Addr{Host: "*", IP: any4, Port: 80, HasPort: true, Wildcard: true}, nil},
	{"*", listen, Addr{Host: "*", IP: any4, Port: 80, Wildcard: true}, nil},
	{"127.0.0.1", listen, Addr{Host: "127.0.0.1", IP: lo4, Port: 80}, nil},
	{"127.0.0.1:8080", listen, Addr{Host: "127.0.0.1", IP: lo4, Port: 8080, HasPort: true}, nil},
	{"127.0.0.1:8000-8001", listen, Addr{Host: "127.0.0.1", IP: lo4, Port: 8000, LastPort: 8001, HasPort: true}, nil},
	{"0.0.0.0:81", listen, Addr{Host: "0.0.0.0", IP: any4, Port: 81, HasPort: true, Wildcard: true}, nil},
	{"[::1]:80", listen, Addr{Host: "::1", IP: lo6, Port: 80, HasPort: true, IPv6: true}, nil},
	{"[::1]:80-90", listen, Addr{Host: "::1", IP: lo6, Port: 80, LastPort: 90, HasPort: true, IPv6: true}, nil},
	{"[::]", listen, Addr{Host: "::", IP: netip.IPv6Unspecified(), Port: 80, Wildcard: true, IPv6: true}, nil},
	{"localhost:80", listen, Addr{Host: "localhost", Port: 80, HasPort: true}, nil},
	{"1..2.3:85", listen, Addr{Host: "1..2.3", IP: netip.MustParseAddr("1.0.2.3"), Port: 85, HasPort: true}, nil},
	{"255.255.255.255:80", listen, Addr{Host: "255.255.255.255", Port: 80, HasPort: true}, nil},
	{"unix:/tmp/x.sock", listen, Addr{Unix: true, Path: "/tmp/x.sock"}, nil},
	{"UNIX:/tmp/a", listen, Addr{Unix: true, Path: "/tmp/a"}, nil},
	{"unix:/tmp/a:b", listen, Addr{Unix: true, Path: "/tmp/a:b"}, nil},
	{"unix:/tmp/" + repeat('a', 102), listen, Addr{Unix: true, Path: "/tmp/" + repeat('a', 102)}, nil},
	// Not numeric on both sides of the dash: a host name for the resolver.
	{"80-x", listen, Addr{Host: "80-x", Port: 80}, nil},
	{"x-0", listen, Addr{Host: "x-0", Port: 80}, nil},
	{"unix:/tmp/" + repeat('a', 103), listen, Addr{}, ErrUnixPathTooLong},
	{"unix:", listen, Addr{}, ErrNoUnixPath},
	{"[::1", listen, Addr{}, ErrInvalidHost},
	{"[::1]x", listen, Addr{}, ErrInvalidHost},
	{"[::1]/x", listen, Addr{}, ErrInvalidHost},
	{"[zz]:80", listen, Addr{}, ErrInvalidIPv6},
	{"[1:2:3:4:5:6:7::]:98", listen, Addr{}, ErrInvalidIPv6},
	{"[]:80", listen, Addr{}, ErrNoHost},
	{"[]:0", listen, Addr{}, ErrInvalidPort},
	{"[::1]:", listen, Addr{}, ErrInvalidPort},
	{"[::1]:0", listen, Addr{}, ErrInvalidPort},
	{"[::1]:80?x", listen, Addr{}, ErrInvalidPort},
	{"[::1]:90-80", listen, Addr{}, ErrInvalidPortRange},
	{"0", listen, Addr{}, ErrInvalidPort},
	{"65536", listen, Addr{}, ErrInvalidPort},
	{"0-80", listen, Addr{}, ErrInvalidPort},
	{"80-0", listen, Addr{}, ErrInvalidPort},
	{"8002-8001", listen, Addr{}, ErrInvalidPortRange},
	{":80", listen, Addr{}, ErrNoHost},
	{"", listen, Addr{}, ErrNoHost},
	{"::1", listen, Addr{}, ErrInvalidPort},
	{"127.0.0.1:", listen, Addr{}, ErrInvalidPort},
	{"127.0.0.1:0", listen, Addr{}, ErrInvalidPort},
	{"127.0.0.1:65536", listen, Addr{}, ErrInvalidPort},
	{"127.0.0.1:x", listen, Addr{}, ErrInvalidPort},
	{"1.2.3.4:80-", listen, Addr{}, ErrInvalidPort},
	{"1.2.3.4:80:81", listen, Addr{}, ErrInvalidPort},
	{"*:0", listen, Addr{}, ErrInvalidPort},
	{"127.0.0.1/", listen, Addr{}, ErrInvalidHost},
	{"127.0.0.1:80/", listen, Addr{}, ErrInvalidHost},
	{"a?b", listen, Addr{}, ErrInvalidHost},
	// http upstream server: no bare ports, no ranges, no "*" wildcard.
	{"127.0.0.1", upstream, Addr{Host: "127.0.0.1", IP: lo4, Port: 80}, nil},
	{"[::1]", upstream, Addr{Host: "::1", IP: lo6, Port: 80, IPv6: true}, nil},
	{"80", upstream, Addr{Host: "80", Port: 80}, nil},
	{"*:80", upstream, Addr{Host: "*", Port: 80, HasPort: true}, nil},
	{"unix:/tmp/s.sock", upstream, Addr{Unix: true, Path: "/tmp/s.sock"}, nil},
	{"a/b:80", upstream, Addr{}, ErrInvalidHost},
	{"127.0.0.1:0", upstream, Addr{}, ErrInvalidPort},
	{"127.0.0.1:80-90", upstream, Addr{}, ErrInvalidPort},
	// stream upstream server and proxy_pass: a port is required.
	{"127.0.0.1:80", stream, Addr{Host: "127.0.0.1", IP: lo4, Port: 80, HasPort: true}, nil},
	{"unix:/tmp/s.sock", stream, Addr{Unix: true, Path: "/tmp/s.sock"}, nil},
	{"127.0.0.1", stream, Addr{}, ErrNoPort},
	{"[::1]", stream, Addr{}, ErrNoPort},
	{"u", stream, Addr{}, ErrNoPort},
	{"80", stream, Addr{}, ErrNoPort},
	{"a/b", stream, Addr{}, ErrInvalidHost},
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestParseURL(t *testing.T) {
	for _, c := range urlCases {
		got, err := ParseURL(c.in, c.opt)
		if c.err != nil {
			if err != c.err {
				t.Errorf("ParseURL(%q, %+v) = %+v, %v; want error %q", c.in, c.opt, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseURL(%q, %+v) =\n %+v, %v; want\n %+v", c.in, c.opt, got, err, c.want)
		}
		if back, err := ParseURL(got.String(), c.opt); err != nil || back != got {
			t.Errorf("ParseURL(%q) does not read back %+v: %+v, %v", got.String(), got, back, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	cases := []struct {
		n            int64
		size, offset string
	}{
		{0, "0", "0"},
		{1000, "1000", "1000"},
		{1024, "1k", "1k"},
		{1 << 20, "1m", "1m"},
		{3 << 30, "3072m", "3g"},
	}
	for _, c := range cases {
		if got := FormatSize(c.n); got != c.size {
			t.Errorf("FormatSize(%d) = %q; want %q", c.n, got, c.size)
		}
		if got := FormatOffset(c.n); got != c.offset {
			t.Errorf("FormatOffset(%d) = %q; want %q", c.n, got, c.offset)
		}
	}
}
