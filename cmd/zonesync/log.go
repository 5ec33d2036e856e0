package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/grammar"
)

// termLog reports configuration messages as nginx does before its own logs
// are open: each message goes to the -e log file in the log format
// ("2026/11/25 22:10:55 [emerg] PID#TID: MSG"), and to the terminal as
// "zonesync: [emerg] MSG" unless the log file is the terminal itself.
type termLog struct {
	term io.Writer
	file io.WriteCloser // nil: no log file besides the terminal
	// fileIsTerm is -e stderr: the log format goes to the terminal and
	// the short terminal lines are not printed twice.
	fileIsTerm bool
}

func newTermLog(stderr io.Writer, o *options) (*termLog, error) {
	l := &termLog{term: stderr}
	switch {
	case !o.errorLogSet:
	case o.errorLog == "stderr" || o.errorLog == "":
		l.fileIsTerm = true
	default:
		f, err := os.OpenFile(o.errorLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf(`open() "%s" failed (%s)`, o.errorLog, errnoOf(err))
		}
		l.file = f
	}
	return l, nil
}

// Error logs a message at level s (or at the level the error carries);
// warnings and worse reach the terminal.
func (l *termLog) Error(s directives.Severity, err error) {
	var ge *grammar.Error
	if errors.As(err, &ge) && ge.Level != "" {
		s = directives.SeverityOf(ge.Level)
	}
	l.Printf(s, "%s", err)
}

// Printf logs a formatted message at level s.
func (l *termLog) Printf(s directives.Severity, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	line := fmt.Sprintf("%s [%s] %d#%d: %s\n", time.Now().Format("2006/01/02 15:04:05"), s, os.Getpid(), os.Getpid(), msg)
	switch {
	case l.fileIsTerm:
		io.WriteString(l.term, line)
		return
	case l.file != nil:
		io.WriteString(l.file, line)
	}
	if s <= directives.Warn {
		fmt.Fprintf(l.term, "%s: [%s] %s\n", progName, s, msg)
	}
}

// Term prints a line straight to the terminal (ngx_log_stderr).
func (l *termLog) Term(format string, args ...any) {
	fmt.Fprintf(l.term, "%s: %s\n", progName, fmt.Sprintf(format, args...))
}

func (l *termLog) Close() {
	if l.file != nil {
		l.file.Close()
	}
}

func errnoOf(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}

func goVersion() string { return runtime.Version() }
