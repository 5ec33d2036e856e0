package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// ClusterHash is the cluster identity of a node without a configured
// cluster name: "zones-" and 16 hex digits of a SHA-256 over the sorted
// "name kind version" lines of its synced zones. Nodes with the same synced
// zones get the same identity whatever the order of their declarations.
func ClusterHash(zones []ZoneID) string {
	lines := make([]string, len(zones))
	for i, z := range zones {
		lines[i] = fmt.Sprintf("%s %d %d\n", z.Name, z.Kind, z.Version)
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	return "zones-" + hex.EncodeToString(sum[:8])
}

// Negotiate returns the protocol version to use with a peer that sent h:
// the highest version both speak. ok is false when the ranges do not
// overlap.
func Negotiate(h Hello) (version uint8, ok bool) {
	v := min(h.VersionMax, ProtocolVersionMax)
	if v < max(h.VersionMin, ProtocolVersionMin) {
		return 0, false
	}
	return v, true
}
