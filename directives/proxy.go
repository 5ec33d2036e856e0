package directives

import (
	"strings"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The http proxy module: proxy_pass and the settings zonesync reads.

func init() {
	registerHTTP("proxy_pass", Def{Set: setProxyPass, Doc: "Passes requests to a server or an upstream group."})
}

// ProxyPass is proxy_pass.
type ProxyPass struct {
	URL      string // as written
	Scheme   string // http or https; "" when the URL has variables
	Host     string // host[:port] as written
	URI      string
	Upstream *Upstream // nil when the URL has variables
}

// setProxyPass is ngx_http_proxy_pass.
func setProxyPass(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	url := d.Args[0]
	p := ProxyPass{URL: url}
	if strings.Contains(url, "$") {
		return p, checkScript(d, url)
	}
	rest, port := "", 0
	switch {
	case len(url) >= 7 && strings.EqualFold(url[:7], "http://"):
		p.Scheme, rest, port = "http", url[7:], 80
	case len(url) >= 8 && strings.EqualFold(url[:8], "https://"):
		p.Scheme, rest, port = "https", url[8:], 443
	default:
		return nil, d.Errorf("invalid URL prefix")
	}
	hostport := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostport, p.URI = rest[:i], rest[i:]
	}
	a, err := value.ParseURL(hostport, value.URLOptions{DefaultPort: port})
	if err != nil {
		return nil, d.Errorf(`%s in upstream "%s"`, err, rest)
	}
	p.Host = hostport
	name := a.Host
	if a.Unix {
		name = "unix:" + a.Path
	}
	u, err := addUpstream(ld, &Upstream{Name: name, D: d, Implicit: true, Port: a.Port, NoPort: !a.HasPort})
	if err != nil {
		return nil, err
	}
	p.Upstream = u
	if p.URI != "" && noURIAllowed(l) {
		return nil, d.Errorf(`"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block`)
	}
	return p, nil
}

// noURIAllowed reports a level where proxy_pass may not have a URI part.
func noURIAllowed(l *Level) bool {
	if l.Ctx == HTTPLocationIf || l.Ctx == HTTPLimitExcept {
		return true
	}
	loc, ok := l.Ext.(*Location)
	return ok && (loc.Regex || loc.Named)
}
