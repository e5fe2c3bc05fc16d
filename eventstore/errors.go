package eventstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// Errors adapters return, to be tested with errors.Is.
var (
	// ErrInvalid marks bad input: an empty stream name, an oversized
	// event, an invalid expected revision, ...
	ErrInvalid = errors.New("invalid")
	// ErrConflict marks an append that contradicts what is stored: a
	// wrong expected revision, or an event ID already used elsewhere.
	ErrConflict = errors.New("conflict")
	// ErrClosed is returned by a store after Close.
	ErrClosed = errors.New("event store closed")
	// ErrUnavailable marks a write or read the store cannot do right now
	// but may do later: the database is unreachable or restarting, the
	// disk is full, the store was opened read-only. Nothing was written.
	// Adapters wrap their cause with it (fmt.Errorf("%w: %w", ...)).
	ErrUnavailable = errors.New("event store unavailable")
)

// WrongRevisionError is returned by Append when the stream is not at the
// expected revision. errors.Is(err, ErrConflict) holds for it.
type WrongRevisionError struct {
	Stream   string
	Expected ExpectedRevision
	Actual   uint64 // the stream's last revision; 0 if it has no events
}

func (e *WrongRevisionError) Error() string {
	return fmt.Sprintf("append to %s: wrong expected revision: expected %s, stream is at %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *WrongRevisionError) Is(target error) bool { return target == ErrConflict }

// invalidf returns an ErrInvalid error with a message.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ErrCorrupt marks stored data that cannot be read back: an event that
// does not decode, a checkpoint that makes no sense. Retrying does not
// help; a loop that meets it stops the process (see Classify).
var ErrCorrupt = errors.New("stored data is corrupt")

// Class tells how a caller should treat an error of a dependency (the
// database, the bus). See Classify.
type Class int

// Classes of errors.
const (
	// Unknown errors are not recognised. Loops retry them like
	// transient ones (ending the process on every surprise would take a
	// node down for what may be a passing fault) but log them as errors:
	// they may be bugs.
	Unknown Class = iota
	// Transient errors pass by themselves: the connection was lost, the
	// server is restarting or shutting down, a serialization failure, a
	// full disk, a timeout. Retry later.
	Transient
	// Fatal errors do not pass: corrupted data, a bug (a query the
	// database rejects, a violated constraint, invalid arguments). A loop
	// that meets one ends the process with a clear log line.
	Fatal
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Fatal:
		return "fatal"
	default:
		return "unknown"
	}
}

// Classify tells whether err is transient, fatal or unknown. It knows the
// errors of this package, of the standard library's network and database
// packages, and, through the interfaces their errors implement (so that
// this package imports no driver), PostgreSQL's SQLSTATE codes (pgx's
// PgError has SQLState()), pgx's SafeToRetry, and SQLite's result codes
// (modernc.org/sqlite's Error has Code()).
func Classify(err error) Class {
	switch {
	case err == nil:
		return Unknown
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrInvalid):
		return Fatal
	case errors.Is(err, ErrUnavailable):
		return Transient
	}
	var marked interface{ Transient() bool }
	if errors.As(err, &marked) && marked.Transient() {
		return Transient
	}
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		if c := classifySQLState(state.SQLState()); c != Unknown {
			return c
		}
	}
	var code interface{ Code() int }
	if errors.As(err, &code) {
		if c := classifySQLiteCode(code.Code()); c != Unknown {
			return c
		}
	}
	var retry interface{ SafeToRetry() bool }
	if errors.As(err, &retry) && retry.SafeToRetry() {
		return Transient
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return Transient
	}
	for _, e := range transientErrors {
		if errors.Is(err, e) {
			return Transient
		}
	}
	return Unknown
}

// IsTransient reports whether Classify(err) is Transient.
func IsTransient(err error) bool { return Classify(err) == Transient }

// transientErrors are the standard library's errors of a lost or refused
// connection, a timeout and a full disk.
var transientErrors = []error{
	context.DeadlineExceeded, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
	driver.ErrBadConn, sql.ErrConnDone, os.ErrDeadlineExceeded,
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
	syscall.ENOSPC, syscall.EDQUOT, syscall.EAGAIN,
}

// classifySQLState classifies a PostgreSQL SQLSTATE code
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func classifySQLState(code string) Class {
	if len(code) != 5 {
		return Unknown
	}
	switch code {
	case "XX001", "XX002": // data_corrupted, index_corrupted
		return Fatal
	case "25006", "55P03", "55006": // read-only transaction (a standby), lock not available, object in use
		return Transient
	}
	switch code[:2] {
	case "08", // connection exception
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources: disk full, out of memory, too many connections
		"57", // operator intervention: admin shutdown, crash shutdown, cannot connect now, query canceled
		"58", // system error: I/O error
		"HV": // foreign data wrapper (a remote server)
		return Transient
	case "22", // data exception
		"23", // integrity constraint violation
		"42", // syntax error or access rule violation: a bug or a schema out of step
		"XX": // internal error
		return Fatal
	}
	return Unknown
}

// classifySQLiteCode classifies an SQLite result code (primary or extended;
// https://www.sqlite.org/rescode.html).
func classifySQLiteCode(code int) Class {
	switch code & 0xff {
	case 5, 6, 7, 9, 10, 13, 15: // BUSY, LOCKED, NOMEM, INTERRUPT, IOERR, FULL, PROTOCOL
		return Transient
	case 8: // READONLY: the file or the disk was made read-only
		return Transient
	case 11, 26: // CORRUPT, NOTADB
		return Fatal
	}
	return Unknown
}

// AsTransient marks err as transient for Classify: for the errors of a
// dependency that are all passing faults (a bus connection that
// reconnects by itself, say) but that Classify does not recognise. It
// returns nil for nil.
func AsTransient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

type transientError struct{ err error }

func (e transientError) Error() string   { return e.err.Error() }
func (e transientError) Unwrap() error   { return e.err }
func (e transientError) Transient() bool { return true }

// Unavailable wraps err with ErrUnavailable if it is transient (a store
// adapter's error of a database that is down or restarting, a full disk),
// so that callers refuse the request with "unavailable" instead of
// failing it as internal. Other errors are returned as they are.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || Classify(err) != Transient {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
