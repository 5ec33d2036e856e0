package wire

import (
	"errors"
	"fmt"
)

// ErrMalformed matches every *Error: a frame that breaks the format. The
// receiver closes the connection it came on.
var ErrMalformed = errors.New("malformed frame")

// What made a frame malformed; a *Error unwraps to one of these.
var (
	ErrFrameTooLarge = errors.New("frame larger than the limit")
	ErrUnknownType   = errors.New("unknown frame type")
	ErrFlags         = errors.New("unknown flags")
	ErrTruncated     = errors.New("truncated")
	ErrTrailing      = errors.New("bytes after the last field")
	ErrMagic         = errors.New("bad magic")
	ErrField         = errors.New("invalid field")
)

// Errors of the encoder.
var (
	// ErrBatchFull: the record does not fit in what is left of the batch;
	// send the batch and add the record to a new one.
	ErrBatchFull = errors.New("batch is full")
	// ErrRecordTooLarge: the record does not fit in an empty batch (or its
	// key is longer than MaxKey), so it can never be sent with this limit;
	// log it and skip it.
	ErrRecordTooLarge = errors.New("record larger than a buffer")
	// ErrEncode: a field of a frame to encode is out of range (a string
	// longer than MaxString, an empty zone name, a negative expiry...).
	ErrEncode = errors.New("cannot encode")
)

// Error is a malformed frame: the frame type (0 when the header itself is
// wrong), the sentinel saying what is wrong and the details.
type Error struct {
	Type   Type
	Err    error
	Detail string
}

func (e *Error) Error() string {
	what := "frame"
	if e.Type.Known() {
		what = e.Type.String() + " frame"
	}
	if e.Detail == "" {
		return fmt.Sprintf("malformed %s: %v", what, e.Err)
	}
	return fmt.Sprintf("malformed %s: %v: %s", what, e.Err, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes every *Error match ErrMalformed.
func (e *Error) Is(target error) bool { return target == ErrMalformed }

func malformed(t Type, err error, format string, args ...any) *Error {
	return &Error{Type: t, Err: err, Detail: fmt.Sprintf(format, args...)}
}
