package directives

import (
	"strings"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// NGINX Plus's keyval modules (http and stream): keyval_zone declares a
// key-value zone, keyval makes a variable whose value is looked up in one.
func init() {
	for _, ctx := range []Context{HTTP, Stream} {
		Register("keyval_zone", ctx, Def{Set: setKeyvalZone, Multi: true,
			Doc: "Declares a key-value zone: zone=name:size [state=file] [timeout=time] [type=string|ip|prefix] [sync]."})
		Register("keyval", ctx, Def{Set: setKeyval, Multi: true,
			Doc: "Creates $variable, whose value is looked up by key in the keyval zone."})
	}
}

// keyvalTypes are the values of type=.
var keyvalTypes = map[string]bool{"string": true, "ip": true, "prefix": true}

// setKeyvalZone reads keyval_zone's parameters the way limit_req_zone
// reads its own (the same zone=name:size forms and messages), then
// declares the zone. A synced zone needs a timeout: records are never
// deleted across the cluster, only expired.
func setKeyvalZone(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	kz := &KeyvalZone{D: d, Type: "string", Stream: l.Ctx == Stream}
	for _, p := range d.Args {
		name, val, hasVal := strings.Cut(p, "=")
		switch {
		case hasVal && name == "zone":
			zname, size, ok := strings.Cut(val, ":")
			if !ok {
				return nil, d.Errorf(`invalid zone size "%s"`, p)
			}
			n, err := value.Size(size)
			if err != nil {
				return nil, d.Errorf(`invalid zone size "%s"`, p)
			}
			if n < minZonePages*int64(pageSize) {
				return nil, d.Errorf(`zone "%s" is too small`, p)
			}
			kz.Name, kz.Size = zname, n
		case hasVal && name == "state":
			if val == "" {
				return nil, d.Errorf(`invalid parameter "%s"`, p)
			}
			kz.State, kz.StatePath = val, ld.Path(val, false)
		case hasVal && name == "timeout":
			t, err := value.Msec(val)
			if err != nil || t == 0 {
				return nil, d.Errorf(`invalid timeout "%s"`, p)
			}
			kz.Timeout = t
		case hasVal && name == "type":
			if !keyvalTypes[val] {
				return nil, d.Errorf(`invalid type "%s"`, p)
			}
			kz.Type = val
		case p == "sync":
			kz.Sync = true
		default:
			return nil, d.Errorf(`invalid parameter "%s"`, p)
		}
	}
	if kz.Name == "" {
		return nil, d.Errorf(`"%s" must have "zone" parameter`, d.Name)
	}
	if kz.Sync && kz.Timeout == 0 {
		return nil, Msg(`"sync" parameter requires "timeout"`)
	}
	z, err := ZonesOf(ld).Add(d, kz.Name, keyvalKind(kz.Stream), "", kz.Size)
	if err != nil {
		return nil, err
	}
	if z.Params != nil {
		return nil, d.Errorf(`duplicate zone "%s"`, kz.Name)
	}
	z.Params, z.Sync = kz, kz.Sync
	return kz, nil
}

func keyvalKind(stream bool) ZoneKind {
	if stream {
		return ZoneKeyvalStream
	}
	return ZoneKeyvalHTTP
}

// keyvalState keeps the keyval directives and the variables they make.
type keyvalState struct {
	vars []*KeyvalVar
	seen map[string]bool // "http $x", "stream $x"
}

type keyvalKey struct{}

func keyvalStateOf(ld *Loader) *keyvalState {
	return State(ld, keyvalKey{}, func() *keyvalState { return &keyvalState{seen: map[string]bool{}} })
}

// setKeyval reads "key $variable zone=name". The zone may be declared
// later in the file; a zone never declared is nginx's "zero size shared
// memory zone" when the zones are created. NGINX Plus's parser takes a
// fourth word whose meaning is not documented: zonesync warns and ignores
// it.
func setKeyval(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	kv := &KeyvalVar{D: d, Key: d.Args[0], Stream: l.Ctx == Stream}
	v := d.Args[1]
	if len(v) < 2 || v[0] != '$' {
		return nil, d.Errorf(`invalid variable name "%s"`, v)
	}
	kv.Variable = v[1:]
	zone, ok := strings.CutPrefix(d.Args[2], "zone=")
	if !ok || zone == "" {
		return nil, d.Errorf(`invalid parameter "%s"`, d.Args[2])
	}
	kv.Zone = zone
	for _, p := range d.Args[3:] {
		ld.Warn(d, `the "%s" parameter is not supported, ignored`, p)
	}
	st := keyvalStateOf(ld)
	key := "http $" + strings.ToLower(kv.Variable)
	if kv.Stream {
		key = "stream $" + strings.ToLower(kv.Variable)
	}
	if st.seen[key] {
		return nil, d.Errorf(`the duplicate "%s" variable`, kv.Variable)
	}
	if _, err := ZonesOf(ld).Add(d, zone, keyvalKind(kv.Stream), "", 0); err != nil {
		return nil, err
	}
	st.seen[key] = true
	st.vars = append(st.vars, kv)
	return kv, nil
}
