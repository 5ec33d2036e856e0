package zone

import (
	"math/rand/v2"
	"testing"
)

func TestSizeClasses(t *testing.T) {
	for size := 1; size <= pageUsable; size++ {
		c := classOf(size)
		if classSize[c] < size || c > 0 && classSize[c-1] >= size {
			t.Fatalf("size %d: class %d of %d bytes", size, c, classSize[c])
		}
		if classSize[c]%refUnit != 0 || classSlots[c]*classSize[c] > pageUsable {
			t.Fatalf("class %d (%d bytes, %d slots) breaks alignment or page size", c, classSize[c], classSlots[c])
		}
	}
	// Above 256 bytes there is one class per slot count, 15 down to 1,
	// each the largest 8-byte multiple with that many slots in a page.
	want := 15
	for c, size := range classSize {
		if size <= 256 {
			continue
		}
		if classSlots[c] != want || size != pageUsable/want&^(refUnit-1) {
			t.Fatalf("class %d: %d bytes, %d slots; want %d slots of %d bytes", c, size, classSlots[c], want, pageUsable/want&^(refUnit-1))
		}
		want--
	}
	if want != 0 || len(classSize) != 41 || len(classSize) > 0xFE {
		t.Fatalf("%d classes: %v", len(classSize), classSize)
	}
}

// Random allocations and frees, slabs and page runs mixed, each allocation
// filled with zeros or a pattern: no two live allocations may overlap, the
// allocator's counts must match, and once everything is freed the whole
// arena is available again as one run.
func TestArenaRandom(t *testing.T) {
	const size = 256 << 10
	mem := make([]byte, size)
	a := newArena(mem, 4096)
	owner := make([]int32, size) // allocation id + 1 owning each byte
	type alloc struct {
		ref  uint32
		size int
	}
	live := map[int32]alloc{}
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{49, 56, 64, 100, 112, 256, 300, 1000, 2040, 2041, 4080, 4081, 9000, 20000}
	for id := int32(1); id < 20000; id++ {
		if len(live) > 0 && rng.IntN(5) < 2 {
			for k, al := range live { // free one
				a.free(al.ref)
				o := off(al.ref)
				for i := o; i < o+al.size; i++ {
					owner[i] = 0
				}
				delete(live, k)
				break
			}
			continue
		}
		n := sizes[rng.IntN(len(sizes))]
		ref, _, ok := a.alloc(n)
		if !ok {
			continue
		}
		o := off(ref)
		fill := byte(0)
		if rng.IntN(2) == 0 {
			fill = 0xA5
		}
		for i := o; i < o+n; i++ {
			if owner[i] != 0 {
				t.Fatalf("allocation %d (%d bytes at %d) overlaps allocation %d", id, n, o, owner[i]-1)
			}
			owner[i] = id
			mem[i] = fill
		}
		live[id] = alloc{ref, n}
		if _, slots := a.usage(); slots != len(live) {
			t.Fatalf("usage counts %d slots, %d allocations live", slots, len(live))
		}
	}
	for _, al := range live {
		a.free(al.ref)
	}
	if pages, slots := a.usage(); pages != 0 || slots != 0 {
		t.Fatalf("after freeing everything: %d pages, %d slots in use", pages, slots)
	}
	if _, _, ok := a.alloc(a.capacity()); !ok {
		t.Fatal("the whole arena is not available as one run after freeing everything")
	}
}
