package core_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/sync/core"
	"github.com/zonesync/zonesync/runtime/sync/core/sim"
	"github.com/zonesync/zonesync/runtime/zone"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/*.txt (read the diff before committing)")

// TestScenarios runs every testdata/*.txt script on a simulated cluster.
//
// A script is a list of commands. A command's expected output follows it
// after a "----" line, up to a blank line; a command without "----"
// expects no output. The output is what the cores logged at notice level
// and above (everything with "verbose on") while the command ran, then what
// the command prints. "expect" commands assert and print nothing; they fail
// the test even with -update. Each script cites, in a "# seed:" line, the
// sentence of the zone_sync documentation it checks. The commands:
//
//	node NAME... [interval=1s] [timeout=5s] [buffers=8:4k] [recv=32k] [cluster=NAME]
//	             [zones=zone1:keyval,z2:sticky:10s] [skew=0s]
//	write NODE ZONE KEY VALUE       delete NODE ZONE KEY
//	tick DURATION                   deliver
//	partition A B | C ...           heal
//	disconnect A B                  corrupt FROM TO
//	clock NODE +5s                  faults [dup=on] [reorder=on] | faults off
//	flush NODE                      stop NODE
//	status NODE                     links NODE
//	dump NODE ZONE                  verbose on|off
//	expect NODES ZONE KEY=VALUE...  (VALUE <none>: absent or deleted)
//	expect NODES status FIELD=N|FIELD>N...  (nodes_online, msgs_in, bytes_in,
//	                                msgs_out, bytes_out, ZONE.pending, ZONE.total)
//	expect NODES recv ZONE push=N snapshot=N
//	expect converged ZONE [NODES]
//
// NODES is "all" (the running nodes) or a comma-separated list.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScenario(t, file)
		})
	}
}

type block struct {
	pre  []string // comment and blank lines before the command
	line int
	cmd  string
	want []string
}

func parseScript(text string) (blocks []block, tail []string) {
	var pre []string
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		b := block{pre: pre, line: i + 1, cmd: strings.TrimSpace(l)}
		pre = nil
		if i+1 < len(lines) && lines[i+1] == "----" {
			for i += 2; i < len(lines) && lines[i] != ""; i++ {
				b.want = append(b.want, lines[i])
			}
		}
		blocks = append(blocks, b)
	}
	return blocks, pre
}

func runScenario(t *testing.T, file string) {
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "\n# seed: ") && !strings.HasPrefix(string(text), "# seed: ") {
		t.Errorf("%s: no \"# seed:\" line citing the documentation", file)
	}
	blocks, tail := parseScript(string(text))
	r := &runner{net: sim.New(1)}
	var out strings.Builder
	for i, b := range blocks {
		got, err := r.exec(b.cmd)
		if err != nil {
			t.Errorf("%s:%d: %s: %v", file, b.line, b.cmd, err)
		}
		if !*update && strings.Join(got, "\n") != strings.Join(b.want, "\n") {
			t.Errorf("%s:%d: %s: output differs\ngot:\n%s\nwant:\n%s", file, b.line, b.cmd,
				strings.Join(got, "\n"), strings.Join(b.want, "\n"))
		}
		// Blocks are separated by a blank line; the one closing an output
		// was consumed by parseScript.
		if i > 0 && (len(b.pre) == 0 || b.pre[0] != "") {
			out.WriteString("\n")
		}
		for _, l := range b.pre {
			out.WriteString(l + "\n")
		}
		out.WriteString(b.cmd + "\n")
		if len(got) > 0 {
			out.WriteString("----\n" + strings.Join(got, "\n") + "\n")
		}
	}
	for _, l := range tail {
		out.WriteString(l + "\n")
	}
	if *update {
		s := strings.TrimRight(out.String(), "\n") + "\n"
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type runner struct {
	net     *sim.Network
	logged  int
	verbose bool
}

// exec runs one command and returns its output.
func (r *runner) exec(cmd string) ([]string, error) {
	f := strings.Fields(cmd)
	printed, err := r.command(f[0], f[1:])
	var out []string
	for _, e := range r.net.Log[r.logged:] {
		if r.verbose || e.Level <= core.LevelNotice {
			out = append(out, e.String())
		}
	}
	r.logged = len(r.net.Log)
	return append(out, printed...), err
}

func (r *runner) command(name string, args []string) ([]string, error) {
	switch name {
	case "node":
		return nil, r.addNodes(args)
	case "write", "delete":
		return nil, r.change(name, args)
	case "tick":
		d, err := oneDuration(args)
		if err != nil {
			return nil, err
		}
		return nil, r.net.Advance(d)
	case "deliver":
		return nil, r.net.Deliver()
	case "partition":
		var groups [][]string
		for _, g := range strings.Split(strings.Join(args, " "), "|") {
			groups = append(groups, strings.Fields(g))
		}
		r.net.Partition(groups)
		return nil, nil
	case "heal":
		r.net.Heal()
		return nil, nil
	case "disconnect":
		if len(args) != 2 {
			return nil, fmt.Errorf("want two nodes")
		}
		r.net.Disconnect(args[0], args[1])
		return nil, nil
	case "corrupt":
		if len(args) != 2 || !r.net.Inject(args[0], args[1], []byte{0x7f, 0, 0, 0, 0, 0}) {
			return nil, fmt.Errorf("no open connection from %v", args)
		}
		return nil, nil
	case "clock":
		nd, err := r.node(args, 2)
		if err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return nil, err
		}
		nd.SetSkew(d)
		return nil, nil
	case "faults":
		r.net.Dup, r.net.Reorder = false, false
		for _, a := range args {
			switch a {
			case "dup=on":
				r.net.Dup = true
			case "reorder=on":
				r.net.Reorder = true
			case "off":
			default:
				return nil, fmt.Errorf("unknown fault %q", a)
			}
		}
		return nil, nil
	case "flush", "stop":
		nd, err := r.node(args, 1)
		if err != nil {
			return nil, err
		}
		if name == "flush" {
			r.net.Flush(nd)
			return nil, nil
		}
		return nil, r.net.Stop(nd)
	case "status":
		nd, err := r.node(args, 1)
		if err != nil {
			return nil, err
		}
		return statusLines(nd), nil
	case "links":
		nd, err := r.node(args, 1)
		if err != nil {
			return nil, err
		}
		return nd.Links(), nil
	case "dump":
		nd, err := r.node(args, 2)
		if err != nil {
			return nil, err
		}
		return nd.Dump(args[1]), nil
	case "verbose":
		r.verbose = len(args) == 1 && args[0] == "on"
		return nil, nil
	case "expect":
		return nil, r.expect(args)
	}
	return nil, fmt.Errorf("unknown command %q", name)
}

func (r *runner) node(args []string, n int) (*sim.Node, error) {
	if len(args) != n {
		return nil, fmt.Errorf("want %d arguments", n)
	}
	nd := r.net.Node(args[0])
	if nd == nil {
		return nil, fmt.Errorf("no node %q", args[0])
	}
	return nd, nil
}

func oneDuration(args []string) (time.Duration, error) {
	if len(args) != 1 {
		return 0, fmt.Errorf("want a duration")
	}
	return time.ParseDuration(args[0])
}

func (r *runner) addNodes(args []string) error {
	o := sim.NodeOptions{Interval: time.Second, Timeout: 5 * time.Second}
	zones := "zone1:keyval"
	var names []string
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			names = append(names, a)
			continue
		}
		var err error
		switch k {
		case "interval":
			o.Interval, err = time.ParseDuration(v)
		case "timeout":
			o.Timeout, err = time.ParseDuration(v)
		case "skew":
			o.Skew, err = time.ParseDuration(v)
		case "buffers":
			n, size, _ := strings.Cut(v, ":")
			if o.BufferCount, err = strconv.Atoi(n); err == nil {
				o.BufferSize, err = parseSize(size)
			}
		case "recv":
			o.RecvBufferSize, err = parseSize(v)
		case "cluster":
			o.Cluster = v
		case "zones":
			zones = v
		default:
			err = fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return err
		}
	}
	for _, z := range strings.Split(zones, ",") {
		parts := strings.Split(z, ":")
		spec := sim.ZoneSpec{Name: parts[0]}
		switch kind := parts[min(1, len(parts)-1)]; kind {
		case "keyval":
			spec.Kind = zone.KindKeyval
		case "sticky":
			spec.Kind = zone.KindSticky
		case "limit_req":
			spec.Kind = zone.KindLimitReq
		default:
			return fmt.Errorf("zone %q: unknown kind %q", z, kind)
		}
		if len(parts) > 2 {
			d, err := time.ParseDuration(parts[2])
			if err != nil {
				return err
			}
			spec.Timeout = d
		}
		o.Zones = append(o.Zones, spec)
	}
	for _, name := range names {
		if _, err := r.net.AddNode(name, o); err != nil {
			return err
		}
	}
	return nil
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.Atoi(s)
	return n * mult, err
}

func (r *runner) change(op string, args []string) error {
	want := map[string]int{"write": 4, "delete": 3}[op]
	if len(args) != want {
		return fmt.Errorf("want %d arguments", want)
	}
	nd := r.net.Node(args[0])
	if nd == nil {
		return fmt.Errorf("no node %q", args[0])
	}
	z := nd.Zones[args[1]]
	if z == nil {
		return fmt.Errorf("node %s has no zone %q", args[0], args[1])
	}
	if op == "write" {
		if err := z.Set(args[2], []byte(args[3]), 0); err != nil {
			return err
		}
	} else if !z.Delete(args[2]) {
		return fmt.Errorf("%s: no key %q to delete", args[0], args[2])
	}
	r.net.Changed(nd)
	return nil
}

func statusLines(nd *sim.Node) []string {
	s := nd.Core.Status()
	out := []string{fmt.Sprintf("%s: nodes_online=%d msgs_in=%d bytes_in=%d msgs_out=%d bytes_out=%d",
		nd.Name, s.NodesOnline, s.MsgsIn, s.BytesIn, s.MsgsOut, s.BytesOut)}
	for _, z := range s.Zones {
		out = append(out, fmt.Sprintf("%s: zone %s records_pending=%d records_total=%d", nd.Name, z.Name, z.RecordsPending, z.RecordsTotal))
	}
	return out
}

func statusFields(nd *sim.Node) map[string]int64 {
	s := nd.Core.Status()
	m := map[string]int64{"nodes_online": s.NodesOnline, "msgs_in": s.MsgsIn, "bytes_in": s.BytesIn,
		"msgs_out": s.MsgsOut, "bytes_out": s.BytesOut}
	for _, z := range s.Zones {
		m[z.Name+".pending"] = z.RecordsPending
		m[z.Name+".total"] = z.RecordsTotal
	}
	return m
}

// nodes resolves "all" or "a,b".
func (r *runner) nodes(spec string) ([]*sim.Node, error) {
	var out []*sim.Node
	if spec == "all" {
		for _, nd := range r.net.Nodes() {
			if !nd.Stopped {
				out = append(out, nd)
			}
		}
		return out, nil
	}
	for _, name := range strings.Split(spec, ",") {
		nd := r.net.Node(name)
		if nd == nil {
			return nil, fmt.Errorf("no node %q", name)
		}
		out = append(out, nd)
	}
	return out, nil
}

func (r *runner) expect(args []string) error {
	if len(args) >= 2 && args[0] == "converged" {
		spec := "all"
		if len(args) > 2 {
			spec = args[2]
		}
		nds, err := r.nodes(spec)
		if err != nil {
			return err
		}
		for _, nd := range nds[1:] {
			if a, b := nds[0].State(args[1]), nd.State(args[1]); a != b {
				return fmt.Errorf("zone %s differs between %s and %s:\n%s:\n%s\n%s:\n%s", args[1],
					nds[0].Name, nd.Name, nds[0].Name, a, nd.Name, b)
			}
		}
		return nil
	}
	if len(args) < 3 {
		return fmt.Errorf("expect what?")
	}
	nds, err := r.nodes(args[0])
	if err != nil {
		return err
	}
	var errs []string
	for _, nd := range nds {
		switch args[1] {
		case "status":
			errs = append(errs, checkStatus(nd, args[2:])...)
		case "recv":
			errs = append(errs, checkRecv(nd, args[2:])...)
		default:
			errs = append(errs, checkRecords(nd, args[1], args[2:])...)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func checkRecords(nd *sim.Node, zoneName string, kvs []string) []string {
	var errs []string
	z := nd.Zones[zoneName]
	for _, kv := range kvs {
		k, want, ok := strings.Cut(kv, "=")
		if !ok {
			return append(errs, fmt.Sprintf("bad pair %q", kv))
		}
		got, found := "<none>", false
		if z != nil {
			var v []byte
			if v, found = z.Get(k); found {
				got = string(v)
			}
		}
		if got != want {
			errs = append(errs, fmt.Sprintf("%s: %s %s=%s, want %s", nd.Name, zoneName, k, got, want))
		}
	}
	return errs
}

func checkStatus(nd *sim.Node, conds []string) []string {
	var errs []string
	fields := statusFields(nd)
	for _, c := range conds {
		op := "="
		k, v, ok := strings.Cut(c, "=")
		if !ok {
			op = ">"
			k, v, ok = strings.Cut(c, ">")
		}
		want, err := strconv.ParseInt(v, 10, 64)
		got, known := fields[k]
		if !ok || err != nil || !known {
			return append(errs, fmt.Sprintf("bad condition %q", c))
		}
		if op == "=" && got != want || op == ">" && got <= want {
			errs = append(errs, fmt.Sprintf("%s: %s is %d, want %s%d", nd.Name, k, got, op, want))
		}
	}
	return errs
}

func checkRecv(nd *sim.Node, args []string) []string {
	if len(args) < 1 {
		return []string{"recv needs a zone"}
	}
	tr := nd.Recv[args[0]]
	if tr == nil {
		tr = &sim.Traffic{}
	}
	var errs []string
	for _, c := range args[1:] {
		k, v, _ := strings.Cut(c, "=")
		want, err := strconv.Atoi(v)
		got := map[string]int{"push": tr.Push, "snapshot": tr.Snapshot}
		if g, ok := got[k]; !ok || err != nil {
			errs = append(errs, fmt.Sprintf("bad condition %q", c))
		} else if g != want {
			errs = append(errs, fmt.Sprintf("%s: received %d %s records of %s, want %d", nd.Name, g, k, args[0], want))
		}
	}
	return errs
}
