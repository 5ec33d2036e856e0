package directives

import (
	"github.com/zonesync/zonesync/grammar"
)

// Level is one configuration level: main, events, http, a server, a
// location, an upstream... It holds the values set at that level; lookups
// that miss fall back to the enclosing level for inherited directives and
// then to the directive's default, which is nginx's merge.
type Level struct {
	Ctx       Context
	Directive *grammar.Directive // the block directive; nil for main
	Parent    *Level
	Children  []*Level

	values map[string][]Value
	// order holds every value of the level in configuration order,
	// includes followed, for phases that run statements in order (the
	// rewrite module's if, set, return, rewrite, break).
	order []Value
	// Ext holds per-level data that a family keeps beside the values (for
	// example the server names of an http server).
	Ext any
}

// Value is one occurrence of a directive and its typed value.
type Value struct {
	D *grammar.Directive
	V any
}

func newLevel(ctx Context, d *grammar.Directive, parent *Level) *Level {
	l := &Level{Ctx: ctx, Directive: d, Parent: parent}
	if parent != nil {
		parent.Children = append(parent.Children, l)
	}
	return l
}

// Own returns the values of name set at this level itself.
func (l *Level) Own(name string) []Value { return l.values[name] }

// Has reports whether name is set at this level itself.
func (l *Level) Has(name string) bool { return len(l.values[name]) > 0 }

func (l *Level) add(name string, v Value) {
	if l.values == nil {
		l.values = make(map[string][]Value)
	}
	l.values[name] = append(l.values[name], v)
	l.order = append(l.order, v)
}

// Statements returns the values set at this level in configuration order;
// Value.D.Name says which directive each is.
func (l *Level) Statements() []Value { return l.order }

// Set stores a value for name at this level, for setters that derive one
// directive's value from another's.
func (l *Level) Set(name string, d *grammar.Directive, v any) { l.add(name, Value{D: d, V: v}) }

// Lookup returns the effective values of name at this level, after nginx's
// merge: the level's own values; else, for an inherited directive, the
// nearest enclosing level's; else the default (with a nil D). Arrays
// follow the same rule, so an array is inherited only when the level sets
// no element of it.
func (l *Level) Lookup(name string) []Value {
	s := specFor(name, l.Ctx)
	for cur := l; cur != nil; cur = cur.Parent {
		if vs := cur.values[name]; len(vs) > 0 {
			return vs
		}
		if s == nil || !s.Inherit {
			break
		}
	}
	if s != nil && s.Default != nil {
		return []Value{{V: s.Default}}
	}
	return nil
}

// Get returns the single effective value of name, or nil.
func (l *Level) Get(name string) any {
	vs := l.Lookup(name)
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1].V
}

// Up returns the nearest level (this one or an enclosing one) of ctx.
func (l *Level) Up(ctx Context) *Level {
	for cur := l; cur != nil; cur = cur.Parent {
		if cur.Ctx&ctx != 0 {
			return cur
		}
	}
	return nil
}

// Each calls fn for every level below l (depth first, in config order)
// whose context is in ctx.
func (l *Level) Each(ctx Context, fn func(*Level)) {
	for _, c := range l.Children {
		if c.Ctx&ctx != 0 {
			fn(c)
		}
		c.Each(ctx, fn)
	}
}

// specFor finds the row of name that applies at ctx, or at any level a
// value could be inherited from.
func specFor(name string, ctx Context) *Spec {
	rows := table[name]
	for _, s := range rows {
		if s.Contexts&ctx != 0 {
			return s
		}
	}
	if len(rows) == 1 {
		return rows[0]
	}
	return nil
}
