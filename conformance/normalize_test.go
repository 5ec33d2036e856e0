package conformance

import (
	"regexp"
	"strings"
)

// normalizePaths replaces the case folder with $CASE and the prefix folder
// with $PREFIX, the longer first, so outputs do not depend on where the
// repository and the temp dir are.
func normalizePaths(s, caseDir, prefix string) string {
	pairs := [][2]string{{caseDir, "$CASE"}, {prefix, "$PREFIX"}}
	if len(prefix) > len(caseDir) {
		pairs[0], pairs[1] = pairs[1], pairs[0]
	}
	for _, p := range pairs {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

var (
	programPrefix = regexp.MustCompile(`(?m)^(nginx|zonesync): `)
	// logPrefix is the error log's "2006/01/02 15:04:05 [emerg] 123#123: ".
	logPrefix = regexp.MustCompile(`(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[[a-z]+\]) \d+#\d+: `)
)

// normalizeStderr makes the program name and log timestamps comparable.
func normalizeStderr(s string) string {
	s = programPrefix.ReplaceAllString(s, "$$PROG: ")
	return logPrefix.ReplaceAllString(s, "$1 ")
}
