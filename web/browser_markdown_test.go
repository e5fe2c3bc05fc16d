package web_test

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"
)

// markdownCases are message texts and the DOM (as innerHTML, which the
// test only reads) that util/markdown.js renders for them. In the context
// of the test, "bob" is a mentioned user and "#general" a room.
var markdownCases = []struct{ in, want string }{
	{"plain text, nothing else", "plain text, nothing else"},
	{"line one\nline two\n\nline four", "line one\nline two\n\nline four"},
	{"**bold** and *it* _it2_ ~~gone~~", "<strong>bold</strong> and <em>it</em> <em>it2</em> <del>gone</del>"},
	{"***both*** **a *b* c**", "<strong><em>both</em></strong> <strong>a <em>b</em> c</strong>"},
	{"snake_case_name a_b_ and _c_", "snake_case_name a_b_ and <em>c</em>"},
	{"a ** b * c", "a ** b * c"},
	{"**unclosed *also", "**unclosed *also"},
	{"`a <b> **c**` x", `<code class="md-code">a &lt;b&gt; **c**</code> x`},
	{"``a ` b`` c", `<code class="md-code">a ` + "`" + ` b</code> c`},
	{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
	{"x <img src=x onerror=alert(1)>", "x &lt;img src=x onerror=alert(1)&gt;"},
	{"[x](javascript:alert(1))", "[x](javascript:alert(1))"},
	{"[x](JavaScript:alert(1)) [y](data:text/html,hi) [z](ftp://x)", "[x](JavaScript:alert(1)) [y](data:text/html,hi) [z](ftp://x)"},
	{"[docs](https://example.com/a_(b)) after", `<a href="https://example.com/a_(b)" target="_blank" rel="noopener noreferrer" title="https://example.com/a_(b)">docs</a> after`},
	{"[**bold** link](mailto:bob@example.com)", `<a href="mailto:bob@example.com" target="_blank" rel="noopener noreferrer" title="mailto:bob@example.com"><strong>bold</strong> link</a>`},
	{"[](https://x.example)", `<a href="https://x.example" target="_blank" rel="noopener noreferrer">https://x.example</a>`},
	{"see https://example.com/x?y=1.", `see <a href="https://example.com/x?y=1" target="_blank" rel="noopener noreferrer">https://example.com/x?y=1</a>.`},
	{"(https://example.com/a) **https://example.com/b**", `(<a href="https://example.com/a" target="_blank" rel="noopener noreferrer">https://example.com/a</a>) <strong><a href="https://example.com/b" target="_blank" rel="noopener noreferrer">https://example.com/b</a></strong>`},
	{"hi @bob and @carol, mail bob@example.com", `hi <span class="mention" title="bob">@bob</span> and @carol, mail bob@example.com`},
	{"`@bob` \\@bob **@bob**", `<code class="md-code">@bob</code> @bob <strong><span class="mention" title="bob">@bob</span></strong>`},
	{"\\*not italic\\* \\<b\\> \\x", "*not italic* &lt;b&gt; \\x"},
	{"#general and #nope, C# and # heading", `<a class="room-ref" href="/r/r1" title="Open #General">#general</a> and #nope, C# and # heading`},
	{"||secret||", `<span class="spoiler" role="button" tabindex="0" aria-label="Spoiler, press to reveal" aria-expanded="false"><span class="spoiler-text" aria-hidden="true">secret</span></span>`},
	{"||see [it](https://x.example/)||", `<span class="spoiler" role="button" tabindex="0" aria-label="Spoiler, press to reveal" aria-expanded="false"><span class="spoiler-text" aria-hidden="true">see <a href="https://x.example/" target="_blank" rel="noopener noreferrer" title="https://x.example/" tabindex="-1">it</a></span></span>`},
	{"a || b", "a || b"},
	{"```js\nconst x = 1;\n  if (x) {}\n```", `<pre class="md-pre" data-lang="js"><code>const x = 1;` + "\n" + `  if (x) {}</code></pre>`},
	{"text\n```\n<b>@bob</b>\n```\nmore", `text<pre class="md-pre"><code>&lt;b&gt;@bob&lt;/b&gt;</code></pre>more`},
	{"````\n```\ninner\n````", "<pre class=\"md-pre\"><code>```\ninner</code></pre>"},
	{"```\nunclosed\n\n", `<pre class="md-pre"><code>unclosed` + "\n\n" + `</code></pre>`},
	{"> quote **b**\n> more\nafter", `<blockquote class="md-quote">quote <strong>b</strong>` + "\n" + `more</blockquote>after`},
	{"> outer\n>> inner", `<blockquote class="md-quote">outer<blockquote class="md-quote">inner</blockquote></blockquote>`},
	{"> ```\n> code\n> ```", `<blockquote class="md-quote"><pre class="md-pre"><code>code</code></pre></blockquote>`},
	{"list:\n- a\n- *b*\n  more\n* c", "list:<ul class=\"md-list\"><li>a</li><li><em>b</em>\nmore</li><li>c</li></ul>"},
	{"3. x\n4. y", `<ol class="md-list" start="3"><li>x</li><li>y</li></ol>`},
	{"1. one", `<ol class="md-list"><li>one</li></ol>`},
	{"-not a list", "-not a list"},
}

// plainCases are texts and what previews and notifications show of them.
var plainCases = []struct{ in, want string }{
	{"**bold** `code` [label](https://x.example) ||secret||", "bold code label (spoiler)"},
	{"> quoted\n- item\n- two", "quoted\nitem\ntwo"},
	{"```go\nfunc main() {}\n```", "func main() {}"},
	{"<script>x</script> [x](javascript:y)", "<script>x</script> [x](javascript:y)"},
	{"hi @bob in #general", "hi @bob in #general"},
}

// TestMarkdownRendering runs util/markdown.js in the browser over the
// tables above, its highlighter over a code block, and hostile input
// (deep nesting, thousands of unmatched markers) against a time limit.
func TestMarkdownRendering(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	b := newBrowser(t, "md")
	b.open(srv.URL)
	b.waitJS("the page loads", `document.querySelector("#auth-form")`)

	var ins []string
	for _, c := range markdownCases {
		ins = append(ins, c.in)
	}
	cases, _ := json.Marshal(ins)
	got := evalAwait[[]string](b, `(async () => {
		const md = await import("/js/util/markdown.js");
		const ctx = {
			mention: (n) => n.toLowerCase() === "bob" ? {known: true, me: false, name: "bob"} : {known: false},
			room: (n) => n === "general" ? {id: "r1", name: "General"} : null,
		};
		return `+string(cases)+`.map((c) => md.render(document.createElement("div"), c, ctx).innerHTML);
	})()`)
	for i, c := range markdownCases {
		if got[i] != c.want {
			t.Errorf("render(%q)\n got  %s\n want %s", c.in, got[i], c.want)
		}
	}

	ins = nil
	for _, c := range plainCases {
		ins = append(ins, c.in)
	}
	plains, _ := json.Marshal(ins)
	got = evalAwait[[]string](b, `(async () => {
		const md = await import("/js/util/markdown.js");
		return `+string(plains)+`.map((c) => md.plain(c));
	})()`)
	for i, c := range plainCases {
		if got[i] != c.want {
			t.Errorf("plain(%q) = %q, want %q", c.in, got[i], c.want)
		}
	}

	hl := evalAwait[map[string]any](b, `(async () => {
		const h = await import("/js/util/highlight.js");
		const code = document.createElement("code");
		const text = 'const s = "a // b"; // note\nreturn 42 /* x\ny */ + ifx';
		code.textContent = text;
		h.highlight(code, "javascript");
		const none = document.createElement("code");
		none.textContent = text;
		h.highlight(none, "klingon");
		return {same: code.textContent === text,
			spans: [...code.children].map((s) => s.className + ":" + s.textContent),
			plain: none.childElementCount};
	})()`)
	wantSpans := []any{"hl-k:const", `hl-s:"a // b"`, "hl-c:// note", "hl-k:return", "hl-n:42", "hl-c:/* x\ny */"}
	if hl["same"] != true || !equalAny(hl["spans"].([]any), wantSpans) || hl["plain"] != float64(0) {
		t.Errorf("highlight = %v, want the text unchanged, spans %q and nothing for an unknown language", hl, wantSpans)
	}

	// Hostile input: deep nesting and unmatched markers render as text,
	// fast, without a stack overflow.
	slow := evalAwait[[]string](b, `(async () => {
		const md = await import("/js/util/markdown.js");
		const inputs = {
			quotes: ">".repeat(4000) + " x",
			stars: "**a ".repeat(1000),
			singles: "*a _b ~~c ||d ".repeat(280),
			brackets: "[".repeat(4000),
			links: "[a](".repeat(1000),
			hrefs: "[a](https://".repeat(300),
			ticks: "\x60 \x60\x60 \x60\x60\x60 ".repeat(400),
			nested: "**".repeat(1000) + "x" + "**".repeat(1000),
			spoilers: "||".repeat(2000),
			long: "a".repeat(30000),
		};
		const out = [];
		for (const [name, text] of Object.entries(inputs)) {
			const t0 = performance.now();
			const el = md.render(document.createElement("div"), text, {});
			md.plain(text);
			const ms = performance.now() - t0;
			if (ms > 250) out.push(name + " took " + Math.round(ms) + " ms");
			if (!el.textContent) out.push(name + " rendered nothing");
		}
		return out;
	})()`)
	for _, s := range slow {
		t.Error("hostile input: " + s)
	}
}

func equalAny(a, b []any) bool {
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

// evalAwait evaluates an expression whose value is a promise and decodes
// what it resolves to.
func evalAwait[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluate %s: %v", js, err)
	}
	return v
}
