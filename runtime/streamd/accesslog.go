package streamd

import (
	"fmt"
	"strings"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/accesslog"
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

// accessLog is one access_log of a server.
type accessLog struct {
	file   *accesslog.File
	format *accesslog.Format
	filter script.Value
	hasIf  bool
}

type accessLogs struct {
	formats map[string]*accesslog.Format // by lower-case name
	files   accesslog.Files
}

// logFormats compiles the log_format directives of the stream block, with
// ngx_stream_log_set_format's checks.
func logFormats(stream *directives.Level) (map[string]*accesslog.Format, error) {
	out := map[string]*accesslog.Format{}
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
		f := &accesslog.Format{Escape: "default"}
		rest := args[1:]
		if e, ok := strings.CutPrefix(rest[0], "escape="); ok {
			if e != "default" && e != "json" && e != "none" {
				return nil, fmt.Errorf(`unknown log format escaping "%s"%s`, e, where)
			}
			f.Escape, rest = e, rest[1:]
		}
		f.Value = script.Compile(strings.Join(rest, ""))
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
		if accesslog.Unwritable(args[0]) {
			s.log.Warn().Str("access_log", args[0]).Msg("stream access logs to syslog or with variables are not written")
			continue
		}
		file, err := a.files.Open(cfg.Path(args[0], false))
		if err != nil {
			return nil, err
		}
		al.file = file
		out = append(out, al)
	}
	return out, nil
}

// close closes the log files; it may be called more than once.
func (a *accessLogs) close() {
	if a != nil {
		a.files.Close()
	}
}

// logAccess writes the ended session to its server's access logs.
func (s *Server) logAccess(ss *session) {
	for _, al := range ss.srv.logs {
		if al.hasIf && !script.Truthy(al.filter.Eval(ss)) {
			continue
		}
		al.file.Write(al.format.Line(ss, func(name, _ string) bool {
			_, found := ss.lookup(name)
			return found
		}))
	}
}
