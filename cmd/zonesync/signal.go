package main

import (
	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/node"
)

// sendSignal is -s: it reads the configuration for the pid file's path,
// then signals the node whose pid the file holds, as nginx does.
func sendSignal(log *termLog, prefix, confFile string, builtin []byte, o *options) int {
	cfg, err := directives.Load(directives.Options{
		Prefix: prefix, ConfFile: confFile, ConfSource: builtin, Globals: o.globals, Log: log.Error,
	})
	if err != nil {
		log.Error(directives.Emerg, err)
		return 1
	}
	if err := node.Signal(cfg, o.signal); err != nil {
		log.Printf(directives.Err, "%v", err)
		return 1
	}
	return 0
}
