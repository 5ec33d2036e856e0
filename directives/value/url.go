package value

import (
	"net/netip"
	"strconv"
	"strings"
)

// Addr is an address as written in listen, upstream server, proxy_pass and
// similar directives, read without resolving any name.
type Addr struct {
	Unix bool   // a unix:PATH socket
	Path string // the socket path, for Unix

	// Host is the host as written: a name, an IPv4 literal, an IPv6
	// literal without its brackets, "*" for listen's wildcard, or "" for a
	// listen address given as a bare port.
	Host string
	// IP is the address when Host is a literal nginx reads without
	// resolving (and 0.0.0.0 for "*" and a bare port). It is the zero
	// Addr when Host is a name the caller still has to resolve.
	IP netip.Addr
	// Port is the port written, or URLOptions.DefaultPort when none was;
	// HasPort tells the two apart. LastPort is the end of a listen port
	// range ("8000-8010"), 0 when there is no range.
	Port     int
	LastPort int
	HasPort  bool
	// Wildcard is set for "*", a bare port, 0.0.0.0 and [::].
	Wildcard bool
	IPv6     bool // written in brackets
}

// URLOptions selects how ParseURL reads an address.
type URLOptions struct {
	// Listen reads a listen address: a bare port ("8080") and "*" are
	// allowed, and so are port ranges ("8000-8010").
	Listen bool
	// DefaultPort is the port an address without one gets (80 for http's
	// listen and upstream servers; 0, which means none, for stream).
	DefaultPort int
	// RequirePort refuses an IP address or name written without a port
	// with ErrNoPort, as stream upstream servers and proxy_pass do. Unix
	// sockets need no port.
	RequirePort bool
}

// unixPathMax is the size of sun_path on Linux, terminating NUL included.
const unixPathMax = 108

// ParseURL reads an address the way nginx's URL parser does for addresses
// that take no URI part: "unix:/path" (prefix in any case), "[v6]:port",
// "host:port", "host", and with Listen also "port", "*:port" and port ranges.
// Host names are not resolved and not checked: nginx hands them to the
// resolver, which says "host not found" for bad ones. Where nginx resolves
// (listen, upstream server) that happens before its no-port check, so a
// caller mirroring a stream upstream server resolves a name before acting
// on ErrNoPort; proxy_pass resolves nothing and reports the missing port.
// Names come back with a zero IP, and so does 255.255.255.255, which
// nginx's own address reader refuses and leaves to the resolver.
//
// Failures return one of the Err* address values (ErrInvalidHost,
// ErrInvalidPort, ErrInvalidPortRange, ErrNoHost, ErrInvalidIPv6,
// ErrNoUnixPath, ErrUnixPathTooLong, ErrNoPort). nginx's listen prints
// `TEXT in "ARG" of the "listen" directive`; upstream server and proxy_pass
// print `TEXT in upstream "ARG"`, and for ErrNoPort `no port in upstream
// "ARG"`.
func ParseURL(s string, o URLOptions) (Addr, error) {
	var a Addr
	var err error
	switch {
	case len(s) >= 5 && asciiEqualFold(s[:5], "unix:"):
		return parseUnix(s[5:])
	case strings.HasPrefix(s, "["):
		a, err = parseBracketed(s[1:], o)
	default:
		a, err = parsePlain(s, o)
	}
	if err == nil && o.RequirePort && !a.HasPort {
		return Addr{}, ErrNoPort
	}
	return a, err
}

func parseUnix(path string) (Addr, error) {
	switch {
	case path == "":
		return Addr{}, ErrNoUnixPath
	case len(path)+1 > unixPathMax:
		return Addr{}, ErrUnixPathTooLong
	}
	return Addr{Unix: true, Path: path}, nil
}

// parseBracketed reads "[v6]" or "[v6]:port" with the leading "[" removed.
func parseBracketed(s string, o URLOptions) (Addr, error) {
	host, after, ok := strings.Cut(s, "]")
	if !ok || strings.Contains(after, "/") {
		return Addr{}, ErrInvalidHost
	}
	a := Addr{IPv6: true, Port: o.DefaultPort}
	if after != "" {
		spec, ok := strings.CutPrefix(after, ":")
		if !ok {
			return Addr{}, ErrInvalidHost
		}
		if err := a.setPort(spec, o.Listen); err != nil {
			return Addr{}, err
		}
	}
	if host == "" {
		return Addr{}, ErrNoHost
	}
	ip, ok := inet6(host)
	if !ok {
		return Addr{}, ErrInvalidIPv6
	}
	a.Host, a.IP, a.Wildcard = host, ip, ip.IsUnspecified()
	return a, nil
}

// parsePlain reads "host", "host:port" and, for listen, a bare port.
func parsePlain(s string, o URLOptions) (Addr, error) {
	if strings.ContainsAny(s, "/?") {
		return Addr{}, ErrInvalidHost
	}
	host, spec, hasColon := strings.Cut(s, ":")
	a := Addr{Port: o.DefaultPort}
	if hasColon {
		if err := a.setPort(spec, o.Listen); err != nil {
			return Addr{}, err
		}
	} else if o.Listen {
		if p, ok, err := barePort(s); ok || err != nil {
			return p, err
		}
	}
	if host == "" {
		return Addr{}, ErrNoHost
	}
	a.Host = host
	if o.Listen && host == "*" {
		a.IP, a.Wildcard = netip.IPv4Unspecified(), true
		return a, nil
	}
	if ip, ok := inet4(host); ok {
		a.IP, a.Wildcard = ip, ip.IsUnspecified()
	}
	return a, nil
}

// setPort reads the text after the colon: a port from 1 to 65535, or for
// listen a range "FIRST-LAST" with FIRST <= LAST.
func (a *Addr) setPort(spec string, listen bool) error {
	last := 0
	if first, end, ok := strings.Cut(spec, "-"); listen && ok {
		n, ok := atoi(end)
		if !ok || !validPort(n) {
			return ErrInvalidPort
		}
		spec, last = first, int(n)
	}
	n, ok := atoi(spec)
	switch {
	case !ok || !validPort(n):
		return ErrInvalidPort
	case last != 0 && int(n) > last:
		return ErrInvalidPortRange
	}
	a.Port, a.LastPort, a.HasPort = int(n), last, true
	return nil
}

// barePort tries a listen address that is only a port or port range. ok is
// false, with no error, when s is not numeric and so must be a host name;
// nginx decides that from the text before the first "-" and, when there is
// a dash, the text after it.
func barePort(s string) (a Addr, ok bool, err error) {
	first, end, hasDash := strings.Cut(s, "-")
	last := int64(0)
	if hasDash {
		if last, ok = atoi(end); !ok {
			return Addr{}, false, nil
		}
		if !validPort(last) {
			err = ErrInvalidPort
		}
	}
	n, ok := atoi(first)
	switch {
	case !ok:
		return Addr{}, false, nil
	case err != nil:
		return Addr{}, true, err
	case !validPort(n):
		return Addr{}, true, ErrInvalidPort
	case last != 0 && n > last:
		return Addr{}, true, ErrInvalidPortRange
	}
	a = Addr{IP: netip.IPv4Unspecified(), Port: int(n), LastPort: int(last), HasPort: true, Wildcard: true}
	return a, true, nil
}

func validPort(n int64) bool { return n >= 1 && n <= 65535 }

// String writes the address in a form ParseURL reads back, with the same
// options, to the same Addr: "unix:/run/a.sock", "[::1]:80",
// "10.0.0.1:8000-8010", "8080" for a bare listen port.
func (a Addr) String() string {
	if a.Unix {
		return "unix:" + a.Path
	}
	host := a.Host
	if a.IPv6 {
		host = "[" + host + "]"
	}
	if !a.HasPort {
		return host
	}
	port := strconv.Itoa(a.Port)
	if a.LastPort != 0 {
		port += "-" + strconv.Itoa(a.LastPort)
	}
	if host == "" {
		return port
	}
	return host + ":" + port
}
