package sockets

import (
	"net"
	"sync"
	"time"
)

// Handover carries listening sockets from the servers of one configuration
// to the servers of the next, as nginx hands its sockets to the new
// workers on reload: a socket whose address the new configuration keeps is
// never closed, so connections arriving during a reload wait in its
// backlog instead of being refused.
//
// A server that shuts down with a Handover stops its accept loops without
// closing their sockets (Stop) and parks them once the loops have ended
// (Park); the next servers' ListenAll takes a parked socket of the same
// Spec before binding a new one. Close closes what nobody took.
type Handover struct {
	mu     sync.Mutex
	parked map[Spec][]net.Listener
}

// deadliner is what a listener needs to have its Accept interrupted
// without being closed.
type deadliner interface{ SetDeadline(time.Time) error }

// Stop interrupts ln's pending and future Accepts (they fail with a
// timeout) and reports whether it could; a listener that cannot be
// stopped so must be closed instead.
func Stop(ln net.Listener) bool {
	d, ok := ln.(deadliner)
	return ok && d.SetDeadline(time.Unix(1, 0)) == nil
}

// Park keeps ln, whose accept loop has ended, for the next ListenAll.
func (h *Handover) Park(s Spec, ln net.Listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.parked == nil {
		h.parked = map[Spec][]net.Listener{}
	}
	h.parked[s] = append(h.parked[s], ln)
}

// take returns a parked listener of s, ready to accept again, or nil.
func (h *Handover) take(s Spec) net.Listener {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	lns := h.parked[s]
	if len(lns) == 0 {
		return nil
	}
	ln := lns[len(lns)-1]
	h.parked[s] = lns[:len(lns)-1]
	ln.(deadliner).SetDeadline(time.Time{})
	return ln
}

// Close closes every parked listener: the addresses the new configuration
// dropped.
func (h *Handover) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, lns := range h.parked {
		for _, ln := range lns {
			ln.Close()
		}
	}
	h.parked = nil
}
