package directives

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The main level and events block: nginx's core and events modules.
func init() {
	Register("worker_processes", Main, Def{Set: setWorkerProcesses, Default: 1, DefaultDoc: "1",
		Doc: "Number of worker processes; zonesync runs one process and uses it to size its Go scheduler (see docs/differences.md)."})
	Register("pid", Main, Def{Set: setString, Default: "logs/zonesync.pid", DefaultDoc: "logs/zonesync.pid",
		Doc: "File that holds the process ID of the running node."})
	Register("daemon", Main, Def{Set: setFlag, Default: false, DefaultDoc: "off",
		Doc: "zonesync always runs in the foreground; \"on\" is accepted and logged once."})
	Register("master_process", Main, Def{Set: setFlag, Default: true, DefaultDoc: "on"})
	Register("user", Main, Def{Set: setUser, Doc: "User and group of the worker processes (checked, as nginx checks them, when run as root)."})
	for _, ctx := range []Context{Main, HTTP, Stream, Mail} {
		Register("error_log", ctx, Def{Set: setErrorLog, Multi: true, DefaultDoc: "stderr error",
			Doc: "Where and from which level the node logs."})
	}
	for _, ctx := range []Context{HTTP, Mail} {
		Register("ssl", ctx, Def{Set: setDeprecatedSSL, Doc: "Deprecated form of \"listen ... ssl\", accepted with nginx's warning."})
	}
	Register("load_module", Main, Def{Set: setLoadModule, Multi: true,
		Doc: "Accepted, and its file is not opened: every module is built into zonesync. A module loaded twice is an error, as in nginx."})
	Register("use", Events, Def{Set: setUse, Doc: "Connection processing method; zonesync uses Go's network poller whatever is chosen."})
	Register("worker_connections", Events, Def{Set: setWorkerConnections, Default: 512, DefaultDoc: "512",
		Doc: "Maximum number of simultaneous connections of the node."})
	AddCheck(PhaseInitConf, checkEvents)
	AddCheck(PhasePid, checkPidFile)
	AddCheck(PhaseFiles, checkErrorLogs)
}

// setFlag is ngx_conf_set_flag_slot.
func setFlag(_ *Loader, _ *Level, d *grammar.Directive) (any, error) { return flagValue(d) }

// setString is ngx_conf_set_str_slot.
func setString(_ *Loader, _ *Level, d *grammar.Directive) (any, error) { return d.Args[0], nil }

// setNumber is ngx_conf_set_num_slot.
func setNumber(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	n, err := value.Number(d.Args[0])
	if err != nil {
		return nil, Msg("invalid number")
	}
	return n, nil
}

// setSize is ngx_conf_set_size_slot.
func setSize(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	n, err := value.Size(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	return n, nil
}

// setMsec is ngx_conf_set_msec_slot.
func setMsec(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	t, err := value.Msec(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	return t, nil
}

// setSec is ngx_conf_set_sec_slot.
func setSec(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	t, err := value.Sec(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	return t, nil
}

// setWorkerProcesses takes a number or "auto" (the number of CPUs).
func setWorkerProcesses(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	if d.Args[0] == "auto" {
		return 0, nil
	}
	n, err := value.Number(d.Args[0])
	if err != nil {
		return nil, Msg("invalid value")
	}
	return n, nil
}

// setWorkerConnections reports a bad number with the value, as nginx does.
func setWorkerConnections(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	n, err := value.Number(d.Args[0])
	if err != nil {
		return nil, d.Errorf(`invalid number "%s"`, d.Args[0])
	}
	return n, nil
}

// setLoadModule refuses a module loaded twice; the module's name is its
// file's name without ".so", as nginx's dynamic modules are named.
func setLoadModule(_ *Loader, l *Level, d *grammar.Directive) (any, error) {
	// nginx counts its modules when the first events, http, stream or mail
	// block opens; a module loaded after that would not be counted.
	for _, block := range []string{"events", "http", "stream", "mail"} {
		if l.Has(block) {
			return nil, Msg("is specified too late")
		}
	}
	for _, v := range l.Own("load_module") {
		if v.V.(string) == d.Args[0] {
			name := strings.TrimSuffix(filepath.Base(d.Args[0]), ".so")
			return nil, d.Errorf(`module "%s" is already loaded`, name)
		}
	}
	return d.Args[0], nil
}

// setDeprecatedSSL is nginx 1.22's "ssl on|off": a flag, with a warning.
func setDeprecatedSSL(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	on, err := flagValue(d)
	if err != nil {
		return nil, err
	}
	ld.Warn(d, `the "ssl" directive is deprecated, use the "listen ... ssl" directive instead`)
	return on, nil
}

// eventMethods are the connection processing methods of nginx's Linux build.
var eventMethods = map[string]bool{"epoll": true, "poll": true, "select": true}

func setUse(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	if !eventMethods[d.Args[0]] {
		return nil, d.Errorf(`invalid event type "%s"`, d.Args[0])
	}
	return d.Args[0], nil
}

// User is the value of the user directive.
type User struct{ Name, Group string }

// setUser looks the user and group up as nginx does when it runs as root;
// the group defaults to the user's name. Run as another user, nginx warns
// and ignores the directive.
func setUser(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	u := User{Name: d.Args[0], Group: d.Args[0]}
	if len(d.Args) == 2 {
		u.Group = d.Args[1]
	}
	if os.Geteuid() != 0 {
		ld.Warn(d, `the "user" directive makes sense only if the master process runs with super-user privileges, ignored`)
		return u, nil
	}
	if _, err := user.Lookup(u.Name); err != nil {
		return nil, d.Errorf(`getpwnam("%s") failed`, u.Name)
	}
	if _, err := user.LookupGroup(u.Group); err != nil {
		return nil, d.Errorf(`getgrnam("%s") failed`, u.Group)
	}
	return u, nil
}

// ErrorLog is one error_log target.
type ErrorLog struct {
	// Target is "stderr", a file path (relative to the prefix), or a
	// "syslog:"/"memory:" target as written.
	Target string
	Level  Severity
}

// setErrorLog is ngx_log_set_log: a target and an optional level.
func setErrorLog(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	e := ErrorLog{Target: d.Args[0], Level: Err}
	if len(d.Args) > 2 {
		// Several words after the target are debug_* masks in nginx.
		for _, w := range d.Args[1:] {
			if !strings.HasPrefix(w, "debug_") {
				return nil, d.Errorf(`invalid log level "%s"`, w)
			}
		}
		e.Level = Debug
		return e, nil
	}
	if len(d.Args) == 2 {
		lvl, ok := severityByName(d.Args[1])
		if !ok {
			return nil, d.Errorf(`invalid log level "%s"`, d.Args[1])
		}
		e.Level = lvl
	}
	return e, nil
}

// SeverityOf returns the level of that name, or Emerg.
func SeverityOf(name string) Severity {
	if s, ok := severityByName(name); ok {
		return s
	}
	return Emerg
}

func severityByName(name string) (Severity, bool) {
	for i, n := range severityNames {
		if i > 0 && n == name {
			return Severity(i), true
		}
	}
	return 0, false
}

// checkEvents is ngx_event_init_conf's check, made after "syntax is ok".
func checkEvents(ld *Loader) error {
	if !ld.Main.Has("events") {
		return &grammar.Error{Msg: `no "events" section in configuration`}
	}
	return nil
}

// checkPidFile is ngx_create_pidfile in test mode: the file is created or
// opened, and not written.
func checkPidFile(ld *Loader) error {
	pid, _ := ld.Main.Get("pid").(string)
	if pid == "" {
		return nil
	}
	path := ld.Path(pid, false)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return &grammar.Error{Msg: fmt.Sprintf(`open() "%s" failed (%s)`, path, errnoText(err))}
	}
	return f.Close()
}

// checkErrorLogs opens every error_log file of the configuration, as
// ngx_init_cycle opens the files it lists.
func checkErrorLogs(ld *Loader) error {
	var err error
	ld.Main.Each(^Context(0), func(l *Level) { err = firstErr(err, openErrorLogs(ld, l)) })
	return firstErr(openErrorLogs(ld, ld.Main), err)
}

func openErrorLogs(ld *Loader, l *Level) error {
	for _, v := range l.Own("error_log") {
		e := v.V.(ErrorLog)
		if e.Target == "stderr" || strings.HasPrefix(e.Target, "syslog:") || strings.HasPrefix(e.Target, "memory:") {
			continue
		}
		if err := OpenLogFile(ld.Path(e.Target, false)); err != nil {
			return err
		}
	}
	return nil
}

// OpenLogFile opens a log file for appending, creating it, as nginx opens
// the files of error_log and access_log; the message is nginx's.
func OpenLogFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return &grammar.Error{Msg: fmt.Sprintf(`open() "%s" failed (%s)`, path, errnoText(err))}
	}
	return f.Close()
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
