// The thread panel: a thread's root and its replies, live, with a
// composer of its own (the Composer of composer.js, sending replies in
// the thread). It is loaded with import() the first time a thread is
// opened. It sits beside the timeline, and takes the screen on narrow
// ones; Esc or its close button closes it. While it is open and the page
// is visible, the thread is kept read.
//
// Its rows are full messages, as in the timeline (whose parts it reuses):
// attachments (images open in the viewer, through the thread's images),
// reactions, "(edited)", deleted replies, and an action bar on hover or
// focus: react (the quick picker), edit (one's own, inline) and delete
// (one's own, or any as the room's owner or an admin; confirmed). The
// messages are one tab stop (a roving tabindex); on a focused one ↑/↓ and
// Home/End move, E edits, + reacts, Delete deletes, Esc goes back to the
// composer. The
// oldest 100 replies load with the thread (new ones arrive live); when
// there are more, "Load more replies" after the last one loaded fetches
// the next 100.

import { h, clear, icon, avatar } from "../util/dom.js";
import { renderText } from "../util/markdown.js";
import { formatTime, formatFull } from "../util/format.js";
import { parseTime } from "../client.js";
import { Composer } from "./composer.js";
import { toastError } from "./toast.js";
import { renderAttachments, openViewer } from "./attachments.js";
import { isImage } from "../api.js";
import { actionButton, renderReactions, deleteMessage, messageEditor, openReactionPicker, closeReactionPicker } from "./timeline.js";

export class ThreadPanel {
  constructor(client, { onClose }) {
    this.client = client;
    this.onClose = onClose;
    this.room = null;
    this.root = 0;
    this.title = h("h2.thread-title", { id: "thread-title" }, "Thread");
    this.list = h("div.thread-list", { role: "log", "aria-label": "Replies", "aria-live": "polite", tabindex: "0" });
    this.rootEl = h("div.thread-root");
    this.editing = 0; // the seq of the message being edited
    this.editorEl = null; // its editor, kept across renders
    this.picker = null;
    this.more = h("button.link.thread-more", { type: "button", hidden: true, onclick: () => this.#loadMore() }, "Load more replies");
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
    this.el.addEventListener("click", (e) => this.#onClick(e));
    this.el.addEventListener("keydown", (e) => this.#onKey(e));
    this.el.addEventListener("focusin", (e) => {
      const row = e.target.closest?.(".msg[data-seq]");
      if (row) this.#setRoving(row);
    });
    this.roving = 0; // the seq of the row that is the messages' tab stop
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
    this.#stopEdit();
    room.openThread = root;
    this.el.hidden = false;
    this.composer.setRoom(room);
    this.composer.input.placeholder = "Reply in thread";
    clear(this.list);
    this.render();
    this.more.hidden = true;
    this.client.loadThread(room, root).then(() => {
      if (this.room !== room || this.root !== root) return;
      this.render();
      this.client.markThreadRead(room, root);
      const row = seq && this.list.querySelector(`.msg[data-seq="${seq}"]`);
      if (row) row.scrollIntoView({ block: "center" });
    }, (err) => toastError(err, "Could not open the thread: "));
    this.composer.focus();
  }

  close() {
    if (!this.open) return;
    if (this.room) this.room.openThread = 0;
    this.#stopEdit();
    closeReactionPicker(this);
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
    const active = document.activeElement;
    this.rootEl.replaceChildren(m ? this.#row(m, true) : h("div.muted", "Loading…"));
    // An open editor is kept across renders: it keeps the focus too.
    if (this.editorEl?.contains(active) && active !== document.activeElement) active.focus({ preventScroll: true });
  }

  render() {
    if (!this.room) return;
    const c = this.client;
    this.#renderRoot();
    const replies = c.threadReplies(this.room, this.root);
    const end = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    // A focused row that is built again keeps the focus.
    const active = document.activeElement;
    const focused = active?.matches?.(".msg[data-seq]") && this.el.contains(active) ? active.dataset.seq : null;
    const live = replies.filter((m) => !m.deleted).length;
    const t = c.thread(this.room, this.root);
    // Replies past the first page can be here already (live, or the
    // room's catch-up): more are missing only while the root counts more.
    const total = this.#rootMsg()?.thread?.reply_count;
    const missing = !!t.hasMore && !(total >= 0 && live >= total);
    this.more.hidden = !missing;
    const n = missing ? total ?? live : live;
    this.list.replaceChildren(
      h("div.thread-count.muted", n === 1 ? "1 reply" : `${n} replies`),
      ...replies.flatMap((m) => (missing && m.seq === t.pageEnd ? [this.#row(m, false), this.more] : [this.#row(m, false)])));
    this.#setRoving(this.el.querySelector(`.msg[data-seq="${this.roving}"]`) || [...this.el.querySelectorAll(".msg[data-seq]")].pop());
    if (focused) this.el.querySelector(`.msg[data-seq="${focused}"]`)?.focus({ preventScroll: true });
    else if (this.editorEl?.contains(active) && active !== document.activeElement) active.focus({ preventScroll: true });
    if (end) this.#scrollToEnd();
    if (document.visibilityState === "visible" && c.thread(this.room, this.root).unread) c.markThreadRead(this.room, this.root);
  }

  #scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  #loadMore() {
    const room = this.room;
    const root = this.root;
    this.more.disabled = true;
    this.client.loadMoreReplies(room, root).catch((err) => toastError(err, "Could not load more replies: ")).finally(() => {
      this.more.disabled = false;
      if (this.room === room && this.root === root) this.render();
    });
  }

  #msg(seq) {
    if (!this.room) return null;
    if (seq === this.root) return this.#rootMsg();
    return this.client.thread(this.room, this.root).replies.get(seq) || null;
  }

  #onClick(e) {
    const btn = e.target.closest("[data-action]");
    if (!btn || !this.room) return;
    const row = btn.closest(".msg[data-seq]");
    const msg = row && this.#msg(Number(row.dataset.seq));
    if (!msg) return;
    const room = this.room;
    const react = (emoji) => this.client.toggleReaction(room, msg, emoji).catch((err) => toastError(err, "Could not react: "));
    switch (btn.dataset.action) {
      case "react": react(btn.dataset.emoji); break;
      case "picker": openReactionPicker(this, btn, react); break;
      case "edit": this.#startEdit(msg.seq); break;
      case "delete": deleteMessage(this.client, room, msg, e.shiftKey); break;
    }
  }

  #setRoving(row) {
    if (!row) return;
    for (const r of this.el.querySelectorAll('.msg[tabindex="0"]')) if (r !== row) r.tabIndex = -1;
    row.tabIndex = 0;
    this.roving = Number(row.dataset.seq);
  }

  /** Keys on a focused message, as in the timeline: ↑/↓ Home/End move, E edits, + reacts, Delete deletes, Esc back to the composer. */
  #onKey(e) {
    const row = e.target;
    if (!row.matches?.(".msg[data-seq]") || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const msg = this.#msg(Number(row.dataset.seq));
    const button = (action) => row.querySelector(`.msg-actions [data-action="${action}"]`);
    const moves = { ArrowUp: -1, ArrowDown: 1, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      const all = [...this.el.querySelectorAll(".msg[data-seq]")];
      const i = all.indexOf(row);
      all[Math.max(0, Math.min(all.length - 1, i + moves[e.key]))]?.focus();
    } else if ((e.key === "e" || e.key === "E") && button("edit")) this.#startEdit(msg.seq);
    else if (e.key === "+" && button("picker")) openReactionPicker(this, row, (emoji) => this.client.toggleReaction(this.room, msg, emoji).catch((err) => toastError(err, "Could not react: ")));
    else if ((e.key === "Delete" || e.key === "Backspace") && button("delete")) deleteMessage(this.client, this.room, msg);
    else if (e.key === "Escape") {
      e.stopPropagation();
      this.composer.focus();
    } else return;
    e.preventDefault();
  }

  #startEdit(seq) {
    this.#stopEdit();
    const msg = this.#msg(seq);
    if (!msg) return;
    const room = this.room;
    this.editing = seq;
    this.editorEl = messageEditor(msg, {
      save: (text, keep) => this.client.edit(room, seq, text, keep),
      cancel: () => {
        if (this.editing !== seq) return;
        this.#stopEdit();
        this.render();
        this.composer.focus();
      },
      remove: () => deleteMessage(this.client, room, msg),
    });
    this.render();
  }

  #stopEdit() {
    this.editing = 0;
    this.editorEl = null;
  }

  /** The images of the thread, root first, for the viewer. */
  #openImage(a, opener) {
    const msgs = [this.#rootMsg(), ...this.client.threadReplies(this.room, this.root)].filter((m) => m && !m.deleted);
    const images = msgs.flatMap((m) => m.attachments.filter(isImage));
    const i = images.findIndex((x) => x.id === a.id);
    if (i < 0) images.push(a);
    openViewer(images, i < 0 ? images.length - 1 : i, opener);
  }

  #row(m, isRoot) {
    const c = this.client;
    const room = this.room;
    const me = c.me.id;
    const mine = m.sender_id === me;
    const name = c.nameOf(m.sender_id) || m.sender_name || "";
    const user = c.user(m.sender_id) || { id: m.sender_id, username: name };
    const at = parseTime(m.created_at) || new Date();
    const editing = this.editing === m.seq && !m.deleted && this.editorEl;
    if (this.editing === m.seq && m.deleted) this.#stopEdit();
    let text = null;
    if (editing) {
      text = this.editorEl;
    } else if (m.deleted) {
      text = h("div.msg-text.msg-deleted", icon("trash"), "This message was deleted.");
    } else if (m.text || m.edited_at || !m.attachments.length) {
      text = h("div.msg-text", renderText(h("bdi"), m.text, (n) => ({ known: m.mentions.some((id) => (c.nameOf(id) || "").toLowerCase() === n.toLowerCase()), me: n.toLowerCase() === (c.me.username || "").toLowerCase(), name: n })));
      if (m.edited_at) {
        const ed = parseTime(m.edited_at);
        text.appendChild(h("span.msg-edited", { title: "Edited " + (ed ? formatFull(ed) : "") }, " (edited)"));
      }
    }
    const canDelete = mine || (room.kind === "group" && (room.role === "owner" || room.role === "admin"));
    const cls = "div.msg.thread-msg" + (mine ? ".mine" : "") + (m.deleted ? ".deleted" : "") + (isRoot ? ".thread-root-msg" : "") + (!isRoot && m.seq === this.highlightSeq ? ".highlight" : "");
    return h(cls, { dataset: { seq: m.seq }, tabindex: "-1", role: "article",
      "aria-label": `${name || "someone"}, ${formatFull(at)}`, "aria-keyshortcuts": "E + Delete Escape" },
      h("div.msg-gutter", avatar(user)),
      h("div.msg-body",
        h("div.msg-meta",
          h("span.msg-author", h("bdi", name || "…")),
          h("time.msg-time", { datetime: at.toISOString(), title: formatFull(at) }, formatTime(at))),
        text,
        m.attachments.length && !m.deleted && !editing ? renderAttachments(m.attachments, { onOpen: (a, opener) => this.#openImage(a, opener) }) : null,
        m.reactions.length && !m.deleted ? renderReactions(c, m) : null),
      m.deleted || editing ? null : h("div.msg-actions", { role: "toolbar", "aria-label": "Message actions" },
        actionButton("smile", "Add reaction", "picker"),
        mine ? actionButton("edit", "Edit", "edit") : null,
        canDelete ? actionButton("trash", "Delete", "delete", "danger") : null));
  }
}
