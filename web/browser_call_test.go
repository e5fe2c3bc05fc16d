package web_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestCallInBrowsers: two people in a room, each in their own Chromium
// with a fake camera and microphone, join the room's call and each
// decodes the other's video and audio (getStats on the sub connection);
// one mutes and the other sees it on their tile; one shares the screen
// (Chromium's fake capture) and the other decodes it in a large tile;
// both leave and the timeline says how the call went.
//
// Everything runs in a network namespace of its own (see inNetns):
// Chromium needs a non-loopback interface to gather ICE candidates.
func TestCallInBrowsers(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	if !inNetns(t) {
		return
	}
	began := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	// TURN credentials that expire soon: the pages renew them during the
	// call (see below).
	srv := startCallServer(t, "--turn-credential-ttl", "30s")
	// Alice's page goes through a proxy that can cut her WebSocket.
	// 127.0.0.1, like localhost, is a secure context: getUserMedia works.
	px := startProxy(t, srv.Addr)

	// Accounts and the room over REST; the browsers get session cookies.
	aliceTok := signUpAPI(t, srv, "alice")
	bobTok := signUpAPI(t, srv, "bob")
	room := srv.api(t, aliceTok, "POST", "/rooms", map[string]any{"name": "Standup"})["room"].(map[string]any)
	roomID := room["id"].(string)
	srv.api(t, bobTok, "POST", "/rooms/join", map[string]any{"invite_code": room["invite_code"]})
	aliceID := srv.api(t, aliceTok, "GET", "/me", nil)["user"].(map[string]any)["id"].(string)
	bobID := srv.api(t, bobTok, "GET", "/me", nil)["user"].(map[string]any)["id"].(string)

	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")
	alice.openSignedIn(px.URL(), aliceTok, roomID)
	bob.openSignedIn(srv.URL, bobTok, roomID)
	step("both pages show the room")

	// Alice starts the call; bob's button shows one person in it.
	alice.waitJS("the button offers to start a call", `document.querySelector("#join-call").textContent.includes("Start call")`)
	alice.do(chromedp.Click(chromedp.ID("join-call")))
	alice.waitJS("alice is in the call", inCallJS)
	bob.waitJS("bob sees one person in the call", `document.querySelector("#join-call").dataset.count === "1" && document.querySelector("#join-call").textContent.includes("Join call")`)
	bob.do(chromedp.Click(chromedp.ID("join-call")))
	bob.waitJS("bob is in the call", inCallJS)
	step("both joined")

	// Each sees the other's camera in a tile, and decodes their video and
	// audio, more and more of it.
	alice.waitJS("alice sees bob's camera", tileJS(bobID, "camera", `[data-video="true"]`))
	bob.waitJS("bob sees alice's camera", tileJS(aliceID, "camera", `[data-video="true"]`))
	alice.waitDecoding(bobID, "video", "audio")
	bob.waitDecoding(aliceID, "video", "audio")
	step("media flows both ways")
	joinUsername := eval[string](alice, turnUsernameJS)
	if !strings.Contains(joinUsername, ":"+aliceID) {
		t.Fatalf("alice's page has TURN username %q from the join, want one of hers", joinUsername)
	}

	// Bob mutes: alice sees it on his tile. Alice's fake microphone beeps:
	// she is the active speaker.
	bob.do(chromedp.Click(chromedp.ID("call-mic")))
	bob.waitJS("bob's button shows he is muted", `document.querySelector("#call-mic").getAttribute("aria-pressed") === "true"`)
	alice.waitJS("alice sees bob muted", tileJS(bobID, "camera", `[data-muted="true"]`))
	alice.waitJS("alice is not shown muted", tileJS(aliceID, "camera", `[data-muted="false"]`))
	bob.waitJS("bob sees alice speaking", tileJS(aliceID, "camera", `.speaking`))
	step("mute and active speaker show")

	// Alice shares her screen: bob gets a large screen tile and decodes it.
	alice.do(chromedp.Click(chromedp.ID("call-screen")))
	alice.waitJS("alice sees her own screen tile", tileJS(aliceID, "screen", `[data-video="true"]`))
	bob.waitJS("bob sees alice's screen", tileJS(aliceID, "screen", `[data-video="true"]`))
	bob.waitDecoding(aliceID, "screen")
	bob.waitJS("the screen share is the large tile", `document.querySelector("#call-stage").classList.contains("has-screen")`)
	step("the screen share shows")
	saveScreenshot(t, "call.png", bob.screenshot())

	// She stops sharing: the screen tile goes away, her camera stays.
	alice.do(chromedp.Click(chromedp.ID("call-screen")))
	bob.waitJS("alice's screen tile goes away", `!document.querySelector('#call-stage .call-tile[data-kind="screen"]')`)
	bob.waitJS("alice's camera stays", tileJS(aliceID, "camera", `[data-video="true"]`))
	// And shares again (the same transceiver, sending again), then stops.
	alice.do(chromedp.Click(chromedp.ID("call-screen")))
	bob.waitJS("bob sees alice's screen again", tileJS(aliceID, "screen", `[data-video="true"]`))
	bob.waitDecoding(aliceID, "screen")
	alice.do(chromedp.Click(chromedp.ID("call-screen")))
	bob.waitJS("alice's second screen tile goes away", `!document.querySelector('#call-stage .call-tile[data-kind="screen"]')`)
	step("the screen share stopped, started and stopped again")

	// The credentials of the join expire 30 s after it: the page fetched
	// fresh ones before (GET /rtc/ice-servers) and gave them to its
	// connections.
	alice.waitJS("alice's page renews its TURN credentials", turnUsernameJS+` !== `+jsString(joinUsername)+` && `+turnUsernameJS+`.endsWith(":`+aliceID+`")`)
	alice.waitJS("alice's connections have them", `(() => {
		const { pub, sub } = window.confabCall.pcs(), want = `+turnUsernameJS+`;
		return [pub, sub].every((pc) => pc.getConfiguration().iceServers.some((s) => s.username === want));
	})()`)
	step("the TURN credentials were renewed")

	// The network goes away under the media (both veth addresses removed):
	// alice's page sees its connections go down and restarts ICE (new
	// ICE credentials on pub, and on sub through call.restart_ice); when
	// the network is back, media flows again.
	ufrags := eval[string](alice, ufragJS)
	setVethAddrs(t, "del")
	alice.waitJS("alice's page sees the media connection drop", `document.querySelector("#call-status").dataset.state === "unstable"`)
	alice.waitJS("alice's page restarts ICE on both connections", `(() => { const [a, b] = `+ufragJS+`.split("/"), [c, d] = `+jsString(ufrags)+`.split("/"); return a !== c && b !== d; })()`)
	setVethAddrs(t, "add")
	alice.waitJS("alice's media connections are back", inCallJS)
	bob.waitDecoding(aliceID, "video", "audio")
	alice.waitDecoding(bobID, "video")
	if eval[bool](bob, `[...document.querySelectorAll("#timeline .sys")].some(e => e.textContent.includes("connection lost"))`) {
		// Slower than the server's grace for a failed connection: it
		// took alice out, and her page joined again.
		t.Logf("the ICE restart took longer than the server waits; alice joined again")
	}
	step("ICE restarted after the network came back")

	// Alice's connection drops: the server takes her out of the call; once
	// her page reconnects, it joins again by itself.
	px.Cut()
	alice.waitJS("alice's page says it reconnects", `document.querySelector("#call-status").dataset.state === "connecting"`)
	bob.waitJS("alice leaves bob's call", `!document.querySelector('#call-stage .call-tile[data-user="`+aliceID+`"]')`)
	px.Restore()
	alice.waitJS("alice is back in the call", inCallJS)
	bob.waitJS("bob sees alice's camera again", tileJS(aliceID, "camera", `[data-video="true"]`))
	bob.waitDecoding(aliceID, "video", "audio")
	alice.waitDecoding(bobID, "video")
	step("alice rejoined after her connection dropped")

	// Bob joins from a second tab whose camera is missing: the first tab
	// leaves the call ("moved"), the second joins with audio only and says
	// why, and alice sees his avatar instead of video.
	bob2 := bob.newTab("bob's second tab")
	bob2.addInitScript(`{
		const gum = MediaDevices.prototype.getUserMedia;
		MediaDevices.prototype.getUserMedia = function (c) {
			if (c && c.video) return Promise.reject(new DOMException("Requested device not found", "NotFoundError"));
			return gum.call(this, c);
		};
	}`)
	bob2.open(srv.URL + "/r/" + roomID)
	bob2.waitJS("the room opens", `document.querySelector("#room-title")?.textContent === "Standup" && !document.querySelector("#call-slot").hidden`)
	bob2.do(chromedp.Click(chromedp.ID("join-call")))
	bob2.waitJS("bob's second tab is in the call", inCallJS)
	bob2.waitJS("it says there is no camera", `document.querySelector("#call-notices")?.textContent.includes("No camera found")`)
	bob.waitJS("bob's first tab left the call", `document.querySelector("#call-stage").hidden && [...document.querySelectorAll(".toast")].some(e => e.textContent.includes("another tab"))`)
	alice.waitJS("alice sees bob's avatar", tileJS(bobID, "camera", `[data-video="false"] .call-face .avatar`))
	bob2.waitDecoding(aliceID, "video", "audio")
	alice.waitDecoding(bobID, "audio")
	step("a second tab took the call over, with audio only")

	// Both leave; the call ends and the timeline sums it up.
	bob2.do(chromedp.Click(chromedp.ID("call-leave")))
	bob2.waitJS("bob's stage closes", `document.querySelector("#call-stage").hidden && !document.querySelector("#join-call").hidden`)
	alice.waitJS("alice sees bob leave", `!document.querySelector('#call-stage .call-tile[data-user="`+bobID+`"]')`)
	alice.do(chromedp.Click(chromedp.ID("call-leave")))
	for _, b := range []*browser{alice, bob, bob2} {
		b.waitJS("the timeline shows the ended call on one line", `(() => {
			const lines = [...document.querySelectorAll('#timeline .sys[data-event^="call"]')];
			return lines.length === 1 && /^Call started by alice · 2 joined · ended after \d+ (s|min)/.test(lines[0].textContent);
		})()`)
		b.waitJS("the button offers a new call", `document.querySelector("#join-call").textContent.includes("Start call")`)
		if n := eval[int](b, `document.querySelectorAll("video, audio").length`); n != 0 {
			t.Errorf("%s: %d media elements remain after leaving", b.name, n)
		}
	}
	step("done")
}

// inCallJS is true while the page shows its call, connected.
const inCallJS = `!document.querySelector("#call-stage").hidden && document.querySelector("#call-status").dataset.state === "connected"`

// openSignedIn opens a room at base with a session cookie, as if the
// person had signed in there.
func (b *browser) openSignedIn(base, token, roomID string) {
	b.t.Helper()
	b.addInitScript(`localStorage.setItem("confab.session", "1"); localStorage.setItem("confab.debug", "1");`)
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "confab_session", Value: token, URL: base, HTTPOnly: new(true)})
	cancel()
	if err != nil {
		b.fatalf("set the session cookie: %v", err)
	}
	b.open(base + "/r/" + roomID)
	b.waitJS("the room opens", `document.querySelector("#room-title")?.textContent === "Standup"`)
	b.waitJS("the call button shows", `document.querySelector("#join-call") && !document.querySelector("#call-slot").hidden`)
}

// newTab opens another tab in b's browser (same profile and cookies), with
// the same checks for exceptions and console errors.
func (b *browser) newTab(name string) *browser {
	b.t.Helper()
	tab := &browser{t: b.t, name: name}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			tab.problem("uncaught exception: " + exceptionText(ev.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				tab.problem("console." + string(ev.Type) + ": " + argsText(ev.Args))
			}
		case *page.EventJavascriptDialogOpening:
			tab.problem("a JavaScript dialog opened: " + ev.Message)
		}
	}))
	tab.ctx, tab.closeBrowser = ctx, cancel
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("%s: open a tab: %v", name, err)
	}
	b.t.Cleanup(tab.Close)
	// The new tab's page also has the debug hook.
	tab.addInitScript(`localStorage.setItem("confab.session", "1"); localStorage.setItem("confab.debug", "1");`)
	return tab
}

// waitDecoding waits until the page decodes more and more of user's
// tracks of kinds ("video", "audio", "screen"): two polls of getStats on
// its sub connection, the second showing more frames (video) or samples
// (audio) than the first.
func (b *browser) waitDecoding(user string, kinds ...string) {
	b.t.Helper()
	progress := func(s callStats, k string) int64 {
		if k == "audio" {
			return s[user+":"+k].Samples
		}
		return s[user+":"+k].FramesDecoded
	}
	first := waitStats(b, "the page decodes "+user+"'s "+strings.Join(kinds, " and "), func(s callStats) bool {
		for _, k := range kinds {
			if progress(s, k) == 0 {
				return false
			}
		}
		return true
	})
	waitStats(b, "the page decodes more of "+user+"'s "+strings.Join(kinds, " and "), func(s callStats) bool {
		for _, k := range kinds {
			if progress(s, k) <= progress(first, k)+5 {
				return false
			}
		}
		return true
	})
}

// turnUsernameJS is the TURN username the page's call uses.
const turnUsernameJS = `(window.confabCall.session()?.iceServers || []).map((s) => s.username || "").find(Boolean)`

// ufragJS is "<pub's local ICE ufrag>/<sub's remote ICE ufrag>": both
// change when the page restarts ICE.
const ufragJS = `(() => {
	const { pub, sub } = window.confabCall.pcs();
	const ufrag = (d) => /a=ice-ufrag:(\S+)/.exec(d?.sdp || "")?.[1] || "";
	return ufrag(pub?.localDescription) + "/" + ufrag(sub?.remoteDescription);
})()`

// setVethAddrs adds or deletes ("add", "del") the addresses of the
// namespace's veth pair: without them, the media's host candidates are
// gone, while the pages still reach the server on localhost.
func setVethAddrs(t *testing.T, op string) {
	t.Helper()
	for _, a := range [][2]string{{"198.18.0.1/24", "v0"}, {"198.18.0.2/24", "v1"}} {
		if out, err := exec.Command("ip", "addr", op, a[0], "dev", a[1]).CombinedOutput(); err != nil {
			t.Fatalf("ip addr %s %s dev %s: %v %s", op, a[0], a[1], err, out)
		}
	}
}

// tileJS is a JavaScript test for a call tile of user and kind ("camera"
// or "screen") matching the attribute selector more.
func tileJS(user, kind, more string) string {
	return `document.querySelector('#call-stage .call-tile[data-user="` + user + `"][data-kind="` + kind + `"]` + more + `')`
}

// callStats is what a page's sub connection received, by the SFU's track
// ID ("<user>:<kind>").
type callStats map[string]struct {
	FramesDecoded int64 `json:"framesDecoded"`
	Samples       int64 `json:"samples"`
}

const callStatsJS = `(async () => {
	const { sub } = window.confabCall.pcs();
	const out = {};
	if (!sub) return out;
	const mids = window.confabCall.tracks();
	(await sub.getStats()).forEach((r) => {
		if (r.type !== "inbound-rtp" || !mids[r.mid]) return;
		out[mids[r.mid]] = { framesDecoded: r.framesDecoded || 0, samples: r.totalSamplesReceived || 0 };
	});
	return out;
})()`

// waitStats polls the page's call statistics until ok, and returns them.
func waitStats(b *browser, what string, ok func(callStats) bool) callStats {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last callStats
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[callStats](callStatsJS, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil {
			last = s
			if ok(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.fatalf("timed out waiting until %s; stats: %v, last error: %v", what, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// signUpAPI opens an account over REST and returns its session token.
func signUpAPI(t *testing.T, srv *server, name string) string {
	t.Helper()
	return srv.api(t, "", "POST", "/auth/signup", map[string]any{"username": name, "password": "correct horse"})["token"].(string)
}

// startCallServer runs `confab serve` with calls, listening on every
// address of the namespace, TURN included (its ports are free in here).
// The pages use http://localhost:<port>: a secure context, so that
// getUserMedia works. args are more flags.
func startCallServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerWith(t, "0.0.0.0:0", append([]string{"--calls"}, args...)...)
}
