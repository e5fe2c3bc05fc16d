// Emoji as images: every machine shows the same Twemoji, font or not.
//
// emojify(text) splits text into text nodes and <img class="emoji"> for
// each emoji (alt = the emoji itself, so copy and paste and screen readers
// keep it). The data of the set (names, shortcodes, groups, keywords,
// skin tones: scripts/gen-emoji) is fetched only when something asks for
// it (loadEmojiData: the picker, the :shortcode: completion, the tooltip
// of an emoji image).
import { EMOJI_BASE } from "./emoji-base.js";

// One RGI emoji (fully-qualified: what keyboards and the picker produce).
// A browser without the v flag gets an approximation; an image it does
// not have falls back to the text.
const EMOJI_RE = (() => {
  try {
    return new RegExp("\\p{RGI_Emoji}", "gv");
  } catch {
    return new RegExp("\\p{RI}\\p{RI}|[#*0-9]\\uFE0F?\\u20E3|\\p{Extended_Pictographic}(?:\\uFE0F|\\p{EMod})?(?:\\u200D\\p{Extended_Pictographic}(?:\\uFE0F|\\p{EMod})?)*", "gu");
  }
})();

/** The URL of an emoji's image: Twemoji's name (hex code points, U+FE0F dropped outside ZWJ sequences). */
export function emojiURL(emoji) {
  const s = emoji.includes("\u200D") ? emoji : emoji.replace(/\uFE0F/g, "");
  return EMOJI_BASE + [...s].map((c) => c.codePointAt(0).toString(16)).join("-") + ".svg";
}

/** An <img> of one emoji; shows the text instead when there is no image for it. */
export function emojiImg(emoji, cls = "emoji") {
  const img = document.createElement("img");
  img.className = cls;
  img.src = emojiURL(emoji);
  img.alt = emoji;
  img.draggable = false;
  img.decoding = "async";
  img.addEventListener("error", () => img.replaceWith(document.createTextNode(emoji)), { once: true });
  watchTitles();
  return img;
}

/**
 * Splits text into nodes: text nodes, and an image for each emoji. Takes
 * a string or a Text node (whose text it reads). Returns [] for "".
 */
export function emojify(text) {
  if (text instanceof Text) text = text.data;
  const out = [];
  let last = 0;
  EMOJI_RE.lastIndex = 0;
  for (const m of text.matchAll(EMOJI_RE)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(emojiImg(m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** True when text is 1 to max emoji and whitespace only (shown large). */
export function onlyEmoji(text, max = 27) {
  if (!text.trim()) return false;
  EMOJI_RE.lastIndex = 0;
  const n = [...text.matchAll(EMOJI_RE)].length;
  return n > 0 && n <= max && !text.replace(EMOJI_RE, "").trim();
}

let dataPromise = null;

/**
 * The emoji data, fetched once: {groups: [label], list: [entry],
 * byEmoji: Map, byCode: Map}. An entry is {emoji, name, group, codes,
 * keywords, skins: [{emoji, code, tone}]}; byEmoji also has every skin
 * variant (as {emoji, codes: [code], base}).
 */
export function loadEmojiData() {
  if (!dataPromise) {
    dataPromise = fetch(EMOJI_BASE + "data.json").then((r) => {
      if (!r.ok) throw new Error("emoji data: HTTP " + r.status);
      return r.json();
    }).then((raw) => {
      const list = [];
      const byEmoji = new Map();
      const byCode = new Map();
      for (const [emoji, name, group, codes, keywords, skins = []] of raw.emoji) {
        const e = { emoji, name, group, codes, keywords, skins: skins.map(([s, code, tone]) => ({ emoji: s, code, tone })) };
        list.push(e);
        byEmoji.set(strip(emoji), e);
        for (const c of codes) byCode.set(c, e);
        for (const s of e.skins) {
          byEmoji.set(strip(s.emoji), { emoji: s.emoji, name, codes: s.code ? [s.code] : codes, base: e });
          if (s.code) byCode.set(s.code, { emoji: s.emoji, name, codes: [s.code], base: e });
        }
      }
      return { groups: raw.groups, list, byEmoji, byCode };
    });
    dataPromise.catch(() => (dataPromise = null)); // try again next time
  }
  return dataPromise;
}

function strip(s) {
  return s.replace(/\uFE0F/g, "");
}

/** The :shortcode: of an emoji, once the data is loaded, or "". */
export function shortcodeOf(data, emoji) {
  const e = data.byEmoji.get(strip(emoji));
  return e?.codes?.[0] ? ":" + e.codes[0] + ":" : "";
}

/**
 * Replaces every :code: of text that names an emoji with the emoji
 * (on send, and as the closing colon is typed).
 */
export function replaceShortcodes(data, text) {
  return text.replace(/(?<!\w):([a-z0-9_+\-]+):(?!\w)/gi, (m, code) => {
    const e = data.byCode.get(code.toLowerCase());
    return e ? e.emoji : m;
  });
}

/**
 * The entries matching a search: by shortcode, name or keyword, those
 * whose shortcode or name starts with the query first.
 */
export function searchEmoji(data, query, limit = Infinity) {
  const q = query.trim().toLowerCase().replace(/^:|:$/g, "");
  if (!q) return [];
  const first = [];
  const rest = [];
  for (const e of data.list) {
    const prefix = e.codes.some((c) => c.startsWith(q)) || e.name.toLowerCase().startsWith(q);
    if (prefix) first.push(e);
    else if (e.codes.some((c) => c.includes(q)) || e.name.toLowerCase().includes(q) || e.keywords.split(" ").some((k) => k.startsWith(q))) rest.push(e);
    if (first.length >= limit) break;
  }
  return first.concat(rest).slice(0, limit);
}

// Tooltips: an emoji image gets its :shortcode: as title when the pointer
// first rests on one, which is when the data is worth fetching. A copy of
// a selection with emoji images puts the emoji in the plain text (their
// alt), as it would have been without images.
let watching = false;
function watchTitles() {
  if (watching) return;
  watching = true;
  document.addEventListener("copy", (e) => {
    const sel = document.getSelection();
    if (!sel?.rangeCount || sel.isCollapsed || !e.clipboardData) return;
    const box = document.createElement("div");
    for (let i = 0; i < sel.rangeCount; i++) box.append(sel.getRangeAt(i).cloneContents());
    const imgs = box.querySelectorAll("img.emoji");
    if (!imgs.length) return;
    for (const img of imgs) img.replaceWith(img.alt);
    box.style.setProperty("position", "fixed");
    box.style.setProperty("left", "-10000px");
    box.style.setProperty("white-space", "pre-wrap");
    document.body.append(box);
    e.clipboardData.setData("text/plain", box.innerText);
    box.remove();
    e.preventDefault();
  });
  document.addEventListener("mouseover", (e) => {
    const img = e.target;
    if (!(img instanceof HTMLImageElement) || !img.classList.contains("emoji") || img.title) return;
    loadEmojiData().then((data) => {
      if (!img.title) img.title = shortcodeOf(data, img.alt) || img.alt;
    }, () => {});
  }, { passive: true });
}
