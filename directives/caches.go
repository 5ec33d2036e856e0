package directives

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// Cache and connection-limit zones: zonesync does not run them, but they
// share nginx's zone name space, so their declarations and references are
// checked as nginx checks them.
func init() {
	for _, m := range []string{"proxy", "fastcgi", "uwsgi", "scgi"} {
		module := m
		Register(module+"_cache_path", HTTP, Def{Set: setCachePath(module), Multi: true,
			Doc: "Declares a cache folder and its keys zone (checked, not run)."})
		Register(module+"_cache", HTTP, Def{Set: setCacheRef(module), Inherit: true,
			Doc: "Names the cache zone a location uses (checked, not run)."})
	}
	Register("limit_conn_zone", HTTP, Def{Set: setLimitConnZone("http"), Multi: true,
		Doc: "Declares a connection-limit zone (checked, not run)."})
	Register("limit_conn_zone", Stream, Def{Set: setLimitConnZone("stream"), Multi: true,
		Doc: "Declares a stream connection-limit zone (checked, not run)."})
	AddCheck(PhasePaths, createPaths)
	AddFinisher("http", Main, func(ld *Loader, l *Level) error { return checkCacheRefs(ld, l) })
}

// CachePath is a *_cache_path declaration.
type CachePath struct {
	Path string
	Zone *Zone
}

// setCachePath is ngx_http_file_cache_set_slot, for the parts nginx checks
// before it would create the cache: the keys_zone parameter and its size.
func setCachePath(module string) Setter {
	return func(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
		var zoneArg string
		for _, a := range d.Args[1:] {
			if strings.HasPrefix(a, "keys_zone=") {
				zoneArg = strings.TrimPrefix(a, "keys_zone=")
			}
		}
		if zoneArg == "" {
			return nil, d.Errorf(`"%s" must have "keys_zone" parameter`, d.Name)
		}
		name, sizeText, ok := strings.Cut(zoneArg, ":")
		size, err := value.Size(sizeText)
		if !ok || name == "" || err != nil || size == 0 {
			return nil, d.Errorf(`invalid keys zone size "%s"`, "keys_zone="+zoneArg)
		}
		z, err := ZonesOf(ld).Add(d, name, ZoneOther, module+"_cache", size)
		if err != nil {
			return nil, err
		}
		path := ld.Path(strings.TrimSuffix(d.Args[0], "/"), false)
		State(ld, slotPathsKey{}, func() *slotPaths { return &slotPaths{} }).add(path)
		return CachePath{Path: path, Zone: z}, nil
	}
}

// setCacheRef is proxy_cache (and its fastcgi, uwsgi, scgi twins): "off" or
// a zone, which must be declared somewhere in http; nginx reports an
// unknown one when the http block ends.
func setCacheRef(module string) Setter {
	return func(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
		if d.Args[0] == "off" || strings.Contains(d.Args[0], "$") {
			return d.Args[0], nil
		}
		z, err := ZonesOf(ld).Add(d, d.Args[0], ZoneOther, module+"_cache", 0)
		if err != nil {
			return nil, err
		}
		refs := State(ld, cacheRefsKey{}, func() *cacheRefs { return &cacheRefs{} })
		refs.list = append(refs.list, cacheRef{d: d, zone: z})
		return z, nil
	}
}

type cacheRefsKey struct{}

type cacheRefs struct{ list []cacheRef }

type cacheRef struct {
	d    *grammar.Directive
	zone *Zone
}

// checkCacheRefs is run when the http block ends: a cache zone that is
// used but never declared is unknown, reported at the "}" of http.
func checkCacheRefs(ld *Loader, http *Level) error {
	refs := State(ld, cacheRefsKey{}, func() *cacheRefs { return &cacheRefs{} })
	for _, r := range refs.list {
		if r.zone.Size == 0 {
			end := http.Directive.Block.EndLine
			return &grammar.Error{Msg: fmt.Sprintf(`"%s" zone "%s" is unknown`, r.d.Name, r.zone.Name), File: http.Directive.Pos.Filename, Line: end}
		}
	}
	return nil
}

// setLimitConnZone is limit_conn_zone KEY zone=NAME:SIZE.
func setLimitConnZone(subsystem string) Setter {
	return func(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
		if len(d.Args) != 2 {
			return nil, d.Errorf(`invalid number of arguments in "%s" directive`, d.Name)
		}
		arg := d.Args[1]
		if !strings.HasPrefix(arg, "zone=") {
			return nil, d.Errorf(`invalid parameter "%s"`, arg)
		}
		name, sizeText, ok := strings.Cut(strings.TrimPrefix(arg, "zone="), ":")
		size, err := value.Size(sizeText)
		if !ok || name == "" || err != nil || size <= 0 {
			return nil, d.Errorf(`invalid zone size "%s"`, arg)
		}
		return ZonesOf(ld).Add(d, name, ZoneOther, subsystem+" limit_conn", size)
	}
}

func (p *slotPaths) add(name string) {
	p.list = append(p.list, slotPathAt{key: name + "\x00" + name})
}

// createPaths is ngx_create_paths: every temporary and cache folder the
// configuration names is created; one that exists already is fine.
func createPaths(ld *Loader) error {
	paths := State(ld, slotPathsKey{}, func() *slotPaths { return &slotPaths{} })
	for _, p := range paths.list {
		name, _, _ := strings.Cut(p.key, "\x00")
		if err := os.Mkdir(name, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return &grammar.Error{Msg: fmt.Sprintf(`mkdir() "%s" failed (%s)`, name, errnoText(err))}
		}
	}
	return nil
}
