package httpd

import (
	"strings"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/accesslog"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// access_log and log_format: each request is logged, once answered, to
// the access logs of the level that answered it, in its format, with
// nginx's escaping of variable values (default: '"', '\' and bytes outside
// 0x20..0x7e as \xHH; json; none). A variable nginx reports as not found
// (a missing header, cookie or argument, no remote user) is logged as "-"
// by the default escaping. Logs are written unbuffered; buffer=, flush=
// and gzip are accepted and ignored; syslog: and paths with variables are
// not written (New warns).

type accessLogs struct {
	formats map[string]*accesslog.Format
	files   map[string]*accesslog.File // by the path as written
	open    accesslog.Files
}

// openAccessLogs compiles the formats and opens every log file the
// configuration names, as nginx opens them when it starts.
func (s *Server) openAccessLogs(http *directives.Level) (*accessLogs, error) {
	a := &accessLogs{formats: map[string]*accesslog.Format{
		"combined": {Value: script.Compile(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`), Escape: "default"},
	}, files: map[string]*accesslog.File{}}
	for _, v := range http.Own("log_format") {
		if f, ok := v.V.(directives.LogFormat); ok {
			a.formats[f.Name] = &accesslog.Format{Value: script.Compile(f.Format), Escape: f.Escape}
		}
	}
	var failed error
	for _, v := range s.servers {
		visitConfs(v, func(c *lconf) {
			for _, l := range c.st.AccessLogs {
				if failed != nil || l.Off || a.files[l.Path] != nil {
					continue
				}
				if accesslog.Unwritable(l.Path) {
					s.log.Warn().Str("access_log", l.Path).Msg("access logs to syslog or with variables are not written")
					continue
				}
				path := l.Path
				if !strings.HasPrefix(path, "/") {
					path = s.prefix + path
				}
				f, err := a.open.Open(path)
				if err != nil {
					failed = err
					continue
				}
				a.files[l.Path] = f
			}
		})
	}
	if failed != nil {
		a.close()
		return nil, failed
	}
	return a, nil
}

// visitConfs calls fn for every level of a server.
func visitConfs(v *vserver, fn func(*lconf)) {
	var walk func(c *lconf)
	walkTree := func(t *locTree) {
		for _, c := range t.exact {
			walk(c)
		}
		for _, c := range t.prefix {
			walk(c)
		}
		for _, c := range t.regex {
			walk(c)
		}
	}
	walk = func(c *lconf) {
		fn(c)
		for i := range c.rewrite {
			if c.rewrite[i].conf != nil {
				fn(c.rewrite[i].conf)
			}
		}
		walkTree(&c.tree)
	}
	fn(v.own)
	walkTree(&v.tree)
	for _, c := range v.named {
		walk(c)
	}
}

func (a *accessLogs) close() { a.open.Close() }

// notFound are the variables nginx reports as not found when empty.
func notFound(name string) bool {
	switch name {
	case "remote_user", "content_length", "content_type":
		return true
	}
	for _, p := range []string{"http_", "cookie_", "arg_", "sent_http_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// logAccess writes the request to its access logs.
func (s *Server) logAccess(r *request) {
	if s.accessLog == nil || r.conf == nil {
		return
	}
	for _, l := range r.conf.st.AccessLogs {
		if l.Off {
			continue
		}
		f := s.accessLog.files[l.Path]
		lf := s.accessLog.formats[l.Format]
		if f == nil || lf == nil {
			continue
		}
		if l.If != "" && !script.Truthy(script.Compile(l.If).Eval(r)) {
			continue
		}
		f.Write(lf.Line(r, func(name, v string) bool { return v != "" || !notFound(name) }))
	}
}
