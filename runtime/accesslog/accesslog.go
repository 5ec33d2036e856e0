// Package accesslog writes access log lines as nginx's log modules do, for
// the HTTP and the stream servers alike: a format compiled from
// log_format, each variable's value escaped by the format's escape= mode,
// and the log files opened once per configuration and shared by every
// access_log naming them.
//
// Lines are written unbuffered, one write per line; buffer=, flush= and
// gzip are left to the callers to accept and ignore.
package accesslog

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// Format is a compiled log_format.
type Format struct {
	Value  script.Value
	Escape string // default, json or none
}

// Line expands the format for env with a newline at the end. found reports
// whether nginx would find a variable (default escaping writes "-" for one
// it would not).
func (f *Format) Line(env script.Env, found func(name, value string) bool) string {
	return f.Value.Expand(env, func(name, v string) string {
		return Escape(f.Escape, v, found(name, v))
	}) + "\n"
}

// Escape escapes a variable's value as nginx's escape= mode does: none
// leaves it, json escapes it as a JSON string's contents, and default
// writes '"', '\' and the bytes outside 0x20..0x7e as \xHH, and "-" for a
// variable that was not found.
func Escape(mode, v string, found bool) string {
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

// File is an open log file; lines from many goroutines do not interleave.
type File struct {
	mu sync.Mutex
	f  *os.File
}

// Write appends one line.
func (f *File) Write(line string) {
	f.mu.Lock()
	f.f.WriteString(line)
	f.mu.Unlock()
}

// Files are the log files of one configuration, each opened once.
type Files struct {
	mu    sync.Mutex
	files map[string]*File
	once  sync.Once
}

// Open returns the file at path (absolute), opening it for appending the
// first time, with nginx's message when that fails.
func (fs *Files) Open(path string) (*File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.files[path]; f != nil {
		return f, nil
	}
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf(`open() "%s" failed (%s)`, path, directives.ErrnoText(err))
	}
	if fs.files == nil {
		fs.files = map[string]*File{}
	}
	f := &File{f: fd}
	fs.files[path] = f
	return f, nil
}

// Close closes every file; it may be called more than once.
func (fs *Files) Close() {
	if fs == nil {
		return
	}
	fs.once.Do(func() {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for _, f := range fs.files {
			f.mu.Lock()
			f.f.Close()
			f.mu.Unlock()
		}
	})
}

// Unwritable reports whether nginx would write to path and zonesync does
// not: syslog: targets and paths with variables.
func Unwritable(path string) bool {
	return strings.HasPrefix(path, "syslog:") || strings.Contains(path, "$")
}
