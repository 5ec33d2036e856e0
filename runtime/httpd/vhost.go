package httpd

import (
	"crypto/tls"
	"net/netip"
	"strings"

	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// Virtual servers as ngx_http_optimize_servers files them: each socket
// address ("127.0.0.1:80", "[::]:80", "unix:/path") has the servers that
// listen on it, a default server (the one marked default_server, else the
// first), and, when more than one server shares it, the names that pick a
// server by the Host header.

type addrConf struct {
	text       string
	port       string // family and port: "4:80", "6:80", "unix"
	ip         netip.Addr
	wildcard   bool
	bind       bool // a listen of it has bind or an option that needs its own socket
	unix       string
	backlog    int
	ipv6only   int
	defaultSrv *vserver
	servers    []*vserver
	ssl        bool
	http2      bool

	virtual bool // names decide the server
	names   script.Hostnames[*vserver]
	regex   []nameRegex
	tls     *tls.Config
}

type nameRegex struct {
	re  *script.Regex
	srv *vserver
}

// addServer files a server under the address once.
func (a *addrConf) addServer(v *vserver) {
	for _, s := range a.servers {
		if s == v {
			return
		}
	}
	a.servers = append(a.servers, v)
}

// buildNames fills the name tables of an address shared by several
// servers, or of a lone server with a regex name (whose captures nginx
// still sets).
func (a *addrConf) buildNames() error {
	if a.defaultSrv == nil {
		a.defaultSrv = a.servers[0]
	}
	hasRegex := false
	for _, n := range a.defaultSrv.conf.Names {
		hasRegex = hasRegex || n.Regex
	}
	if len(a.servers) < 2 && !hasRegex {
		return nil
	}
	a.virtual = true
	for _, v := range a.servers {
		for _, n := range v.conf.Names {
			if !n.Regex {
				a.names.Add(n.Name, v, true)
				continue
			}
			re, err := script.NewRegex(n.Name, false)
			if err != nil {
				return err
			}
			a.regex = append(a.regex, nameRegex{re: re, srv: v})
		}
	}
	return nil
}

// findServer is ngx_http_find_virtual_server: the exact and wildcard names,
// then the regexes in order (not for an empty host); nil when nothing
// matches. A regex match becomes the request's captures when r is set.
func (a *addrConf) findServer(host string, r *request) *vserver {
	if !a.virtual {
		return nil
	}
	if v, ok := a.names.Find(host); ok {
		return v
	}
	if host == "" {
		return nil
	}
	for _, n := range a.regex {
		if r == nil {
			if n.re.MatchString(host) {
				return n.srv
			}
			continue
		}
		if r.match(n.re, host) {
			return n.srv
		}
	}
	return nil
}

// serverFor picks the server of a request by its host.
func (a *addrConf) serverFor(host string, r *request) *vserver {
	if v := a.findServer(host, r); v != nil {
		return v
	}
	return a.defaultSrv
}

// portKey is the family and port of a socket address text.
func portKey(text string) string {
	if strings.HasPrefix(text, "unix:") {
		return "unix:" + text
	}
	i := strings.LastIndexByte(text, ':')
	if strings.HasPrefix(text, "[") {
		return "6" + text[i:]
	}
	return "4" + text[i:]
}
