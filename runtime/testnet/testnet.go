// Package testnet picks loopback ports for tests that must write a port
// into a configuration before the server under test binds it.
package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// The ports Port picks from lie below Linux's ephemeral range (32768 and
// up), which the kernel uses for the local end of outgoing connections and
// for ":0" listeners: a port picked there can be taken by another test's
// connection between the probe and the bind.
const (
	lowPort  = 20000
	highPort = 32000
)

// Port returns a TCP port on host (an IPv4 loopback address) that was free
// a moment ago, picked at random below the ephemeral range.
func Port(t testing.TB, host string) int {
	t.Helper()
	for try := 0; try < 200; try++ {
		port := lowPort + rand.IntN(highPort-lowPort)
		if Free(host, port) {
			return port
		}
	}
	t.Fatalf("testnet: no free port on %s", host)
	return 0
}

// Free reports whether host:port can be bound now.
func Free(host string, port int) bool {
	l, err := net.Listen("tcp4", fmt.Sprintf("%s:%d", host, port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
