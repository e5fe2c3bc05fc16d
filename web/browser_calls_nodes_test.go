package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/confabhq/confab/internal/natstest"
	"github.com/confabhq/confab/internal/pgtest"
)

// TestCallAcrossNodesInBrowsers: two people, each in their own Chromium,
// connected to two different confab nodes (one PostgreSQL, one embedded
// NATS), join one call and decode each other's video and audio (getStats
// on the sub connection), then hang up. Like TestCallInBrowsers, it runs
// in a network namespace of its own (see inNetns).
func TestCallAcrossNodesInBrowsers(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	if !inNetns(t) {
		return
	}
	began := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	nodes := startCallNodes(t, 2)
	step("two nodes up")

	// Accounts and the room over REST on node 0; each browser then signs
	// in on its own node, once that node has caught up.
	aliceTok := signUpAPI(t, nodes[0], "alice")
	bobTok := signUpAPI(t, nodes[0], "bob")
	room := nodes[0].api(t, aliceTok, "POST", "/rooms", map[string]any{"name": "Standup"})["room"].(map[string]any)
	roomID := room["id"].(string)
	nodes[0].api(t, bobTok, "POST", "/rooms/join", map[string]any{"invite_code": room["invite_code"]})
	aliceID := nodes[0].api(t, aliceTok, "GET", "/me", nil)["user"].(map[string]any)["id"].(string)
	bobID := nodes[0].api(t, bobTok, "GET", "/me", nil)["user"].(map[string]any)["id"].(string)
	waitAPI(t, nodes[1], bobTok, "/rooms/"+roomID)

	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")
	alice.openSignedIn(nodes[0].URL, aliceTok, roomID)
	bob.openSignedIn(nodes[1].URL, bobTok, roomID)
	step("alice's page is on node 0, bob's on node 1")

	// Alice starts the call (her node hosts it); Bob joins from node 1.
	alice.do(chromedp.Click(chromedp.ID("join-call")))
	alice.waitJS("alice is in the call", inCallJS)
	bob.waitJS("bob sees one person in the call", `document.querySelector("#join-call").dataset.count === "1"`)
	bob.do(chromedp.Click(chromedp.ID("join-call")))
	bob.waitJS("bob is in the call", inCallJS)
	step("both joined")

	// Each decodes the other's video and audio, more and more of it.
	alice.waitJS("alice sees bob's camera", tileJS(bobID, "camera", `[data-video="true"]`))
	bob.waitJS("bob sees alice's camera", tileJS(aliceID, "camera", `[data-video="true"]`))
	alice.waitDecoding(bobID, "video", "audio")
	bob.waitDecoding(aliceID, "video", "audio")
	step("media flows both ways across the nodes")
	saveScreenshot(t, "call-across-nodes-alice.png", alice.screenshot())
	saveScreenshot(t, "call-across-nodes-bob.png", bob.screenshot())

	// Both hang up: the call ends, for both nodes' pages.
	bob.do(chromedp.Click(chromedp.ID("call-leave")))
	alice.waitJS("alice sees bob leave", `!document.querySelector('#call-stage .call-tile[data-user="`+bobID+`"]')`)
	alice.do(chromedp.Click(chromedp.ID("call-leave")))
	for _, b := range []*browser{alice, bob} {
		b.waitJS("the timeline shows the ended call on one line", `(() => {
			const lines = [...document.querySelectorAll('#timeline .sys[data-event^="call"]')];
			return lines.length === 1 && /· 2 joined · ended after \d+ (s|min)/.test(lines[0].textContent);
		})()`)
		b.waitJS("the button offers a new call", `document.querySelector("#join-call").textContent.includes("Start call")`)
	}
	step("done")
}

// startCallNodes runs n confab nodes with calls on one PostgreSQL database
// and one embedded NATS server (JetStream), listening on every address of
// the network namespace (startCallServer), each with a TURN server on free
// ports and relay ports of its own, all with one TURN secret.
func startCallNodes(t *testing.T, n int) []*server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	pgURL, err := pgtest.StartForTest(t).NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	natsURL := natstest.Start(t)
	var nodes []*server
	for i := range n {
		nodes = append(nodes, startCallServer(t,
			"--store", "postgres", "--postgres-url", pgURL, "--nats-url", natsURL,
			"--turn-udp", ":0", "--turn-tcp", ":0", "--turn-secret", "calls-across-nodes",
			"--turn-port-min", strconv.Itoa(49160+20*i), "--turn-port-max", strconv.Itoa(49179+20*i)))
	}
	return nodes
}

// waitAPI waits until GET path with token answers 200 on srv: a node that
// did not take the request that made something shows it once its read
// models have caught up.
func waitAPI(t *testing.T, srv *server, token, path string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("GET %s on %s to answer 200", path, srv.URL), func() bool {
		req, err := http.NewRequest("GET", srv.URL+"/api/v1"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}
