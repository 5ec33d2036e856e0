package directives

import (
	"github.com/zonesync/zonesync/grammar"
)

// The block directives whose contents are directives, and the level each
// opens. Blocks whose contents are data (types, map, geo, ...) have a
// handler instead; see the family files.
func init() {
	Register("events", Main, Def{Opens: Events, Doc: "Holds the connection processing settings."})
	Register("http", Main, Def{Opens: HTTP, Doc: "Holds the HTTP server settings."})
	Register("stream", Main, Def{Opens: Stream, Doc: "Holds the TCP/UDP (stream) server settings."})
	Register("mail", Main, Def{Opens: Mail, Doc: "Holds the mail proxy settings."})
	Register("mgmt", Main, Def{Opens: Mgmt, Doc: "NGINX Plus usage reporting settings."})
	Register("server", HTTP, Def{Opens: HTTPServer, Multi: true, Doc: "Defines a virtual server."})
	Register("server", Stream, Def{Opens: StreamServer, Multi: true, Doc: "Defines a stream server."})
	Register("server", Mail, Def{Opens: MailServer, Multi: true, Doc: "Defines a mail server."})
	Register("location", HTTPServer, Def{Opens: HTTPLocation, Multi: true, Doc: "Sets configuration for requests whose URI matches."})
	Register("if", HTTPServer, Def{Multi: true, Doc: "Applies the enclosed directives when the condition holds."})
	Register("upstream", HTTP, Def{Opens: HTTPUpstream, Multi: true, Doc: "Defines a group of servers to proxy to."})
	Register("upstream", Stream, Def{Opens: StreamUpstream, Multi: true, Doc: "Defines a group of stream servers to proxy to."})
	Register("limit_except", HTTPLocation, Def{Opens: HTTPLimitExcept, Doc: "Limits the allowed HTTP methods inside a location."})
	Register("oidc_provider", HTTP, Def{Opens: HTTPOIDCProvider, Multi: true, Doc: "Defines an OpenID Connect provider."})
	for _, name := range []string{"charset_map", "match", "num_map", "otel_exporter"} {
		for _, s := range table[name] {
			s.Custom, s.Multi, s.typed = acceptAny, true, true
		}
	}
}

// statementArgs returns all words of a statement in a data block: in such
// blocks the first word is data too, not a directive name.
func statementArgs(d *grammar.Directive) []string {
	return append([]string{d.Name}, d.Args...)
}
