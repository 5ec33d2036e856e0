package httpd

import (
	"strings"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// The request phases nginx runs, in its order: server rewrite, find
// config (the location, and the client_max_body_size check), rewrite
// (which may send the request back to find config), preaccess
// (limit_req), access, content. A phase ends the request with a status
// (ngx_http_finalize_request), which error_page may turn into an internal
// redirect, a named location or a redirect.

type stage int

const (
	stageServerRewrite stage = iota
	stageFindConfig
	stageRewrite
	stagePreaccess
	stageAccess
	stagePrecontent
	stageContent
	stageDone
)

// outcome is how the phases ended: a response to send, or a status for
// nginx's special response (444 closes the connection).
type outcome struct {
	status int
	resp   *response
}

// process runs the phases.
func (r *request) process() outcome {
	r.changes = maxURIChanges + 1
	st, out := stageServerRewrite, outcome{}
	for st != stageDone {
		st, out = r.step(st)
	}
	return out
}

func (r *request) step(st stage) (stage, outcome) {
	switch st {
	case stageServerRewrite:
		r.conf = r.srv.own
		if f, out := r.exec(r.srv.own.rewrite); f == flowDone {
			return r.finalize(out)
		}
		return stageFindConfig, outcome{}
	case stageFindConfig:
		r.conf = r.srv.own
		r.findLocation(&r.srv.tree)
		if r.conf.internal && !r.internal {
			return r.finalize(outcome{status: 404})
		}
		r.updateKeepalive()
		if limit := r.conf.st.ClientMaxBodySize; limit > 0 && r.contentLength > limit {
			r.logError().Int64("length", r.contentLength).
				Msgf("client intended to send too large body: %d bytes", r.contentLength)
			return r.finalize(outcome{status: 413})
		}
		return stageRewrite, outcome{}
	case stageRewrite:
		if r.conf == r.srv.own {
			// nginx skips the location rewrite phase when no location
			// matched: the server's statements ran already.
			return stagePreaccess, outcome{}
		}
		r.uriChanged = false
		f, out := r.exec(r.conf.rewrite)
		switch f {
		case flowDone:
			return r.finalize(out)
		case flowBreak:
			r.uriChanged = false
		}
		if r.uriChanged {
			r.changes--
			if r.changes == 0 {
				r.logError().Msg("rewrite or internal redirection cycle while processing \"" + r.uri + "\"")
				return stageDone, outcome{resp: r.specialResponse(500)}
			}
			return stageFindConfig, outcome{}
		}
		return stagePreaccess, outcome{}
	case stagePreaccess:
		if code := r.limitRequests(); code != 0 {
			return r.finalize(outcome{status: code})
		}
		return stageAccess, outcome{}
	case stageAccess:
		if !r.accessAllowed() {
			r.logError().Msg("access forbidden by rule")
			return r.finalize(outcome{status: 403})
		}
		return stagePrecontent, outcome{}
	case stagePrecontent:
		return r.tryFiles()
	case stageContent:
		return r.contentPhase()
	}
	return stageDone, outcome{}
}

// finalize is ngx_http_finalize_request for a status: error_page first
// (once, unless recursive_error_pages), else nginx's special response.
func (r *request) finalize(out outcome) (stage, outcome) {
	if out.resp != nil || out.status == statusClose {
		return stageDone, out
	}
	code := out.status
	switch code {
	case 400, 413, 414, 494, 495, 496, 497, 500:
		// ngx_http_special_response_handler drops keep-alive for these
		// before it looks at error_page.
		r.keepalive = false
	}
	if !r.errorPage && len(r.conf.errorPages) > 0 && r.changes != 0 {
		if !r.conf.recursiveErrorPages {
			r.errorPage = true
		}
		for _, ep := range r.conf.errorPages {
			for _, c := range ep.Codes {
				if c == code {
					return r.errorPageRedirect(ep, code)
				}
			}
		}
	}
	return stageDone, outcome{resp: r.specialResponse(code)}
}

// errorPageRedirect is ngx_http_send_error_page.
func (r *request) errorPageRedirect(ep directives.ErrorPage, code int) (stage, outcome) {
	overwrite := ep.Overwrite
	if overwrite < 0 {
		overwrite = code
		if code >= 494 && code <= 497 {
			overwrite = 400
		}
	}
	r.errStatus = overwrite
	uri := script.Compile(ep.URI).Eval(r)
	switch {
	case strings.HasPrefix(uri, "/"):
		u, args, _ := strings.Cut(uri, "?")
		if r.method != "HEAD" {
			r.method = "GET"
		}
		return r.internalRedirect(u, args)
	case strings.HasPrefix(uri, "@"):
		return r.namedLocation(uri)
	}
	if !isRedirect(overwrite) {
		r.errStatus = 302
	}
	r.location = uri
	return stageDone, outcome{resp: r.specialResponse(r.errStatus)}
}

// internalRedirect is ngx_http_internal_redirect: the request starts over
// at the server rewrite phase with a new URI.
func (r *request) internalRedirect(uri, args string) (stage, outcome) {
	r.changes--
	if r.changes == 0 {
		r.logError().Msg("rewrite or internal redirection cycle while internally redirecting to \"" + uri + "\"")
		return stageDone, outcome{resp: r.specialResponse(500)}
	}
	r.setURI(uri)
	r.args = args
	r.internal = true
	r.location = ""
	return stageServerRewrite, outcome{}
}

// namedLocation is ngx_http_named_location: the request goes on at the
// rewrite phase of the named location.
func (r *request) namedLocation(name string) (stage, outcome) {
	c := r.srv.named[name]
	if c == nil {
		r.logError().Msg("could not find named location \"" + name + "\"")
		return stageDone, outcome{resp: r.specialResponse(500)}
	}
	r.changes--
	if r.changes == 0 {
		r.logError().Msg("rewrite or internal redirection cycle while redirect to named location \"" + name + "\"")
		return stageDone, outcome{resp: r.specialResponse(500)}
	}
	r.conf = c
	r.internal = true
	r.location = ""
	return stageRewrite, outcome{}
}

// updateKeepalive is the keep-alive part of
// ngx_http_update_location_config.
func (r *request) updateKeepalive() {
	if !r.keepalive {
		return
	}
	switch {
	case r.conf.st.KeepaliveTimeout.Timeout == 0,
		r.c.requests >= r.conf.keepaliveRequests,
		r.c.s.now().Sub(r.c.start) > r.conf.keepaliveTime:
		r.keepalive = false
	}
}

// accessAllowed is the access module: the first allow or deny rule that
// matches the client decides.
func (r *request) accessAllowed() bool {
	for _, rule := range r.conf.st.Access {
		if r.c.matches(rule) {
			return !rule.Deny
		}
	}
	return true
}

// contentPhase runs the content handler: the API, else the index and
// static modules.
func (r *request) contentPhase() (stage, outcome) {
	if r.conf.api != nil {
		return r.finalize(r.serveAPI())
	}
	if r.conf.proxy != nil {
		return r.finalize(r.serveProxy())
	}
	if !staticMethods[r.method] {
		return r.finalize(outcome{status: 405})
	}
	if strings.HasSuffix(r.uri, "/") {
		return r.serveIndex()
	}
	return r.finalize(r.serveFile())
}

// logError starts an error-level entry about the request, with nginx's
// context fields.
func (r *request) logError() *zerolog.Event {
	return r.logAt(r.c.s.log.Error())
}

func (r *request) logAt(e *zerolog.Event) *zerolog.Event {
	e = e.Uint64("connection", r.c.number).Str("client", r.c.remoteAddr())
	if r.srv != nil {
		e = e.Str("server", r.srv.name)
	}
	e = e.Str("request", r.line)
	if r.hasHost || r.host != "" {
		e = e.Str("host", r.host)
	}
	return e
}
