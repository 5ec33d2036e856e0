package directives

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// Directives of several small nginx modules whose values need more than a
// slot: limit_except's methods, charset_map's tables, worker_cpu_affinity's
// masks, thread_pool and expires.
func init() {
	Register("limit_except", HTTPLocation, Def{Set: setLimitExcept, Opens: HTTPLimitExcept})
	Register("charset_map", HTTP, Def{Set: setCharsetMap, Custom: charsetMapEntry, Multi: true,
		Doc: "Table that recodes one charset into another: a line per character, \"SRC DST;\" in hexadecimal."})
	Register("worker_cpu_affinity", Main, Def{Set: setCPUAffinity,
		Doc: "Binds worker processes to CPUs: a bit mask per worker, or auto [mask]. zonesync accepts and ignores it."})
	Register("thread_pool", Main, Def{Set: setThreadPool, Multi: true,
		Doc: "Defines a named pool of threads for file I/O: threads=N [max_queue=N]."})
	Register("expires", HTTP, Def{Set: setExpires, Inherit: true, Default: Expires{Mode: "off"}, DefaultDoc: "off",
		Doc: "Expires and Cache-Control headers of responses: [modified] time, @time of day, epoch, max or off."})
	Register("aio", HTTP, Def{Set: setAIO, Inherit: true, Default: AIO{Mode: "off"}, DefaultDoc: "off",
		Doc: "Reads files in a thread pool: threads[=pool], or off (\"on\", kernel AIO, is not in this build)."})
	AddCheck(PhaseInitConf, checkCPUAffinity)
	AddCheck(PhaseInitConf, checkThreadPools)
}

// httpMethods are the methods limit_except knows, in nginx's order.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL", "COPY", "MOVE",
	"OPTIONS", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH"}

// LimitExcept is the methods a limit_except block leaves unrestricted:
// HEAD comes with GET.
type LimitExcept struct {
	Methods map[string]bool
}

// setLimitExcept is ngx_http_core_limit_except's reading of the methods
// (any case); the value is kept in the block's level.
func setLimitExcept(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	le := LimitExcept{Methods: map[string]bool{}}
	for _, arg := range d.Args {
		m := ""
		for _, name := range httpMethods {
			if strings.EqualFold(arg, name) && slotASCII(arg) {
				m = name
			}
		}
		if m == "" {
			return nil, d.Errorf(`invalid method "%s"`, arg)
		}
		le.Methods[m] = true
	}
	if le.Methods["GET"] {
		le.Methods["HEAD"] = true
	}
	return le, nil
}

// CharsetMap is one charset_map block: the table that recodes Src into
// Dst. To UTF-8 (UTF8) a byte maps to a UTF-8 sequence, else to a byte.
type CharsetMap struct {
	Src, Dst string
	UTF8     bool
	Table    map[byte][]byte
}

type charsetMapsKey struct{}

// setCharsetMap is ngx_http_charset_map_block: two different charsets
// (names compare in any case), and a pair, either way round, only once.
func setCharsetMap(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	src, dst := d.Args[0], d.Args[1]
	if strings.EqualFold(src, dst) {
		return nil, d.Errorf(`"charset_map" between the same charsets "%s" and "%s"`, src, dst)
	}
	maps := State(ld, charsetMapsKey{}, func() *[]*CharsetMap { return &[]*CharsetMap{} })
	for _, m := range *maps {
		if strings.EqualFold(m.Src, src) && strings.EqualFold(m.Dst, dst) ||
			strings.EqualFold(m.Src, dst) && strings.EqualFold(m.Dst, src) {
			return nil, d.Errorf(`duplicate "charset_map" between "%s" and "%s"`, src, dst)
		}
	}
	m := &CharsetMap{Src: src, Dst: dst, UTF8: strings.EqualFold(dst, "utf-8"), Table: map[byte][]byte{}}
	*maps = append(*maps, m)
	return m, nil
}

// charsetMapEntry is ngx_http_charset_map: "SRC DST", both hexadecimal;
// SRC is a byte, DST a byte or, to UTF-8, the bytes of one character
// below U+10000. "include" is not special here.
func charsetMapEntry(_ *Loader, l *Level, d *grammar.Directive) error {
	words := statementArgs(d)
	if len(words) != 2 {
		return d.Errorf("invalid parameters number")
	}
	src, ok := hexByte(words[0])
	if !ok {
		return d.Errorf(`invalid value "%s"`, words[0])
	}
	m := l.Ext.(*CharsetMap)
	if !m.UTF8 {
		dst, ok := hexByte(words[1])
		if !ok {
			return d.Errorf(`invalid value "%s"`, words[1])
		}
		m.Table[src] = []byte{dst}
		return nil
	}
	seq, ok := hexBytes(words[1])
	if !ok || !charsetUTF8(seq) {
		return d.Errorf(`invalid value "%s"`, words[1])
	}
	m.Table[src] = seq
	return nil
}

// hexByte reads a hexadecimal number from 0 to 255 (leading zeros
// allowed), as ngx_hextoi and the range check of charset_map.
func hexByte(s string) (byte, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		v, ok := hexValue(s[i])
		if !ok {
			return 0, false
		}
		if n = n*16 + v; n > 255 {
			return 0, false
		}
	}
	return byte(n), true
}

// hexBytes reads pairs of hexadecimal digits; an odd length fails, as
// nginx's last pair then ends in the string's terminating NUL.
func hexBytes(s string) ([]byte, bool) {
	if s == "" || len(s)%2 != 0 {
		return nil, false
	}
	out := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		b, ok := hexByte(s[i : i+2])
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

func hexValue(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// charsetUTF8 is the check ngx_utf8_decode makes of the start of seq: a
// lead byte of a two, three or four byte sequence, enough bytes, each
// following byte at least 0x80, and a code point that is not overlong;
// charset_map also wants it below U+10000. Bytes after the first
// character are not looked at. A single ASCII byte is refused.
func charsetUTF8(seq []byte) bool {
	lead := seq[0]
	var code rune
	var more int
	var least rune
	switch {
	case lead >= 0xf0:
		code, more, least = rune(lead&0x07), 3, 0x10000
	case lead >= 0xe0:
		code, more, least = rune(lead&0x0f), 2, 0x800
	case lead >= 0xc2:
		code, more, least = rune(lead&0x1f), 1, 0x80
	default:
		return false
	}
	if len(seq)-1 < more {
		return false
	}
	for _, b := range seq[1 : 1+more] {
		if b < 0x80 {
			return false
		}
		code = code<<6 | rune(b&0x3f)
	}
	return code >= least && code <= 0xffff
}

// CPUAffinity is worker_cpu_affinity: Auto binds the workers to the CPUs
// of Masks[0] (every CPU when no mask is given) in turn; otherwise worker
// N gets Masks[N], the last mask serving the remaining workers. A mask is
// the CPU numbers it has set.
type CPUAffinity struct {
	Auto  bool
	Masks [][]int
}

// cpuSetSize is CPU_SETSIZE on Linux: the longest mask nginx reads.
const cpuSetSize = 1024

// setCPUAffinity is ngx_set_cpu_affinity: "auto" and at most one mask, or
// masks of 0 and 1 read from the right (CPU 0 is the last digit), spaces
// ignored.
func setCPUAffinity(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	var a CPUAffinity
	masks := d.Args
	if masks[0] == "auto" {
		if len(masks) > 2 {
			return nil, d.Errorf(`invalid number of arguments in "worker_cpu_affinity" directive`)
		}
		a.Auto, masks = true, masks[1:]
	}
	for _, m := range masks {
		if len(m) > cpuSetSize {
			return nil, d.Errorf(`"worker_cpu_affinity" supports up to %d CPUs only`, cpuSetSize)
		}
		cpus := []int{}
		cpu := 0
		for i := len(m) - 1; i >= 0; i-- {
			switch m[i] {
			case ' ':
				continue
			case '1':
				cpus = append(cpus, cpu)
			case '0':
			default:
				return nil, d.Errorf(`invalid character "%c" in "worker_cpu_affinity"`, m[i])
			}
			cpu++
		}
		a.Masks = append(a.Masks, cpus)
	}
	return a, nil
}

// checkCPUAffinity is the warning of ngx_core_module_init_conf: without
// auto, several masks should be one per worker.
func checkCPUAffinity(ld *Loader) error {
	a, ok := ld.Main.Get("worker_cpu_affinity").(CPUAffinity)
	if !ok || a.Auto || len(a.Masks) <= 1 {
		return nil
	}
	workers, _ := ld.Main.Get("worker_processes").(int)
	if workers == 0 { // auto: one per CPU
		workers = runtime.NumCPU()
	}
	if len(a.Masks) != workers {
		ld.logf(Warn, &grammar.Error{Msg: `the number of "worker_processes" is not equal to the number of ` +
			`"worker_cpu_affinity" masks, using last mask for remaining worker processes`})
	}
	return nil
}

// ThreadPool is a thread pool: defined by thread_pool, or only named by
// a directive that uses it (Threads is then 0 until the checks run).
type ThreadPool struct {
	Name     string
	Threads  int
	MaxQueue int
	// D is the thread_pool directive, or the first directive that named
	// the pool.
	D *grammar.Directive
}

// ThreadPools is the configuration's thread pools, in the order first
// named.
type ThreadPools struct {
	List []*ThreadPool
}

type threadPoolsKey struct{}

// ThreadPoolsOf returns the thread pools of the configuration.
func ThreadPoolsOf(ld *Loader) *ThreadPools {
	return State(ld, threadPoolsKey{}, func() *ThreadPools { return &ThreadPools{} })
}

// Ref is ngx_thread_pool_add for a directive that uses a pool by name
// (aio threads=NAME): the pool need not be defined yet, but must be by
// the end of the configuration, except "default", which exists anyway.
func (tp *ThreadPools) Ref(d *grammar.Directive, name string) *ThreadPool {
	for _, p := range tp.List {
		if p.Name == name {
			return p
		}
	}
	p := &ThreadPool{Name: name, D: d}
	tp.List = append(tp.List, p)
	return p
}

// AIO is the aio directive: Mode "off" or "threads", with the pool named
// (Pool) or, when the name has variables, the name's text (PoolValue).
type AIO struct {
	Mode      string
	Pool      *ThreadPool
	PoolValue string
}

// setAIO is ngx_http_core_set_aio of an nginx built with threads and
// without file AIO, as Debian's: off, threads, threads=NAME.
func setAIO(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	arg := d.Args[0]
	switch {
	case arg == "off":
		return AIO{Mode: "off"}, nil
	case arg == "on":
		return nil, d.Errorf(`"aio on" is unsupported on this platform`)
	case arg == "threads":
		return AIO{Mode: "threads", Pool: ThreadPoolsOf(ld).Ref(d, defaultThreadPool.Name)}, nil
	}
	name, ok := strings.CutPrefix(arg, "threads=")
	switch {
	case !ok:
		return nil, Msg("invalid value")
	case strings.Contains(name, "$"):
		return AIO{Mode: "threads", PoolValue: name}, nil
	}
	return AIO{Mode: "threads", Pool: ThreadPoolsOf(ld).Ref(d, name)}, nil
}

// defaultThreadPool is the pool nginx creates when none of that name is
// defined: 32 threads, 65536 queued tasks.
var defaultThreadPool = ThreadPool{Name: "default", Threads: 32, MaxQueue: 65536}

// setThreadPool is ngx_thread_pool: threads=N (N > 0) is required,
// max_queue=N is optional, other words are ignored; a name (which
// compares exactly) is defined once.
func setThreadPool(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	p := ThreadPoolsOf(ld).Ref(d, d.Args[0])
	if p.Threads != 0 {
		return nil, d.Errorf(`duplicate thread pool "%s"`, p.Name)
	}
	p.MaxQueue = defaultThreadPool.MaxQueue
	for _, arg := range d.Args[1:] {
		if v, ok := strings.CutPrefix(arg, "threads="); ok {
			n, err := value.Number(v)
			if err != nil || n == 0 {
				return nil, d.Errorf(`invalid threads value "%s"`, arg)
			}
			p.Threads = n
		}
		if v, ok := strings.CutPrefix(arg, "max_queue="); ok {
			n, err := value.Number(v)
			if err != nil {
				return nil, d.Errorf(`invalid max_queue value "%s"`, arg)
			}
			p.MaxQueue = n
		}
	}
	if p.Threads == 0 {
		return nil, d.Errorf(`"thread_pool" must have "threads" parameter`)
	}
	p.D = d
	return p, nil
}

// checkThreadPools is ngx_thread_pool_init_conf: a pool that was named
// and never defined is an error, except "default".
func checkThreadPools(ld *Loader) error {
	for _, p := range ThreadPoolsOf(ld).List {
		switch {
		case p.Threads != 0:
		case p.Name == defaultThreadPool.Name:
			p.Threads, p.MaxQueue = defaultThreadPool.Threads, defaultThreadPool.MaxQueue
		default:
			return &grammar.Error{Msg: fmt.Sprintf(`unknown thread pool "%s" in %s:%d`, p.Name, p.D.File(), p.D.Line)}
		}
	}
	return nil
}

// Expires is the expires directive. Mode is "off", "epoch", "max",
// "access" (Time after the request), "modified" (Time after the file's
// modification) or "daily" (the next Time of day); Time may be negative
// except for daily. Value holds a time with variables, worked out per
// request; Mode is then "access" or "modified".
type Expires struct {
	Mode  string
	Time  time.Duration
	Value string
}

// setExpires is ngx_http_headers_expires with ngx_http_parse_expires:
// [modified] time, @time of day, epoch, max or off (exact words).
func setExpires(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	e := Expires{Mode: "access"}
	arg := d.Args[0]
	if len(d.Args) == 2 {
		if arg != "modified" {
			return nil, Msg("invalid value")
		}
		e.Mode, arg = "modified", d.Args[1]
	}
	if strings.Contains(arg, "$") {
		e.Value = arg
		return e, nil
	}
	if e.Mode == "access" {
		switch arg {
		case "epoch", "max", "off":
			return Expires{Mode: arg}, nil
		}
	}
	minus := false
	switch {
	case strings.HasPrefix(arg, "@"):
		if e.Mode == "modified" {
			return nil, Msg(`daily time cannot be used with "modified" parameter`)
		}
		e.Mode, arg = "daily", arg[1:]
	case strings.HasPrefix(arg, "+"):
		arg = arg[1:]
	case strings.HasPrefix(arg, "-"):
		minus, arg = true, arg[1:]
	}
	secs, err := value.SecCount(arg)
	if err != nil {
		return nil, Msg("invalid value")
	}
	if e.Mode == "daily" && secs > 24*60*60 {
		return nil, Msg("daily time value must be less than 24 hours")
	}
	e.Time = time.Duration(1<<63 - 1)
	if secs <= int64(e.Time/time.Second) {
		e.Time = time.Duration(secs) * time.Second
	}
	if minus {
		e.Time = -e.Time
	}
	return e, nil
}
