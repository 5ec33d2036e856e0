package httpd

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/sockets"
)

// Listening sockets as nginx opens them: on a port where some server
// listens on the wildcard address, only the wildcard is bound (plus the
// addresses whose listen has "bind" or a socket option), and a connection
// finds its server configuration by the local address it arrived on; on
// other ports each address is bound. IPv4 and IPv6 are separate ports, and
// an IPv6 socket is IPv6-only unless "ipv6only=off".

type listener struct {
	network  string // tcp4, tcp6, unix
	address  string // for net.Listen
	text     string // as nginx prints it: "127.0.0.1:80", "[::]:80", "unix:/path"
	conf     *addrConf
	specific map[netip.Addr]*addrConf // addresses this wildcard socket serves
	ipv6only int
}

// confFor returns the address configuration of a connection that arrived
// on local.
func (l *listener) confFor(local net.Addr) *addrConf {
	if len(l.specific) == 0 {
		return l.conf
	}
	if ta, ok := local.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			if a := l.specific[ip.Unmap()]; a != nil {
				return a
			}
			if a := l.specific[ip]; a != nil {
				return a
			}
		}
	}
	return l.conf
}

// buildAddrs files the servers under their addresses and plans the
// sockets.
func (s *Server) buildAddrs() error {
	byText := map[string]*addrConf{}
	var order []*addrConf
	for _, v := range s.servers {
		for _, ln := range v.conf.Listen {
			if err := unsupportedListen(ln); err != nil {
				return err
			}
			for _, text := range ln.Addrs {
				a := byText[text]
				if a == nil {
					var err error
					if a, err = newAddrConf(text); err != nil {
						return err
					}
					byText[text] = a
					order = append(order, a)
				}
				a.addServer(v)
				if ln.DefaultServer && a.defaultSrv == nil {
					a.defaultSrv = v
				}
				a.ssl = a.ssl || ln.SSL
				a.http2 = a.http2 || ln.HTTP2
				a.bind = a.bind || ln.Bind
				if ln.IPv6Only != 0 {
					a.ipv6only = ln.IPv6Only
				}
			}
		}
	}
	for _, a := range order {
		if err := a.buildNames(); err != nil {
			return err
		}
		if a.http2 {
			s.log.Warn().Str("listen", a.text).Msg("http2 is not supported: the address serves HTTP/1.x")
		}
	}
	s.addrs = order
	s.planSockets(order)
	return nil
}

// unsupportedListen refuses listen parameters this core cannot honour
// rather than serving something else than the configuration says.
func unsupportedListen(ln *directives.Listen) error {
	where := ""
	if ln.D != nil {
		where = fmt.Sprintf(" in %s:%d", ln.D.File(), ln.D.Line)
	}
	switch {
	case ln.ProxyProtocol:
		return fmt.Errorf(`the "proxy_protocol" parameter of "listen" is not supported%s`, where)
	case ln.QUIC:
		return fmt.Errorf(`the "quic" parameter of "listen" is not supported%s`, where)
	case ln.Addr.LastPort != 0:
		return fmt.Errorf(`port ranges in "listen" are not supported%s`, where)
	}
	return nil
}

func newAddrConf(text string) (*addrConf, error) {
	a := &addrConf{text: text, port: portKey(text)}
	if path, ok := strings.CutPrefix(text, "unix:"); ok {
		a.unix = path
		return a, nil
	}
	ap, err := netip.ParseAddrPort(text)
	if err != nil {
		return nil, fmt.Errorf("invalid listen address %q: %v", text, err)
	}
	a.ip = ap.Addr()
	a.wildcard = a.ip.IsUnspecified()
	return a, nil
}

// planSockets decides which addresses get a socket.
func (s *Server) planSockets(order []*addrConf) {
	byPort := map[string][]*addrConf{}
	var ports []string
	for _, a := range order {
		if _, ok := byPort[a.port]; !ok {
			ports = append(ports, a.port)
		}
		byPort[a.port] = append(byPort[a.port], a)
	}
	for _, p := range ports {
		as := byPort[p]
		var wild *addrConf
		for _, a := range as {
			if a.wildcard {
				wild = a
			}
		}
		var wl *listener
		if wild != nil {
			wl = newListener(wild)
			wl.specific = map[netip.Addr]*addrConf{}
		}
		// Bound addresses first, the wildcard last, as nginx sorts them.
		sorted := append([]*addrConf(nil), as...)
		sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
		for _, a := range sorted {
			switch {
			case a == wild:
				s.listeners = append(s.listeners, wl)
			case wild == nil || a.bind:
				s.listeners = append(s.listeners, newListener(a))
			default:
				wl.specific[a.ip] = a
			}
		}
	}
}

func rank(a *addrConf) int {
	switch {
	case a.wildcard:
		return 2
	case a.bind:
		return 0
	}
	return 1
}

func newListener(a *addrConf) *listener {
	l := &listener{text: a.text, conf: a, ipv6only: a.ipv6only}
	switch {
	case a.unix != "":
		l.network, l.address = "unix", a.unix
	case a.ip.Is4():
		l.network, l.address = "tcp4", a.text
	default:
		l.network, l.address = "tcp6", a.text
	}
	return l
}

// spec is what sockets.ListenAll needs to open the socket.
func (l *listener) spec() sockets.Spec {
	return sockets.Spec{Network: l.network, Address: l.address, Text: l.text, DualStack: l.ipv6only == 2}
}
