// DOM helpers. User data only ever reaches the page through textContent
// and attributes set with setAttribute/properties: never through
// innerHTML.
import { emojify } from "./emoji.js";

import { shownName } from "./format.js";

/**
 * h("div.msg.mine", {dataset: {seq: 3}, onclick: fn}, child, "text", ...)
 * Children may be nodes, strings (become text nodes), arrays, or
 * null/undefined/false (skipped).
 */
export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (props && (typeof props !== "object" || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") Object.assign(el.dataset, value);
      else if (key === "class") el.className = [el.className, value].filter(Boolean).join(" ");
      else if (key === "style") for (const [p, v] of Object.entries(value)) el.style.setProperty(p, v);
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else if (key in el && typeof value !== "string") el[key] = value;
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** An inline SVG icon from the sprite-less set below (static markup only). */
const ICONS = {
  hash: "M5 9h14M4 15h14M10 3 8 21M16 3l-2 18",
  at: "M16 12a4 4 0 1 1-8 0 4 4 0 0 1 8 0Zm0 0v1.5a2.5 2.5 0 0 0 5 0V12a9 9 0 1 0-3.5 7.1",
  plus: "M12 5v14M5 12h14",
  users: "M16 19v-1a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v1M9 10a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm13 9v-1a4 4 0 0 0-3-3.9M16 4.1a3 3 0 0 1 0 5.8",
  menu: "M4 6h16M4 12h16M4 18h16",
  send: "M4 12 20 4l-6 16-3-7-7-1Z",
  reply: "M9 14 4 9l5-5M4 9h10a6 6 0 0 1 6 6v4",
  edit: "M4 20h4L19 9l-4-4L4 16v4ZM13 7l4 4",
  trash: "M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3",
  smile: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18ZM8.5 14a4 4 0 0 0 7 0M9 9.5h.01M15 9.5h.01",
  link: "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  refresh: "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
  logout: "M15 4h4v16h-4M10 16l-4-4 4-4M6 12h10",
  bell: "M6 16V11a6 6 0 1 1 12 0v5l2 2H4l2-2ZM10 21h4",
  bellOff: "M6 16V11a6 6 0 0 1 9-5.2M18 11v5l2 2H8M10 21h4M3 3l18 18",
  pin: "M9 3h6l-1 7 4 3H6l4-3-1-7ZM12 13v8",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  close: "M6 6l12 12M18 6 6 18",
  door: "M14 4h5v16h-5M4 12h10M10 8l4 4-4 4",
  phone: "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2",
  chat: "M4 5h16v11H8l-4 4V5Z",
  key: "M21 2l-2 2m-7.6 7.6a5.5 5.5 0 1 1-7.8 7.8 5.5 5.5 0 0 1 7.8-7.8Zm0 0L15.5 7.5m0 0 3 3L22 7l-3-3m-3.5 3.5L19 4",
  down: "M12 5v14M6 13l6 6 6-6",
  crown: "M3 8l4 4 5-7 5 7 4-4-2 11H5L3 8Z",
  shield: "M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6l8-3Z",
  user: "M20 21v-1a5 5 0 0 0-5-5H9a5 5 0 0 0-5 5v1M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8Z",
  search: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14ZM20 20l-4-4",
  clip: "M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4L16 7.1",
  file: "M14 3H6v18h12V7l-4-4Zm0 0v4h4",
  left: "M15 5l-7 7 7 7",
  right: "M9 5l7 7-7 7",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
};

export function icon(name, label) {
  return pathIcon(ICONS[name] || "", label);
}

/** An icon drawn from an SVG path on a 24×24 grid, in the style of icon. */
export function pathIcon(d, label) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.appendChild(path);
  return svg;
}

/** An icon button with an accessible label and tooltip. */
export function iconButton(name, label, onclick, cls = "") {
  return h("button.icon-btn" + (cls ? "." + cls : ""), { type: "button", title: label, "aria-label": label, onclick }, icon(name));
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const USERNAME_CHARS = /[A-Za-z0-9_.\-]/;

/**
 * Splits text into plain strings, links and mentions. Links are only http(s);
 * trailing punctuation that usually ends a sentence is left out of the link.
 * Mentions follow the server's rule: "@" at the start or after a
 * non-username character, then 3-32 username characters, trailing "." and
 * "-" dropped.
 */
export function tokenize(text) {
  const out = [];
  let last = 0;
  URL_RE.lastIndex = 0;
  let m;
  while ((m = URL_RE.exec(text))) {
    let url = m[0];
    // Drop trailing punctuation, and a closing bracket without its opener.
    for (;;) {
      const ch = url[url.length - 1];
      if (".,;:!?'\"".includes(ch)) url = url.slice(0, -1);
      else if (ch === ")" && count(url, "(") < count(url, ")")) url = url.slice(0, -1);
      else if (ch === "]" && count(url, "[") < count(url, "]")) url = url.slice(0, -1);
      else break;
    }
    if (m.index > last) out.push(...mentions(text.slice(last, m.index), last > 0 ? text[last - 1] : ""));
    out.push({ type: "link", url });
    last = m.index + url.length;
    URL_RE.lastIndex = last;
  }
  if (last < text.length) out.push(...mentions(text.slice(last), last > 0 ? text[last - 1] : ""));
  return out;
}

function count(s, ch) {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

function mentions(text, before) {
  const out = [];
  let plain = "";
  for (let i = 0; i < text.length; i++) {
    const prev = i === 0 ? before : text[i - 1];
    if (text[i] === "@" && !(prev && USERNAME_CHARS.test(prev))) {
      let j = i + 1;
      while (j < text.length && j - i - 1 < 32 && USERNAME_CHARS.test(text[j])) j++;
      let name = text.slice(i + 1, j);
      while (name.length && (name.endsWith(".") || name.endsWith("-"))) name = name.slice(0, -1);
      if (name.length >= 3 && !(j < text.length && USERNAME_CHARS.test(text[j]) && j - i - 1 >= 32)) {
        if (plain) out.push({ type: "text", text: plain });
        plain = "";
        out.push({ type: "mention", name });
        i += name.length;
        continue;
      }
    }
    plain += text[i];
  }
  if (plain) out.push({ type: "text", text: plain });
  return out;
}

/**
 * Renders message text into el as text nodes, emoji images (emojify),
 * links and mention chips. resolveMention(name) returns {known, me} for a
 * username.
 */
export function renderText(el, text, resolveMention) {
  for (const tok of tokenize(text)) {
    if (tok.type === "text") {
      el.append(...emojify(tok.text));
    } else if (tok.type === "link") {
      const a = document.createElement("a");
      a.href = tok.url;
      a.textContent = tok.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      el.appendChild(a);
    } else {
      const r = resolveMention ? resolveMention(tok.name) : { known: false };
      if (r.known) {
        el.appendChild(h("span.mention" + (r.me ? ".me" : ""), { title: r.name || tok.name }, "@" + tok.name));
      } else {
        el.appendChild(document.createTextNode("@" + tok.name));
      }
    }
  }
  return el;
}

/**
 * Renders text into el with every word that starts with one of terms
 * (lowercase, as the server gives them) wrapped in <mark>: text nodes
 * and elements only, never markup.
 */
export function renderHighlighted(el, text, terms) {
  const words = [...new Set(terms.filter(Boolean))].sort((a, b) => b.length - a.length);
  if (!words.length) {
    el.appendChild(document.createTextNode(text));
    return el;
  }
  const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${esc.join("|")})`, "giu");
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) el.appendChild(document.createTextNode(text.slice(last, m.index)));
    el.appendChild(h("mark", m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
  return el;
}

/** A stable hue for a user, for avatars. */
export function hue(id) {
  let x = 0;
  for (let i = 0; i < id.length; i++) x = (x * 31 + id.charCodeAt(i)) >>> 0;
  return x % 360;
}

export function avatar(user, size = "md") {
  const name = shownName(user) || "?";
  const el = h("span.avatar.avatar-" + size, { "aria-hidden": "true" }, [...name][0].toUpperCase());
  el.style.setProperty("--avatar-hue", String(hue(user?.id || name)));
  if (user?.avatar_url) el.replaceChildren(h("img.avatar-img", { src: user.avatar_url, alt: "", decoding: "async" }));
  return el;
}

/**
 * Keyed list rendering. rows: [{key, sig, make() -> element, fill(element)}].
 * A row's element is kept as long as its key is there, and filled again
 * (in place) when its sig changes, so focus, hover and a click in progress
 * survive updates. cache is the Map the previous call returned.
 */
export function reconcileList(container, rows, cache) {
  const next = new Map();
  for (const row of rows) {
    let entry = cache.get(row.key);
    if (!entry) {
      entry = { el: row.make(), sig: null };
    }
    if (entry.sig !== row.sig) {
      row.fill(entry.el);
      entry.sig = row.sig;
    }
    next.set(row.key, entry);
  }
  for (const [key, entry] of cache) if (next.get(key) !== entry) entry.el.remove();
  let cursor = container.firstChild;
  for (const { el } of next.values()) {
    if (el === cursor) {
      cursor = cursor.nextSibling;
      continue;
    }
    container.insertBefore(el, cursor);
  }
  while (cursor) {
    const n = cursor.nextSibling;
    cursor.remove();
    cursor = n;
  }
  return next;
}

/** True when el's scroll position is within slack px of the bottom. */
export function atBottom(el, slack = 48) {
  return el.scrollHeight - el.scrollTop - el.clientHeight <= slack;
}
