package directives

import (
	"strings"

	"github.com/zonesync/zonesync/grammar"
)

// The NGINX Plus REST API: "api [write=on|off]" turns a location into the
// API endpoint.

func init() {
	registerHTTP("api", Def{Set: setAPI, Doc: "Serves the REST API in this location; write=on allows changes."})
}

// API is the api directive.
type API struct{ Write bool }

// setAPI reads the optional write=on|off.
func setAPI(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	if len(d.Args) == 0 {
		return API{}, nil
	}
	v, ok := strings.CutPrefix(d.Args[0], "write=")
	if !ok {
		return nil, d.Errorf(`invalid parameter "%s"`, d.Args[0])
	}
	switch v {
	case "on":
		return API{Write: true}, nil
	case "off":
		return API{}, nil
	}
	return nil, d.Errorf(`invalid value "%s"`, d.Args[0])
}
