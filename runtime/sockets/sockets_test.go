package sockets

import (
	"fmt"
	"net"
	"testing"
)

func TestBusyAddressIsNginxText(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	_, err = Listen("tcp4", addr, addr, false)
	want := fmt.Sprintf("bind() to %s failed (98: Address already in use)", addr)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestDualStackTakesIPv4(t *testing.T) {
	ln, err := Listen("tcp6", "[::]:0", "[::]:0", true)
	if err != nil {
		t.Skipf("no IPv6 here: %v", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("an IPv4 client cannot reach a dual-stack socket: %v", err)
	}
	c.Close()
}
