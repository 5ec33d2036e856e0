package node

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/errlog"
	"github.com/zonesync/zonesync/runtime/sync/core"
	"github.com/zonesync/zonesync/runtime/zone"
)

// Zones are the node's zone stores, one per zone the configuration
// declares for keyval (http and stream), sticky learn and limit_req.
type Zones struct {
	all       []*managed
	byKey     map[zoneKey]*managed
	keyvals   [2][]*zone.Store // [0] http, [1] stream
	limitReqs []*zone.Store
	sticky    []*zone.Store
}

type zoneKey struct {
	kind directives.ZoneKind
	name string
}

// managed is a store and what the node does around it.
type managed struct {
	decl  *directives.Zone
	store *zone.Store
	// statePath is the keyval state= file ("" for none), with the store's
	// change count when it was last written.
	statePath string
	savedAt   uint64
}

// zoneConfig turns a declared zone into the store's configuration; ok is
// false for zones zonesync does not run (upstream zones, caches...).
func zoneConfig(z *directives.Zone, node uint32, changed func()) (c zone.Config, statePath string, ok bool) {
	c = zone.Config{Name: z.Name, Size: z.Size, Sync: z.Sync, Node: node}
	if z.Sync {
		c.Changed = changed
	}
	switch z.Kind {
	case directives.ZoneKeyvalHTTP, directives.ZoneKeyvalStream:
		kz := z.Params.(*directives.KeyvalZone)
		c.Kind, c.Timeout = zone.KindKeyval, kz.Timeout
		switch kz.Type {
		case "ip":
			c.Match = zone.MatchIP
		case "prefix":
			c.Match = zone.MatchPrefix
		}
		return c, kz.StatePath, true
	case directives.ZoneSticky:
		c.Kind = zone.KindSticky
		if u, ok := z.Params.(*directives.Upstream); ok {
			if st := directives.StickyOf(u); st != nil {
				c.Timeout = st.Timeout
			}
		}
		return c, "", true
	case directives.ZoneLimitReq:
		c.Kind = zone.KindLimitReq
		if lr, ok := z.Params.(*directives.LimitReqZone); ok {
			c.Rate = lr.Rate.PerMilliSec
		}
		return c, "", true
	}
	return c, "", false
}

// buildZones creates the stores of cfg. A zone of the same kind, name and
// size as one in old keeps its store, and so its contents, across a
// reload; any other change gives a new, empty store (a keyval zone with a
// state file reloads it), as nginx gives a new shared memory zone.
func buildZones(cfg *directives.Config, old *Zones, node uint32, changed func(), log *errlog.Log) (*Zones, error) {
	zs := &Zones{byKey: map[zoneKey]*managed{}}
	for _, z := range directives.ZonesOf(cfg.Loader).List {
		c, statePath, ok := zoneConfig(z, node, changed)
		if !ok {
			continue
		}
		key := zoneKey{z.Kind, z.Name}
		m := old.reusable(key, c)
		if m == nil {
			store, err := zone.New(c)
			if err != nil {
				return nil, fmt.Errorf("zone %q: %w", z.Name, err)
			}
			m = &managed{store: store, statePath: statePath}
			if statePath != "" {
				loadState(m, log)
			}
		}
		m.decl, m.statePath = z, statePath
		zs.all = append(zs.all, m)
		zs.byKey[key] = m
		switch z.Kind {
		case directives.ZoneKeyvalHTTP:
			zs.keyvals[0] = append(zs.keyvals[0], m.store)
		case directives.ZoneKeyvalStream:
			zs.keyvals[1] = append(zs.keyvals[1], m.store)
		case directives.ZoneLimitReq:
			zs.limitReqs = append(zs.limitReqs, m.store)
		case directives.ZoneSticky:
			zs.sticky = append(zs.sticky, m.store)
		}
	}
	return zs, nil
}

// reusable returns the old zone under key if it can serve c unchanged.
func (zs *Zones) reusable(key zoneKey, c zone.Config) *managed {
	if zs == nil {
		return nil
	}
	m := zs.byKey[key]
	if m == nil || m.decl.Size != c.Size || m.decl.Sync != c.Sync {
		return nil
	}
	return m
}

// loadState reads a keyval state file into a new store. A file that cannot
// be read is logged and moved aside under a new name, so that the next save
// does not overwrite what it held.
func loadState(m *managed, log *errlog.Log) {
	err := m.store.LoadState(m.statePath)
	switch {
	case err == nil, errors.Is(err, os.ErrNotExist):
		m.savedAt = m.store.Changes()
		return
	}
	aside := fmt.Sprintf("%s.corrupt-%s", m.statePath, time.Now().UTC().Format("20060102T150405Z"))
	if rerr := os.Rename(m.statePath, aside); rerr != nil {
		log.Logf(directives.Err, "keyval zone \"%s\": state file \"%s\" is unreadable (%v) and could not be moved aside: %v", m.store.Name(), m.statePath, err, rerr)
		// Keep the file: the zone will not write its state over it.
		m.statePath = ""
		return
	}
	log.Logf(directives.Err, "keyval zone \"%s\": state file \"%s\" is unreadable (%v); moved to \"%s\", the zone starts empty", m.store.Name(), m.statePath, err, aside)
}

// saveStates writes the state file of every keyval zone that changed since
// it was last written.
func (zs *Zones) saveStates(log *errlog.Log) {
	if zs == nil {
		return
	}
	for _, m := range zs.all {
		if m.statePath == "" {
			continue
		}
		n := m.store.Changes()
		if n == m.savedAt {
			continue
		}
		if err := m.store.SaveState(m.statePath); err != nil {
			log.Logf(directives.Err, "keyval zone \"%s\": cannot write state file: %v", m.store.Name(), err)
			continue
		}
		m.savedAt = n
	}
}

// Keyvals implements api.Registry.
func (zs *Zones) Keyvals(stream bool) []*zone.Store {
	if stream {
		return zs.keyvals[1]
	}
	return zs.keyvals[0]
}

// LimitReqs implements api.Registry.
func (zs *Zones) LimitReqs() []*zone.Store { return zs.limitReqs }

// Keyval returns the keyval zone name of the http (stream false) or stream
// subsystem, or nil.
func (zs *Zones) Keyval(name string, stream bool) *zone.Store {
	kind := directives.ZoneKeyvalHTTP
	if stream {
		kind = directives.ZoneKeyvalStream
	}
	if m := zs.byKey[zoneKey{kind, name}]; m != nil {
		return m.store
	}
	return nil
}

// synced returns the stores of the zones declared with sync, for zone_sync.
func (zs *Zones) synced() []core.Zone {
	var out []core.Zone
	for _, m := range zs.all {
		if m.decl.Sync {
			out = append(out, m.store)
		}
	}
	return out
}

// closeUnused closes the stores of zs that next does not use.
func (zs *Zones) closeUnused(next *Zones) {
	kept := map[*zone.Store]bool{}
	for _, m := range next.all {
		kept[m.store] = true
	}
	for _, m := range zs.all {
		if !kept[m.store] {
			m.store.Close()
		}
	}
}
