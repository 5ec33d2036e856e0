package node

import _ "embed"

// DefaultConfig is the configuration a node runs when it is started
// without -c and no configuration file exists at the default path.
//
//go:embed default.conf
var DefaultConfig []byte

// DefaultConfigName is how messages name the built-in configuration.
const DefaultConfigName = "<built-in>"
