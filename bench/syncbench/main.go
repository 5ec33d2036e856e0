// Command syncbench drives and times the sync section of bench/run.sh
// (bench/sync.sh): replication from one zonesync node to another over
// zone_sync, and from a redis-server primary to its replica, with the same
// records on both sides (32-byte keys and values by default, each with a
// lifetime). Node A (or the primary) is written to, node B (or the replica)
// is watched.
//
//	syncbench ready  -kind zonesync -a http://127.0.0.1:8080/api/9 -online 1
//	syncbench ready  -kind redis -a 127.0.0.1:6380 -linked
//	syncbench steady -kind zonesync -a API_A -b API_B -n 200000 -pids PID_A,PID_B
//	syncbench steady -kind redis -a HOST:PORT -b HOST:PORT -n 200000 -pids ...
//	syncbench load   -kind zonesync -a API_A -n 1000000 -bulk
//	syncbench wait   -kind zonesync -b API_B -n 1000000 -since UNIX_NANOSECONDS
//	syncbench delay  -kind zonesync -a API_A -b API_B -n 200 -c 8 -phase 1s
//
// zonesync nodes are reached through the NGINX Plus API (-a and -b are its
// URL with the version, -zone names the keyval zone); Redis through RESP
// (-a and -b are HOST:PORT).
//
// Commands, each printing one line of name=value fields:
//
//	ready   wait until -a answers, has -online peers (zonesync: nodes_online;
//	        redis: connected_slaves) and, with -linked, has finished its sync
//	        with its primary (redis: master_link_status:up); with -pid, fail
//	        as soon as that process has exited
//	steady  write -n records to A and time them until B holds them all
//	        (zone_sync records_total; DBSIZE); also the bytes A sent for them
//	        (bytes_out; master_repl_offset) and the CPU time of -pids
//	load    write -n records to A and check that A holds them
//	wait    time from -since until B holds -n records (a fresh node or
//	        replica started at -since receiving its snapshot); the CPU time
//	        of -pids meanwhile
//	delay   -n single writes on A, each followed by reads of its key on B in
//	        a tight loop until it is there: the delays' percentiles
//
// Writes: zonesync records are POSTed as {"KEY":{"value":"VALUE","expire":MS}},
// one pair per request, -pipeline requests written at once on each of -c
// keep-alive connections (the API takes several pairs in one POST only into
// an empty zone: -bulk sends every record in one POST, for that case); Redis
// records are SET KEY VALUE EX SECONDS, pipelined the same way.
//
// Every command is bounded in count and by -timeout; past it, it fails.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Bounds on the flags, so a typo cannot start an unbounded run.
const (
	maxRecords  = 50_000_000
	maxConns    = 1024
	maxPipeline = 100_000
	maxField    = 1 << 12
)

var errDeadline = errors.New("-timeout reached")

// options are every command's inputs; each command reads the ones it needs.
type options struct {
	kind      string
	a, b      string
	zone      string
	n         int
	conns     int
	pipeline  int
	bulk      bool
	expire    time.Duration
	prefix    string
	keySize   int
	valueSize int
	pids      []int
	hz        int
	timeout   time.Duration
	poll      time.Duration
	since     int64
	online    int
	linked    bool
	pid       int
	phase     time.Duration
	gap       time.Duration
	maxWait   time.Duration
	seed      uint64
}

var commands = map[string]func(*options) (string, error){
	"ready":  runReady,
	"steady": runSteady,
	"load":   runLoad,
	"wait":   runWait,
	"delay":  runDelay,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: syncbench ready|steady|load|wait|delay [flags] (see the package comment)")
		os.Exit(2)
	}
	o, err := parse(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(2)
	}
	line, err := commands[os.Args[1]](o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "syncbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Println(line)
}

// parse reads the flags of command cmd and checks them.
func parse(cmd string, args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("syncbench "+cmd, flag.ContinueOnError)
	fs.StringVar(&o.kind, "kind", "zonesync", "zonesync or redis")
	fs.StringVar(&o.a, "a", "", "node A (written to): the API URL http://HOST:PORT/api/9, or redis HOST:PORT")
	fs.StringVar(&o.b, "b", "", "node B (watched): as -a")
	fs.StringVar(&o.zone, "zone", "bench", "zonesync: the synced keyval zone")
	fs.IntVar(&o.n, "n", 1000, "records (steady, load, wait) or probes (delay)")
	fs.IntVar(&o.conns, "c", 4, "concurrent connections writing (steady, load) or probing (delay)")
	fs.IntVar(&o.pipeline, "pipeline", 100, "writes sent at once on a connection before reading their answers")
	fs.BoolVar(&o.bulk, "bulk", false, "zonesync: every record in one POST (the zone must be empty)")
	fs.DurationVar(&o.expire, "expire", 60*time.Second, "lifetime of every record")
	fs.StringVar(&o.prefix, "prefix", "s", "prefix of every key name")
	fs.IntVar(&o.keySize, "key-size", 32, "bytes per key")
	fs.IntVar(&o.valueSize, "value-size", 32, "bytes per value")
	pids := fs.String("pids", "", "steady, wait: PID_A,PID_B whose CPU time to report")
	fs.IntVar(&o.hz, "hz", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up (and fail) after this long")
	fs.DurationVar(&o.poll, "poll", 2*time.Millisecond, "pause between two reads of B's record count")
	fs.Int64Var(&o.since, "since", 0, "wait: the start, unix nanoseconds (default: now)")
	fs.IntVar(&o.online, "online", 0, "ready: peers the server must have")
	fs.BoolVar(&o.linked, "linked", false, "ready: redis replica: its sync with the primary is done")
	fs.IntVar(&o.pid, "pid", 0, "ready: give up as soon as this process (the server) has exited")
	fs.DurationVar(&o.phase, "phase", 0, "delay: pause a random time in [0, phase) before each write")
	fs.DurationVar(&o.gap, "gap", 0, "delay: pause between two reads of B (0: none)")
	fs.DurationVar(&o.maxWait, "max-wait", 10*time.Second, "delay: longest wait for one write to reach B")
	fs.Uint64Var(&o.seed, "seed", 1, "delay: seed of the random pauses")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *pids != "" {
		for _, p := range strings.Split(*pids, ",") {
			pid, err := strconv.Atoi(p)
			if err != nil || pid <= 0 {
				return nil, fmt.Errorf("-pids %q: want PID_A,PID_B", *pids)
			}
			o.pids = append(o.pids, pid)
		}
		if len(o.pids) != 2 {
			return nil, fmt.Errorf("-pids %q: want PID_A,PID_B", *pids)
		}
	}
	return o, o.check(cmd)
}

func (o *options) check(cmd string) error {
	needA := cmd != "wait"
	needB := cmd == "steady" || cmd == "wait" || cmd == "delay"
	switch {
	case o.kind != "zonesync" && o.kind != "redis":
		return fmt.Errorf("-kind %q: want zonesync or redis", o.kind)
	case needA && o.a == "", needB && o.b == "":
		return fmt.Errorf("%s needs -a and -b (wait: -b only)", cmd)
	case o.n < 1 || o.n > maxRecords:
		return fmt.Errorf("-n must be between 1 and %d", maxRecords)
	case o.conns < 1 || o.conns > maxConns:
		return fmt.Errorf("-c must be between 1 and %d", maxConns)
	case o.pipeline < 1 || o.pipeline > maxPipeline:
		return fmt.Errorf("-pipeline must be between 1 and %d", maxPipeline)
	case o.bulk && o.kind != "zonesync":
		return errors.New("-bulk is for zonesync only")
	case o.expire < time.Millisecond:
		return errors.New("-expire must be at least 1ms")
	case o.keySize < 1 || o.keySize > maxField || o.valueSize < 1 || o.valueSize > maxField:
		return fmt.Errorf("-key-size and -value-size must be between 1 and %d", maxField)
	case o.hz < 1:
		return errors.New("-hz must be positive")
	case o.timeout <= 0 || o.poll < 0 || o.phase < 0 || o.gap < 0 || o.maxWait <= 0:
		return errors.New("-timeout and -max-wait must be positive, -poll, -phase and -gap not negative")
	case o.online < 0 || o.pid < 0:
		return errors.New("-online and -pid must not be negative")
	}
	if err := validPrefix(o.prefix); err != nil {
		return err
	}
	if _, err := keyName(o.prefix, o.n-1, o.keySize); err != nil {
		return err
	}
	return nil
}

// validPrefix refuses prefixes that would need escaping in JSON, in a URL
// or in RESP, so that keys go into all three as they are.
func validPrefix(p string) error {
	for _, c := range []byte(p) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("-prefix %q: use letters, digits, '-', '_' and '.' only", p)
		}
	}
	return nil
}

// keyName is key number i: the prefix, then i zero-padded to size bytes
// in all.
func keyName(prefix string, i, size int) (string, error) {
	s := fmt.Sprintf("%s%0*d", prefix, max(size-len(prefix), 1), i)
	if len(s) != size {
		return "", fmt.Errorf("key %d with prefix %q does not fit in %d bytes", i, prefix, size)
	}
	return s, nil
}

// key is record i's key; check made sure every key of the run fits.
func (o *options) key(i int) string {
	k, _ := keyName(o.prefix, i, o.keySize)
	return k
}

// value is record i's value: size bytes starting with "v" and the number,
// so that no two neighbours are equal.
func value(i, size int) string {
	s := "v" + strconv.Itoa(i) + "-"
	if len(s) >= size {
		return s[:size]
	}
	return s + strings.Repeat("x", size-len(s))
}
