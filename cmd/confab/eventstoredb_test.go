package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unreachableESDB names an EventStoreDB server that is not there: nothing
// listens on port 1.
const unreachableESDB = "esdb://127.0.0.1:1?tls=false"

// TestServeEventStoreDBFlags checks --store eventstoredb without a server
// (none runs here): a missing, malformed or unreachable --eventstoredb-url
// is a clear error, from the flag or from CONFAB_EVENTSTOREDB_URL, for
// serve and the admin commands, and it leaves --data untouched.
func TestServeEventStoreDBFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string // CONFAB_EVENTSTOREDB_URL
		want []string
	}{
		{"no url", []string{"serve", "--store", "eventstoredb"}, "", []string{"--store eventstoredb needs --eventstoredb-url (or CONFAB_EVENTSTOREDB_URL)"}},
		{"malformed url", []string{"serve", "--store", "eventstoredb", "--eventstoredb-url", "http://127.0.0.1:1"}, "", []string{"--eventstoredb-url", "parse connection string"}},
		{"unreachable", []string{"serve", "--store", "eventstoredb", "--eventstoredb-url", unreachableESDB}, "", []string{"--eventstoredb-url: eventstoredb: connect"}},
		{"unreachable from env", []string{"serve", "--store", "eventstoredb"}, unreachableESDB, []string{"--eventstoredb-url: eventstoredb: connect"}},
		{"admin, no url", []string{"projections", "status", "--store", "eventstoredb"}, "", []string{"needs --eventstoredb-url"}},
		{"admin, unreachable", []string{"projections", "status", "--store", "eventstoredb", "--eventstoredb-url", unreachableESDB}, "", []string{"open the eventstoredb store", "eventstoredb: connect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CONFAB_EVENTSTOREDB_URL", tt.env)
			data := filepath.Join(t.TempDir(), "data")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			m := &Main{Stdout: io.Discard, Stderr: io.Discard}
			args := append([]string{"confab"}, tt.args...)
			if tt.args[0] == "serve" {
				args = append(args, "--addr", "127.0.0.1:0")
			}
			err := m.Run(ctx, append(args, "--data", data))
			if err == nil {
				t.Fatalf("%v: no error", tt.args)
			}
			if ctx.Err() != nil {
				t.Fatalf("%v: still waiting for the server after 2 minutes: %v", tt.args, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: err %q, want one mentioning %q", tt.args, err, w)
				}
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("%v: --data %s made or touched (%v), want it left alone", tt.args, data, err)
			}
		})
	}
}
