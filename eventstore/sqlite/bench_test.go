package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/eventstore/storetest"
)

// benchStore opens a store in a fresh file, closed when b's run ends.
func benchStore(b *testing.B) eventstore.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "events.db"))
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
