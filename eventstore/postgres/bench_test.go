package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/storetest"
	"github.com/confabhq/confab/internal/pgtest"
)

// benchStore opens a store with default options on a fresh database,
// closed when b's run ends.
func benchStore(b *testing.B) eventstore.Store {
	b.Helper()
	s, err := Open(context.Background(), pgtest.NewTestDatabase(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("appenders=%d", n), func(b *testing.B) {
			storetest.BenchmarkAppend(b, benchStore(b), n)
		})
	}
}

func BenchmarkCatchUp(b *testing.B) { storetest.BenchmarkCatchUp(b, benchStore(b)) }

func BenchmarkAppendToSubscriber(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("appenders=%d", n), func(b *testing.B) {
			storetest.BenchmarkAppendToSubscriber(b, benchStore(b), n)
		})
	}
}
