package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/rtctest"
)

// callWorld is a server and users in one room, each with a WebSocket.
type callWorld struct {
	base  string
	room  apitest.Room
	users map[string]*apitest.Client
	ws    map[string]*apitest.WS
}

func newCallWorld(t *testing.T, ctx context.Context, args []string, names ...string) *callWorld {
	t.Helper()
	addr, stop := startServe(t, append([]string{"--data", t.TempDir()}, args...)...)
	t.Cleanup(func() { stop() })
	w := &callWorld{base: "http://" + addr, users: map[string]*apitest.Client{}, ws: map[string]*apitest.WS{}}
	for i, name := range names {
		c, err := apitest.SignUp(ctx, w.base, name, "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		w.users[name] = c
		if i == 0 {
			if w.room, err = c.CreateRoom(ctx, "calls"); err != nil {
				t.Fatal(err)
			}
		} else if _, err := c.Join(ctx, w.room.InviteCode); err != nil {
			t.Fatal(err)
		}
		ws, err := c.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		w.ws[name] = ws
	}
	return w
}

func (w *callWorld) id(name string) string { return w.users[name].User.ID }

func (w *callWorld) join(t *testing.T, ctx context.Context, name string, opts rtctest.Options) *rtctest.WSCall {
	t.Helper()
	opts.Loopback = true
	c, err := rtctest.JoinWS(ctx, w.ws[name], w.room.ID, opts)
	if err != nil {
		t.Fatalf("%s joins the call: %v", name, err)
	}
	t.Cleanup(c.Close)
	return c
}

func hearsAndSees(c *rtctest.WSCall, users ...string) bool {
	for _, u := range users {
		v := c.Track(u + ":video")
		if c.Received(u, "audio") < 10 || v == nil || v.Packets.Load() < 10 || v.Keyframes.Load() == 0 {
			return false
		}
	}
	return true
}

func describeCalls(calls map[string]*rtctest.WSCall) func() string {
	return func() string {
		var b strings.Builder
		for name, c := range calls {
			fmt.Fprintf(&b, "%s: %s participants=%v\n", name, c.Client, c.Participants())
		}
		return b.String()
	}
}

func waitCall(t *testing.T, d time.Duration, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s\n%s", d, what, describe())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// callsOf returns the room's calls as GET /rooms/{id}/calls lists them.
func callsOf(t *testing.T, ctx context.Context, c *apitest.Client, room string) []map[string]any {
	t.Helper()
	var out struct {
		Calls []map[string]any `json:"calls"`
	}
	if err := c.Do(ctx, "GET", "/api/v1/rooms/"+room+"/calls", nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.Calls
}

func TestCallThreeParticipants(t *testing.T) {
	ctx := testCtx(t)
	w := newCallWorld(t, ctx, nil, "alice", "bob", "carol", "mallory")
	// Mallory is a member of no room of theirs.
	mal, err := apitest.SignUp(ctx, w.base, "eve", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	malWS, err := mal.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer malWS.Close()
	if _, err := rtctest.JoinWS(ctx, malWS, w.room.ID, rtctest.Options{Loopback: true}); !isAPIError(err, 0, "not_found") {
		t.Fatalf("a non-member's call.join: %v, want not_found", err)
	}
	if _, err := malWS.Request(ctx, map[string]any{"type": "call.offer", "room_id": w.room.ID, "sdp": "v=0"}); !isAPIError(err, 0, "not_in_call") {
		t.Fatalf("a non-member's call.offer: %v, want not_in_call", err)
	}

	opts := rtctest.Options{Publish: []string{"audio", "video"}}
	calls := map[string]*rtctest.WSCall{}
	for _, name := range []string{"alice", "bob", "carol"} {
		calls[name] = w.join(t, ctx, name, opts)
	}
	a, b, c := calls["alice"], calls["bob"], calls["carol"]
	if a.CallID == "" || a.CallID != b.CallID || b.CallID != c.CallID {
		t.Fatalf("call IDs %q %q %q: want one call", a.CallID, b.CallID, c.CallID)
	}
	ids := []string{w.id("alice"), w.id("bob"), w.id("carol")}
	slices.Sort(ids)
	describe := describeCalls(calls)
	waitCall(t, 30*time.Second, "everyone to hear and see the other two", func() bool {
		return hearsAndSees(a, w.id("bob"), w.id("carol")) && hearsAndSees(b, w.id("alice"), w.id("carol")) &&
			hearsAndSees(c, w.id("alice"), w.id("bob")) && slices.Equal(a.Participants(), ids)
	}, describe)
	for name, c := range calls {
		if n := c.RefusedCandidates.Load(); n != 0 {
			t.Errorf("%s: %d of the server's candidates came before their description", name, n)
		}
	}

	// The room's members see the call going on, over REST too.
	var active struct {
		Call *struct {
			CallID string   `json:"call_id"`
			InCall []string `json:"in_call"`
		} `json:"call"`
	}
	if err := w.users["mallory"].Do(ctx, "GET", "/api/v1/rooms/"+w.room.ID+"/call", nil, &active); err != nil {
		t.Fatal(err)
	}
	if active.Call == nil || active.Call.CallID != a.CallID || !slices.Equal(active.Call.InCall, ids) {
		t.Fatalf("GET /call = %+v, want the call with all three", active.Call)
	}

	// Mute and camera off are told to everyone.
	if _, err := w.ws["alice"].Request(ctx, map[string]any{"type": "call.media", "room_id": w.room.ID, "audio": false, "video": true}); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 10*time.Second, "bob to see alice muted", func() bool {
		audio, video, _, ok := b.ParticipantMedia(w.id("alice"))
		return ok && !audio && video
	}, describe)

	// Carol leaves: the others are renegotiated without her.
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	delete(calls, "carol")
	rest := []string{w.id("alice"), w.id("bob")}
	slices.Sort(rest)
	waitCall(t, 10*time.Second, "the others to see carol gone", func() bool {
		return slices.Equal(a.Participants(), rest) && slices.Equal(b.Participants(), rest)
	}, describe)
	before := a.Received(w.id("bob"), "video")
	waitCall(t, 10*time.Second, "alice to keep receiving bob", func() bool { return a.Received(w.id("bob"), "video") > before+20 }, describe)

	// Bob's connection drops: he is out of the call. Alice hangs up: the
	// call ends, and the timeline says who came and how long it lasted.
	w.ws["bob"].Close()
	waitCall(t, 10*time.Second, "alice to see bob gone", func() bool { return slices.Equal(a.Participants(), []string{w.id("alice")}) }, describe)
	// The SFU drops him at once; his leave is recorded a moment later:
	// wait for it, so that the story below has one order.
	waitCall(t, 10*time.Second, "bob's leave to be recorded", func() bool {
		if err := w.users["mallory"].Do(ctx, "GET", "/api/v1/rooms/"+w.room.ID+"/call", nil, &active); err != nil {
			t.Fatal(err)
		}
		return active.Call != nil && slices.Equal(active.Call.InCall, []string{w.id("alice")})
	}, describe)
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	var ended []map[string]any
	waitCall(t, 10*time.Second, "the call to end", func() bool {
		ended = callsOf(t, ctx, w.users["alice"], w.room.ID)
		return len(ended) == 1 && ended[0]["ended_at"] != nil
	}, func() string { return fmt.Sprint(ended) })
	if ended[0]["participants"] != float64(3) || ended[0]["call_id"] != a.CallID {
		t.Errorf("ended call %v: want 3 participants", ended[0])
	}

	// The room's events tell the same story, with reasons.
	ws := w.ws["mallory"]
	if _, err := ws.Subscribe(ctx, w.room.ID, 0); err != nil {
		t.Fatal(err)
	}
	var story []string
	for len(story) == 0 || story[len(story)-1] != "call.ended" {
		f := nextEvent(t, ctx, ws)
		if name := f.Str("event"); strings.HasPrefix(name, "call.") {
			if name == "call.left" {
				name += "/" + f.Data().Str("reason")
			}
			if _, leaks := f.Data()["conn_id"]; leaks {
				t.Errorf("event %v shows a connection ID", f)
			}
			story = append(story, name)
		}
	}
	want := []string{"call.started", "call.joined", "call.joined", "call.joined", "call.left/left", "call.left/disconnected", "call.left/left", "call.ended"}
	if !slices.Equal(story, want) {
		t.Errorf("call events %v, want %v", story, want)
	}
}

func TestCallKickRemovesFromCall(t *testing.T) {
	ctx := testCtx(t)
	w := newCallWorld(t, ctx, nil, "alice", "bob")
	a := w.join(t, ctx, "alice", rtctest.Options{Publish: []string{"audio"}})
	b := w.join(t, ctx, "bob", rtctest.Options{Publish: []string{"audio"}})
	calls := map[string]*rtctest.WSCall{"alice": a, "bob": b}
	waitCall(t, 30*time.Second, "both in the call", func() bool { return len(a.Participants()) == 2 }, describeCalls(calls))
	if err := w.users["alice"].Do(ctx, "POST", "/api/v1/rooms/"+w.room.ID+"/members/"+w.id("bob")+"/kick", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 10*time.Second, "bob to be removed from the call", func() bool {
		return slices.Contains(b.Removed(), "removed") && slices.Equal(a.Participants(), []string{w.id("alice")})
	}, describeCalls(calls))
	if _, err := w.ws["bob"].Request(ctx, map[string]any{"type": "call.join", "room_id": w.room.ID}); !isAPIError(err, 0, "not_found") {
		t.Errorf("a kicked member's call.join: %v, want not_found", err)
	}
}

func TestCallThroughTURNRelayOnly(t *testing.T) {
	ctx := testCtx(t)
	// The SFU's candidates are on loopback here, which TURN refuses to
	// relay to unless allowed.
	w := newCallWorld(t, ctx, []string{"--turn-allow-peers", "127.0.0.0/8"}, "alice", "bob")

	// ICE servers are for signed-in users only.
	res, err := rawRequest(ctx, w.base, "GET", "/api/v1/rtc/ice-servers", nil, nil)
	if err != nil || res.Status != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /rtc/ice-servers: %v %v, want 401", res, err)
	}
	var ice struct {
		ICEServers []struct {
			URLs       []string `json:"urls"`
			Username   string   `json:"username"`
			Credential string   `json:"credential"`
		} `json:"ice_servers"`
	}
	if err := w.users["alice"].Do(ctx, "GET", "/api/v1/rtc/ice-servers", nil, &ice); err != nil {
		t.Fatal(err)
	}
	var turnURLs []string
	for _, s := range ice.ICEServers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") {
				turnURLs = append(turnURLs, u)
				if s.Username == "" || !strings.HasSuffix(s.Username, ":"+w.id("alice")) || s.Credential == "" {
					t.Errorf("TURN server %v: want time-limited credentials for alice", s)
				}
			}
		}
	}
	if len(turnURLs) != 2 {
		t.Fatalf("TURN URLs %v: want UDP and TCP", turnURLs)
	}
	// They cannot be revoked: they expire after an hour (by default).
	for _, s := range ice.ICEServers {
		if s.Username == "" {
			continue
		}
		stamp, _, _ := strings.Cut(s.Username, ":")
		exp, err := strconv.ParseInt(stamp, 10, 64)
		if ttl := time.Until(time.Unix(exp, 0)); err != nil || ttl > time.Hour || ttl < 50*time.Minute {
			t.Errorf("TURN username %q expires in %v, want about an hour", s.Username, ttl)
		}
	}

	// A user in no room gets no credentials to relay with.
	eve, err := apitest.SignUp(ctx, w.base, "eve", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := eve.Do(ctx, "GET", "/api/v1/rtc/ice-servers", nil, &ice); !isAPIError(err, http.StatusForbidden, "forbidden") ||
		!strings.Contains(err.Error(), "only for members of a room") {
		t.Fatalf("GET /rtc/ice-servers of a user in no room: %v, want 403 forbidden", err)
	}

	opts := rtctest.Options{Publish: []string{"audio", "video"}, RelayOnly: true}
	a := w.join(t, ctx, "alice", opts)
	b := w.join(t, ctx, "bob", opts)
	calls := map[string]*rtctest.WSCall{"alice": a, "bob": b}
	waitCall(t, 30*time.Second, "media through the relay", func() bool {
		return hearsAndSees(a, w.id("bob")) && hearsAndSees(b, w.id("alice"))
	}, describeCalls(calls))
	for name, c := range calls {
		// The client adds the server's candidates as they come: none may
		// come before the description it belongs to.
		if n := c.RefusedCandidates.Load(); n != 0 {
			t.Errorf("%s: %d of the server's candidates came before their description", name, n)
		}
		types := c.SelectedCandidateTypes()
		if len(types) == 0 {
			t.Errorf("%s: no selected candidate pair", name)
		}
		for _, typ := range types {
			if typ != "relay" {
				t.Errorf("%s: selected a %s candidate, want relay only", name, typ)
			}
		}
	}
}
