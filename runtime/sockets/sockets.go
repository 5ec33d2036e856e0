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
