package directives

import (
	"fmt"

	"github.com/zonesync/zonesync/grammar"
)

// ZoneKind says which feature owns a shared memory zone; nginx's "tag".
type ZoneKind string

// The zone kinds zonesync runs and syncs, and the rest nginx declares.
const (
	ZoneKeyvalHTTP   ZoneKind = "keyval"        // http keyval_zone
	ZoneKeyvalStream ZoneKind = "stream keyval" // stream keyval_zone
	ZoneSticky       ZoneKind = "sticky"        // sticky learn
	ZoneLimitReq     ZoneKind = "limit_req"     // limit_req_zone
	ZoneOther        ZoneKind = "other"         // upstream zone, limit_conn, caches...
)

// Zone is a shared memory zone declared by the configuration.
type Zone struct {
	Name string
	Kind ZoneKind
	// Tag separates features that share a kind but not a zone (for example
	// http and stream upstream zones); zones match on Name and Tag.
	Tag  string
	Size int64 // 0 while only referenced
	Sync bool
	// Declared is the directive that gave the size; Refs are directives
	// that use the zone by name.
	Declared *grammar.Directive
	Refs     []*grammar.Directive
	// Params holds the kind's own settings (a *KeyvalZone, ...).
	Params any
}

// Zones is the registry of shared memory zones, as ngx_shared_memory_add
// keeps it: a zone is one name and one use, with one size.
type Zones struct {
	List   []*Zone
	byName map[string]*Zone
}

type zonesKey struct{}

// ZonesOf returns the configuration's zone registry.
func ZonesOf(ld *Loader) *Zones {
	return State(ld, zonesKey{}, func() *Zones { return &Zones{byName: map[string]*Zone{}} })
}

// Add declares (size > 0) or references (size 0) the zone name for a use,
// with nginx's messages for a zone declared twice in different ways.
func (zs *Zones) Add(d *grammar.Directive, name string, kind ZoneKind, tag string, size int64) (*Zone, error) {
	key := string(kind) + "\x00" + tag + "\x00" + name
	z := zs.byName[key]
	if z == nil {
		if other := zs.byName["\x00"+name]; other != nil {
			return nil, d.Errorf(`the shared memory zone "%s" is already declared for a different use`, name)
		}
		z = &Zone{Name: name, Kind: kind, Tag: tag}
		zs.byName[key] = z
		zs.byName["\x00"+name] = z
		zs.List = append(zs.List, z)
	}
	if size == 0 {
		z.Refs = append(z.Refs, d)
		return z, nil
	}
	if z.Size == 0 {
		z.Size, z.Declared = size, d
		return z, nil
	}
	if z.Size != size {
		return nil, d.Errorf(`the size %d of shared memory zone "%s" conflicts with already declared size %d`, size, name, z.Size)
	}
	return z, nil
}

// Find returns the zone of that name and kind, or nil.
func (zs *Zones) Find(name string, kind ZoneKind, tag string) *Zone {
	return zs.byName[string(kind)+"\x00"+tag+"\x00"+name]
}

// checkZoneSizes is the check nginx makes when it creates the zones: a
// zone that was only referenced has no size.
func checkZoneSizes(ld *Loader) error {
	for _, z := range ZonesOf(ld).List {
		if z.Size == 0 {
			return &grammar.Error{Msg: fmt.Sprintf(`zero size shared memory zone "%s"`, z.Name)}
		}
	}
	return nil
}

func init() { AddCheck(PhaseZones, checkZoneSizes) }
