package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// profileEnv names a file for a CPU profile of a running node, for
// `go tool pprof` (bench/README.md): the profile covers the node's whole
// life and is written when it stops.
const profileEnv = "ZONESYNC_CPUPROFILE"

// startProfile starts the CPU profile profileEnv asks for and returns
// what stops it; it does nothing without the variable.
func startProfile(stderr io.Writer) (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: [warn] %s: %v\n", progName, profileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
