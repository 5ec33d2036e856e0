package sockets

import (
	"net"
	"sync"
)

// Set is the listening sockets of one server core (httpd, streamd) and
// their accept loops, with the life cycle both share: opened all at once
// (ListenAll, taking what a Handover parked), one accept loop each, and at
// shutdown stopped and parked in the Handover, or closed without one.
type Set struct {
	h         *Handover
	specs     []Spec
	accepting sync.WaitGroup

	mu     sync.Mutex
	lns    []net.Listener // nil before Listen and once parked or closed
	parked []bool         // stopped, to be parked once the loops end
}

// NewSet prepares the sockets of specs, in order; h may be nil.
func NewSet(specs []Spec, h *Handover) *Set {
	return &Set{h: h, specs: specs, parked: make([]bool, len(specs))}
}

// Listen opens every socket (see ListenAll).
func (s *Set) Listen() error {
	lns, err := ListenAll(s.specs, s.h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.lns = lns
	s.mu.Unlock()
	return nil
}

// Addrs returns the addresses of the open sockets, in order.
func (s *Set) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, ln := range s.lns {
		if ln != nil {
			out = append(out, ln.Addr())
		}
	}
	return out
}

// Accept starts loop(i, ln) on a goroutine for every open socket i; Wait
// and Park wait for them to return. Call it once, after Listen.
func (s *Set) Accept(loop func(i int, ln net.Listener)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ln := range s.lns {
		if ln == nil {
			continue
		}
		s.accepting.Add(1)
		go func() {
			defer s.accepting.Done()
			loop(i, ln)
		}()
	}
}

// Stop ends the accept loops: with a Handover the sockets stay open for
// the next configuration's servers (Stop), else they close.
func (s *Set) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ln := range s.lns {
		switch {
		case ln == nil:
		case s.h != nil && Stop(ln):
			s.parked[i] = true
		default:
			ln.Close()
			s.lns[i] = nil
		}
	}
}

// Wait returns once the accept loops have returned (after Stop).
func (s *Set) Wait() { s.accepting.Wait() }

// Park waits until the accept loops have returned, then hands the stopped
// sockets to the Handover.
func (s *Set) Park() {
	s.accepting.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.parked {
		if p {
			s.h.Park(s.specs[i], s.lns[i])
			s.parked[i], s.lns[i] = false, nil
		}
	}
}
