package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/tmpfstest"
	"github.com/gorilla/websocket"
)

// diskChat has alice send from two WebSockets until stopped, without
// retrying: every send is acked (into the ledger) or refused, and the
// refusals are counted by error code.
type diskChat struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	refused map[string]int  // by error code
	ids     map[string]bool // client_msg_ids refused
	lastAck time.Time
	other   []string // errors that are not refusals with a code
}

func startDiskChat(t *testing.T, ctx context.Context, alice *apitest.Client, room string, acked *invLedger) *diskChat {
	ctx, cancel := context.WithCancel(ctx)
	d := &diskChat{cancel: cancel, refused: map[string]int{}, ids: map[string]bool{}}
	for w := range 2 {
		s := invDialSender(t, ctx, alice)
		d.wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if s.lim.Wait(ctx) != nil {
					return
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				text := "disk " + id
				seq, err := s.ws.SendMessage(ctx, room, id, text)
				d.mu.Lock()
				var ae *apitest.Error
				switch {
				case err == nil:
					acked.add(invAcked{Seq: seq, Sender: alice.User.ID, ID: id, Text: text})
					d.lastAck = time.Now()
				case errors.As(err, &ae):
					d.refused[ae.Code]++
					d.ids[id] = true
				case ctx.Err() == nil:
					d.other = append(d.other, err.Error())
				}
				d.mu.Unlock()
				if err != nil && ae == nil {
					return
				}
			}
		})
	}
	return d
}

func (d *diskChat) refusals(code string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refused[code]
}

func (d *diskChat) lastAcked() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastAck
}

// stop stops the senders and fails the test if a send was refused with
// another code than unavailable, or a connection failed.
func (d *diskChat) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	for code, n := range d.refused {
		if code != "unavailable" {
			t.Errorf("%d sends refused with %q, want only unavailable", n, code)
		}
	}
	for _, e := range d.other {
		t.Errorf("sender: %v", e)
	}
}

// diskReadyz returns /readyz's status and reason.
func diskReadyz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error
}

// diskWaitUnready waits for /readyz to answer 503 with a reason holding want.
func diskWaitUnready(t *testing.T, ctx context.Context, base, want string) {
	t.Helper()
	invWaitFor(t, ctx, time.Minute, "/readyz 503 "+want, func() (bool, string) {
		code, reason := diskReadyz(t, base)
		return code == http.StatusServiceUnavailable && strings.Contains(reason, want), fmt.Sprint(code, " ", reason)
	})
}

// diskPostRefused posts a message over REST and checks it is refused with
// 503 unavailable and a Retry-After.
func diskPostRefused(t *testing.T, ctx context.Context, c *apitest.Client, room, id string) {
	t.Helper()
	body := strings.NewReader(fmt.Sprintf(`{"client_msg_id":%q,"text":"refused"}`, id))
	req, err := http.NewRequestWithContext(ctx, "POST", c.Base+"/api/v1/rooms/"+room+"/messages", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error apitest.Error }
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("post on a full disk: %d %q (%s), Retry-After %q; want 503 unavailable with a Retry-After",
			resp.StatusCode, e.Error.Code, e.Error.Message, resp.Header.Get("Retry-After"))
	}
}

// TestFullDiskEmbeddedStore fills the filesystem under a running embedded
// store: sends are refused with unavailable (never internal, never
// acked), history is still served, /readyz says why, and the server stays
// up; once space is freed sends work again and nothing acked is lost or
// doubled. Restarted on a full disk, the server starts read-only and
// serves history.
func TestFullDiskEmbeddedStore(t *testing.T) {
	ctx := invariantCtx(t)
	mnt := tmpfstest.Mount(t, 96<<20)
	args := []string{"--data", filepath.Join(mnt, "data"), "--min-free-disk", "24MB", "--metrics-token", testMetricsToken}
	srv := startShChild(t, args...)
	base := "http://" + srv.waitLog(t, "listening", time.Minute)["addr"].(string)
	alice := invSignUp(t, ctx, base, "alice")
	room := invRoom(t, ctx, alice)
	acked := newInvLedger()
	chat := startDiskChat(t, ctx, alice, room, acked)
	invWaitFor(t, ctx, time.Minute, "20 acks", func() (bool, string) { return acked.count() >= 20, fmt.Sprint(acked.count()) })

	// Below the free space to keep: refused before SQLite runs out.
	big := tmpfstest.Fill(t, mnt, "big", 12<<20)
	invWaitFor(t, ctx, time.Minute, "a send refused", func() (bool, string) {
		return chat.refusals("unavailable") >= 5, fmt.Sprint(chat.refusals("unavailable"))
	})
	diskPostRefused(t, ctx, alice, room, "rest-1")
	diskWaitUnready(t, ctx, base, "disk almost full")
	invWaitAcked(t, ctx, alice, room, acked)
	if v := metric(t, scrape(t, base+"/metrics"), "confab_store_writable"); v != 0 {
		t.Errorf("confab_store_writable %v below the free space to keep, want 0", v)
	}

	// Full: still refused, still reading, still up.
	tmpfstest.Fill(t, mnt, "big", 0)
	n := chat.refusals("unavailable")
	invWaitFor(t, ctx, time.Minute, "sends refused on a full disk", func() (bool, string) {
		return chat.refusals("unavailable") >= n+10, fmt.Sprint(chat.refusals("unavailable") - n)
	})
	diskPostRefused(t, ctx, alice, room, "rest-2")
	diskWaitUnready(t, ctx, base, "disk almost full")
	invWaitAcked(t, ctx, alice, room, acked)
	if _, err := alice.Members(ctx, room); err != nil {
		t.Fatalf("members on a full disk: %v", err)
	}
	select {
	case <-srv.exited:
		t.Fatalf("the server exited on a full disk: %v", srv.err)
	default:
	}

	// Space freed: sends work again.
	if err := os.Remove(big); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	invWaitFor(t, ctx, time.Minute, "a send acked after freeing space", func() (bool, string) {
		return chat.lastAcked().After(freed), "none yet"
	})
	t.Logf("sends acked again %v after the space was freed; %d acked, %d refused with unavailable in all",
		chat.lastAcked().Sub(freed).Round(time.Millisecond), acked.count(), chat.refusals("unavailable"))
	invWaitFor(t, ctx, time.Minute, "/readyz 200", func() (bool, string) {
		code, reason := diskReadyz(t, base)
		return code == http.StatusOK, fmt.Sprint(code, " ", reason)
	})
	if v := metric(t, scrape(t, base+"/metrics"), "confab_store_writable"); v != 1 {
		t.Errorf("confab_store_writable %v after freeing space, want 1", v)
	}
	chat.stop(t)
	acked.check(t)
	invCheckDurable(t, ctx, alice, room, acked)
	msgs := invWaitAcked(t, ctx, alice, room, acked)
	for _, m := range msgs {
		if chat.ids[m.ClientMsgID] || strings.HasPrefix(m.ClientMsgID, "rest-") {
			t.Errorf("refused message %s is in the history at seq %d", m.ClientMsgID, m.Seq)
		}
	}

	// Restarted on a full disk: read-only.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.exited:
	case <-time.After(time.Minute):
		t.Fatal("the server did not stop on SIGTERM")
	}
	tmpfstest.Fill(t, mnt, "big", 0)
	srv = startShChild(t, args...)
	base = "http://" + srv.waitLog(t, "listening", time.Minute)["addr"].(string)
	warn := srv.waitLog(t, "the event store refuses writes; sends get unavailable until it takes them again", time.Second)
	if r, _ := warn["reason"].(string); !strings.Contains(r, "read-only") {
		t.Errorf("start on a full disk logged %q, want read-only", r)
	}
	alice = invOn(alice, base)
	diskWaitUnready(t, ctx, base, "read-only")
	after := invWaitAcked(t, ctx, alice, room, acked)
	if len(after) != len(msgs) {
		t.Errorf("read-only history: %d messages, want %d", len(after), len(msgs))
	}
	if _, err := alice.Members(ctx, room); err != nil {
		t.Errorf("members, read-only: %v", err)
	}
	rooms, err := alice.Rooms(ctx)
	if err != nil || !slices.ContainsFunc(rooms, func(r apitest.Room) bool { return r.ID == room }) {
		t.Errorf("rooms, read-only: %v, %v", rooms, err)
	}
	diskPostRefused(t, ctx, alice, room, "rest-3")
	// A WebSocket cannot be recorded (its presence is an event): the
	// server closes it with 1013, try again later.
	ws, err := alice.Dial(ctx)
	if err != nil {
		t.Fatalf("dial, read-only: %v", err)
	}
	select {
	case <-ws.Closed():
	case <-ctx.Done():
		t.Fatal("a WebSocket on a read-only server was not closed")
	}
	if code := ws.CloseCode(); code != websocket.CloseTryAgainLater {
		t.Errorf("WebSocket on a read-only server closed with %d, want %d", code, websocket.CloseTryAgainLater)
	}
}
