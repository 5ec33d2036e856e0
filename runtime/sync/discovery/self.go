package discovery

import (
	"net"
	"net/netip"
	"strings"

	"github.com/zonesync/zonesync/directives/value"
)

// IsSelf reports whether a member address ("ip:port", "[v6]:port" or
// "unix:/path") is this node: one of its listen addresses (as listen
// writes them, or as StreamListen.Text gives them). A wildcard listen
// ("*:port", a bare port, 0.0.0.0:port, [::]:port) stands for every
// address of the machine's interfaces, and every loopback address, on
// that port.
func IsSelf(addr string, listen []string) bool {
	return IsSelfWith(addr, listen, InterfaceAddrs())
}

// IsSelfWith is IsSelf with the machine's addresses given.
func IsSelfWith(addr string, listen []string, local []netip.Addr) bool {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		for _, l := range listen {
			if p, ok := strings.CutPrefix(l, "unix:"); ok && p == path {
				return true
			}
		}
		return false
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, l := range listen {
		a, err := value.ParseURL(l, value.URLOptions{Listen: true})
		if err != nil || a.Unix || !a.IP.IsValid() {
			continue
		}
		last := a.LastPort
		if last == 0 {
			last = a.Port
		}
		if int(ap.Port()) < a.Port || int(ap.Port()) > last {
			continue
		}
		lip := a.IP.Unmap()
		if !lip.IsUnspecified() {
			if lip == ip {
				return true
			}
			continue
		}
		// A wildcard takes its own family ([::] is ipv6only by default,
		// as in nginx).
		if lip.Is4() != ip.Is4() {
			continue
		}
		if ip.IsLoopback() {
			return true
		}
		for _, x := range local {
			if x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// InterfaceAddrs returns the addresses of the machine's interfaces (none
// when they cannot be read).
func InterfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if x, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, x.Unmap())
		}
	}
	return out
}
