package upstream

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/zonesync/zonesync/directives"
)

// implicitAddrs are the addresses of an upstream a proxy_pass names
// directly: those the configuration gave, or its name resolved now.
func implicitAddrs(u *directives.Upstream) []string {
	var out []string
	for _, s := range u.Servers {
		out = append(out, s.Addrs...)
	}
	if len(out) > 0 {
		return out
	}
	return resolveImplicit(u)
}

// resolveImplicit resolves the name of an upstream a proxy_pass names.
func resolveImplicit(u *directives.Upstream) []string {
	if strings.HasPrefix(u.Name, "unix:") {
		return []string{u.Name}
	}
	host := strings.TrimSuffix(strings.TrimPrefix(u.Name, "["), "]")
	port := u.Port
	if port == 0 {
		port = 80
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{netip.AddrPortFrom(ip, uint16(port)).String()}
	}
	ips, err := net.LookupHost(host)
	if err != nil {
		return nil
	}
	var out []string
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip, strconv.Itoa(port)))
	}
	return out
}
