package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/confabhq/confab/eventstore"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestClassify(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("apply: %w", &pgconn.PgError{Severity: "FATAL", Code: code})
	}
	tests := []struct {
		name string
		err  error
		want eventstore.Class
	}{
		{"admin shutdown", pg("57P01"), eventstore.Transient},
		{"cannot connect now", pg("57P03"), eventstore.Transient},
		{"connection failure", pg("08006"), eventstore.Transient},
		{"serialization failure", pg("40001"), eventstore.Transient},
		{"disk full", pg("53100"), eventstore.Transient},
		{"read-only standby", pg("25006"), eventstore.Transient},
		{"undefined table: a bug", pg("42P01"), eventstore.Fatal},
		{"data corrupted", pg("XX001"), eventstore.Fatal},
		{"constraint violated", pg("23505"), eventstore.Fatal},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), eventstore.Transient},
		{"disk full (errno)", fmt.Errorf("write: %w", syscall.ENOSPC), eventstore.Transient},
		{"connection dropped", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), eventstore.Transient},
		{"timeout", fmt.Errorf("query: %w", context.DeadlineExceeded), eventstore.Transient},
		{"unavailable", fmt.Errorf("%w: x", eventstore.ErrUnavailable), eventstore.Transient},
		{"marked transient", eventstore.AsTransient(errors.New("nats: timeout")), eventstore.Transient},
		{"corrupt", fmt.Errorf("%w: bad json", eventstore.ErrCorrupt), eventstore.Fatal},
		{"invalid", fmt.Errorf("%w: limit", eventstore.ErrInvalid), eventstore.Fatal},
		{"unknown", errors.New("something odd"), eventstore.Unknown},
		{"canceled", context.Canceled, eventstore.Unknown},
	}
	for _, tt := range tests {
		if got := eventstore.Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestUnavailableWrapsTransientErrorsOnly(t *testing.T) {
	down := fmt.Errorf("postgres: append: %w", &pgconn.PgError{Code: "57P01"})
	if err := eventstore.Unavailable(down); !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, down) {
		t.Errorf("Unavailable(%v) = %v, want it wrapped with ErrUnavailable", down, err)
	}
	bug := fmt.Errorf("postgres: append: %w", &pgconn.PgError{Code: "42P01"})
	if err := eventstore.Unavailable(bug); errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Unavailable(%v) = %v, want it as it is", bug, err)
	}
	if eventstore.Unavailable(nil) != nil {
		t.Error("Unavailable(nil) != nil")
	}
}
