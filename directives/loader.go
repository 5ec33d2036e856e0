package directives

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/zonesync/zonesync/grammar"
)

// Setter parses one occurrence of a directive into its typed value. It runs
// after the generic checks (context, terminator, argument count, duplicate).
// It returns the value to store, or an error: a *grammar.Error as is, or a
// Msg, which is printed as `"NAME" directive MSG` like a string returned by
// an nginx set handler.
type Setter func(ld *Loader, l *Level, d *grammar.Directive) (any, error)

// BlockHandler receives each statement inside a block whose contents are not
// directives (types, map, geo, split_clients...), like nginx's cf->handler.
type BlockHandler func(ld *Loader, l *Level, d *grammar.Directive) error

// Finisher runs when a block's "}" has been read, for checks nginx makes
// after parsing a block (an upstream with no servers, for instance).
type Finisher func(ld *Loader, l *Level) error

// Msg is a set handler's short message: `"NAME" directive MSG`.
type Msg string

func (m Msg) Error() string { return string(m) }

// Severity is a log level, with nginx's names.
type Severity int

// nginx's log levels, most severe first.
const (
	Emerg Severity = iota + 1
	Alert
	Crit
	Err
	Warn
	Notice
	Info
	Debug
)

var severityNames = [...]string{"", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"}

func (s Severity) String() string { return severityNames[s] }

// Options say where the configuration comes from.
type Options struct {
	// Prefix is the -p path (with a trailing slash): relative paths of
	// logs, pid and other files resolve against it.
	Prefix string
	// ConfFile is the absolute path of the main configuration file; include
	// paths resolve against its folder (nginx's conf_prefix).
	ConfFile string
	// Globals is the text of -g, parsed before the file.
	Globals string
	// Log receives the warnings and notices raised while loading, in order.
	Log func(Severity, error)
	// Test marks -t/-T, where checks that open files may create them.
	Test bool
	// ConfSource, when set, is the main file's text, used instead of
	// reading ConfFile (the built-in default configuration).
	ConfSource []byte
}

// Loader reads a configuration: it walks the tree as nginx's
// ngx_conf_parse does, following includes as they come.
type Loader struct {
	Options
	ConfPrefix string
	Main       *Level
	// Files lists each file read, once, in the order first opened (the -T
	// dump order).
	Files []*grammar.File

	seen    map[string]bool
	reading []string // include stack, for cycle detection
	checks  []check
	// State shared by a directive family across the whole configuration,
	// keyed by the family's own key type.
	state map[any]any
}

// Config is a loaded configuration.
type Config struct {
	*Loader
}

// Load parses the -g text and the configuration file, with every check
// nginx makes while parsing. It stops at the first error, as nginx does.
// Checks nginx makes after "syntax is ok" run in Config.Check.
func Load(o Options) (*Config, error) {
	applySlots()
	ld := &Loader{
		Options:    o,
		ConfPrefix: filepath.Dir(o.ConfFile) + "/",
		seen:       map[string]bool{},
		state:      map[any]any{},
	}
	ld.Main = newLevel(Main, nil, nil)
	if o.Globals != "" {
		f := grammar.ParseParam(o.Globals)
		if err := ld.walk(ld.Main, &f.Body, nil); err != nil {
			return nil, err
		}
	}
	if err := ld.readFile(ld.Main, o.ConfFile, nil, nil); err != nil {
		return nil, err
	}
	return &Config{ld}, nil
}

// Phase orders the checks made after parsing as ngx_init_cycle makes them.
type Phase int

// The phases of ngx_init_cycle after the configuration is parsed.
const (
	PhaseInitConf Phase = iota // the core modules' init_conf
	PhasePid                   // the pid file is opened
	PhasePaths                 // temporary and cache folders are created
	PhaseFiles                 // log files and other files are opened
	PhaseZones                 // shared memory zones are created
	PhaseListen                // listening sockets are opened
	numPhases
)

type check struct {
	phase Phase
	fn    func(*Loader) error
}

// Check runs the checks nginx makes once the file is parsed: the core
// modules' init_conf, the pid file, the files the config names, the zones
// and the listening sockets, in that order.
func (c *Config) Check() error {
	for phase := Phase(0); phase < numPhases; phase++ {
		for _, list := range [][]check{finalChecks, c.checks} {
			for _, ch := range list {
				if ch.phase != phase {
					continue
				}
				if err := ch.fn(c.Loader); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// finalChecks are the families' checks for every configuration.
var finalChecks []check

// AddCheck registers, from a family's init, a check made on every
// configuration after parsing.
func AddCheck(phase Phase, fn func(*Loader) error) {
	finalChecks = append(finalChecks, check{phase, fn})
}

// OnCheck registers a check for this configuration only, for example for
// a file that one directive named.
func (ld *Loader) OnCheck(phase Phase, fn func(*Loader) error) {
	ld.checks = append(ld.checks, check{phase, fn})
}

// Path resolves a path of the kind nginx resolves against the prefix (logs,
// pid); conf is true for paths relative to the main file's folder.
func (ld *Loader) Path(name string, conf bool) string {
	if filepath.IsAbs(name) {
		return name
	}
	if conf {
		return ld.ConfPrefix + name
	}
	return ld.Prefix + name
}

// State returns the family state stored under key, creating it with mk.
func State[T any](ld *Loader, key any, mk func() *T) *T {
	if v, ok := ld.state[key]; ok {
		return v.(*T)
	}
	v := mk()
	ld.state[key] = v
	return v
}

// Warn logs a warning located at d.
func (ld *Loader) Warn(d *grammar.Directive, format string, args ...any) {
	ld.logf(Warn, d.Errorf(format, args...))
}

func (ld *Loader) logf(s Severity, err error) {
	if ld.Log != nil {
		ld.Log(s, err)
	}
}

// readFile opens, parses and walks one file, as ngx_conf_parse(cf,
// filename); from is the include directive (nil for the main file) and
// custom the handler of the block the include is in, if any.
func (ld *Loader) readFile(l *Level, path string, from *grammar.Directive, custom BlockHandler) error {
	for _, p := range ld.reading {
		if p == path {
			// nginx itself recurses until it crashes here.
			return from.Errorf(`include cycle: "%s" is already being read`, path)
		}
	}
	src, err := os.ReadFile(path)
	if from == nil && ld.ConfSource != nil {
		src, err = ld.ConfSource, nil
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Op == "read" {
			// nginx opens a folder fine and fails on the first read, with
			// a message that names no configuration line.
			return &grammar.Error{Msg: fmt.Sprintf(`pread() "%s" failed (%s)`, path, errnoText(err)), Level: "crit"}
		}
		msg := fmt.Sprintf(`open() "%s" failed (%s)`, path, errnoText(err))
		if from == nil {
			return &grammar.Error{Msg: msg}
		}
		return from.Errorf("%s", msg)
	}
	f := grammar.Parse(path, src)
	if !ld.seen[path] {
		ld.seen[path] = true
		ld.Files = append(ld.Files, f)
	}
	ld.reading = append(ld.reading, path)
	defer func() { ld.reading = ld.reading[:len(ld.reading)-1] }()
	return ld.walk(l, &f.Body, custom)
}

// errnoText formats an OS error as nginx does: "2: No such file or directory".
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Sprintf("%d: %s", int(errno), strerror(errno))
	}
	return err.Error()
}

// strerror returns the C library's text for errno, which nginx prints;
// Go's texts are lower-case versions of the same strings.
func strerror(e syscall.Errno) string {
	s := e.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// walk handles the statements of one body in order, then the body's own
// syntax error, if any: the order nginx meets them in.
func (ld *Loader) walk(l *Level, b *grammar.Body, custom BlockHandler) error {
	for _, d := range b.Directives {
		if err := ld.statement(l, d, custom); err != nil {
			return err
		}
	}
	if b.Err != nil {
		return b.Err
	}
	return nil
}

// statement is ngx_conf_handler: find the directive, check where it is, how
// it ends and how many arguments it has, then run its setter.
func (ld *Loader) statement(l *Level, d *grammar.Directive, custom BlockHandler) error {
	if custom != nil {
		if d.Block != nil {
			return d.Errorf(`unexpected "{"`)
		}
		return custom(ld, l, d)
	}
	s, known := Lookup(d.Name, l.Ctx)
	if s == nil {
		if known {
			return d.Errorf(`"%s" directive is not allowed here`, d.Name)
		}
		return d.Errorf(`unknown directive "%s"`, d.Name)
	}
	if s.Args&Block == 0 && d.Block != nil {
		return d.Errorf(`directive "%s" is not terminated by ";"`, d.Name)
	}
	if s.Args&Block != 0 && d.Block == nil {
		return d.Errorf(`directive "%s" has no opening "{"`, d.Name)
	}
	if !s.Args.accepts(len(d.Args)) {
		return d.Errorf(`invalid number of arguments in "%s" directive`, d.Name)
	}
	if d.Name == "include" {
		return ld.include(l, d, nil)
	}
	if s.typed || s.Args&Flag != 0 {
		if !s.Multi && l.Has(d.Name) {
			return d.Errorf(`"%s" directive is duplicate`, d.Name)
		}
	}
	var v any
	switch {
	case s.Set != nil:
		var err error
		if v, err = s.Set(ld, l, d); err != nil {
			return directiveError(d, err)
		}
	case s.Args&Flag != 0:
		on, err := flagValue(d)
		if err != nil {
			return err
		}
		v = on
	default:
		v = d.Args
	}
	for _, hook := range statementHooks {
		if err := hook(ld, l, d); err != nil {
			return err
		}
	}
	if d.Block == nil {
		l.add(d.Name, Value{D: d, V: v})
		return nil
	}
	return ld.block(l, s, d, v)
}

// block walks the contents of a block directive in the level it opens.
func (ld *Loader) block(l *Level, s *Spec, d *grammar.Directive, v any) error {
	inner, _ := v.(*Level)
	if inner == nil {
		inner = newLevel(opens(s, l.Ctx), d, l)
		inner.Ext = v
	}
	l.add(d.Name, Value{D: d, V: inner})
	custom := s.Custom
	if inner.Ctx == 0 && custom == nil {
		custom = acceptAny
	}
	if err := ld.walk(inner, d.Block, custom); err != nil {
		return err
	}
	if f := finishers[s]; f != nil {
		return f(ld, inner)
	}
	return nil
}

// statementHooks run after a statement's setter succeeded, for checks that
// cut across families (the variables a value uses, for instance).
var statementHooks []func(ld *Loader, l *Level, d *grammar.Directive) error

// finishers holds the after-block checks, by row.
var finishers = map[*Spec]Finisher{}

// addFinisher adds a check to the end of a block, after those already
// registered for it.
func addFinisher(s *Spec, f Finisher) {
	prev := finishers[s]
	if prev == nil {
		finishers[s] = f
		return
	}
	finishers[s] = func(ld *Loader, l *Level) error {
		if err := prev(ld, l); err != nil {
			return err
		}
		return f(ld, l)
	}
}

// AddFinisher registers, from a family's init, a check made when the block
// directive name (in the row covering ctx) is closed.
func AddFinisher(name string, ctx Context, f Finisher) { addFinisher(spec(name, ctx), f) }

// opens returns the context of the level a block directive opens.
func opens(s *Spec, parent Context) Context {
	if s.Name == "if" {
		if parent == HTTPServer {
			return HTTPServerIf
		}
		return HTTPLocationIf
	}
	return s.Opens
}

// acceptAny is the handler of blocks zonesync knows only by name (an
// otel_exporter, a Plus match block...): their statements are kept
// unchecked, as a module zonesync does not run would check them.
func acceptAny(*Loader, *Level, *grammar.Directive) error { return nil }

// directiveError locates a setter's error at d.
func directiveError(d *grammar.Directive, err error) error {
	var m Msg
	if errors.As(err, &m) {
		return d.Errorf(`"%s" directive %s`, d.Name, string(m))
	}
	var ge *grammar.Error
	if errors.As(err, &ge) {
		return ge
	}
	return d.Errorf("%s", err.Error())
}

// flagValue is ngx_conf_set_flag_slot's parsing of on|off.
func flagValue(d *grammar.Directive) (bool, error) {
	switch strings.ToLower(d.Args[0]) {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, d.Errorf(`invalid value "%s" in "%s" directive, it must be "on" or "off"`, d.Args[0], d.Name)
}

// include is ngx_conf_include: a path relative to the main file's folder;
// a pattern with any of "*?[" is a glob whose matches are read in sorted
// order, and may match nothing.
func (ld *Loader) include(l *Level, d *grammar.Directive, custom BlockHandler) error {
	name := d.Args[0]
	if !filepath.IsAbs(name) {
		name = ld.ConfPrefix + name
	}
	if !strings.ContainsAny(name, "*?[") {
		return ld.readFile(l, name, d, custom)
	}
	matches, err := filepath.Glob(name)
	if err != nil {
		return d.Errorf(`glob() "%s" failed (%s)`, name, err)
	}
	sort.Strings(matches)
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			continue
		}
		if err := ld.readFile(l, m, d, custom); err != nil {
			return err
		}
	}
	return nil
}

// IncludeInHandler lets a custom block handler follow "include", as the
// types, map and geo handlers of nginx do.
func (ld *Loader) IncludeInHandler(l *Level, d *grammar.Directive, custom BlockHandler) error {
	if len(d.Args) != 1 {
		return d.Errorf(`invalid number of arguments in "include" directive`)
	}
	return ld.include(l, d, custom)
}

// ErrnoText formats an OS error as nginx does after a failed call:
// "2: No such file or directory".
func ErrnoText(err error) string { return errnoText(err) }
