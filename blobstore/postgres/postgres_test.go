package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/confabhq/confab/blobstore"
	"github.com/confabhq/confab/blobstore/blobtest"
	"github.com/confabhq/confab/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestConformance(t *testing.T) {
	urls := map[blobstore.Store]string{}
	open := func(t testing.TB, url string) blobstore.Store {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		urls[s] = url
		return s
	}
	blobtest.Run(t, blobtest.Harness{
		Open: func(t testing.TB) blobstore.Store { return open(t, pgtest.NewTestDatabase(t)) },
		Reopen: func(t testing.TB, s blobstore.Store) blobstore.Store {
			s.Close()
			return open(t, urls[s])
		},
	})
}
