package httpd

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/zonesync/zonesync/directives"
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

type logFormat struct {
	value  script.Value
	escape string
}

type logFile struct {
	mu sync.Mutex
	f  *os.File
}

type accessLogs struct {
	formats map[string]*logFormat
	files   map[string]*logFile
	once    sync.Once
}

// openAccessLogs compiles the formats and opens every log file the
// configuration names, as nginx opens them when it starts.
func (s *Server) openAccessLogs(http *directives.Level) (*accessLogs, error) {
	a := &accessLogs{formats: map[string]*logFormat{
		"combined": {value: script.Compile(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`), escape: "default"},
	}, files: map[string]*logFile{}}
	for _, v := range http.Own("log_format") {
		if f, ok := v.V.(directives.LogFormat); ok {
			a.formats[f.Name] = &logFormat{value: script.Compile(f.Format), escape: f.Escape}
		}
	}
	var failed error
	for _, v := range s.servers {
		visitConfs(v, func(c *lconf) {
			for _, l := range c.st.AccessLogs {
				if failed != nil || l.Off || a.files[l.Path] != nil {
					continue
				}
				if strings.HasPrefix(l.Path, "syslog:") || strings.Contains(l.Path, "$") {
					s.log.Warn().Str("access_log", l.Path).Msg("access logs to syslog or with variables are not written")
					continue
				}
				path := l.Path
				if !strings.HasPrefix(path, "/") {
					path = s.prefix + path
				}
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					failed = fmt.Errorf(`open() "%s" failed (%s)`, path, errnoText(err))
					continue
				}
				a.files[l.Path] = &logFile{f: f}
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

func (a *accessLogs) close() {
	a.once.Do(func() {
		for _, f := range a.files {
			f.f.Close()
		}
	})
}

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
		line := lf.value.Expand(r, func(name, v string) string { return escapeLog(lf.escape, name, v) }) + "\n"
		f.mu.Lock()
		f.f.WriteString(line)
		f.mu.Unlock()
	}
}

// escapeLog escapes a variable's value for a log format.
func escapeLog(mode, name, v string) string {
	switch mode {
	case "none":
		return v
	case "json":
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\b':
				b.WriteString(`\b`)
			case c == '\f':
				b.WriteString(`\f`)
			case c < 0x20:
				fmt.Fprintf(&b, `\u%04x`, c)
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	if v == "" && notFound(name) {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, `\x%02X`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
