package webhook

import (
	"errors"
	"fmt"
)

// Kind classifies an error at the edge: invalid input is the caller's to fix
// and is never retried; transient errors may succeed when retried.
type Kind string

// Error kinds.
const (
	KindInvalid   Kind = "invalid"   // bad input; a 4xx, never retried
	KindNotFound  Kind = "not_found" // no such thing
	KindConflict  Kind = "conflict"  // lost a conditional write or a uniqueness check
	KindLimit     Kind = "limit"     // a plan limit was reached
	KindTransient Kind = "transient" // worth retrying (store or network trouble)
)

// Error is a classified error. Field names the offending input field, using
// JSON paths such as "retry.max_retries" or "Entries[2].Detail.data.call_id",
// when the error is about one.
type Error struct {
	Kind    Kind
	Field   string
	Message string
	Err     error // the cause, if any
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid returns a KindInvalid error about field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a KindNotFound error.
func NotFound(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// Transient wraps err as a KindTransient error with context.
func Transient(err error, format string, args ...any) *Error {
	return &Error{Kind: KindTransient, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf reports the kind of err: the Kind of the first *Error in its chain,
// KindTransient for any other non-nil error, "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTransient
}

// FieldOf returns the Field of the first *Error in err's chain.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// Sentinel errors returned by ports. Adapters wrap them with context; callers
// test with errors.Is.
var (
	ErrNotFound = &Error{Kind: KindNotFound, Message: "not found"}
	// ErrConflict: a conditional write lost (version mismatch, duplicate id).
	ErrConflict = &Error{Kind: KindConflict, Message: "conflict"}
	// ErrDone: the idempotency key is finished; the work must not be redone.
	ErrDone = &Error{Kind: KindConflict, Message: "already done"}
	// ErrStale: the attempt asked for was already made under this key.
	ErrStale = &Error{Kind: KindConflict, Message: "stale attempt"}
	// ErrHeld: another worker holds an unexpired lease on the key.
	ErrHeld = &Error{Kind: KindTransient, Message: "lease held by another worker"}
)
