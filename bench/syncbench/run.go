package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// readyPause is the pause between two tries of a server that is starting.
const readyPause = 20 * time.Millisecond

// fields builds the output line.
type fields []string

func (f *fields) add(name string, format string, v any) {
	*f = append(*f, name+"="+fmt.Sprintf(format, v))
}

func (f fields) String() string { return strings.Join(f, " ") }

// cpu adds the CPU time of -pids between two readings, in seconds and
// per million of n records, when there are pids.
func (f *fields) cpu(o *options, cpu0, cpu1 []int64, n float64) {
	if len(o.pids) != 2 {
		return
	}
	ca := float64(cpu1[0]-cpu0[0]) / float64(o.hz)
	cb := float64(cpu1[1]-cpu0[1]) / float64(o.hz)
	f.add("cpu_a_s", "%.2f", ca)
	f.add("cpu_b_s", "%.2f", cb)
	f.add("cpu_per_million_s", "%.2f", (ca+cb)/n*1e6)
	f.add("cpu_b_per_million_s", "%.2f", cb/n*1e6)
}

func seconds(d time.Duration) float64 { return d.Seconds() }
func ms(d time.Duration) float64      { return float64(d) / float64(time.Millisecond) }

// runReady waits until A answers and is ready as the flags ask.
func runReady(o *options) (string, error) {
	start := time.Now()
	deadline := start.Add(o.timeout)
	s, err := newServer(o, o.a, deadline)
	if err != nil {
		return "", err
	}
	defer s.close()
	var last error
	for {
		ok, err := s.ready(o.online, o.linked)
		if ok {
			var f fields
			f.add("ready_s", "%.3f", seconds(time.Since(start)))
			return f.String(), nil
		}
		if err != nil {
			last = err
			s.close() // dial again on the next try
		}
		if o.pid > 0 && !running(o.pid) {
			return "", fmt.Errorf("%s: process %d has exited", o.a, o.pid)
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = errors.New("it answers but is not ready")
			}
			return "", fmt.Errorf("%s not ready within %v: %v", o.a, o.timeout, last)
		}
		time.Sleep(readyPause) // polling a server that is starting
	}
}

// running reports whether process pid exists and has not exited (a
// zombie, exited but not yet reaped, has).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return i >= 0 && len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// write stores records first .. first+n-1 on addr: in one request with
// -bulk, else in batches of -pipeline over -c connections.
func write(o *options, addr string, first, n int, deadline time.Time) error {
	if o.bulk {
		s, err := newServer(o, addr, deadline)
		if err != nil {
			return err
		}
		defer s.close()
		return s.(bulkPutter).putBulk(first, n)
	}
	var next atomic.Int64
	var failed atomic.Bool
	errs := make([]error, o.conns)
	var wg sync.WaitGroup
	for w := range o.conns {
		wg.Go(func() {
			s, err := newServer(o, addr, deadline)
			if err != nil {
				errs[w] = err
				failed.Store(true)
				return
			}
			defer s.close()
			for !failed.Load() {
				j := int(next.Add(int64(o.pipeline))) - o.pipeline
				if j >= n {
					return
				}
				if err := s.put(first+j, min(o.pipeline, n-j)); err != nil {
					errs[w] = err
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// held is when a server was seen holding a number of records.
type held struct {
	at    time.Time
	count int64
	polls int
	err   error
}

// waitCount reads s's record count, pausing poll between reads, until it
// is at least target or the deadline passes. Read errors (a server still
// starting, a replica still loading) are retried until then.
func waitCount(s server, target int64, poll time.Duration, deadline time.Time) held {
	var h held
	var last error
	for {
		c, err := s.count()
		h.polls++
		if err == nil {
			h.count = c
			if c >= target {
				h.at = time.Now()
				return h
			}
		} else {
			last = err
			s.close()
		}
		if time.Now().After(deadline) {
			h.err = fmt.Errorf("%d of %d records after the -timeout", h.count, target)
			if last != nil && h.count == 0 {
				h.err = fmt.Errorf("%w; last error: %v", h.err, last)
			}
			return h
		}
		if poll > 0 {
			time.Sleep(poll) // polling the count of a server that is receiving
		}
	}
}

// cpuTicks is the user and system CPU time of each pid so far, in clock
// ticks.
func cpuTicks(pids []int) ([]int64, error) {
	out := make([]int64, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil, err
		}
		if out[i], err = statCPU(string(b)); err != nil {
			return nil, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
	}
	return out, nil
}

// statCPU is utime + stime of a /proc/PID/stat line (fields 14 and 15;
// the command name, field 2, may hold spaces and parentheses).
func statCPU(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("utime or stime is not a number")
	}
	return u + s, nil
}

// runSteady writes -n records to A and times them until B holds them all.
func runSteady(o *options) (string, error) {
	deadline := time.Now().Add(o.timeout)
	a, err := newServer(o, o.a, deadline)
	if err != nil {
		return "", err
	}
	defer a.close()
	b, err := newServer(o, o.b, deadline)
	if err != nil {
		return "", err
	}
	defer b.close()
	base, err := b.count()
	if err != nil {
		return "", fmt.Errorf("B: %v", err)
	}
	sent0, err := a.sent()
	if err != nil {
		return "", fmt.Errorf("A: %v", err)
	}
	cpu0, err := cpuTicks(o.pids)
	if err != nil {
		return "", err
	}

	start := time.Now()
	done := make(chan held, 1)
	go func() { done <- waitCount(b, base+int64(o.n), o.poll, deadline) }()
	if err := write(o, o.a, 0, o.n, deadline); err != nil {
		return "", fmt.Errorf("writing to A: %v", err)
	}
	wrote := time.Since(start)
	h := <-done
	if h.err != nil {
		return "", fmt.Errorf("B: %v", h.err)
	}
	cpu1, err := cpuTicks(o.pids)
	if err != nil {
		return "", err
	}
	sent1, err := a.sent()
	if err != nil {
		return "", fmt.Errorf("A: %v", err)
	}
	took := h.at.Sub(start)
	if took >= o.expire {
		return "", fmt.Errorf("B took %v, longer than the records' lifetime %v: some have expired", took, o.expire)
	}

	n := float64(o.n)
	var f fields
	f.add("records", "%d", o.n)
	f.add("held", "%d", h.count-base)
	f.add("write_s", "%.3f", seconds(wrote))
	f.add("repl_s", "%.3f", seconds(took))
	f.add("lag_ms", "%.1f", ms(took-wrote))
	f.add("write_rate", "%.0f", n/seconds(wrote))
	f.add("rate", "%.0f", n/seconds(took))
	f.add("bytes", "%d", sent1-sent0)
	f.add("bytes_per_record", "%.1f", float64(sent1-sent0)/n)
	f.cpu(o, cpu0, cpu1, n)
	f.add("polls", "%d", h.polls)
	return f.String(), nil
}

// runLoad writes -n records to A and checks that A holds that many.
func runLoad(o *options) (string, error) {
	start := time.Now()
	deadline := start.Add(o.timeout)
	if err := write(o, o.a, 0, o.n, deadline); err != nil {
		return "", err
	}
	took := time.Since(start)
	a, err := newServer(o, o.a, deadline)
	if err != nil {
		return "", err
	}
	defer a.close()
	c, err := a.count()
	if err != nil {
		return "", err
	}
	if c != int64(o.n) {
		return "", fmt.Errorf("A holds %d records after %d writes", c, o.n)
	}
	var f fields
	f.add("records", "%d", o.n)
	f.add("seconds", "%.3f", seconds(took))
	f.add("rate", "%.0f", float64(o.n)/seconds(took))
	return f.String(), nil
}

// runWait times from -since until B holds -n records.
func runWait(o *options) (string, error) {
	since := time.Now()
	if o.since != 0 {
		since = time.Unix(0, o.since)
	}
	deadline := time.Now().Add(o.timeout)
	b, err := newServer(o, o.b, deadline)
	if err != nil {
		return "", err
	}
	defer b.close()
	cpu0, err := cpuTicks(o.pids)
	if err != nil {
		return "", err
	}
	h := waitCount(b, int64(o.n), o.poll, deadline)
	if h.err != nil {
		return "", h.err
	}
	cpu1, err := cpuTicks(o.pids)
	if err != nil {
		return "", err
	}
	took := h.at.Sub(since)
	var f fields
	f.add("records", "%d", h.count)
	f.add("seconds", "%.3f", seconds(took))
	f.add("rate", "%.0f", float64(h.count)/seconds(took))
	f.cpu(o, cpu0, cpu1, float64(h.count))
	f.add("polls", "%d", h.polls)
	return f.String(), nil
}

// runDelay sends -n probes over -c workers. A probe pauses a random time
// in [0, -phase) (so that writes fall anywhere between two pushes of an
// interval), writes one record on A, then reads its key on B until it is
// there; its delay runs from just before the write to the read that found
// it.
func runDelay(o *options) (string, error) {
	deadline := time.Now().Add(o.timeout)
	type worker struct {
		a, b   server
		delays []time.Duration
		err    error
	}
	workers := make([]*worker, o.conns)
	defer func() {
		for _, w := range workers {
			if w != nil && w.a != nil {
				w.a.close()
			}
			if w != nil && w.b != nil {
				w.b.close()
			}
		}
	}()
	// Connect every worker before timing anything.
	for i := range workers {
		w := &worker{}
		workers[i] = w
		var err error
		if w.a, err = newServer(o, o.a, deadline); err != nil {
			return "", err
		}
		if w.b, err = newServer(o, o.b, deadline); err != nil {
			return "", err
		}
		if _, err := w.a.count(); err != nil {
			return "", fmt.Errorf("A: %v", err)
		}
		if _, err := w.b.count(); err != nil {
			return "", fmt.Errorf("B: %v", err)
		}
	}
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for wi, w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(o.seed, uint64(wi)))
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= o.n {
					return
				}
				if o.phase > 0 {
					time.Sleep(time.Duration(rng.Int64N(int64(o.phase)))) // a random phase against the push interval
				}
				d, err := probe(o, w.a, w.b, i)
				if err != nil {
					w.err = err
					failed.Store(true)
					return
				}
				w.delays = append(w.delays, d)
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	var errs []error
	for _, w := range workers {
		all = append(all, w.delays...)
		errs = append(errs, w.err)
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	slices.Sort(all)
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	var f fields
	f.add("probes", "%d", len(all))
	f.add("p50_ms", "%.3f", ms(percentile(all, 50)))
	f.add("p99_ms", "%.3f", ms(percentile(all, 99)))
	f.add("min_ms", "%.3f", ms(all[0]))
	f.add("max_ms", "%.3f", ms(all[len(all)-1]))
	f.add("mean_ms", "%.3f", ms(sum/time.Duration(len(all))))
	return f.String(), nil
}

// probe writes record i on A and reads it on B until it is there.
func probe(o *options, a, b server, i int) (time.Duration, error) {
	key := o.key(i)
	start := time.Now()
	if err := a.put(i, 1); err != nil {
		return 0, fmt.Errorf("A: %v", err)
	}
	for {
		found, err := b.has(key)
		if err != nil {
			return 0, fmt.Errorf("B: %v", err)
		}
		d := time.Since(start)
		if found {
			return d, nil
		}
		if d > o.maxWait {
			return 0, fmt.Errorf("key %s written on A is not on B after %v (-max-wait)", key, o.maxWait)
		}
		if o.gap > 0 {
			time.Sleep(o.gap) // -gap: a lighter poll than the tight loop
		}
	}
}

// percentile is the p-th percentile (0 < p <= 100) of sorted, by the
// nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
