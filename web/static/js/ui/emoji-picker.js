// The emoji picker: the whole bundled set, loaded with import() when first
// opened (the composer's emoji button, a message's "More emoji…").
//
// A search (shortcode, name, keyword), the groups as tabs, "Recently
// used" (localStorage), a skin tone choice that applies to every emoji
// that has one. Keyboard: ↑/↓/←/→ move in the grid (↓ from the search
// enters it), Enter picks (in the search: the first match), Esc closes
// and gives the focus back to the button that opened it.
import { h, clear } from "../util/dom.js";
import { emojiImg, loadEmojiData, searchEmoji } from "../util/emoji.js";

const EMOJI_CSS = "asset:/css/emoji.css";
const COLS = 8;
const RECENT_KEY = "confab.emoji.recent";
const SKIN_KEY = "confab.emoji.skin";
const MAX_RECENT = 24;
const SKINS = ["Default", "Light", "Medium-light", "Medium", "Medium-dark", "Dark"];
const TAB_ICONS = ["😀", "👋", "🐶", "🍔", "✈️", "⚽", "💡", "🔣", "🏁"];

let cssAdded = null;
function addCSS() {
  if (!cssAdded) {
    cssAdded = new Promise((resolve) => {
      const link = h("link", { rel: "stylesheet", href: EMOJI_CSS });
      link.addEventListener("load", resolve, { once: true });
      link.addEventListener("error", resolve, { once: true });
      document.head.append(link);
    });
  }
  return cssAdded;
}

function readJSON(key, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(key));
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

/** The emoji most recently picked, newest first. */
export function recentEmoji() {
  const v = readJSON(RECENT_KEY, []);
  return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
}

function remember(emoji) {
  const list = [emoji, ...recentEmoji().filter((x) => x !== emoji)].slice(0, MAX_RECENT);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // storage full or disabled: no recent list
  }
}

/**
 * Opens the picker next to anchor. onPick(emoji, keepOpen) is called with
 * the chosen emoji (keepOpen: Shift was held, the picker stays). Returns
 * {el, close()}; onClose runs when it closes by itself.
 */
export function openEmojiPicker({ anchor, label = "Emoji", onPick, onClose }) {
  let skin = Number(localStorage.getItem(SKIN_KEY)) || 0;
  let data = null;
  let tab = -2; // -1: recent; 0..n: a group; -2: not chosen yet
  let items = [];
  let active = 0;
  let closed = false;

  const search = h("input.ep-search", { type: "search", placeholder: "Search emoji", "aria-label": "Search emoji", autocomplete: "off", spellcheck: "false" });
  const skinSel = h("select.ep-skin", { "aria-label": "Skin tone", title: "Skin tone" },
    SKINS.map((name, i) => h("option", { value: String(i), selected: i === skin }, name)));
  const tabs = h("div.ep-tabs", { role: "tablist", "aria-label": "Emoji groups" });
  const heading = h("div.ep-heading", { id: "ep-heading" });
  const grid = h("div.ep-grid", { role: "listbox", "aria-labelledby": "ep-heading", id: "ep-grid" });
  const body = h("div.ep-body", heading, grid);
  const preview = h("div.ep-preview", { "aria-live": "polite" });
  const el = h("div.emoji-picker", { role: "dialog", "aria-label": label, id: "emoji-picker" },
    h("div.ep-head", search, skinSel),
    tabs,
    body,
    h("div.ep-foot", preview,
      h("a.ep-credit", { href: "https://github.com/jdecked/twemoji", target: "_blank", rel: "noopener noreferrer" }, "Twemoji, CC-BY 4.0")));
  grid.append(h("div.ep-loading", h("span.spinner"), "Loading emoji…"));

  const withSkin = (e) => {
    if (!skin || !e.skins?.length) return e.emoji;
    return e.skins.find((s) => s.tone === skin)?.emoji || e.emoji;
  };

  function pick(emoji, keepOpen) {
    remember(emoji);
    if (!keepOpen) close(true);
    onPick(emoji, keepOpen);
  }

  function show(list, title) {
    items = list;
    active = 0;
    heading.textContent = title;
    clear(grid);
    if (!list.length) {
      grid.append(h("div.ep-empty", "No emoji match."));
      preview.textContent = "";
      return;
    }
    grid.append(...list.map((it, i) => {
      const btn = h("button.ep-emoji", {
        type: "button", role: "option", tabindex: i === 0 ? "0" : "-1", "aria-selected": String(i === 0),
        "aria-label": it.name, title: ":" + it.code + ":", dataset: { emoji: it.emoji },
        onclick: (e) => pick(it.emoji, e.shiftKey),
        onfocus: () => setActive(i, false),
        onmouseenter: () => describe(it),
      }, emojiImg(it.emoji));
      btn.querySelector("img").loading = "lazy";
      return btn;
    }));
    describe(list[0]);
  }

  function describe(it) {
    preview.replaceChildren(emojiImg(it.emoji, "emoji ep-preview-img"), h("span.ep-preview-name", it.name), h("span.ep-preview-code", ":" + it.code + ":"));
  }

  function setActive(i, focus = true) {
    const btns = grid.querySelectorAll(".ep-emoji");
    if (!btns.length) return;
    i = Math.max(0, Math.min(btns.length - 1, i));
    btns[active]?.setAttribute("tabindex", "-1");
    btns[active]?.setAttribute("aria-selected", "false");
    active = i;
    btns[i].setAttribute("tabindex", "0");
    btns[i].setAttribute("aria-selected", "true");
    describe(items[i]);
    if (focus) {
      btns[i].focus();
      btns[i].scrollIntoView({ block: "nearest" });
    }
  }

  const entry = (e) => ({ emoji: withSkin(e), name: e.name, code: e.codes[0] });

  function showTab(t) {
    tab = t;
    search.value = "";
    for (const b of tabs.children) b.setAttribute("aria-selected", String(Number(b.dataset.tab) === t));
    if (t === -1) {
      const list = [];
      for (const emoji of recentEmoji()) {
        const e = data.byEmoji.get(emoji.replace(/\uFE0F/g, ""));
        if (e) list.push({ emoji, name: e.name, code: e.codes[0] });
      }
      show(list, "Recently used");
    } else {
      show(data.list.filter((e) => e.group === t).map(entry), data.groups[t]);
    }
    body.scrollTop = 0;
  }

  function renderTabs() {
    const mk = (t, icon, name) => h("button.ep-tab", {
      type: "button", role: "tab", "aria-selected": "false", "aria-label": name, title: name, dataset: { tab: t },
      "aria-controls": "ep-grid",
      onclick: () => showTab(t),
    }, emojiImg(icon));
    tabs.replaceChildren(
      mk(-1, "🕘", "Recently used"),
      ...data.groups.map((name, i) => mk(i, TAB_ICONS[i] || "🔣", name)));
  }

  search.addEventListener("input", () => {
    if (!data) return;
    const q = search.value.trim();
    if (!q) return showTab(tab < -1 ? 0 : tab);
    for (const b of tabs.children) b.setAttribute("aria-selected", "false");
    show(searchEmoji(data, q, 200).map(entry), "Search results");
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setActive(0);
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (items.length) pick(items[0].emoji, e.shiftKey);
    }
  });
  skinSel.addEventListener("change", () => {
    skin = Number(skinSel.value) || 0;
    try {
      localStorage.setItem(SKIN_KEY, String(skin));
    } catch {
      // not remembered
    }
    if (!data) return;
    if (search.value.trim()) search.dispatchEvent(new Event("input"));
    else showTab(tab);
  });
  grid.addEventListener("keydown", (e) => {
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLS, ArrowUp: -COLS };
    if (e.key in moves) {
      e.preventDefault();
      if (e.key === "ArrowUp" && active < COLS) search.focus();
      else setActive(active + moves[e.key]);
    } else if (e.key === "Enter" && items[active]) {
      e.preventDefault(); // not a click as well
      pick(items[active].emoji, e.shiftKey);
    } else if (e.key === "Home") {
      e.preventDefault();
      setActive(0);
    } else if (e.key === "End") {
      e.preventDefault();
      setActive(items.length - 1);
    }
  });
  el.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close(true);
      anchor?.focus();
    }
  });

  const outside = (e) => {
    if (!el.contains(e.target) && !anchor?.contains(e.target)) close(true);
  };
  const place = () => {
    const r = anchor.getBoundingClientRect();
    const pw = el.offsetWidth;
    const ph = el.offsetHeight;
    const left = Math.max(8, Math.min(window.innerWidth - pw - 8, r.right - pw));
    const top = r.top - ph - 6 > 8 ? r.top - ph - 6 : Math.max(8, Math.min(window.innerHeight - ph - 8, r.bottom + 6));
    el.style.setProperty("left", left + "px");
    el.style.setProperty("top", top + "px");
  };

  function close(notify) {
    if (closed) return;
    closed = true;
    el.remove();
    document.removeEventListener("mousedown", outside);
    window.removeEventListener("resize", place);
    if (notify) onClose?.();
  }

  el.style.setProperty("visibility", "hidden");
  document.body.append(el);
  addCSS().then(() => {
    if (closed) return;
    place();
    el.style.removeProperty("visibility");
    search.focus();
  });
  setTimeout(() => document.addEventListener("mousedown", outside), 0);
  window.addEventListener("resize", place);

  loadEmojiData().then((d) => {
    if (closed) return;
    data = d;
    renderTabs();
    showTab(recentEmoji().length ? -1 : 0);
    if (search.value.trim()) search.dispatchEvent(new Event("input"));
  }, () => {
    clear(grid);
    grid.append(h("div.ep-empty", { role: "alert" }, "Could not load the emoji. Try again later."));
  });

  return { el, close: () => close(false) };
}
