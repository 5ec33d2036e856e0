package zone

import (
	"encoding/binary"
	"sync"
)

// The arena is the zone's memory: one []byte of the declared size. It holds
// the hash index at its start and, after it, pages of pageSize bytes carved
// into slots by a slab allocator with size classes, as nginx's ngx_slab does.
// Everything is addressed by offsets, never by Go pointers, so the garbage
// collector has nothing to scan.
//
// A record reference (ref) is the record's byte offset divided by refUnit;
// ref 0 means "none" (offset 0 is always inside the index, never a record).
// With uint32 refs a zone can address 32 GiB.

const (
	pageSize   = 4096
	pageHdr    = 16
	pageUsable = pageSize - pageHdr // bytes of a page available to slots
	refUnit    = 8                  // slots are 8-byte aligned
	minSlot    = 56                 // smallest class: header + a short key
	classLarge = 0xFF               // class byte of a record spanning whole pages
)

// Page header layout: 16 bytes at the start of every page that was ever used,
// except the pages after the first of a multi-page record.
const (
	pgKind  = 0  // u8: pageFree, pageSlab, pageLarge
	pgClass = 1  // u8: size class of a slab page
	pgUsed  = 2  // u16: slots in use (slab)
	pgFree  = 4  // u16: first free slot + 1, 0 if none (slab); u32 page count (large)
	pgFresh = 6  // u16: slots at or above this index were never handed out (slab)
	pgPrev  = 8  // u32: previous page + 1 in the free list or the class's partial list
	pgNext  = 12 // u32: next page + 1
)

const (
	pageFree  = 0
	pageSlab  = 1
	pageLarge = 2 // first page of a multi-page record; the others have no header
)

// Size classes: every 8 bytes from minSlot to 256, then the largest 8-byte
// multiple that fits n slots in a page, for n = 15 down to 1 (no page waste
// beyond 7 bytes per slot).
var (
	classSize   []int
	classSlots  []int
	sizeToClass [pageUsable/refUnit + 1]uint8
)

func init() {
	for c := minSlot; c <= 256; c += refUnit {
		classSize = append(classSize, c)
	}
	for n := pageUsable / 256; n >= 1; n-- {
		c := pageUsable / n &^ (refUnit - 1)
		if c > classSize[len(classSize)-1] {
			classSize = append(classSize, c)
		}
	}
	for _, c := range classSize {
		classSlots = append(classSlots, pageUsable/c)
	}
	c := 0
	for i := range sizeToClass {
		for classSize[c] < i*refUnit {
			c++
		}
		sizeToClass[i] = uint8(c)
	}
}

// classOf returns the size class for an allocation of size bytes
// (size <= pageUsable).
func classOf(size int) int {
	return int(sizeToClass[(size+refUnit-1)/refUnit])
}

// arena is the slab allocator. Its mutex is always taken after a shard lock,
// never before one, so the two cannot deadlock.
type arena struct {
	mu       sync.Mutex
	mem      []byte
	base     int    // offset of page 0
	npages   int    // pages in the arena
	hwm      int    // pages at or above hwm were never used (not yet resident)
	freeHead uint32 // head of the free page list, page + 1
	nfree    int    // pages on the free list
	partial  []uint32
}

func newArena(mem []byte, base int) *arena {
	return &arena{
		mem:     mem,
		base:    base,
		npages:  (len(mem) - base) / pageSize,
		partial: make([]uint32, len(classSize)),
	}
}

func (a *arena) ph(page int) int { return a.base + page*pageSize }

func (a *arena) u16(off int) int         { return int(binary.LittleEndian.Uint16(a.mem[off:])) }
func (a *arena) put16(off int, v int)    { binary.LittleEndian.PutUint16(a.mem[off:], uint16(v)) }
func (a *arena) u32(off int) uint32      { return binary.LittleEndian.Uint32(a.mem[off:]) }
func (a *arena) put32(off int, v uint32) { binary.LittleEndian.PutUint32(a.mem[off:], v) }

// capacity is the largest record size the arena can ever hold.
func (a *arena) capacity() int { return a.npages*pageSize - pageHdr }

// alloc returns a slot of at least size bytes and its class byte.
func (a *arena) alloc(size int) (ref uint32, class uint8, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if size <= pageUsable {
		return a.allocSlot(classOf(size))
	}
	n := (size + pageHdr + pageSize - 1) / pageSize
	p, ok := a.takeRun(n)
	if !ok {
		return 0, 0, false
	}
	h := a.ph(p)
	a.mem[h+pgKind] = pageLarge
	a.put32(h+pgFree, uint32(n))
	return uint32((h + pageHdr) / refUnit), classLarge, true
}

func (a *arena) allocSlot(c int) (uint32, uint8, bool) {
	p := a.partial[c]
	if p == 0 {
		pg, ok := a.takePage()
		if !ok {
			return 0, 0, false
		}
		h := a.ph(pg)
		a.mem[h+pgKind] = pageSlab
		a.mem[h+pgClass] = uint8(c)
		a.put16(h+pgUsed, 0)
		a.put16(h+pgFree, 0)
		a.put16(h+pgFresh, 0)
		p = uint32(pg + 1)
		a.pushList(&a.partial[c], pg)
	}
	pg := int(p - 1)
	h := a.ph(pg)
	size := classSize[c]
	var slot int
	if f := a.u16(h + pgFree); f != 0 {
		slot = f - 1
		a.put16(h+pgFree, a.u16(h+pageHdr+slot*size))
	} else {
		slot = a.u16(h + pgFresh)
		a.put16(h+pgFresh, slot+1)
	}
	used := a.u16(h+pgUsed) + 1
	a.put16(h+pgUsed, used)
	if used == classSlots[c] {
		a.unlinkList(&a.partial[c], pg)
	}
	return uint32((h + pageHdr + slot*size) / refUnit), uint8(c), true
}

// free returns a record's slot (or pages) to the arena.
func (a *arena) free(ref uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	off := int(ref) * refUnit
	pg := (off - a.base) / pageSize
	h := a.ph(pg)
	if a.mem[h+pgKind] == pageLarge {
		n := int(a.u32(h + pgFree))
		for i := 0; i < n; i++ {
			a.putPage(pg + i)
		}
		return
	}
	c := int(a.mem[h+pgClass])
	slot := (off - h - pageHdr) / classSize[c]
	a.put16(off, a.u16(h+pgFree))
	a.put16(h+pgFree, slot+1)
	used := a.u16(h + pgUsed)
	if used == classSlots[c] {
		a.pushList(&a.partial[c], pg)
	}
	used--
	a.put16(h+pgUsed, used)
	if used == 0 {
		a.unlinkList(&a.partial[c], pg)
		a.putPage(pg)
	}
}

// largeCap is the usable size of a multi-page record.
func (a *arena) largeCap(ref uint32) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.ph((int(ref)*refUnit - a.base) / pageSize)
	return int(a.u32(h+pgFree))*pageSize - pageHdr
}

func (a *arena) takePage() (int, bool) {
	if a.freeHead != 0 {
		pg := int(a.freeHead - 1)
		a.unlinkList(&a.freeHead, pg)
		a.nfree--
		return pg, true
	}
	if a.hwm < a.npages {
		a.hwm++
		return a.hwm - 1, true
	}
	return 0, false
}

// takeRun finds n contiguous free pages, first fit. The pages after the
// first of a multi-page record have no header (the record's bytes run over
// them), so the scan jumps over the whole run.
func (a *arena) takeRun(n int) (int, bool) {
	start, run := 0, 0
	for p := 0; p < a.npages; p++ {
		if p < a.hwm {
			switch h := a.ph(p); a.mem[h+pgKind] {
			case pageFree:
			case pageLarge:
				p += int(a.u32(h+pgFree)) - 1
				run = 0
				continue
			default:
				run = 0
				continue
			}
		}
		if run == 0 {
			start = p
		}
		run++
		if run == n {
			for q := start; q < start+n && q < a.hwm; q++ {
				a.unlinkList(&a.freeHead, q)
				a.nfree--
			}
			if start+n > a.hwm {
				a.hwm = start + n
			}
			return start, true
		}
	}
	return 0, false
}

func (a *arena) putPage(pg int) {
	a.mem[a.ph(pg)+pgKind] = pageFree
	a.pushList(&a.freeHead, pg)
	a.nfree++
}

func (a *arena) pushList(head *uint32, pg int) {
	h := a.ph(pg)
	a.put32(h+pgPrev, 0)
	a.put32(h+pgNext, *head)
	if *head != 0 {
		a.put32(a.ph(int(*head-1))+pgPrev, uint32(pg+1))
	}
	*head = uint32(pg + 1)
}

func (a *arena) unlinkList(head *uint32, pg int) {
	h := a.ph(pg)
	prev, next := a.u32(h+pgPrev), a.u32(h+pgNext)
	if prev != 0 {
		a.put32(a.ph(int(prev-1))+pgNext, next)
	} else {
		*head = next
	}
	if next != 0 {
		a.put32(a.ph(int(next-1))+pgPrev, prev)
	}
}

// usage reports pages in use and slots in use, for tests and figures.
func (a *arena) usage() (pages, slots int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p := 0; p < a.hwm; p++ {
		h := a.ph(p)
		switch a.mem[h+pgKind] {
		case pageSlab:
			pages++
			slots += a.u16(h + pgUsed)
		case pageLarge:
			n := int(a.u32(h + pgFree))
			pages += n
			slots++
			p += n - 1
		}
	}
	return pages, slots
}
