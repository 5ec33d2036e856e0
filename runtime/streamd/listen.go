package streamd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/sockets"
)

// Stream sockets as ngx_stream_optimize_servers opens them: on a port
// where a server listens on the wildcard address, only the wildcard is
// bound (with the addresses whose listen has "bind" or a socket option)
// and a connection finds its server by the local address; elsewhere each
// address is bound. IPv6 sockets are IPv6-only unless "ipv6only=off".

type listener struct {
	network  string
	address  string
	text     string
	srv      *server
	specific map[netip.Addr]*server
	ipv6only bool
}

// serverFor returns the server of a connection that arrived on local.
func (l *listener) serverFor(local net.Addr) *server {
	if ta, ok := local.(*net.TCPAddr); ok && len(l.specific) > 0 {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			if srv := l.specific[ip.Unmap()]; srv != nil {
				return srv
			}
		}
	}
	return l.srv
}

type streamAddr struct {
	text     string
	port     string
	ip       netip.Addr
	unix     string
	wildcard bool
	bind     bool
	ipv6only bool
	srv      *server
}

// planSockets decides which addresses get a socket.
func (s *Server) planSockets() error {
	var order []*streamAddr
	byPort := map[string][]*streamAddr{}
	var ports []string
	for _, srv := range s.servers {
		for _, ln := range srv.listens {
			for i, text := range ln.Text {
				a := &streamAddr{text: text, srv: srv, bind: ln.Bind, ipv6only: ln.IPv6Only}
				if ln.Addr.Unix {
					a.unix, a.port = ln.Addr.Path, "unix:"+ln.Addr.Path
				} else {
					ap := ln.Addrs[i]
					a.ip, a.wildcard = ap.Addr(), ap.Addr().IsUnspecified()
					fam := "4"
					if !a.ip.Is4() {
						fam = "6"
					}
					a.port = fmt.Sprintf("%s:%d", fam, ap.Port())
				}
				order = append(order, a)
				if _, ok := byPort[a.port]; !ok {
					ports = append(ports, a.port)
				}
				byPort[a.port] = append(byPort[a.port], a)
			}
		}
	}
	for _, p := range ports {
		as := byPort[p]
		var wl *listener
		for _, a := range as {
			if a.wildcard {
				wl = newListener(a)
				wl.specific = map[netip.Addr]*server{}
			}
		}
		sorted := append([]*streamAddr(nil), as...)
		rank := func(a *streamAddr) int {
			switch {
			case a.wildcard:
				return 2
			case a.bind:
				return 0
			}
			return 1
		}
		sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
		for _, a := range sorted {
			switch {
			case a.wildcard:
				s.listeners = append(s.listeners, wl)
			case wl == nil || a.bind:
				s.listeners = append(s.listeners, newListener(a))
			default:
				wl.specific[a.ip] = a.srv
			}
		}
	}
	return nil
}

func newListener(a *streamAddr) *listener {
	l := &listener{text: a.text, srv: a.srv, ipv6only: a.ipv6only}
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
	return sockets.Spec{Network: l.network, Address: l.address, Text: l.text, DualStack: !l.ipv6only}
}

// serverTLS builds the TLS of a server with "listen ... ssl".
func serverTLS(cfg *directives.Config, l *directives.Level) (*tls.Config, time.Duration, error) {
	ss := directives.ServerSSLOf(cfg.Loader, l)
	c := &tls.Config{SessionTicketsDisabled: !ss.SessionTickets, CipherSuites: ss.CipherSuites}
	for i, cf := range ss.Certificates {
		if i >= len(ss.CertificateKeys) || strings.Contains(cf.Name, "$") {
			return nil, 0, fmt.Errorf(`certificate "%s" cannot be loaded by the stream core`, cf.Name)
		}
		kf := ss.CertificateKeys[i]
		cert, err := readSSLFile(cf)
		if err != nil {
			return nil, 0, fmt.Errorf(`cannot load certificate "%s": %v`, cf.Path, err)
		}
		key, err := readSSLFile(kf)
		if err != nil {
			return nil, 0, fmt.Errorf(`cannot load certificate key "%s": %v`, kf.Path, err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, 0, fmt.Errorf(`cannot load certificate "%s": %v`, cf.Path, err)
		}
		c.Certificates = append(c.Certificates, pair)
	}
	versions := map[string]uint16{"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}
	for _, p := range ss.Protocols {
		if v, ok := versions[p]; ok {
			if c.MinVersion == 0 || v < c.MinVersion {
				c.MinVersion = v
			}
			c.MaxVersion = max(c.MaxVersion, v)
		}
	}
	switch ss.VerifyClient {
	case "on":
		c.ClientAuth = tls.RequireAndVerifyClientCert
	case "optional":
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case "optional_no_ca":
		c.ClientAuth = tls.RequestClientCert
	}
	if c.ClientAuth != tls.NoClientCert {
		pool := x509.NewCertPool()
		for _, f := range []directives.SSLFile{ss.ClientCertificate, ss.TrustedCertificate} {
			if f.Name == "" {
				continue
			}
			b, err := readSSLFile(f)
			if err != nil {
				return nil, 0, fmt.Errorf(`cannot load CA file "%s": %v`, f.Path, err)
			}
			pool.AppendCertsFromPEM(b)
		}
		c.ClientCAs = pool
	}
	wait := ss.HandshakeTimeout
	if wait == 0 {
		wait = 60 * time.Second
	}
	return c, wait, nil
}

func readSSLFile(f directives.SSLFile) ([]byte, error) {
	if rest, ok := strings.CutPrefix(f.Name, "data:"); ok {
		return []byte(rest), nil
	}
	return os.ReadFile(f.Path)
}
