package sockets

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zonesync/zonesync/runtime/testnet"
)

// A socket handed over is never closed: a connection made while it is
// parked waits in its backlog and is accepted by the next owner; a parked
// socket nobody takes is closed by Close.
func TestHandover(t *testing.T) {
	var h Handover
	keep := Spec{Network: "tcp4", Address: fmt.Sprintf("127.0.0.1:%d", testnet.Port(t, "127.0.0.1"))}
	drop := Spec{Network: "tcp4", Address: fmt.Sprintf("127.0.0.1:%d", testnet.Port(t, "127.0.0.1"))}
	keep.Text, drop.Text = keep.Address, drop.Address
	lns, err := ListenAll([]Spec{keep, drop}, &h)
	if err != nil {
		t.Fatal(err)
	}
	// The old owner's accept loop is interrupted, not the socket closed.
	accepted := make(chan error, 1)
	go func() {
		_, err := lns[0].Accept()
		accepted <- err
	}()
	for _, ln := range lns {
		if !Stop(ln) {
			t.Fatal("a TCP listener could not be stopped")
		}
	}
	select {
	case err := <-accepted:
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("the stopped Accept returned %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not interrupt Accept")
	}
	h.Park(keep, lns[0])
	h.Park(drop, lns[1])

	c, err := net.DialTimeout("tcp", keep.Address, time.Second)
	if err != nil {
		t.Fatalf("a connection while the socket is parked: %v", err)
	}
	defer c.Close()
	next, err := ListenAll([]Spec{keep}, &h)
	if err != nil {
		t.Fatal(err)
	}
	if next[0] != lns[0] {
		t.Fatal("the next owner bound a new socket instead of taking the parked one")
	}
	next[0].(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	sc, err := next[0].Accept()
	if err != nil {
		t.Fatalf("the connection made in between was not accepted: %v", err)
	}
	sc.Close()
	next[0].Close()

	h.Close()
	if _, err := net.DialTimeout("tcp", drop.Address, time.Second); err == nil {
		t.Fatal("Close left the socket nobody took open")
	}
	if !testnet.Free("127.0.0.1", lns[1].Addr().(*net.TCPAddr).Port) {
		t.Fatal("the dropped address is still bound")
	}
}
