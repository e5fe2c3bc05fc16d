package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/eventstore/storetest"
)

// path records the file each store was opened on, for Reopen.
var paths = map[eventstore.Store]string{}

func harness() storetest.Harness {
	open := func(t testing.TB, path string) eventstore.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		paths[s] = path
		return s
	}
	return storetest.Harness{
		Open: func(t testing.TB) eventstore.Store {
			return open(t, filepath.Join(t.TempDir(), "events.db"))
		},
		Reopen: func(t testing.TB, s eventstore.Store) eventstore.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, paths[s])
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }
