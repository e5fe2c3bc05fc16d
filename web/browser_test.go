package web_test

// End-to-end tests of the browser client: a real confab server (the binary,
// built once in TestMain) and headless Chromium driven by chromedp, one
// fresh profile per browser. They assert on what the page shows, poll for
// eventual states instead of sleeping, and fail on any uncaught exception,
// console.error or JavaScript dialog.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// waitTimeout bounds every wait for a state: generous, because a busy
// two-core CI box runs two browsers and the server at once.
const waitTimeout = 45 * time.Second

var (
	confabBin string
	// serveFlags are extra flags for `confab serve`: the embedded TURN
	// server (when the binary has one) listens on a fixed port by default,
	// which parallel tests would fight over, and chat needs no TURN.
	serveFlags []string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// CONFAB_TEST_BIN names a confab binary built already (it must embed
	// this web/static); otherwise the tests build one.
	confabBin = os.Getenv("CONFAB_TEST_BIN")
	if confabBin == "" {
		dir, err := os.MkdirTemp("", "confab-web-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		confabBin = filepath.Join(dir, "confab")
		build := exec.Command("go", "build", "-o", confabBin, "./cmd/confab")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build ./cmd/confab: %v\n%s", err, out)
			return 1
		}
	}
	help, err := exec.Command(confabBin, "serve", "--help").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "confab serve --help: %v\n%s", err, help)
		return 1
	}
	for _, flag := range []string{"--turn-udp", "--turn-tcp"} {
		if bytes.Contains(help, []byte(flag+" ")) {
			serveFlags = append(serveFlags, flag, "")
		}
	}
	return m.Run()
}

// chromiumPath finds Chromium, or skips the test (fails it in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (scripts/test-deps installs it)")
	}
	t.Skip("chromium is not installed; run scripts/test-deps")
	return ""
}

// ---- the server ------------------------------------------------------------

type server struct {
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port
}

// startServer runs `confab serve` on a port the kernel picks (the
// "listening" log line names it) with its data in a temporary directory.
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t, "127.0.0.1:0", serveFlags...)
}

// startServerWith runs `confab serve --addr addr` with more flags. The
// server's URL names the host the server reports, or localhost if it
// listens on every address.
func startServerWith(t *testing.T, addr string, flags ...string) *server {
	t.Helper()
	// /metrics listens on a fixed port by default, which parallel tests
	// would fight over.
	args := append([]string{"serve", "--addr", addr, "--data", t.TempDir(), "--log-format", "json", "--metrics-addr", "off"}, flags...)
	cmd := exec.Command(confabBin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	addrc := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Bytes()
			logs.Write(append(line, '\n'))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				select {
				case addrc <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	var listening string
	select {
	case listening = <-addrc:
	case <-done:
		t.Fatalf("the server exited before it listened; log:\n%s", logs.String())
	case <-time.After(waitTimeout):
		t.Fatalf("the server did not log its address; log:\n%s", logs.String())
	}
	host, port, err := net.SplitHostPort(listening)
	if err != nil {
		t.Fatalf("the server listens on %q", listening)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	s := &server{URL: "http://" + net.JoinHostPort(host, port), Addr: net.JoinHostPort(host, port)}
	waitUntil(t, "the server is healthy", func() bool {
		res, err := http.Get(s.URL + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return s
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// api calls the REST API as a bot would, for setting up state quickly.
func (s *server) api(t *testing.T, token, method, path string, body any) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+"/api/v1"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json") // the API refuses a body without it
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if res.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %v", method, path, res.Status, out)
	}
	return out
}

// ---- a TCP proxy that can cut a browser off --------------------------------

// proxy forwards TCP connections to the server. Cut closes every
// connection and refuses new ones (accepts and closes them at once) until
// Restore; Mute drops everything the server sends while still forwarding
// what the browser sends, so a request reaches the server but its answer
// is lost.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	cut   bool
	mute  bool
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.conns[s] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c, false)
		go p.pipe(c, s, true)
	}
}

// pipe copies from src to dst; fromServer data is dropped while muted.
func (p *proxy) pipe(dst, src net.Conn, fromServer bool) {
	defer p.wg.Done()
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := fromServer && p.mute
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) Mute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mute = true
}

func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.mute = false
}

// ---- browsers --------------------------------------------------------------

// browser is one Chromium with its own profile and one tab. It records
// uncaught exceptions, console.error calls and JavaScript dialogs.
type browser struct {
	t    *testing.T
	name string
	ctx  context.Context

	closeBrowser context.CancelFunc
	mu           sync.Mutex
	problems     []string
	dialogs      []string
	closed       bool
}

func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	exe := chromiumPath(t)
	// Chromium's temporary files (the singleton socket directories a
	// killed browser leaves behind) go to a directory of the test's, not
	// /tmp. Both are removed after the browser below is gone (cleanups run
	// last-in first-out).
	tmp := t.TempDir()
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Env("TMPDIR="+tmp),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, name: name}
	dialogs := make(chan struct{}, 16)
	ctx, cancelCtx := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(func(string, ...any) {}),
		chromedp.WithListener(func(ev any) {
			switch ev := ev.(type) {
			case *runtime.EventExceptionThrown:
				b.problem("uncaught exception: " + exceptionText(ev.ExceptionDetails))
			case *runtime.EventConsoleAPICalled:
				if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
					b.problem("console." + string(ev.Type) + ": " + argsText(ev.Args))
				}
			case *page.EventJavascriptDialogOpening:
				b.mu.Lock()
				b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
				b.mu.Unlock()
				select {
				case dialogs <- struct{}{}:
				default:
				}
			}
		}))
	b.ctx = ctx
	b.closeBrowser = func() {
		cancelCtx()
		cancelAlloc()
	}
	t.Cleanup(b.Close)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("%s: start chromium: %v", name, err)
	}
	// A dialog blocks the page: dismiss it (and the test fails on it).
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-dialogs:
				chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}
		}
	}()
	return b
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.problems = append(b.problems, s)
	}
}

// Close closes the browser; it checks for console problems first.
func (b *browser) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	b.checkConsole()
	b.closeBrowser()
}

// checkConsole fails the test if the page threw, logged an error or opened a dialog.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("%s: %s", b.name, p)
	}
	for _, d := range b.dialogs {
		b.t.Errorf("%s: a JavaScript dialog opened: %s", b.name, d)
	}
	b.problems, b.dialogs = nil, nil
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", s, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		var str string
		switch {
		case len(a.Value) > 0 && json.Unmarshal(a.Value, &str) == nil:
			parts = append(parts, str)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatalf("%v", err)
	}
}

func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	// Say what the page showed, to make a failure easy to read.
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`)); err == nil {
		msg += "\n--- " + b.name + "'s page shows:\n" + text
	}
	if msgs, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`({messages: [...document.querySelectorAll("#timeline .msg .msg-text")].map(e => e.textContent),
		composer: document.querySelector("#composer-input")?.value, title: document.title,
		badges: [...document.querySelectorAll(".room-link")].map(e => e.textContent)})`)); err == nil {
		msg += "\n--- messages: " + string(msgs)
	}
	b.t.Fatalf("%s: %s", b.name, msg)
}

// eval evaluates a JavaScript expression and decodes its JSON value into T.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript expression until it is true.
func (b *browser) waitJS(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+js+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if b.ctx.Err() != nil {
			b.t.Fatalf("%s: browser gone while waiting until %s", b.name, what)
		}
		if time.Now().After(deadline) {
			b.fatalf("timed out waiting until %s (%s), last error: %v", what, js, err)
		}
		time.Sleep(75 * time.Millisecond)
	}
}

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// Page helpers, in terms of what a user sees and does.

func (b *browser) open(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url))
}

func (b *browser) signUp(username, password string) {
	b.t.Helper()
	b.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	b.do(chromedp.Click(chromedp.ID("tab-signup")))
	b.fillAuth(username, password)
	b.waitJS("the app shows after sign-up", `document.querySelector("#app") && document.querySelector(".me-name")?.textContent === `+jsString(username))
}

func (b *browser) fillAuth(username, password string) {
	b.t.Helper()
	b.clear("#auth-username")
	b.clear("#auth-password")
	b.do(
		chromedp.SendKeys(chromedp.ID("auth-username"), username),
		chromedp.SendKeys(chromedp.ID("auth-password"), password+kb.Enter),
	)
}

// clear empties an input or textarea the way a user's select-all + delete would.
func (b *browser) clear(sel string) {
	b.t.Helper()
	b.waitJS(sel+" exists", `document.querySelector(`+jsString(sel)+`)`)
	b.do(chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector(` + jsString(sel) + `);
		e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`))
}

// createRoom creates a room and returns the invite code the UI shows.
func (b *browser) createRoom(name string) string {
	b.t.Helper()
	b.clickAction("create-room", "welcome-create")
	b.waitJS("the create-room dialog opens", `document.querySelector("#create-room-name")`)
	b.do(chromedp.SendKeys(chromedp.ID("create-room-name"), name+kb.Enter))
	b.waitJS("the room opens", `document.querySelector("#room-title")?.textContent === `+jsString(name))
	b.waitJS("the invite dialog shows a code", `/^[a-km-z2-9]{16}$/.test(document.querySelector("#invite-code")?.textContent || "")`)
	code := eval[string](b, `document.querySelector("#invite-code").textContent`)
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitJS("Escape closes the invite dialog", `!document.querySelector("dialog[open]")`)
	return code
}

// clickAction clicks the sidebar's button with ID sidebar, or on the home
// page (where the sidebar leaves them to the cards) the card with ID home.
func (b *browser) clickAction(sidebar, home string) {
	b.t.Helper()
	// Found and clicked in one step: the home page may be drawn again
	// (the first room is routed in a task of its own) between a query
	// and a click that would come after it.
	js := `(() => {
		const e = [document.querySelector("#` + sidebar + `"), document.querySelector("#` + home + `")].find((e) => e?.offsetParent);
		if (!e) return false;
		e.click();
		return true;
	})()`
	b.waitJS("#"+sidebar+" or #"+home+" shows, and is clicked", js)
}

func (b *browser) joinRoom(code, wantTitle string) {
	b.t.Helper()
	b.clickAction("join-room", "welcome-join")
	b.waitJS("the join dialog opens", `document.querySelector("#join-code")`)
	b.do(chromedp.SendKeys(chromedp.ID("join-code"), code+kb.Enter))
	b.waitJS("the joined room opens", `document.querySelector("#room-title")?.textContent === `+jsString(wantTitle))
}

func (b *browser) send(text string) {
	b.t.Helper()
	b.do(
		chromedp.Focus(chromedp.ID("composer-input")),
		chromedp.SendKeys(chromedp.ID("composer-input"), text),
		pressEnter,
	)
}

// pressEnter presses Enter in the focused element without the "char"
// event that SendKeys adds: a browser sends none when keydown's default is
// prevented, as the composer does, but DevTools would insert a new line.
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

// messages returns the texts of the timeline's confirmed messages, in order.
func (b *browser) messages() []string {
	b.t.Helper()
	return eval[[]string](b, `[...document.querySelectorAll("#timeline .msg[data-seq] .msg-text")].map(e => e.textContent)`)
}

func (b *browser) waitMessage(text string) {
	b.t.Helper()
	b.waitJS("the message "+jsString(text)+" shows",
		`[...document.querySelectorAll("#timeline .msg[data-seq] .msg-text")].some(e => e.textContent === `+jsString(text)+`)`)
}

// hiddenTabShim makes the page's visibility switchable (window.__hidden)
// and records desktop notifications (window.__notes) with permission
// granted, since a headless tab is always visible and shows none.
const hiddenTabShim = visibilityShim + `
window.Notification = class {
	constructor(title, options) { window.__notes.push({title, body: (options && options.body) || ""}); }
	close() {}
	static get permission() { return "granted"; }
	static requestPermission() { return Promise.resolve("granted"); }
};
`

// visibilityShim makes the page's visibility switchable: window.__setHidden(h)
// sets document.visibilityState and document.hidden and fires
// visibilitychange (a headless tab is always visible). window.__notes is
// where the Notification shims record what the page shows.
const visibilityShim = `
window.__hidden = false;
window.__notes = [];
Object.defineProperty(Document.prototype, "visibilityState", {configurable: true, get() { return window.__hidden ? "hidden" : "visible"; }});
Object.defineProperty(Document.prototype, "hidden", {configurable: true, get() { return window.__hidden; }});
window.__setHidden = (h) => { window.__hidden = h; document.dispatchEvent(new Event("visibilitychange")); };
`

// blockWebSocket makes the tab's WebSocket connections to /api/v1/ws fail
// (or work again); other requests are not affected.
func (b *browser) blockWebSocket(block bool) {
	b.t.Helper()
	var patterns []*network.BlockPattern
	if block {
		patterns = []*network.BlockPattern{{URLPattern: "*://*:*/api/v1/ws", Block: true}}
	}
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns}); err != nil {
		b.fatalf("block the WebSocket: %v", err)
	}
}

// addInitScript runs js in every document the tab loads, before its scripts.
func (b *browser) addInitScript(js string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		b.fatalf("add init script: %v", err)
	}
}

func (b *browser) screenshot() []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatalf("screenshot: %v", err)
	}
	return png
}

// updateScreenshots makes the browser tests refresh the README's pictures
// in docs/screenshots (go test ./web -update-screenshots). Without it they
// go to the test's artifact directory (kept with go test -artifacts), so
// that the suite never writes over tracked files.
var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser tests' screenshots over docs/screenshots")

// saveScreenshot keeps a screenshot named name at the end of a test that
// passed: in docs/screenshots with -update-screenshots, else in the test's
// artifact directory.
func saveScreenshot(t *testing.T, name string, png []byte) {
	dir := t.ArtifactDir()
	if *updateScreenshots {
		dir = filepath.Join("..", "docs", "screenshots")
	}
	t.Cleanup(func() {
		if t.Failed() || len(png) == 0 {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Error(err)
			return
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Error(err)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---- the tests -------------------------------------------------------------

// TestTwoBrowsersChat: sign-up, a room shared by invite code, live messages
// both ways, history after a reload, presence after a browser closes, and
// message text that looks like HTML staying text.
func TestTwoBrowsersChat(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")

	alice.open(srv.URL)
	alice.waitJS("the sign-in screen shows", `document.querySelector("#auth-form") && document.querySelector("#auth-submit")?.textContent === "Sign in"`)
	saveScreenshot(t, "signin.png", alice.screenshot())

	alice.signUp("alice", "correct horse")
	code := alice.createRoom("General")

	bob.open(srv.URL)
	bob.signUp("bob", "battery staple")
	bob.joinRoom(code, "General")

	// Both see each other in the member list, online.
	alice.waitJS("alice sees bob online", `document.querySelector('#member-list .member[data-username="bob"][data-status="online"]')`)
	bob.waitJS("bob sees alice online", `document.querySelector('#member-list .member[data-username="alice"][data-status="online"]')`)
	// The join shows as a system line.
	alice.waitJS("alice sees that bob joined", `[...document.querySelectorAll("#timeline .sys")].some(e => e.textContent.includes("bob joined the room"))`)

	bob.send("hello from bob")
	alice.waitMessage("hello from bob")
	alice.send("hi bob, welcome!")
	bob.waitMessage("hi bob, welcome!")
	bob.waitMessage("hello from bob")

	const evil = `<img src=x onerror=alert(1)>`
	bob.send(evil)
	alice.waitMessage(evil)
	bob.waitMessage(evil)
	for _, b := range []*browser{alice, bob} {
		if n := eval[int](b, `document.querySelectorAll("#timeline img, #timeline [onerror]").length`); n != 0 {
			t.Errorf("%s: the message became %d element(s) instead of text", b.name, n)
		}
	}

	want := []string{"hello from bob", "hi bob, welcome!", evil}
	waitUntil(t, "alice sees the three messages in order", func() bool { return equalStrings(alice.messages(), want) })

	// A reload shows the history, from the server.
	alice.do(chromedp.Reload())
	alice.waitJS("the room shows after the reload", `document.querySelector("#room-title")?.textContent === "General"`)
	alice.waitJS("the history shows after the reload", `document.querySelectorAll("#timeline .msg[data-seq]").length >= 3`)
	if got := alice.messages(); !equalStrings(got, want) {
		t.Errorf("after the reload alice sees %q, want %q", got, want)
	}
	if n := eval[int](alice, `document.querySelectorAll("#timeline img").length`); n != 0 {
		t.Errorf("after the reload the timeline has %d img elements", n)
	}

	// Alice makes a new invite code; bob sees that it changed.
	alice.do(chromedp.Click(chromedp.ID("invite-btn")))
	alice.waitJS("the invite dialog shows the code", `document.querySelector("#invite-code")?.textContent === `+jsString(code))
	alice.do(chromedp.Click(chromedp.ID("rotate-invite")))
	alice.waitJS("a confirmation opens", `document.querySelector("dialog.confirm[open] .btn-primary")?.textContent === "New code"`)
	alice.do(chromedp.Click(chromedp.CSS("dialog.confirm[open] .btn-primary")))
	alice.waitJS("the dialog shows a new code", `/^[a-km-z2-9]{16}$/.test(document.querySelector("#invite-code")?.textContent) && document.querySelector("#invite-code").textContent !== `+jsString(code))
	alice.do(chromedp.KeyEvent(kb.Escape))
	alice.waitJS("Escape closes the invite dialog", `!document.querySelector("dialog[open]")`)
	bob.waitJS("bob sees that the invite code changed", `[...document.querySelectorAll("#timeline .sys")].some(e => e.textContent.includes("alice changed the invite code"))`)

	// Alice renames the room; bob's header follows.
	alice.do(chromedp.Click(chromedp.ID("room-menu-btn")))
	alice.waitJS("the room menu opens", `document.querySelector("#room-menu")`)
	alice.do(chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#room-menu .menu-item")].find(b => b.textContent === "Rename room").click()`))
	alice.waitJS("the rename dialog opens", `document.querySelector("#rename-room")`)
	alice.clear("#rename-room")
	alice.do(chromedp.SendKeys(chromedp.ID("rename-room"), "Town square"+kb.Enter))
	bob.waitJS("bob sees the new name", `document.querySelector("#room-title")?.textContent === "Town square" && document.querySelector("#room-list .room-link")?.textContent.includes("Town square")`)
	bob.waitJS("bob sees the rename in the timeline", `[...document.querySelectorAll("#timeline .sys")].some(e => e.textContent.includes("alice renamed the room to Town square"))`)

	// Bob closes his browser: alice sees him go offline, with "last seen".
	alice.waitJS("alice sees bob online after her reload", `document.querySelector('#member-list .member[data-username="bob"][data-status="online"]')`)
	bob.Close()
	alice.waitJS("alice sees bob offline", `document.querySelector('#member-list .member[data-username="bob"][data-status="offline"]')`)
	alice.waitJS("alice sees when bob was last seen", `document.querySelector('#member-list .member[data-username="bob"] .last-seen')?.textContent.startsWith("last seen")`)
}

// TestResumeAfterDroppedConnection cuts one browser's connections while
// the other sends, then lets it reconnect: every message shows exactly
// once and in order, the banner said it was reconnecting, and what the cut
// browser sent meanwhile (or sent without seeing the ack) is posted once.
func TestResumeAfterDroppedConnection(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	px := startProxy(t, srv.Addr)
	alice := newBrowser(t, "alice") // through the proxy
	bob := newBrowser(t, "bob")

	alice.open(px.URL())
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Ops")
	// Bob joins with the invite link.
	bob.open(srv.URL)
	bob.signUp("bob", "battery staple")
	bob.open(srv.URL + "/join/" + code)
	bob.waitJS("the invite link opens the room", `document.querySelector("#room-title")?.textContent === "Ops" && location.pathname.startsWith("/r/")`)
	bob.send("before the cut")
	alice.waitMessage("before the cut")
	alice.waitJS("alice is online", `document.querySelector("#conn-banner").hidden`)

	px.Cut()
	alice.waitJS("the reconnecting banner shows", `!document.querySelector("#conn-banner").hidden && /reconnect/i.test(document.querySelector("#conn-banner").textContent)`)

	// Alice writes while cut off: it waits as pending.
	alice.send("alice while offline")
	alice.waitJS("alice's message waits as pending", `document.querySelector('#timeline .msg.pending[data-state="queued"]')`)

	var sent []string
	for i := 1; i <= 5; i++ {
		text := fmt.Sprintf("missed %d", i)
		bob.send(text)
		sent = append(sent, text)
	}
	bob.waitJS("bob's messages are all acknowledged", `!document.querySelector("#timeline .msg.pending") && document.querySelectorAll("#timeline .msg[data-seq]").length === 6`)

	px.Restore()
	alice.waitJS("the banner goes away", `document.querySelector("#conn-banner").hidden`)
	want := append(append([]string{"before the cut"}, sent...), "alice while offline")
	waitUntil(t, "alice sees every message once, in order", func() bool { return equalStrings(alice.messages(), want) })
	waitUntil(t, "bob sees every message once, in order", func() bool { return equalStrings(bob.messages(), want) })
	alice.waitJS("no message is pending", `!document.querySelector("#timeline .msg.pending")`)

	// Now lose the answer instead: the server gets alice's send, but
	// nothing comes back until the connection is cut and restored. The
	// retry must not post it twice.
	px.Mute()
	alice.send("ack lost")
	bob.waitMessage("ack lost")
	alice.waitJS("alice's send is still pending", `document.querySelector("#timeline .msg.pending")`)
	px.Cut()
	alice.waitJS("the reconnecting banner shows again", `!document.querySelector("#conn-banner").hidden`)
	bob.send("after the second cut")
	px.Restore()
	alice.waitJS("the banner goes away again", `document.querySelector("#conn-banner").hidden`)
	want = append(want, "ack lost", "after the second cut")
	waitUntil(t, "alice sees every message once, in order, after the second cut", func() bool { return equalStrings(alice.messages(), want) })
	waitUntil(t, "bob sees every message once, in order, after the second cut", func() bool { return equalStrings(bob.messages(), want) })
	alice.waitJS("no message is pending after the second cut", `!document.querySelector("#timeline .msg.pending")`)

	// A message written while the WebSocket is down survives a reload of
	// the page and is sent once the socket is back. (DevTools blocks the
	// WebSocket's URL; the page itself still loads.)
	alice.blockWebSocket(true)
	px.Cut()
	px.Restore()
	alice.waitJS("the reconnecting banner shows a third time", `!document.querySelector("#conn-banner").hidden`)
	alice.send("survives a reload")
	alice.waitJS("the message waits as pending", `document.querySelector("#timeline .msg.pending")`)
	alice.do(chromedp.Reload())
	alice.waitJS("after the reload it still waits", `[...document.querySelectorAll("#timeline .msg.pending .msg-text")].some(e => e.textContent === "survives a reload")`)
	alice.blockWebSocket(false)
	want = append(want, "survives a reload")
	waitUntil(t, "alice sees every message once after the reload", func() bool { return equalStrings(alice.messages(), want) })
	waitUntil(t, "bob sees every message once after alice's reload", func() bool { return equalStrings(bob.messages(), want) })
	alice.waitJS("nothing is pending after the reload", `!document.querySelector("#timeline .msg.pending")`)

	// The sequence numbers the page shows are strictly increasing.
	seqs := eval[[]int](alice, `[...document.querySelectorAll("#timeline .msg[data-seq]")].map(e => Number(e.dataset.seq))`)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Errorf("alice's timeline is out of order: seqs %v", seqs)
			break
		}
	}
}

// TestChatFeatures: sign-in errors and throttling, mentions, links,
// replies, reactions, edits, deletes, typing, DMs with unread badges and
// the tab title, and the phone layout.
func TestChatFeatures(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")

	alice.addInitScript(hiddenTabShim)
	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Design")

	// Sign-up with a taken name, then sign-in errors, as bob's browser.
	bob.open(srv.URL)
	bob.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	bob.do(chromedp.Click(chromedp.ID("tab-signup")))
	bob.fillAuth("Alice", "whatever123")
	bob.waitJS("a taken username is explained", `/taken/.test(document.querySelector("#auth-username-error")?.textContent)`)
	bob.fillAuth("bob", "Password123")
	bob.waitJS("a common password is explained under the password field", `/password is too common/i.test(document.querySelector("#auth-password-error")?.textContent)`)
	bob.do(chromedp.Click(chromedp.ID("tab-signin")))
	bob.fillAuth("alice", "wrong password")
	bob.waitJS("a wrong password is explained", `document.querySelector("#auth-error")?.textContent === "Wrong username or password."`)
	// Keep failing until the server throttles: the UI says how long to wait.
	throttled := false
	for i := 0; i < 12 && !throttled; i++ {
		bob.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#auth-error").textContent = ""`))
		bob.waitJS("the form can be sent", `!document.querySelector("#auth-submit").disabled`)
		bob.fillAuth("alice", "wrong password")
		bob.waitJS("the sign-in answers", `document.querySelector("#auth-error")?.textContent !== ""`)
		throttled = eval[bool](bob, `/Too many failed sign-ins\. Try again in \d+ s\./.test(document.querySelector("#auth-error").textContent)`)
	}
	if !throttled {
		t.Fatal("the sign-in form never said that sign-ins are throttled")
	}
	if !eval[bool](bob, `document.querySelector("#auth-submit").disabled`) {
		t.Error("the sign-in button is enabled while sign-ins are throttled")
	}
	bob.do(chromedp.Click(chromedp.ID("tab-signup")))
	bob.fillAuth("bob", "battery staple")
	bob.waitJS("bob is signed in", `document.querySelector(".me-name")?.textContent === "bob"`)
	bob.joinRoom(code, "Design")
	alice.waitJS("alice sees bob in the member list", `document.querySelector('#member-list .member[data-username="bob"]')`)

	// A mention of alice with a link.
	bob.send("hey @alice, see https://example.com/spec?x=1.")
	alice.waitJS("the mention is highlighted",
		`[...document.querySelectorAll("#timeline .msg.mentions-me .mention.me")].some(e => e.textContent === "@alice")`)
	link := eval[map[string]string](alice, `(() => { const a = document.querySelector("#timeline .msg.mentions-me .msg-text a");
		return a ? {href: a.getAttribute("href"), text: a.textContent, rel: a.rel, target: a.target} : {}; })()`)
	if link["href"] != "https://example.com/spec?x=1" || link["text"] != "https://example.com/spec?x=1" || link["rel"] != "noopener noreferrer" || link["target"] != "_blank" {
		t.Errorf("link = %v, want https://example.com/spec?x=1 with rel=noopener noreferrer and target=_blank", link)
	}

	// Shift+Enter starts a new line; Enter sends.
	bob.do(chromedp.Focus(chromedp.ID("composer-input")),
		chromedp.SendKeys(chromedp.ID("composer-input"), "line one"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(kb.ModifierShift)),
		chromedp.SendKeys(chromedp.ID("composer-input"), "line two"),
		pressEnter)
	alice.waitMessage("line one\nline two")

	// Typing shows on the other side.
	bob.do(chromedp.SendKeys(chromedp.ID("composer-input"), "thinking"))
	alice.waitJS("alice sees bob typing", `document.querySelector("#typing")?.textContent.replace(/[\u2068\u2069]/g, "").includes("bob is typing")`)
	bob.clear("#composer-input")

	// Alice replies to bob's message and reacts to it.
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#timeline .msg.mentions-me [data-action="reply"]').click()`))
	alice.waitJS("the reply bar shows", `!document.querySelector(".reply-bar").hidden`)
	alice.send("on it!")
	bob.waitJS("bob sees the reply, quoting him", `[...document.querySelectorAll("#timeline .msg[data-seq]")].some(m =>
		m.querySelector(".msg-text")?.textContent === "on it!" && m.querySelector(".reply-ref .reply-author")?.textContent === "@bob")`)
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#timeline .msg.mentions-me [data-action="picker"]').click()`))
	alice.waitJS("the reaction picker opens", `document.querySelector(".picker")`)
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('.picker .picker-emoji').click()`))
	bob.waitJS("bob sees alice's reaction", `document.querySelector('#timeline .reaction[data-emoji="👍"] .reaction-count')?.textContent === "1"`)
	alice.waitJS("alice's reaction is marked as hers", `document.querySelector('#timeline .reaction.mine[data-emoji="👍"]')`)

	// Alice edits her message with Up in the empty composer.
	alice.do(chromedp.Focus(chromedp.ID("composer-input")), chromedp.KeyEvent(kb.ArrowUp))
	alice.waitJS("the editor opens", `document.querySelector(".msg-edit-input")`)
	alice.clear(".msg-edit-input")
	alice.do(chromedp.SendKeys(chromedp.CSS(".msg-edit-input"), "on it, give me an hour"), pressEnter)
	bob.waitJS("bob sees the edit", `[...document.querySelectorAll("#timeline .msg[data-seq] .msg-text")].some(e => e.textContent === "on it, give me an hour (edited)")`)

	// Bob deletes a message of his own.
	bob.send("oops, wrong room")
	alice.waitMessage("oops, wrong room")
	bob.waitMessage("oops, wrong room")
	bob.do(chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#timeline .msg.mine[data-seq]")].find(m => m.textContent.includes("oops, wrong room")).querySelector('[data-action="delete"]').click()`))
	bob.waitJS("a confirmation opens", `document.querySelector("dialog.confirm[open] .btn-danger")`)
	bob.do(chromedp.Click(chromedp.CSS("dialog.confirm[open] .btn-danger")))
	alice.waitJS("alice sees the message deleted", `[...document.querySelectorAll("#timeline .msg.deleted")].some(e => e.textContent.includes("This message was deleted."))`)
	if eval[bool](alice, `document.querySelector("#timeline").textContent.includes("oops, wrong room")`) {
		t.Error("the deleted text is still shown")
	}

	// Alice switches to another tab. A mention there marks where the new
	// messages start, counts in the title and notifies her.
	alice.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(true)`))
	bob.send("@alice are you there?")
	alice.waitMessage("@alice are you there?")
	alice.waitJS("the new-messages marker shows above it", `document.querySelector("#new-marker")?.nextElementSibling?.textContent.includes("@alice are you there?")`)
	alice.waitJS("the tab title counts it", `document.title.startsWith("(1) ")`)
	alice.waitJS("a desktop notification shows the mention", `window.__notes.some(n => n.title.replace(/[\u2068\u2069]/g, "") === "bob in #Design" && n.body === "@alice are you there?")`)

	// Bob opens a DM with alice; alice gets an unread badge and a notification.
	bob.do(chromedp.Click(chromedp.ID("start-dm")))
	bob.waitJS("the DM dialog opens", `document.querySelector("#dm-username")`)
	bob.do(chromedp.SendKeys(chromedp.ID("dm-username"), "alice"+kb.Enter))
	bob.waitJS("the DM opens", `document.querySelector("#room-title")?.textContent === "alice"`)
	bob.send("psst, a secret")
	alice.waitJS("alice sees an unread badge on the DM", `document.querySelector('#dm-list .room-link[data-kind="dm"] .badge')?.textContent === "1"`)
	alice.waitJS("the tab title counts both", `document.title.startsWith("(2) ")`)
	alice.waitJS("a desktop notification shows the DM", `window.__notes.some(n => n.title === "bob" && n.body === "psst, a secret")`)
	if got := eval[int](alice, `window.__notes.length`); got != 2 {
		t.Errorf("alice got %d notifications, want 2 (a mention and a DM)", got)
	}

	// Back in the tab: the open room is read, then the DM.
	alice.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
	alice.waitJS("the open room is read", `document.title.startsWith("(1) ")`)
	alice.do(chromedp.Click(chromedp.CSS("#dm-list .room-link")))
	alice.waitMessage("psst, a secret")
	alice.waitJS("the badge goes once read", `!document.querySelector("#dm-list .badge") && !document.title.startsWith("(")`)
	alice.do(chromedp.Click(chromedp.CSS(`#room-list .room-link`)))
	alice.waitJS("back in the room", `document.querySelector("#room-title")?.textContent === "Design"`)
	if got := eval[[]string](alice, `[...document.querySelectorAll("#sidebar .room-link")].map(a => a.textContent)`); !equalStrings(got, []string{"Design", "Bbob"}) {
		t.Errorf("the sidebar's rooms read %q, want [Design Bbob] (a room and a DM with bob's avatar)", got)
	}
	alice.waitJS("the room's messages show", `[...document.querySelectorAll("#timeline .msg[data-seq] .msg-text")].some(e => e.textContent.startsWith("on it, give me an hour"))`)
	chat := alice.screenshot()

	// Phone width: the sidebars become drawers behind toggles.
	alice.do(chromedp.EmulateViewport(390, 844))
	alice.waitJS("the room list is off screen", `document.querySelector("#sidebar").getBoundingClientRect().right <= 0`)
	alice.do(chromedp.Click(chromedp.CSS(".nav-toggle")))
	alice.waitJS("the room list slides in", `document.querySelector("#app").classList.contains("left-open") && document.querySelector("#sidebar").getBoundingClientRect().left >= 0`)
	alice.do(chromedp.KeyEvent(kb.Escape))
	alice.waitJS("Escape closes it", `!document.querySelector("#app").classList.contains("left-open")`)
	alice.do(chromedp.Click(chromedp.ID("members-toggle")))
	alice.waitJS("the member list slides in", `document.querySelector("#app").classList.contains("right-open")`)
	alice.do(chromedp.KeyEvent(kb.Escape))
	alice.waitJS("Escape closes the member list", `!document.querySelector("#app").classList.contains("right-open")`)

	// Sign out: back to the sign-in screen.
	alice.do(chromedp.EmulateViewport(1280, 800))
	alice.do(chromedp.Click(chromedp.ID("sign-out")))
	alice.waitJS("alice is signed out", `document.querySelector("#auth-form")`)
	alice.do(chromedp.Reload())
	alice.waitJS("alice stays signed out after a reload", `document.querySelector("#auth-form")`)

	saveScreenshot(t, "chat.png", chat)
}

// TestHistoryPaging: a room with more events than the client catches up
// on over the WebSocket; scrolling up pages the rest in over REST, and the
// whole history shows once, in order.
func TestHistoryPaging(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	const n = 260
	token := srv.api(t, "", "POST", "/auth/signup", map[string]string{"username": "carol", "password": "correct horse"})["token"].(string)
	room := srv.api(t, token, "POST", "/rooms", map[string]string{"name": "Archive"})["room"].(map[string]any)
	var want []string
	for i := 1; i <= n; i++ {
		text := fmt.Sprintf("message %d", i)
		srv.api(t, token, "POST", "/rooms/"+room["id"].(string)+"/messages", map[string]any{"client_msg_id": fmt.Sprintf("seed-%d", i), "text": text})
		want = append(want, text)
	}
	// Then dave writes 100 messages carol has not read.
	dave := srv.api(t, "", "POST", "/auth/signup", map[string]string{"username": "dave", "password": "correct horse"})["token"].(string)
	srv.api(t, dave, "POST", "/rooms/join", map[string]string{"invite_code": room["invite_code"].(string)})
	const unread = 100
	for i := 1; i <= unread; i++ {
		text := fmt.Sprintf("unread %d", i)
		srv.api(t, dave, "POST", "/rooms/"+room["id"].(string)+"/messages", map[string]any{"client_msg_id": fmt.Sprintf("dave-%d", i), "text": text})
		want = append(want, text)
	}

	carol := newBrowser(t, "carol")
	carol.open(srv.URL)
	carol.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	carol.fillAuth("carol", "correct horse")
	carol.waitJS("the room list shows the room", `document.querySelector("#room-list .room-link")`)
	carol.waitJS("the room shows 100 unread, as 99+", `document.querySelector("#room-list .badge")?.textContent === "99+" && document.title.startsWith("(99+) ")`)
	carol.do(chromedp.Click(chromedp.CSS("#room-list .room-link")))
	carol.waitMessage("unread 1")
	// The room opens at the first unread message, below the "New" marker;
	// it stays unread until carol scrolls to the bottom.
	carol.waitJS("the new-messages marker is on screen", `(() => {
		const m = document.querySelector("#new-marker"), t = document.querySelector("#timeline");
		if (!m || !m.nextElementSibling.textContent.includes("unread 1")) return false;
		const mr = m.getBoundingClientRect(), tr = t.getBoundingClientRect();
		return mr.top >= tr.top && mr.bottom <= tr.bottom;
	})()`)
	carol.waitJS("the jump-to-present button shows", `!document.querySelector(".jump-present").hidden`)
	if !eval[bool](carol, `document.title.startsWith("(99+) ")`) {
		t.Errorf("the room counts as read before carol saw the new messages; title %q", eval[string](carol, `document.title`))
	}
	carol.do(chromedp.Click(chromedp.CSS(".jump-present")))
	carol.waitJS("at the bottom the room is read", `!document.title.startsWith("(") && !document.querySelector("#room-list .badge")`)
	carol.waitMessage(fmt.Sprintf("unread %d", unread))
	if eval[bool](carol, `!!document.querySelector("#timeline .tl-start")`) {
		t.Fatal("the whole history loaded at once; the test needs more messages than the catch-up covers")
	}
	// Scroll to the top until the start of the room shows.
	deadline := time.Now().Add(waitTimeout)
	for !eval[bool](carol, `!!document.querySelector("#timeline .tl-start")`) {
		if time.Now().After(deadline) {
			carol.fatalf("scrolling up never reached the start of the room")
		}
		carol.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#timeline").scrollTop = 0`))
		time.Sleep(100 * time.Millisecond)
	}
	if got := carol.messages(); !equalStrings(got, want) {
		t.Errorf("after paging, the timeline has %d messages, want %d in order; first %q, last %q", len(got), len(want), first(got), last(got))
	}
	if n := eval[int](carol, `document.querySelectorAll("#timeline .day-sep").length`); n != 1 {
		t.Errorf("%d day separators, want 1", n)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// TestResumeTooManyMissed: a browser that missed more events than the
// server replays on resume (1000) reloads the room instead, and after
// scrolling up it shows every message once, in order.
func TestResumeTooManyMissed(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	px := startProxy(t, srv.Addr)
	alice := newBrowser(t, "alice")
	alice.open(px.URL())
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Firehose")
	token := srv.api(t, "", "POST", "/auth/signup", map[string]string{"username": "bot", "password": "correct horse"})["token"].(string)
	room := srv.api(t, token, "POST", "/rooms/join", map[string]string{"invite_code": code})["room"].(map[string]any)
	path := "/rooms/" + room["id"].(string) + "/messages"
	srv.api(t, token, "POST", path, map[string]any{"client_msg_id": "first", "text": "before the cut"})
	alice.waitMessage("before the cut")

	px.Cut()
	alice.waitJS("the reconnecting banner shows", `!document.querySelector("#conn-banner").hidden`)
	const n = 1005
	var (
		mu    sync.Mutex
		bySeq = map[int]string{}
		wg    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				text := fmt.Sprintf("burst %d", i)
				m := srv.api(t, token, "POST", path, map[string]any{"client_msg_id": fmt.Sprintf("b-%d", i), "text": text})["message"].(map[string]any)
				mu.Lock()
				bySeq[int(m["seq"].(float64))] = text
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	px.Restore()
	alice.waitJS("the banner goes away", `document.querySelector("#conn-banner").hidden`)

	seqs := make([]int, 0, len(bySeq))
	for seq := range bySeq {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	want := []string{"before the cut"}
	for _, seq := range seqs {
		want = append(want, bySeq[seq])
	}
	alice.waitMessage(want[len(want)-1])
	deadline := time.Now().Add(2 * waitTimeout)
	for !eval[bool](alice, `!!document.querySelector("#timeline .tl-start")`) {
		if time.Now().After(deadline) {
			alice.fatalf("scrolling up never reached the start of the room")
		}
		alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#timeline").scrollTop = 0`))
		time.Sleep(100 * time.Millisecond)
	}
	if got := alice.messages(); !equalStrings(got, want) {
		t.Errorf("after the resume alice sees %d messages, want %d in order; first %q, last %q", len(got), len(want), first(got), last(got))
	}
}

// TestConsoleErrorsAreCaught checks the check the other tests rely on: an
// uncaught exception, a console.error and a dialog in the page are seen.
func TestConsoleErrorsAreCaught(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	b := newBrowser(t, "probe")
	b.open(srv.URL)
	b.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	b.do(chromedp.Evaluate[chromedp.Void](`console.error("probe error"); setTimeout(() => { throw new Error("probe exception"); }, 0); setTimeout(() => alert("probe dialog"), 10)`))
	waitUntil(t, "the probe's problems are recorded", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.problems) >= 2 && len(b.dialogs) >= 1
	})
	b.mu.Lock()
	got := strings.Join(append(b.problems, b.dialogs...), "\n")
	b.problems, b.dialogs = nil, nil // expected here: do not fail the test
	b.mu.Unlock()
	for _, want := range []string{"console.error: probe error", "probe exception", "alert: probe dialog"} {
		if !strings.Contains(got, want) {
			t.Errorf("recorded problems %q lack %q", got, want)
		}
	}
	// The page goes on working after the dialog was dismissed.
	b.waitJS("the page answers after the dialog", `document.querySelector("#auth-form")`)
}
