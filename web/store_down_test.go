package web_test

import (
	"context"
	"testing"

	"github.com/confabhq/confab/internal/pgtest"
)

// TestSendWhileStoreDown: a message sent while the server's PostgreSQL is
// down is refused with `unavailable`; the page keeps it in the queue,
// says it cannot be sent right now, and sends it once the database is
// back, once.
func TestSendWhileStoreDown(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	pg := pgtest.StartForTest(t)
	url, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerWith(t, "127.0.0.1:0", append([]string{"--store", "postgres", "--postgres-url", url}, serveFlags...)...)
	alice := newBrowser(t, "alice")
	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	alice.createRoom("Ops")
	alice.send("before the outage")
	alice.waitMessage("before the outage")

	if err := pg.Halt("immediate"); err != nil {
		t.Fatal(err)
	}
	alice.send("during the outage")
	alice.waitJS("the message waits, saying it cannot be sent right now",
		`[...document.querySelectorAll("#timeline .msg.pending")].some(e => e.querySelector(".msg-text")?.textContent === "during the outage" && /can't send right now/i.test(e.querySelector(".msg-status")?.textContent || ""))`)
	if got := alice.messages(); !equalStrings(got, []string{"before the outage"}) {
		t.Errorf("messages while the store is down: %q", got)
	}

	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the queued message is sent once the store is back", func() bool {
		return equalStrings(alice.messages(), []string{"before the outage", "during the outage"})
	})
	alice.waitJS("nothing is pending", `!document.querySelector("#timeline .msg.pending")`)
}
