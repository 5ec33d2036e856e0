// Package errlog is the node's error log: nginx's levels and line format
// ("2026/11/25 22:10:55 [notice] 1234#1234: message"), written through
// zerolog to the targets error_log names, each with its own level.
package errlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/zonesync/zonesync/directives"
)

// levelField carries nginx's level name in each zerolog event: zerolog has
// no notice, crit, alert or emerg, so its own level is only approximate.
const levelField = "nginx_level"

// zlLevel maps nginx's levels to zerolog's nearest ones.
func zlLevel(s directives.Severity) zerolog.Level {
	switch {
	case s >= directives.Debug:
		return zerolog.DebugLevel
	case s >= directives.Notice:
		return zerolog.InfoLevel
	case s == directives.Warn:
		return zerolog.WarnLevel
	case s == directives.Err:
		return zerolog.ErrorLevel
	}
	return zerolog.FatalLevel // crit, alert, emerg; WithLevel never exits
}

// Target is one place the log goes, with the least severe level it takes.
type Target struct {
	Path  string // "" for stderr
	Level directives.Severity
	w     io.Writer
	f     *os.File
}

// Log is the node's error log.
type Log struct {
	zl  zerolog.Logger
	out *writer
}

// New opens the targets. A target with an empty Path is stderr.
func New(targets []Target, stderr io.Writer) (*Log, error) {
	w := &writer{stderr: stderr, pid: os.Getpid(), now: time.Now}
	for _, t := range targets {
		t := t
		if err := w.open(&t); err != nil {
			w.close()
			return nil, err
		}
		w.targets = append(w.targets, &t)
	}
	// Events below every target's level are dropped by zerolog itself,
	// before they are encoded.
	least := directives.Emerg
	for _, t := range w.targets {
		least = max(least, t.Level)
	}
	return &Log{zl: zerolog.New(w).Level(zlLevel(least)), out: w}, nil
}

// FromConfig returns the targets the main level's error_log directives
// name; with none, the log is stderr at "error", as in Debian's nginx.
func FromConfig(cfg *directives.Config) []Target {
	var ts []Target
	for _, v := range cfg.Main.Own("error_log") {
		e := v.V.(directives.ErrorLog)
		t := Target{Level: e.Level}
		if e.Target != "stderr" {
			t.Path = cfg.Path(e.Target, false)
		}
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		ts = append(ts, Target{Level: directives.Err})
	}
	return ts
}

// Logf writes one message at level s.
func (l *Log) Logf(s directives.Severity, format string, args ...any) {
	if !l.out.wants(s) {
		return
	}
	l.zl.WithLevel(zlLevel(s)).Str(levelField, s.String()).Msgf(format, args...)
}

// Zerolog returns the underlying zerolog logger, for packages that log
// through it directly; their events carry zerolog's level only.
func (l *Log) Zerolog() zerolog.Logger { return l.zl }

// Reopen closes and reopens every file target (the USR1 signal).
func (l *Log) Reopen() error { return l.out.reopen() }

// Close closes the file targets.
func (l *Log) Close() { l.out.close() }

// writer turns zerolog's JSON events into nginx's lines.
type writer struct {
	mu      sync.Mutex
	targets []*Target
	stderr  io.Writer
	pid     int
	now     func() time.Time
}

func (w *writer) open(t *Target) error {
	if t.Path == "" {
		t.w = w.stderr
		return nil
	}
	f, err := os.OpenFile(t.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf(`open() "%s" failed (%s)`, t.Path, directives.ErrnoText(err))
	}
	t.f, t.w = f, f
	return nil
}

func (w *writer) wants(s directives.Severity) bool {
	for _, t := range w.targets {
		if s <= t.Level {
			return true
		}
	}
	return false
}

type event struct {
	Level   string `json:"level"`
	NLevel  string `json:"nginx_level"`
	Message string `json:"message"`
}

// zerologNames maps zerolog's level names to nginx's, for events logged
// through Zerolog() without the nginx level field.
var zerologNames = map[string]string{
	"trace": "debug", "debug": "debug", "info": "info", "warn": "warn",
	"error": "error", "fatal": "crit", "panic": "alert",
}

func (w *writer) Write(p []byte) (int, error) {
	var e event
	if err := json.Unmarshal(bytes.TrimSpace(p), &e); err != nil {
		return 0, err
	}
	name := e.NLevel
	if name == "" {
		name = zerologNames[e.Level]
	}
	s := directives.SeverityOf(name)
	line := fmt.Sprintf("%s [%s] %d#%d: %s\n", w.now().Format("2006/01/02 15:04:05"), s, w.pid, w.pid, e.Message)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.targets {
		if s <= t.Level {
			io.WriteString(t.w, line)
		}
	}
	return len(p), nil
}

func (w *writer) reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	for _, t := range w.targets {
		if t.f == nil {
			continue
		}
		old := t.f
		if err := w.open(t); err != nil {
			t.f, t.w = old, old // keep writing where it was
			if first == nil {
				first = err
			}
			continue
		}
		old.Close()
	}
	return first
}

func (w *writer) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.targets {
		if t.f != nil {
			t.f.Close()
		}
	}
}
