package file

import (
	"testing"

	"github.com/confabhq/confab/blobstore"
	"github.com/confabhq/confab/blobstore/blobtest"
)

func TestConformance(t *testing.T) {
	dirs := map[blobstore.Store]string{}
	open := func(t testing.TB, dir string) blobstore.Store {
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		dirs[s] = dir
		return s
	}
	blobtest.Run(t, blobtest.Harness{
		Open: func(t testing.TB) blobstore.Store { return open(t, t.TempDir()) },
		Reopen: func(t testing.TB, s blobstore.Store) blobstore.Store {
			s.Close()
			return open(t, dirs[s])
		},
	})
}
