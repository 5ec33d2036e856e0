// Package sockets opens the node's listening sockets, for the http and
// stream servers and for zone_sync, and words a failure as nginx logs it:
// `bind() to 127.0.0.1:80 failed (98: Address already in use)`.
package sockets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives"
)

// Listen opens a listening socket on network ("tcp4", "tcp6", "tcp" or
// "unix") and address; text is the address as nginx prints it. With
// dualStack an IPv6 socket takes IPv4 connections too (ipv6only=off).
func Listen(network, address, text string, dualStack bool) (net.Listener, error) {
	var lc net.ListenConfig
	if dualStack && network == "tcp6" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return nil, Error(text, err)
	}
	return ln, nil
}

// Error words a failed bind or listen as nginx logs it.
func Error(text string, err error) error {
	call := "bind"
	var se *os.SyscallError
	if errors.As(err, &se) && se.Syscall == "listen" {
		call = "listen"
	}
	return fmt.Errorf("%s() to %s failed (%s)", call, text, directives.ErrnoText(err))
}

// AcceptLoop accepts connections on ln and hands each to handle, in the
// calling goroutine, until ln fails for good: after closing() reports true
// (the owner closed ln) it returns quietly. Temporary failures (out of
// descriptors or buffers, an aborted connection) are logged and retried
// after a pause that grows from 5 ms to 1 s, as nginx stops accepting for
// a while when it runs out of descriptors; a close of stop ends the pause.
func AcceptLoop(ln net.Listener, stop <-chan struct{}, closing func() bool, logErr func(error), handle func(net.Conn)) {
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err == nil {
			backoff = 5 * time.Millisecond
			handle(nc)
			continue
		}
		if closing() {
			return
		}
		logErr(err)
		if !temporary(err) {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

// temporary reports the accept errors worth retrying (EMFILE, ENFILE,
// ENOBUFS, ENOMEM, ECONNABORTED) and timeouts.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Spec is one socket to open with Listen.
type Spec struct {
	Network, Address, Text string
	DualStack              bool
}

// ListenAll opens every socket in order, as nginx opens its listening
// sockets, taking a socket the Handover h parked for the same Spec before
// binding a new one (h may be nil). If one fails, the sockets bound so far
// are closed, those taken are parked again, and its error is returned.
func ListenAll(specs []Spec, h *Handover) ([]net.Listener, error) {
	lns := make([]net.Listener, 0, len(specs))
	taken := make([]bool, 0, len(specs))
	for _, s := range specs {
		if ln := h.take(s); ln != nil {
			lns, taken = append(lns, ln), append(taken, true)
			continue
		}
		ln, err := Listen(s.Network, s.Address, s.Text, s.DualStack)
		if err != nil {
			for i, o := range lns {
				if taken[i] {
					Stop(o)
					h.Park(specs[i], o)
				} else {
					o.Close()
				}
			}
			return nil, err
		}
		lns, taken = append(lns, ln), append(taken, false)
	}
	return lns, nil
}
