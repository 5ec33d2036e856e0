package zone

import "syscall"

// allocate returns a zone's memory: an anonymous mapping outside Go's
// heap, as nginx maps its shared memory zones. The garbage collector never
// scans it (records hold offsets, not pointers) and it does not count
// toward the heap size that paces collection, so a node's resident memory
// is its zones' touched pages plus a small heap, not twice the zones. Pages
// are backed only once written.
func allocate(size int) ([]byte, func(), error) {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return mem, func() { syscall.Munmap(mem) }, nil
}
