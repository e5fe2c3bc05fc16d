// The thread panel: a thread's root and its replies, live, with a
// composer of its own (the Composer of composer.js, sending replies in
// the thread). It is loaded with import() the first time a thread is
// opened. It sits beside the timeline, and takes the screen on narrow
// ones; Esc or its close button closes it. While it is open and the page
// is visible, the thread is kept read.

import { h, clear, icon, avatar } from "../util/dom.js";
import { renderText } from "../util/markdown.js";
import { formatTime, formatFull } from "../util/format.js";
import { parseTime } from "../client.js";
import { Composer } from "./composer.js";
import { toastError } from "./toast.js";

export class ThreadPanel {
  constructor(client, { onClose }) {
    this.client = client;
    this.onClose = onClose;
    this.room = null;
    this.root = 0;
    this.title = h("h2.thread-title", { id: "thread-title" }, "Thread");
    this.list = h("div.thread-list", { role: "log", "aria-label": "Replies", "aria-live": "polite", tabindex: "0" });
    this.rootEl = h("div.thread-root");
    this.composer = new Composer(client, {
      id: "thread-composer",
      label: "Reply in thread",
      onEditLast: () => false,
      onEscape: () => this.close(),
      onSent: () => this.#scrollToEnd(),
      send: (room, text, _replyTo, attachments) => {
        const root = this.root;
        client.sendInThread(room, root, text, attachments).catch((err) => toastError(err, "Could not reply: "));
      },
    });
    this.el = h("aside.thread-panel", { id: "thread-panel", "aria-labelledby": "thread-title", hidden: true },
      h("header.thread-header", this.title,
        h("button.icon-btn", { type: "button", id: "thread-close", "aria-label": "Close thread", title: "Close thread (Esc)", onclick: () => this.close() }, icon("close"))),
      h("div.thread-scroll", this.rootEl, this.list),
      this.composer.form);
    this.onThread = (roomId, root) => {
      if (this.room && roomId === this.room.id && root === this.root) this.render();
    };
    this.onRoom = (roomId) => {
      if (this.room && roomId === this.room.id) this.#renderRoot();
    };
    client.on("thread", this.onThread);
    client.on("room", this.onRoom);
    this.onVisible = () => { if (this.room && document.visibilityState === "visible") client.markThreadRead(this.room, this.root); };
    document.addEventListener("visibilitychange", this.onVisible);
  }

  get open() { return !this.el.hidden; }

  /** Opens the thread of root in room; seq, if given, is a reply to show highlighted. */
  show(room, root, seq = 0) {
    if (this.room) this.room.openThread = 0;
    this.room = room;
    this.root = root;
    this.highlightSeq = seq;
    room.openThread = root;
    this.el.hidden = false;
    this.composer.setRoom(room);
    this.composer.input.placeholder = "Reply in thread";
    clear(this.list);
    this.render();
    this.client.loadThread(room, root).then(() => {
      if (this.room !== room || this.root !== root) return;
      this.client.markThreadRead(room, root);
      const row = seq && this.list.querySelector(`.msg[data-seq="${seq}"]`);
      if (row) row.scrollIntoView({ block: "center" });
    }, (err) => toastError(err, "Could not open the thread: "));
    this.composer.focus();
  }

  close() {
    if (!this.open) return;
    if (this.room) this.room.openThread = 0;
    this.room = null;
    this.root = 0;
    this.el.hidden = true;
    this.onClose?.();
  }

  #rootMsg() {
    return this.client.message(this.room, this.root) || this.client.thread(this.room, this.root).rootMsg || null;
  }

  #renderRoot() {
    const m = this.#rootMsg();
    this.rootEl.replaceChildren(m ? this.#row(m, true) : h("div.muted", "Loading…"));
  }

  render() {
    if (!this.room) return;
    const c = this.client;
    this.#renderRoot();
    const replies = c.threadReplies(this.room, this.root);
    const end = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.replaceChildren(
      h("div.thread-count.muted", replies.length === 1 ? "1 reply" : `${replies.length} replies`),
      ...replies.map((m) => this.#row(m, false)));
    if (end) this.#scrollToEnd();
    if (document.visibilityState === "visible" && c.thread(this.room, this.root).unread) c.markThreadRead(this.room, this.root);
  }

  #scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  #row(m, isRoot) {
    const c = this.client;
    const name = c.nameOf(m.sender_id) || m.sender_name || "";
    const user = c.user(m.sender_id) || { id: m.sender_id, username: name };
    const at = parseTime(m.created_at) || new Date();
    const text = m.deleted
      ? h("div.msg-text.msg-deleted", icon("trash"), "This message was deleted.")
      : h("div.msg-text", renderText(h("bdi"), m.text, (n) => ({ known: m.mentions.some((id) => (c.nameOf(id) || "").toLowerCase() === n.toLowerCase()), me: n.toLowerCase() === (c.me.username || "").toLowerCase(), name: n })));
    return h("div.msg.thread-msg" + (isRoot ? ".thread-root-msg" : "") + (!isRoot && m.seq === this.highlightSeq ? ".highlight" : ""), { dataset: { seq: m.seq } },
      h("div.msg-gutter", avatar(user)),
      h("div.msg-body",
        h("div.msg-meta",
          h("span.msg-author", h("bdi", name || "…")),
          h("time.msg-time", { datetime: at.toISOString(), title: formatFull(at) }, formatTime(at))),
        text));
  }
}
