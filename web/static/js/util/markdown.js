// Message text: a small CommonMark subset (docs/protocol.md, "Message
// text"), parsed into a tree and rendered as DOM nodes. User text never
// becomes markup: raw HTML is text, and a link is made only for http(s)
// and mailto destinations.
//
// Blocks: paragraphs (their line breaks kept), ``` fenced code blocks
// with a language, "> " quotes (nested), "- " / "1. " lists. Inline:
// **bold**, *italic* / _italic_, ~~strike~~, `code`, ||spoiler||,
// [label](https://url), bare http(s) links, @mentions, #room links and
// backslash escapes. Nesting deeper than MAX_DEPTH stays text, so hostile
// input cannot exhaust the stack; a closer that was not found once is
// not searched for again, so unmatched markers cost linear time.
//
// parse(text) gives the tree, render(el, text, ctx) fills el, plain(text)
// is the text without its markers (previews, notifications).
//
// Mentions follow the server's rule (domain.ParseMentions): "@" not after
// a username character, "@" or "\", not in code; URLs are links, so an
// "@" inside one is no mention either.

import { emojify } from "./emoji.js";

const MAX_DEPTH = 8;
const MAX_LEN = 20000; // longer text is shown as it is
const MAX_HREF = 2048; // a longer [label](destination) is text
const PUNCT = /[!-/:-@[-`{-~]/;
const USERNAME = /[A-Za-z0-9_.-]/;
const ALNUM = /[\p{L}\p{N}]/u;
const ROOM = /[\p{L}\p{N}_.-]/u;
const SPACE = /\s/;
const FENCE = /^ {0,3}(`{3,})([^`]*)$/;
const CLOSE = /^ {0,3}(`{3,}) *$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^ {0,3}(?:[-*+]|(\d{1,9})[.)]) +(?=\S)/;
const URL_AT = /https?:\/\/[^\s<>"'`]+/iy;
const SAFE = /^(?:https?:\/\/[^\s]|mailto:[^\s])/i;
const KINDS = { "**": "b", __: "b", "*": "i", _: "i", "~~": "s", "||": "spoiler" };

/** The tree of text: an array of blocks. */
export function parse(text) {
  text = String(text || "");
  if (text.length > MAX_LEN) return [{ t: "p", c: [text] }];
  return blocks(text.replace(/\r\n?/g, "\n").split("\n"), 0);
}

function blocks(lines, depth) {
  const out = [];
  let para = [];
  const flush = () => {
    while (para.length && !para[0].trim()) para.shift();
    while (para.length && !para[para.length - 1].trim()) para.pop();
    if (para.length) out.push({ t: "p", c: inline(para.join("\n"), depth) });
    para = [];
  };
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    let m;
    if ((m = FENCE.exec(line))) {
      flush();
      const n = m[1].length;
      const body = [];
      for (i++; i < lines.length; i++) {
        const c = CLOSE.exec(lines[i]);
        if (c && c[1].length >= n) break;
        body.push(lines[i]);
      }
      i++;
      out.push({ t: "pre", lang: (m[2].trim().split(/\s/)[0] || "").toLowerCase(), text: body.join("\n") });
    } else if (QUOTE.test(line) && depth < MAX_DEPTH) {
      flush();
      const inner = [];
      while (i < lines.length && QUOTE.test(lines[i])) inner.push(lines[i++].replace(QUOTE, ""));
      out.push({ t: "quote", c: blocks(inner, depth + 1) });
    } else if ((m = ITEM.exec(line))) {
      flush();
      const ordered = m[1] !== undefined;
      const list = { t: ordered ? "ol" : "ul", start: ordered ? Number(m[1]) : 1, items: [] };
      while (i < lines.length && (m = ITEM.exec(lines[i])) && (m[1] !== undefined) === ordered) {
        let item = lines[i++].slice(m[0].length);
        while (i < lines.length && /^ {2,}\S/.test(lines[i]) && !ITEM.test(lines[i]) && !FENCE.test(lines[i]) && !QUOTE.test(lines[i])) item += "\n" + lines[i++].trim();
        list.items.push(inline(item, depth + 1));
      }
      out.push(list);
    } else {
      para.push(line);
      i++;
    }
  }
  flush();
  return out;
}

// ---- inline -----------------------------------------------------------------

function inline(s, depth) {
  return spans({ s, code: codeSpans(s), fail: {} }, 0, s.length, depth, false);
}

/**
 * The code spans of s: start -> [end, ticks]. A run of backticks pairs
 * with the next run of as many on the same line; escapes count outside
 * code only. The server finds them the same way (domain.ParseMentions).
 */
function codeSpans(s) {
  const map = new Map();
  for (let i = 0; i < s.length;) {
    if (s[i] === "\\") {
      i += 2;
      continue;
    }
    if (s[i] !== "`") {
      i++;
      continue;
    }
    const n = run(s, i);
    let j = i + n;
    let found = -1;
    while (j < s.length && s[j] !== "\n") {
      if (s[j] !== "`") {
        j++;
        continue;
      }
      const k = run(s, j);
      if (k === n) {
        found = j;
        break;
      }
      j += k;
    }
    if (found < 0) {
      i += n;
      continue;
    }
    map.set(i, [found + n, n]);
    i = found + n;
  }
  return map;
}

function run(s, i) {
  let j = i;
  while (s[j] === s[i]) j++;
  return j - i;
}

function spans(p, from, to, depth, inLink) {
  const s = p.s;
  const out = [];
  let text = "";
  const push = (node) => {
    if (text) out.push(text);
    text = "";
    out.push(node);
  };
  for (let i = from; i < to;) {
    const c = s[i];
    const code = p.code.get(i);
    if (code) {
      let body = s.slice(i + code[1], code[0] - code[1]).replace(/\n/g, " ");
      if (body.length > 2 && body[0] === " " && body[body.length - 1] === " " && body.trim()) body = body.slice(1, -1);
      push({ t: "code", text: body });
      i = code[0];
      continue;
    }
    if (c === "\\" && i + 1 < to && PUNCT.test(s[i + 1])) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (depth < MAX_DEPTH) {
      const d = delimiter(s, i);
      if (d && i + d.length < to && !SPACE.test(s[i + d.length]) && !(d[0] === "_" && ALNUM.test(s[i - 1] || ""))) {
        const j = closer(p, i + d.length, to, d);
        if (j > 0) {
          push({ t: KINDS[d], c: spans(p, i + d.length, j, depth + 1, inLink) });
          i = j + d.length;
          continue;
        }
      }
      if (c === "[" && !inLink) {
        const l = link(p, i, to, depth);
        if (l) {
          push(l.node);
          i = l.end;
          continue;
        }
      }
    }
    if ((c === "h" || c === "H") && !inLink && !/\w/.test(s[i - 1] || "")) {
      URL_AT.lastIndex = i;
      const m = URL_AT.exec(s);
      if (m) {
        const url = trimURL(m[0].slice(0, to - i));
        if (url.length > url.indexOf("//") + 2) {
          push({ t: "url", href: url });
          i += url.length;
          continue;
        }
      }
    }
    if (c === "@" && !/[A-Za-z0-9_.\-@]/.test(s[i - 1] || "")) {
      let j = i + 1;
      while (j < to && USERNAME.test(s[j])) j++;
      const name = s.slice(i + 1, j).replace(/[.-]+$/, "");
      if (name.length >= 3 && name.length <= 32) {
        push({ t: "at", name });
        i += 1 + name.length;
        continue;
      }
    }
    if (c === "#" && !inLink && !/[\p{L}\p{N}_&#]/u.test(s[i - 1] || "")) {
      let j = i + 1;
      while (j < to && ROOM.test(s[j])) j++;
      const name = s.slice(i + 1, j).replace(/[.-]+$/, "");
      if (name && name.length <= 100) {
        push({ t: "room", name });
        i += 1 + name.length;
        continue;
      }
    }
    text += c;
    i++;
  }
  if (text) out.push(text);
  return out;
}

function delimiter(s, i) {
  const c = s[i];
  if (c === "*" || c === "_") return s[i + 1] === c ? c + c : c;
  if ((c === "~" || c === "|") && s[i + 1] === c) return c + c;
  return "";
}

/**
 * The start of the delimiter d that closes content starting at from,
 * before to, or -1: not in code, not escaped, after a non-space; a single
 * * or _ is a run of one, a double takes the end of a longer run.
 */
function closer(p, from, to, d) {
  const f = p.fail[d];
  if (f && from >= f[0] && to <= f[1]) return -1;
  const s = p.s;
  const c = d[0];
  for (let j = from + 1; j + d.length <= to;) {
    const code = p.code.get(j);
    if (code) {
      j = code[0];
      continue;
    }
    if (s[j] === "\\") {
      j += 2;
      continue;
    }
    if (s[j] !== c) {
      j++;
      continue;
    }
    const n = Math.min(run(s, j), to - j);
    let at = j;
    if (d.length === 2 && n > 2) at = j + n - 2;
    const ok = d.length === 1 ? n === 1 : n >= 2;
    if (ok && at + d.length <= to && !SPACE.test(s[at - 1]) && !(c === "_" && ALNUM.test(s[at + d.length] || ""))) return at;
    j += n;
  }
  p.fail[d] = [from, to];
  return -1;
}

/** [label](destination) at i: the node and where it ends, or null. */
function link(p, i, to, depth) {
  const f = p.fail["["];
  if (f && i >= f[0] && to <= f[1]) return null;
  const s = p.s;
  let level = 0;
  let k = i;
  for (; k < to; k++) {
    const code = p.code.get(k);
    if (code) {
      k = code[0] - 1;
      continue;
    }
    if (s[k] === "\\") k++;
    else if (s[k] === "[") level++;
    else if (s[k] === "]" && --level === 0) break;
  }
  if (k >= to) {
    p.fail["["] = [i, to];
    return null;
  }
  if (s[k + 1] !== "(" || !SAFE.test(s.slice(k + 2, k + 11))) return null;
  let e = k + 2;
  let parens = 0;
  const max = Math.min(to, e + MAX_HREF);
  for (; e < max && !SPACE.test(s[e]); e++) {
    if (s[e] === "(") parens++;
    else if (s[e] === ")" && parens-- === 0) break;
  }
  if (s[e] !== ")" || e >= max) return null;
  const href = s.slice(k + 2, e);
  const label = k > i + 1 ? spans(p, i + 1, k, depth + 1, true) : [href];
  return { node: { t: "a", href, c: label }, end: e + 1 };
}

/** Drops the punctuation that usually ends a sentence, and unpaired closing brackets. */
function trimURL(url) {
  for (;;) {
    const ch = url[url.length - 1];
    if (".,;:!?'\"*_~|".includes(ch)) url = url.slice(0, -1);
    else if (ch === ")" && count(url, "(") < count(url, ")")) url = url.slice(0, -1);
    else if (ch === "]" && count(url, "[") < count(url, "]")) url = url.slice(0, -1);
    else return url;
  }
}

function count(s, ch) {
  return s.split(ch).length - 1;
}

// ---- output -----------------------------------------------------------------

/**
 * Renders text into el. ctx: mention(name) -> {known, me, name} for
 * a username; room(name) -> a room the user is in, or null; openRoom(id).
 * Code blocks with a language are highlighted once highlight.js has
 * loaded (it loads when the first one shows).
 */
export function render(el, text, ctx = {}) {
  const code = [];
  renderBlocks(el, parse(text), ctx, code);
  if (code.length) {
    import("./highlight.js").then((m) => {
      for (const [node, lang] of code) m.highlight(node, lang);
    }, () => {});
  }
  return el;
}

function renderBlocks(el, list, ctx, code) {
  for (const b of list) {
    if (b.t === "p") renderInline(el, b.c, ctx);
    else if (b.t === "pre") {
      const c = document.createElement("code");
      c.textContent = b.text;
      const pre = document.createElement("pre");
      pre.className = "md-pre";
      if (b.lang) {
        pre.dataset.lang = b.lang;
        code.push([c, b.lang]);
      }
      pre.appendChild(c);
      el.appendChild(pre);
    } else if (b.t === "quote") {
      el.appendChild(renderBlocks(make("blockquote", "md-quote"), b.c, ctx, code));
    } else {
      const list = make(b.t, "md-list");
      if (b.t === "ol" && b.start !== 1) list.start = b.start;
      for (const item of b.items) list.appendChild(renderInline(make("li"), item, ctx));
      el.appendChild(list);
    }
  }
  return el;
}

const TAGS = { b: "strong", i: "em", s: "del" };

function renderInline(el, nodes, ctx) {
  for (const n of nodes) {
    if (typeof n === "string") el.append(...emojify(n));
    else if (TAGS[n.t]) el.appendChild(renderInline(make(TAGS[n.t]), n.c, ctx));
    else if (n.t === "code") el.appendChild(make("code", "md-code", n.text));
    else if (n.t === "spoiler") el.appendChild(spoiler(renderInline(make("span", "spoiler-text"), n.c, ctx)));
    else if (n.t === "a" || n.t === "url") {
      const a = make("a");
      a.href = n.href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      if (n.t === "url") a.textContent = n.href;
      else {
        renderInline(a, n.c, ctx);
        if (a.textContent !== n.href) a.title = n.href;
      }
      el.appendChild(a);
    } else if (n.t === "at") {
      const r = ctx.mention ? ctx.mention(n.name) : null;
      if (r && r.known) {
        const chip = make("span", "mention" + (r.me ? " me" : ""), "@" + n.name);
        chip.title = r.name || n.name;
        el.appendChild(chip);
      } else el.appendChild(document.createTextNode("@" + n.name));
    } else if (n.t === "room") {
      const room = ctx.room ? ctx.room(n.name) : null;
      if (room) {
        const a = make("a", "room-ref", "#" + n.name);
        a.href = "/r/" + room.id;
        a.title = "Open #" + room.name;
        a.addEventListener("click", (e) => {
          if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || !ctx.openRoom) return;
          e.preventDefault();
          ctx.openRoom(room.id);
        });
        el.appendChild(a);
      } else el.appendChild(document.createTextNode("#" + n.name));
    }
  }
  return el;
}

function make(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A spoiler: hidden (and its links out of reach) until a click, Enter or Space. */
function spoiler(inner) {
  const el = make("span", "spoiler");
  el.setAttribute("role", "button");
  el.tabIndex = 0;
  el.setAttribute("aria-label", "Spoiler, press to reveal");
  el.setAttribute("aria-expanded", "false");
  inner.setAttribute("aria-hidden", "true");
  const links = [...inner.querySelectorAll("a")];
  for (const a of links) a.tabIndex = -1;
  const reveal = (e) => {
    if (el.classList.contains("revealed")) return;
    e.preventDefault();
    e.stopPropagation();
    el.classList.add("revealed");
    for (const a of ["role", "aria-label", "aria-expanded"]) el.removeAttribute(a);
    el.tabIndex = -1;
    inner.removeAttribute("aria-hidden");
    for (const a of links) a.removeAttribute("tabindex");
  };
  el.addEventListener("click", reveal);
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") reveal(e);
  });
  el.appendChild(inner);
  return el;
}

/**
 * The text without its markers, for previews and notifications: link
 * labels, code as it is, list items on lines, spoilers as "(spoiler)".
 */
export function plain(text) {
  return plainBlocks(parse(text));
}

function plainBlocks(list) {
  return list.map((b) => b.t === "p" ? plainInline(b.c)
    : b.t === "pre" ? b.text
    : b.t === "quote" ? plainBlocks(b.c)
    : b.items.map(plainInline).join("\n")).join("\n");
}

function plainInline(nodes) {
  let out = "";
  for (const n of nodes) {
    if (typeof n === "string") out += n;
    else if (n.t === "code") out += n.text;
    else if (n.t === "url") out += n.href;
    else if (n.t === "at") out += "@" + n.name;
    else if (n.t === "room") out += "#" + n.name;
    else if (n.t === "spoiler") out += "(spoiler)";
    else out += plainInline(n.c);
  }
  return out;
}

/** dom.js's renderText with markdown: resolveMention(name) -> {known, me, name}. */
export function renderText(el, text, resolveMention) {
  return render(el, text, { mention: resolveMention });
}
