package eventstoredb_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/eventstoredb"
	"github.com/confabhq/confab/eventstore/storetest"
)

// urlEnv names the server the conformance suite runs against.
const urlEnv = "CONFAB_EVENTSTOREDB_URL"

// TestConformance runs the shared suite against the server named by
// CONFAB_EVENTSTOREDB_URL. One server cannot hand each test an empty
// store, so every test gets a new connection to the same server and the
// suite keeps to stream names of its own. GlobalIDs is skipped (see
// unsupported).
func TestConformance(t *testing.T) {
	url := os.Getenv(urlEnv)
	if url == "" {
		t.Skipf("no EventStoreDB server runs on these machines; set %s (e.g. esdb://localhost:2113?tls=false) to run the conformance suite", urlEnv)
	}
	open := func(t testing.TB) eventstore.Store {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := eventstoredb.Open(ctx, url)
		if err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
		return s
	}
	runSuite(t, storetest.Harness{
		Open: open,
		Reopen: func(t testing.TB, s eventstore.Store) eventstore.Store {
			t.Helper()
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			return open(t)
		},
	})
}

// unsupported are the checks EventStoreDB cannot pass: it scopes event IDs
// to a stream, so an ID reused in another stream is stored, not refused.
var unsupported = map[string]bool{"GlobalIDs": true}

// runSuite runs every conformance check EventStoreDB supports.
func runSuite(t *testing.T, h storetest.Harness) {
	for _, c := range storetest.Checks {
		t.Run(c.Name, func(t *testing.T) {
			if unsupported[c.Name] {
				t.Skip("EventStoreDB scopes event IDs to a stream")
			}
			c.Func(t, h)
		})
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, url := range []string{"", "http://localhost:2113", "esdb://", "esdb://localhost:2113?tls=maybe"} {
		s, err := eventstoredb.Open(context.Background(), url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", url, err)
		}
	}
}
