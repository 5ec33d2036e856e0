package streamd

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// access_log and log_format of ngx_stream_log_module: when a session ends
// (whatever its handler and status), a line in the format is written to
// each access log of its server: the server's own access_log directives,
// else the stream block's, none with "off". The stream module has no
// predefined format. Values are escaped as nginx escapes them (default:
// '"', '\' and bytes outside 0x20..0x7e as \xHH, and "-" for a variable
// that is not found; json; none). Lines are written unbuffered: buffer=,
// flush= and gzip are accepted and not applied; syslog: targets and paths
// with variables are not written (New warns).

type logFormat struct {
	value  script.Value
	escape string
}

type logFile struct {
	mu sync.Mutex
	f  *os.File
}

// accessLog is one access_log of a server.
type accessLog struct {
	file   *logFile
	format *logFormat
	filter script.Value
	hasIf  bool
}

type accessLogs struct {
	formats map[string]*logFormat // by lower-case name
	files   map[string]*logFile   // by path
	once    sync.Once
}

// logFormats compiles the log_format directives of the stream block, with
// ngx_stream_log_set_format's checks.
func logFormats(stream *directives.Level) (map[string]*logFormat, error) {
	out := map[string]*logFormat{}
	seen := map[string]bool{}
	for _, v := range stream.Own("log_format") {
		args, _ := v.V.([]string)
		where := at(&v)
		if len(args) < 2 {
			return nil, fmt.Errorf(`invalid number of arguments in "log_format" directive%s`, where)
		}
		if seen[args[0]] {
			return nil, fmt.Errorf(`duplicate "log_format" name "%s"%s`, args[0], where)
		}
		seen[args[0]] = true
		f := &logFormat{escape: "default"}
		rest := args[1:]
		if e, ok := strings.CutPrefix(rest[0], "escape="); ok {
			if e != "default" && e != "json" && e != "none" {
				return nil, fmt.Errorf(`unknown log format escaping "%s"%s`, e, where)
			}
			f.escape, rest = e, rest[1:]
		}
		f.value = script.Compile(strings.Join(rest, ""))
		if _, dup := out[strings.ToLower(args[0])]; !dup {
			out[strings.ToLower(args[0])] = f
		}
	}
	return out, nil
}

// forServer compiles the access logs of a server and opens their files,
// as nginx opens them when it starts.
func (a *accessLogs) forServer(cfg *directives.Config, s *Server, l *directives.Level) ([]*accessLog, error) {
	var vs []directives.Value
	for cur := l; cur != nil && (cur.Ctx == directives.StreamServer || cur.Ctx == directives.Stream); cur = cur.Parent {
		if vs = cur.Own("access_log"); len(vs) > 0 {
			break
		}
	}
	var out []*accessLog
	for _, v := range vs {
		args, _ := v.V.([]string)
		where := at(&v)
		if len(args) == 0 {
			continue
		}
		if args[0] == "off" {
			if len(args) > 1 {
				return nil, fmt.Errorf(`invalid parameter "%s"%s`, args[1], where)
			}
			return nil, nil
		}
		if len(args) < 2 {
			return nil, fmt.Errorf("log format is not specified%s", where)
		}
		f := a.formats[strings.ToLower(args[1])]
		if f == nil {
			return nil, fmt.Errorf(`unknown log format "%s"%s`, args[1], where)
		}
		al := &accessLog{format: f}
		for _, p := range args[2:] {
			switch {
			case strings.HasPrefix(p, "if="):
				al.filter, al.hasIf = script.Compile(p[3:]), true
			case strings.HasPrefix(p, "buffer="), strings.HasPrefix(p, "flush="), p == "gzip", strings.HasPrefix(p, "gzip="):
			default:
				return nil, fmt.Errorf(`invalid parameter "%s"%s`, p, where)
			}
		}
		if strings.HasPrefix(args[0], "syslog:") || strings.Contains(args[0], "$") {
			s.log.Warn().Str("access_log", args[0]).Msg("stream access logs to syslog or with variables are not written")
			continue
		}
		path := cfg.Path(args[0], false)
		if a.files[path] == nil {
			fd, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return nil, fmt.Errorf(`open() "%s" failed (%s)`, path, errnoText(err))
			}
			a.files[path] = &logFile{f: fd}
		}
		al.file = a.files[path]
		out = append(out, al)
	}
	return out, nil
}

// close closes the log files; it may be called more than once.
func (a *accessLogs) close() {
	if a == nil {
		return
	}
	a.once.Do(func() {
		for _, f := range a.files {
			f.mu.Lock()
			f.f.Close()
			f.mu.Unlock()
		}
	})
}

// logAccess writes the ended session to its server's access logs.
func (s *Server) logAccess(ss *session) {
	for _, al := range ss.srv.logs {
		if al.hasIf && !script.Truthy(al.filter.Eval(ss)) {
			continue
		}
		line := al.format.value.Expand(ss, func(name, _ string) string {
			v, found := ss.lookup(name)
			return escapeLog(al.format.escape, v, found)
		}) + "\n"
		al.file.mu.Lock()
		al.file.f.WriteString(line)
		al.file.mu.Unlock()
	}
}

// escapeLog escapes a variable's value for a log format.
func escapeLog(mode, v string, found bool) string {
	switch {
	case mode == "none":
		return v
	case mode == "json":
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
	case !found:
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
