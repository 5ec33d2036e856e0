package httpd

import "strings"

// Location search as ngx_http_core_find_location: at each level an exact
// location equal to the URI wins outright; otherwise the longest prefix
// location is remembered and its nested locations are searched; then,
// unless that prefix location is "^~", the level's regex locations are
// tried in configuration order, and the first that matches (with its own
// nested locations searched) wins. Prefixes compare case-sensitively, as
// on Linux. Named locations are reached only by error_page (and are kept
// apart in vserver.named).

type locTree struct {
	exact  map[string]*lconf
	prefix []*lconf // longest name first
	regex  []*lconf // configuration order
}

// findResult is the outcome of a search at one level.
type findResult int

const (
	findDeclined findResult = iota // nothing matched at this level
	findPrefix                     // a prefix location matched (nginx's NGX_AGAIN)
	findFinal                      // an exact or regex location matched
)

// findLocation searches t for r.uri and sets r.conf to what matched.
func (r *request) findLocation(t *locTree) findResult {
	if c, ok := t.exact[r.uri]; ok {
		r.conf = c
		return findFinal
	}
	rc, noregex := findDeclined, false
	for _, c := range t.prefix {
		if strings.HasPrefix(r.uri, c.loc.Name) {
			r.conf, noregex = c, c.loc.NoRegex
			if r.findLocation(&c.tree) == findFinal {
				return findFinal
			}
			rc = findPrefix
			break
		}
	}
	if noregex {
		return rc
	}
	for _, c := range t.regex {
		if r.match(c.re, r.uri) {
			r.conf = c
			r.findLocation(&c.tree)
			return findFinal
		}
	}
	return rc
}
