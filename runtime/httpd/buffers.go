package httpd

import (
	"bytes"
	"sync"
)

// Buffers that responses and upstream requests are built in before they
// are written (one write each). They are taken for one write and given
// back, so that a request allocates no new memory for them; one that grew
// past maxPooledBuffer (a large body) is left to the garbage collector
// rather than kept.
var writeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 64 << 10

// getBuffer returns an empty buffer; give it back with putBuffer once
// what it holds was written.
func getBuffer() *bytes.Buffer {
	b := writeBuffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		writeBuffers.Put(b)
	}
}
