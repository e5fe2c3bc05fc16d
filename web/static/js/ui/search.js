// The search panel: a query box (the server parses words, "phrases" and
// filters such as from: in: has: before: after: mentions:), a "this room
// only" toggle, and the results, newest first, with the query's words
// highlighted and "Load more" for the next page. A click on a result
// calls onOpen(roomId, seq, threadRoot): the app jumps there (a reply in a
// thread: to its root, with the thread open at the reply).

import { h, icon, iconButton, avatar, renderHighlighted } from "../util/dom.js";
import { formatFull, formatTime, formatDay } from "../util/format.js";
import { parseTime } from "../client.js";
import { plain } from "../util/markdown.js";
import { humanError } from "./toast.js";

const DEBOUNCE = 350; // ms of no typing before a search starts

export class SearchPanel {
  constructor(client, { onOpen, onClose }) {
    this.client = client;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.seq = 0; // the newest search: answers to older ones are dropped
    this.cursor = "";
    this.terms = [];
    this.timer = null;

    this.input = h("input.input.search-input", {
      type: "search", id: "search-input", placeholder: "Search messages", autocomplete: "off", spellcheck: "false",
      "aria-label": "Search messages", "aria-describedby": "search-hint", enterkeyhint: "search",
    });
    this.roomOnly = h("input", { type: "checkbox", id: "search-room-only" });
    this.status = h("div.search-status", { id: "search-status", role: "status" });
    this.results = h("ul.search-results", { id: "search-results", "aria-label": "Search results" });
    this.more = h("button.btn.btn-ghost.btn-small.search-more", { type: "button", id: "search-more", hidden: true, onclick: () => this.#run(false) }, "Load more");
    const form = h("form.search-form", { role: "search", novalidate: true },
      h("span.search-icon", icon("search")), this.input,
      iconButton("close", "Close search", () => this.close(), "search-close"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.#run(true);
    });
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.#run(true), DEBOUNCE);
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      } else if (e.key === "ArrowDown") {
        const first = this.results.querySelector("button");
        if (first) {
          e.preventDefault();
          first.focus();
        }
      }
    });
    this.roomOnly.addEventListener("change", () => { if (this.input.value.trim()) this.#run(true); });
    this.results.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        const all = [...this.results.querySelectorAll("button.search-result")];
        const i = all.indexOf(document.activeElement);
        if (i < 0) return;
        e.preventDefault();
        const n = i + (e.key === "ArrowDown" ? 1 : -1);
        if (n < 0) this.input.focus();
        else if (n < all.length) all[n].focus();
      }
    });
    this.el = h("aside.search-panel", { id: "search-panel", "aria-label": "Search", hidden: true },
      h("div.search-head", form,
        h("div.search-options",
          h("label.search-toggle", { for: "search-room-only" }, this.roomOnly, h("span", "This room only")),
          h("span.search-hint.muted", { id: "search-hint" }, "from: in: has:file has:image has:link before: after: mentions:"))),
      this.status,
      h("div.search-scroll", this.results, this.more));
  }

  get open() {
    return !this.el.hidden;
  }

  /** Opens the panel with focus in the box (its text selected). */
  show() {
    this.el.hidden = false;
    this.roomOnly.disabled = !this.client.activeRoomId;
    if (!this.client.activeRoomId) this.roomOnly.checked = false;
    this.input.focus();
    this.input.select();
  }

  close() {
    if (this.el.hidden) return;
    clearTimeout(this.timer);
    this.el.hidden = true;
    this.onClose?.();
  }

  async #run(fresh) {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    const seq = ++this.seq;
    if (fresh) {
      this.cursor = "";
      if (!q) {
        this.results.replaceChildren();
        this.more.hidden = true;
        this.status.textContent = "";
        return;
      }
      this.status.textContent = "Searching…";
    }
    const roomId = this.roomOnly.checked ? this.client.activeRoomId || "" : "";
    this.more.disabled = true;
    let page;
    try {
      page = await this.client.api.search(q, { roomId, cursor: fresh ? "" : this.cursor });
    } catch (err) {
      if (seq !== this.seq) return;
      this.more.disabled = false;
      if (fresh) {
        this.results.replaceChildren();
        this.more.hidden = true;
      }
      this.status.replaceChildren(h("span.search-error", { role: "alert" }, humanError(err)));
      return;
    }
    if (seq !== this.seq) return;
    this.terms = page.terms || [];
    this.cursor = page.next_cursor || "";
    const items = (page.results || []).map((r) => this.#result(r));
    if (fresh) this.results.replaceChildren(...items);
    else this.results.append(...items);
    const n = this.results.children.length;
    this.status.textContent = n === 0 ? "No messages match." : `${n}${this.cursor ? "+" : ""} result${n === 1 ? "" : "s"}`;
    this.more.hidden = !this.cursor;
    this.more.disabled = false;
  }

  #result({ message: m, room: r }) {
    const c = this.client;
    const known = c.rooms.get(r.id);
    const roomName = known ? c.displayName(known) : r.name || (r.kind === "dm" ? "direct message" : "room");
    const at = parseTime(m.created_at);
    const sender = c.user(m.sender_id) || { id: m.sender_id, username: m.sender_name || "" };
    const name = c.nameOf(m.sender_id) || m.sender_name || "someone";
    const text = h("div.search-text", renderHighlighted(h("bdi"), plain(m.text || ""), this.terms));
    const files = (m.attachments || []).length
      ? h("div.search-files", icon("clip"), m.attachments.map((a) => a.name).join(", "))
      : null;
    return h("li", h("button.search-result", {
      type: "button", dataset: { room: r.id, seq: m.seq },
      onclick: () => this.onOpen(r.id, m.seq, m.thread_root || 0),
    },
    h("div.search-where", h("span.search-room", r.kind === "dm" ? "@" : "#", h("bdi", roomName)),
      at ? h("time.search-time", { datetime: at.toISOString(), title: formatFull(at) }, formatDay(at) + " " + formatTime(at)) : null),
    h("div.search-msg", avatar(sender, "sm"), h("div.search-body", h("span.search-author", name), text, files))));
  }
}
