// The timeline: a room's messages and system lines, newest at the bottom.
//
// Rendering is keyed: every row (day separator, "new" marker, message,
// system line, pending message) has a key and a signature; a row is built
// again only when its signature changes, so hover state, selections and an
// open editor survive updates. The scroll position sticks to the bottom
// while the user is there, and otherwise stays anchored on the first
// visible row (also when older history is prepended).
//
// After a jump to an old message (jumpTo: a search result) the timeline
// shows the client's jump window: scrolling up loads older messages,
// scrolling down newer ones until the window meets the live one; "Jump to
// present" goes back at once.
//
// Keyboard: the messages are one tab stop (a roving tabindex: the last
// one focused, else the newest); on a focused message ↑/↓, Home/End and
// PageUp/PageDown move, Enter or R replies, E edits one's own, + opens the
// reaction picker, Delete or Backspace deletes (after a confirmation), and
// Escape goes back to the composer.

import { h, clear, icon, avatar, atBottom, hue } from "../util/dom.js";
import { render, plain } from "../util/markdown.js";
import { formatTime, formatFull, formatDay, dayKey, truncate, formatLastSeen, shownName } from "../util/format.js";
import { parseTime } from "../client.js";
import { toast, toastError } from "./toast.js";
import { confirmDialog } from "./dialogs.js";
import { renderCallEvent, renderCallSummary, summarizeCalls } from "../call/events.js";
import { renderAttachments, openViewer } from "./attachments.js";
import { isImage } from "../api.js";
import { emojify, emojiImg, onlyEmoji } from "../util/emoji.js";

const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🔥", "👀", "🙏", "✅"];
const GROUP_WITHIN = 7 * 60 * 1000; // ms: consecutive messages of one sender form a group

export class Timeline {
  constructor(client, { onReply, onThread, focusComposer, openRoom }) {
    this.client = client;
    this.openRoom = openRoom;
    this.onReply = onReply;
    this.onThread = onThread; // (msg): opens the message's thread
    this.focusComposer = focusComposer;
    this.room = null;
    this.rows = new Map(); // key -> {el, sig}
    this.editing = null; // seq of the message being edited
    this.stuck = true;

    this.list = h("div.tl-list");
    this.scroller = h("div.timeline", { id: "timeline", role: "log", "aria-label": "Messages", "aria-live": "polite", tabindex: "0" }, this.list);
    this.jump = h("button.jump-present", { type: "button", hidden: true, onclick: () => this.present() }, "Jump to present", icon("down"));
    this.highlightSeq = 0; // the message a jump went to, highlighted
    this.el = h("div.timeline-wrap", this.scroller, this.jump);
    this.picker = null;

    this.scroller.addEventListener("scroll", () => this.#onScroll(), { passive: true });
    this.list.addEventListener("click", (e) => this.#onClick(e));
    this.list.addEventListener("keydown", (e) => this.#onKey(e));
    this.list.addEventListener("focusin", (e) => {
      const row = e.target.closest?.(".msg[data-seq]");
      if (row) this.#setRoving(row);
    });
    this.roving = null; // the message row that is the timeline's tab stop
    // While stuck to the bottom, stay there when the timeline or its
    // content changes size (a window resize, an editor growing, fonts).
    this.lastTop = 0;
    this.resizeObserver = new ResizeObserver(() => {
      if (this.stuck) this.#pin();
    });
    this.resizeObserver.observe(this.scroller);
    this.resizeObserver.observe(this.list);
  }

  setRoom(room) {
    this.closePicker();
    this.room = room;
    this.editing = null;
    this.highlightSeq = 0;
    if (room?.jump) this.client.leaveJump(room);
    this.rows = new Map();
    this.roving = null;
    clear(this.list);
    this.stuck = true;
    this.jump.hidden = true;
    if (!room) return;
    this.client.loadThreads(room);
    this.update();
    this.scrollToBottom();
    // Many unread messages: open at the first of them, like Element; the
    // room counts as read once the user reaches the bottom.
    const marker = this.list.querySelector(".new-marker");
    if (marker && marker.offsetTop < this.scroller.scrollTop) {
      this.stuck = false;
      this.scroller.scrollTop = Math.max(0, marker.offsetTop - 48);
      this.lastTop = this.scroller.scrollTop;
      this.jump.hidden = false;
    }
  }

  /** True while the bottom of the timeline is on screen. */
  get atBottom() {
    return this.stuck;
  }

  /** Back to the newest messages, leaving a jump window. */
  present() {
    const room = this.room;
    const jumped = !!room?.jump;
    if (jumped) {
      this.client.leaveJump(room);
      this.update();
    }
    // From a jump window the present is a new page: no long smooth scroll.
    this.scrollToBottom(!jumped);
  }

  scrollToBottom(smooth = false) {
    if (this.room?.jump) this.client.leaveJump(this.room);
    this.stuck = true;
    this.jump.hidden = true;
    if (smooth) this.scroller.scrollTo({ top: this.scroller.scrollHeight, behavior: "smooth" });
    else this.#pin();
    this.#maybeRead();
  }

  #pin() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.lastTop = this.scroller.scrollTop;
  }

  #onScroll() {
    const wasStuck = this.stuck;
    const top = this.scroller.scrollTop;
    // The picker closes when the user scrolls, not when the timeline
    // keeps itself at the bottom (#pin sets lastTop to where it went).
    const moved = Math.abs(top - this.lastTop) > 1;
    const jumped = !!this.room?.jump;
    // Only scrolling up unsticks: content that grows below the fold moves
    // the bottom away without the user doing anything. The bottom of a
    // jump window is not the present: it never sticks there.
    if (jumped) this.stuck = false;
    else if (atBottom(this.scroller)) this.stuck = true;
    else if (top < this.lastTop - 1) this.stuck = false;
    this.lastTop = top;
    this.jump.hidden = this.stuck;
    if (this.scroller.scrollTop < 400) this.#loadOlder();
    if (jumped && this.scroller.scrollHeight - top - this.scroller.clientHeight < 400) this.#loadNewer();
    if (this.stuck && !wasStuck) this.#maybeRead();
    if (moved && !this.picker?.close) this.closePicker(); // the full emoji picker stays while messages arrive
  }

  #maybeRead() {
    const room = this.room;
    if (room && this.client.isReading(room) && (room.unread || room.highSeq > room.readSeq)) this.client.scheduleRead(room);
  }

  #loadNewer() {
    const room = this.room;
    if (!room?.jump?.hasNewer || room.jump.loading) return;
    this.client.loadNewer(room).catch((err) => {
      if (this.room === room) toastError(err, "Could not load newer messages: ");
    });
  }

  #loadOlder() {
    const room = this.room;
    if (room?.jump) {
      if (!room.jump.hasOlder || room.jump.loadingOlder) return;
      this.client.loadOlder(room).catch((err) => {
        if (this.room === room) toastError(err, "Could not load older messages: ");
      });
      return;
    }
    if (!room || !room.hasMore || room.loadingHistory) return;
    this.client.loadOlder(room).catch((err) => {
      if (this.room === room) toastError(err, "Could not load older messages: ");
    });
  }

  /** Re-renders what changed, keeping the scroll position. */
  update() {
    const room = this.room;
    if (!room) return;
    const sc = this.scroller;
    let anchor = null;
    let anchorOffset = 0;
    if (room.jump) {
      this.stuck = false;
      this.jump.hidden = false;
    }
    if (!this.stuck) {
      // Anchor on the first row on screen, not on the "loading" row that
      // older history replaces.
      for (const el of this.list.children) {
        if (el.classList.contains("tl-loading") || el.classList.contains("tl-start")) continue;
        if (el.offsetTop + el.offsetHeight > sc.scrollTop) {
          anchor = el;
          anchorOffset = el.offsetTop - sc.scrollTop;
          break;
        }
      }
    }
    // A focused message that is built again keeps the focus.
    const active = document.activeElement;
    const focused = active?.matches?.(".msg[data-seq]") && this.list.contains(active) ? active.dataset.seq : null;
    this.#reconcile(this.#buildRows());
    this.#syncRoving();
    const row = focused && this.rows.get("m" + focused)?.el;
    if (row && row !== document.activeElement && (!document.activeElement || document.activeElement === document.body)) row.focus({ preventScroll: true });
    if (this.stuck) this.#pin();
    else if (anchor && anchor.isConnected) {
      sc.scrollTop = anchor.offsetTop - anchorOffset;
      this.lastTop = sc.scrollTop;
    }
    // Not enough to scroll yet, or still near the top: fetch more history.
    if (sc.scrollHeight <= sc.clientHeight + 400 || (!this.stuck && sc.scrollTop < 400)) this.#loadOlder();
    if (room.jump && sc.scrollHeight - sc.scrollTop - sc.clientHeight < 400) this.#loadNewer();
    if (!room.jump) this.#maybeRead();
  }

  #reconcile(rows) {
    const next = new Map();
    const els = [];
    for (const row of rows) {
      let entry = this.rows.get(row.key);
      if (!entry || entry.sig !== row.sig) {
        const el = row.make();
        el.dataset.key = row.key;
        entry = { el, sig: row.sig };
      }
      next.set(row.key, entry);
      els.push(entry.el);
    }
    // Drop the elements that are not reused, then put the rest in order.
    for (const [key, entry] of this.rows) if (next.get(key)?.el !== entry.el) entry.el.remove();
    let cursor = this.list.firstChild;
    for (const el of els) {
      if (el === cursor) {
        cursor = cursor.nextSibling;
        continue;
      }
      this.list.insertBefore(el, cursor);
    }
    while (cursor) {
      const n = cursor.nextSibling;
      cursor.remove();
      cursor = n;
    }
    this.rows = next;
  }

  #buildRows() {
    const c = this.client;
    const room = this.room;
    const me = c.me.id;
    const rows = [];
    const jump = room.jump;
    if (jump ? jump.hasOlder : room.hasMore || room.loadingHistory) {
      rows.push({ key: "loading", sig: "l", make: () => h("div.tl-loading", { "aria-label": "Loading older messages" }, h("span.spinner"), "Loading older messages…") });
    } else {
      const name = c.displayName(room);
      rows.push({ key: "start", sig: room.kind + name, make: () => this.#startRow(room, name) });
    }
    let day = null;
    let prev = null;
    let markerDone = room.markerSeq === null || !!jump;
    // #room links change with the rooms the user is in and their names.
    let roomsSig = null;
    const roomNames = () => (roomsSig ??= [...c.rooms.values()].filter((r) => r.kind === "group").map((r) => r.id + ":" + r.name).join(","));
    const pushDay = (at) => {
      const k = dayKey(at);
      if (k !== day) {
        day = k;
        prev = null;
        const label = formatDay(at);
        rows.push({ key: "day-" + k, sig: label, make: () => h("div.day-sep", { role: "separator" }, h("span", label)) });
      }
    };
    const items = c.items(room);
    // One line per call, where it starts, not one per join and leave.
    const calls = summarizeCalls(items);
    for (const it of items) {
      const call = it.kind === "sys" ? calls.get(it.data?.call_id) : null;
      if (call) {
        if (call.first !== it) continue;
        const at = parseTime(it.at) || new Date();
        pushDay(at);
        const who = (id) => h("strong", c.nameOf(id) || "someone");
        const line = renderCallSummary(call, who, (id) => c.nameOf(id) || "");
        rows.push({ key: "call-" + it.data.call_id, sig: line.key, make: () => this.#sysLine(it.seq, "call", line.icon, line.parts, at) });
        prev = null;
        continue;
      }
      if (it.kind === "sys") {
        const at = parseTime(it.at) || new Date();
        pushDay(at);
        const names = ["user_id", "by", "owner_id"].map((k) => (it.data[k] ? c.nameOf(it.data[k]) || "" : "")).join("|");
        rows.push({ key: "s" + it.seq, sig: names + "|" + (it.data.name || ""), make: () => this.#sysRow(it, at) });
        prev = null;
        continue;
      }
      const msg = it.msg;
      const at = parseTime(msg.created_at) || new Date();
      pushDay(at);
      if (!markerDone && msg.seq > room.markerSeq && msg.sender_id !== me) {
        markerDone = true;
        rows.push({ key: "marker", sig: "m", make: () => h("div.new-marker", { id: "new-marker", role: "separator", "aria-label": "New messages" }, h("span", "New")) });
        prev = null;
      }
      const continued = !!(prev && prev.msg.sender_id === msg.sender_id && at - prev.at < GROUP_WITHIN && !msg.reply_to && !prev.msg.deleted);
      const name = c.nameOf(msg.sender_id) || msg.sender_name || "";
      const senderAvatar = c.users.get(msg.sender_id)?.avatar_url || "";
      const mentionNames = msg.mentions.map((id) => c.nameOf(id) || "").join(",");
      let replySig = "";
      if (msg.reply_to) {
        const t = c.message(room, msg.reply_to);
        replySig = t ? `${t.seq}:${t.text}:${t.deleted ? 1 : 0}:${c.nameOf(t.sender_id) || t.sender_name || ""}` : "?";
        if (!t) c.fetchMessage(room, msg.reply_to);
      }
      const editing = this.editing === msg.seq;
      const canDelete = msg.sender_id === me || (room.kind === "group" && (room.role === "owner" || room.role === "admin"));
      const highlight = msg.seq === this.highlightSeq;
      const th = msg.thread?.reply_count ? room.threads.get(msg.seq) : null;
      const threadSig = msg.thread ? `${msg.thread.reply_count}:${msg.thread.last_reply_seq}:${th?.unread || 0}:${formatLastSeen(parseTime(msg.thread.last_reply_at))}` : "";
      const pinned = !!room.pins?.has(msg.seq);
      const canPin = c.canPin(room);
      const sig = [pinned ? 1 : 0, canPin ? 1 : 0, threadSig, it.v, msg.text, msg.deleted ? 1 : 0, msg.edited_at || "", continued ? 1 : 0, name, senderAvatar, mentionNames, replySig, editing ? 1 : 0, canDelete ? 1 : 0, reactionSig(msg),
        msg.attachments.map((a) => a.id).join(","), highlight ? 1 : 0, msg.text.includes("#") ? roomNames() : ""].join("\u0000");
      rows.push({ key: "m" + msg.seq, sig, make: () => this.#messageRow(msg, at, { continued, name, editing, canDelete, highlight, pinned, canPin }) });
      prev = { msg, at };
    }
    if (jump) {
      if (jump.hasNewer) rows.push({ key: "loading-newer", sig: "n", make: () => h("div.tl-loading", { "aria-label": "Loading newer messages" }, h("span.spinner"), "Loading newer messages…") });
      return rows;
    }
    for (const p of room.pending) {
      const at = parseTime(p.created_at) || new Date();
      pushDay(at);
      const continued = !!(prev && prev.msg.sender_id === me && at - prev.at < GROUP_WITHIN && !p.reply_to);
      const sig = [p.state, p.error || "", p.unavailable ? 1 : 0, continued ? 1 : 0, c.conn === "online" ? 1 : 0].join("|");
      rows.push({ key: "p" + p.client_msg_id, sig, make: () => this.#pendingRow(p, at, continued) });
      prev = { msg: { sender_id: me }, at };
    }
    return rows;
  }

  #startRow(room, name) {
    if (room.kind === "dm") {
      const peer = this.client.user(room.dmPeerId);
      return h("div.tl-start",
        avatar(peer || { id: room.dmPeerId, username: name }, "xl"),
        h("h2", h("bdi", name)),
        h("p", "This is the beginning of your direct messages with ", h("strong", h("bdi", name)), "."));
    }
    return h("div.tl-start",
      h("div.tl-start-icon", icon("hash")),
      h("h2", "Welcome to #", h("bdi", name)),
      h("p", "This is the start of the ", h("strong", "#", h("bdi", name)), " room."));
  }

  #sysRow(it, at) {
    const c = this.client;
    const d = it.data;
    const who = (id) => h("strong", c.nameOf(id) || "someone");
    let ico = "chat";
    let parts;
    switch (it.event) {
      case "room.created":
        ico = d.kind === "dm" ? "at" : "hash";
        parts = d.kind === "dm" ? ["Direct messages started"] : [who(d.owner_id), " created the room ", h("strong", d.name || "")];
        break;
      case "member.joined": ico = "door"; parts = [who(d.user_id), " joined the room"]; break;
      case "member.left": ico = "door"; parts = [who(d.user_id), " left the room"]; break;
      case "member.kicked": ico = "door"; parts = [who(d.by), " removed ", who(d.user_id), " from the room"]; break;
      case "member.banned": ico = "shield"; parts = [who(d.by), " banned ", who(d.user_id)]; break;
      case "member.unbanned": ico = "shield"; parts = [who(d.by), " lifted the ban on ", who(d.user_id)]; break;
      case "member.role_changed": ico = "shield"; parts = [who(d.by), d.role === "admin" ? " made " : " made ", who(d.user_id), d.role === "admin" ? " an admin" : " a member"]; break;
      case "room.renamed": ico = "edit"; parts = [who(d.by), " renamed the room to ", h("strong", d.name || "")]; break;
      case "invite.rotated": ico = "key"; parts = [who(d.by), " changed the invite code"]; break;
      case "message.pinned": ico = "pin"; parts = [who(d.by), " pinned ", h("button.sys-link", { type: "button", dataset: { action: "jump", target: d.seq } }, "a message")]; break;
      case "message.unpinned": ico = "pin"; parts = [who(d.by), " unpinned a message"]; break;
      case "room.settings_changed": ico = "shield"; parts = [who(d.by), d.members_can_pin ? " let members pin messages" : " let only the owner and admins pin messages"]; break;
      default: {
        const call = renderCallEvent(it, who);
        if (call) ({ icon: ico, parts } = call);
        else parts = [it.event];
      }
    }
    return this.#sysLine(it.seq, it.event, ico, parts, at);
  }

  #sysLine(seq, event, ico, parts, at) {
    return h("div.sys", { dataset: { seq, event } },
      h("span.sys-icon", icon(ico)),
      h("span.sys-text", parts),
      h("time.sys-time", { datetime: at.toISOString(), title: formatFull(at) }, formatTime(at)));
  }

  #messageRow(msg, at, { continued, name, editing, canDelete, highlight, pinned, canPin }) {
    const c = this.client;
    const me = c.me.id;
    const mine = msg.sender_id === me;
    const user = c.user(msg.sender_id) || { id: msg.sender_id, username: name };
    const cls = ["msg"];
    if (continued) cls.push("continued");
    if (mine) cls.push("mine");
    if (msg.deleted) cls.push("deleted");
    if (!mine && msg.mentions.includes(me)) cls.push("mentions-me");
    if (highlight) cls.push("highlight");
    if (pinned) cls.push("pinned");
    const el = h("div", { class: cls.join(" "), dataset: { seq: msg.seq, sender: msg.sender_id }, tabindex: "-1", role: "article",
      "aria-label": `${name || "someone"}, ${formatFull(at)}`, "aria-keyshortcuts": "Enter R E + Delete Escape" });

    const gutter = continued
      ? h("div.msg-gutter", h("time.msg-hovertime", { datetime: at.toISOString(), title: formatFull(at) }, formatTime(at)))
      : h("div.msg-gutter", avatar(user));
    const body = h("div.msg-body");
    if (msg.reply_to) body.appendChild(this.#replyRef(msg.reply_to));
    if (!continued) {
      body.appendChild(h("div.msg-meta",
        h("span.msg-author", { style: { "--author-hue": String(hueOf(user)) } }, name || "…"),
        h("time.msg-time", { datetime: at.toISOString(), title: formatFull(at) }, formatTime(at)),
        pinned ? h("span.msg-pin", { title: "Pinned" }, icon("pin", "Pinned")) : null));
    } else if (pinned) {
      body.appendChild(h("span.msg-pin.msg-pin-continued", { title: "Pinned" }, icon("pin", "Pinned")));
    }
    if (editing) {
      body.appendChild(this.#editor(msg));
    } else if (msg.deleted) {
      body.appendChild(h("div.msg-text.msg-deleted", icon("trash"), "This message was deleted."));
    } else {
      // The user's text is a <bdi>: its direction controls end with it.
      const text = h("div.msg-text" + (onlyEmoji(msg.text) ? ".jumbo" : ""), render(h("bdi"), msg.text, { mention: (n) => this.#resolveMention(msg, n), room: (n) => this.#resolveRoom(n), openRoom: this.openRoom }));
      if (msg.edited_at) {
        const ed = parseTime(msg.edited_at);
        text.appendChild(h("span.msg-edited", { title: "Edited " + formatFull(ed) }, " (edited)"));
      }
      // A message of files only has no text line (unless it was edited).
      if (msg.text || msg.edited_at || !msg.attachments.length) body.appendChild(text);
    }
    if (msg.attachments.length && !msg.deleted && !editing) {
      body.appendChild(renderAttachments(msg.attachments, { onOpen: (a, opener) => this.openImage(a, opener) }));
    }
    if (msg.reactions.length && !msg.deleted) body.appendChild(renderReactions(c, msg));
    if (msg.thread?.reply_count && !editing) body.appendChild(threadSummary(msg, c.thread(this.room, msg.seq)));
    el.appendChild(gutter);
    el.appendChild(body);
    if (!msg.deleted && !editing) {
      el.appendChild(h("div.msg-actions", { role: "toolbar", "aria-label": "Message actions" },
        actionButton("smile", "Add reaction", "picker"),
        actionButton("reply", "Reply", "reply"),
        this.onThread ? actionButton("chat", "Reply in thread", "thread") : null,
        mine ? actionButton("edit", "Edit", "edit") : null,
        canPin ? actionButton("pin", pinned ? "Unpin" : "Pin", pinned ? "unpin" : "pin") : null,
        canDelete ? actionButton("trash", "Delete", "delete", "danger") : null));
    }
    return el;
  }

  #replyRef(seq) {
    const c = this.client;
    const t = c.message(this.room, seq);
    const el = h("button.reply-ref", { type: "button", dataset: { action: "jump", target: seq }, title: "Jump to the original message" }, icon("reply"));
    if (!t) {
      el.appendChild(h("span.reply-snippet.muted", "Original message"));
    } else if (t.deleted) {
      el.appendChild(h("span.reply-snippet.muted", "Original message was deleted"));
    } else {
      el.appendChild(h("span.reply-author", "@" + (c.nameOf(t.sender_id) || t.sender_name || "someone")));
      el.appendChild(h("span.reply-snippet", emojify(truncate(plain(t.text).replace(/\s+/g, " "), 120))));
    }
    return el;
  }

  #resolveMention(msg, name) {
    const lower = name.toLowerCase();
    for (const id of msg.mentions) {
      const u = this.client.users.get(id);
      if (u && u.username.toLowerCase() === lower) return { known: true, me: id === this.client.me.id, name: u.username };
    }
    return { known: false };
  }

  /** A #room link: a group room the user is in, by name (spaces as "-"), any case. */
  #resolveRoom(name) {
    const want = name.toLowerCase();
    for (const r of this.client.rooms.values()) {
      if (r.kind !== "group" || !r.name) continue;
      const n = r.name.toLowerCase();
      if (n === want || n.replace(/\s+/g, "-") === want) return r;
    }
    return null;
  }

  #pendingRow(p, at, continued) {
    const c = this.client;
    const me = c.users.get(c.me.id) || c.me;
    const cls = ["msg", "mine", "pending"];
    if (continued) cls.push("continued");
    if (p.state === "failed") cls.push("failed");
    const text = h("div.msg-text", render(h("bdi"), p.text, { room: (n) => this.#resolveRoom(n), openRoom: this.openRoom }));
    const status = p.state === "failed"
      ? h("div.msg-status.error", { role: "alert" }, "Not sent: ", p.error || "error", " ",
        h("button.link", { type: "button", onclick: () => c.retry(this.room, p) }, "Retry"), " · ",
        h("button.link", { type: "button", onclick: () => c.discard(this.room, p) }, "Discard"))
      : p.state === "sent" ? null
      : p.unavailable && c.conn === "online"
        ? h("div.msg-status.warn", { role: "status" }, h("span.spinner.small"), "Can't send right now: the server cannot store messages. It will be sent when it can.")
        : h("div.msg-status", { "aria-label": "Sending" }, h("span.spinner.small"), c.conn === "online" ? "Sending…" : "Waiting for connection…");
    return h("div", { class: cls.join(" "), dataset: { pending: p.client_msg_id, state: p.state } },
      continued ? h("div.msg-gutter") : h("div.msg-gutter", avatar(me)),
      h("div.msg-body",
        p.reply_to ? this.#replyRef(p.reply_to) : null,
        continued ? null : h("div.msg-meta", h("span.msg-author", shownName(c.users.get(me.id) || me)), h("time.msg-time", formatTime(at))),
        p.text || !p.attachments?.length ? text : null,
        p.attachments?.length ? renderAttachments(p.attachments) : null,
        status));
  }

  #editor(msg) {
    return messageEditor(msg, {
      save: (text, keep) => this.client.edit(this.room, msg.seq, text, keep),
      cancel: () => this.#cancelEdit(),
      remove: () => this.#delete(msg),
    });
  }

  startEdit(seq) {
    this.editing = seq;
    this.update();
    const row = this.rows.get("m" + seq);
    if (row) row.el.scrollIntoView({ block: "nearest" });
  }

  /** Edits our newest message (Up arrow in an empty composer). */
  editLast() {
    const room = this.room;
    if (!room) return false;
    const items = this.client.items(room);
    for (let i = items.length - 1; i >= 0; i--) {
      const it = items[i];
      if (it.kind === "msg" && it.msg.sender_id === this.client.me.id && !it.msg.deleted) {
        this.startEdit(it.msg.seq);
        return true;
      }
    }
    return false;
  }

  #cancelEdit() {
    this.editing = null;
    this.update();
    this.focusComposer();
  }

  #delete(msg, skipConfirm = false) {
    return deleteMessage(this.client, this.room, msg, skipConfirm);
  }

  #onClick(e) {
    const btn = e.target.closest("[data-action]");
    if (!btn || !this.list.contains(btn)) return;
    const row = btn.closest(".msg");
    const seq = Number(row?.dataset.seq);
    const msg = seq ? this.client.message(this.room, seq) : null;
    switch (btn.dataset.action) {
      case "reply":
        if (msg) this.onReply(msg);
        break;
      case "thread":
        if (msg) this.onThread?.(msg);
        break;
      case "edit":
        if (msg) this.startEdit(seq);
        break;
      case "delete":
        if (msg) this.#delete(msg, e.shiftKey);
        break;
      case "react":
        if (msg) this.client.toggleReaction(this.room, msg, btn.dataset.emoji).catch((err) => toastError(err, "Could not react: "));
        break;
      case "picker":
        if (msg) this.openPicker(btn, msg);
        break;
      case "pin":
      case "unpin":
        if (msg) this.client.pin(this.room, msg.seq, btn.dataset.action === "pin").catch((err) => toastError(err, "Could not change the pin: "));
        break;
      case "jump":
        this.scrollToSeq(Number(btn.dataset.target));
        break;
    }
  }

  #setRoving(row) {
    if (this.roving === row) return;
    if (this.roving?.isConnected) this.roving.tabIndex = -1;
    this.roving = row;
    row.tabIndex = 0;
  }

  /** Keeps one message the tab stop: the one it was (built again), else the newest. */
  #syncRoving() {
    let row = this.roving;
    if (row && !row.isConnected) row = this.rows.get("m" + row.dataset.seq)?.el || null;
    if (!row) {
      const all = this.list.querySelectorAll(".msg[data-seq]");
      row = all[all.length - 1] || null;
    }
    if (!row) return;
    this.roving = null;
    this.#setRoving(row);
  }

  #focusRow(row) {
    this.#setRoving(row);
    row.focus();
  }

  /** Focuses the newest message (Shift+Tab from the composer); false if there is none. */
  focusLast() {
    const all = this.list.querySelectorAll(".msg[data-seq]");
    if (!all.length) return false;
    this.#focusRow(all[all.length - 1]);
    return true;
  }

  #onKey(e) {
    const row = e.target;
    if (!row.matches?.(".msg[data-seq]") || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const msg = this.client.message(this.room, Number(row.dataset.seq));
    const live = msg && !msg.deleted;
    const can = (action) => !!row.querySelector(`.msg-actions [data-action="${action}"]`);
    const moves = { ArrowUp: -1, ArrowDown: 1, PageUp: -10, PageDown: 10, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      e.preventDefault();
      const all = [...this.list.querySelectorAll(".msg[data-seq]")];
      const i = all.indexOf(row);
      const j = Math.max(0, Math.min(all.length - 1, i + moves[e.key]));
      if (j !== i) this.#focusRow(all[j]);
      else if (j === 0) this.#loadOlder();
      return;
    }
    switch (e.key) {
      case "Enter": case "r": case "R":
        if (live) this.onReply(msg);
        break;
      case "e": case "E":
        if (live && can("edit")) this.startEdit(msg.seq);
        break;
      case "+":
        if (live) this.openPicker(row, msg);
        break;
      case "Delete": case "Backspace":
        if (live && can("delete")) this.#delete(msg);
        break;
      case "Escape":
        e.stopPropagation();
        this.focusComposer();
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  scrollToSeq(seq) {
    const row = this.rows.get("m" + seq);
    if (!row) {
      this.jumpTo(seq);
      return;
    }
    row.el.scrollIntoView({ block: "center", behavior: "smooth" });
    row.el.classList.remove("flash");
    void row.el.offsetWidth;
    row.el.classList.add("flash");
  }

  /**
   * Shows the message seq of the room, loading the messages around it
   * when it is not loaded, scrolls to it and highlights it.
   */
  async jumpTo(seq) {
    const room = this.room;
    if (!room) return;
    try {
      await this.client.jumpTo(room, seq);
    } catch (err) {
      if (this.room === room) toastError(err, "Could not show that message: ");
      return;
    }
    if (this.room !== room) return;
    this.highlightSeq = seq;
    this.stuck = false;
    this.update();
    const row = this.rows.get("m" + seq);
    if (!row) return;
    row.el.scrollIntoView({ block: "center" });
    this.lastTop = this.scroller.scrollTop;
    this.jump.hidden = false;
    row.el.classList.add("flash");
    // Render around it: older or newer pages the new position needs.
    this.update();
  }

  /** The images of the loaded messages, in order, for the viewer. */
  openImage(a, opener) {
    const images = [];
    for (const it of this.client.items(this.room)) {
      if (it.kind !== "msg" || it.msg.deleted) continue;
      for (const x of it.msg.attachments) if (isImage(x)) images.push(x);
    }
    const i = images.findIndex((x) => x.id === a.id);
    if (i < 0) images.push(a);
    openViewer(images, i < 0 ? images.length - 1 : i, opener);
  }

  openPicker(anchor, msg) {
    const room = this.room;
    openReactionPicker(this, anchor, (emoji) => this.client.toggleReaction(room, msg, emoji).catch((err) => toastError(err, "Could not react: ")));
  }

  closePicker() {
    closeReactionPicker(this);
  }
}

// ---- message parts shared with the thread panel (ui/thread.js) ----------

/** A message's reactions: buttons with data-action="react" and data-emoji. */
export function renderReactions(c, msg) {
  const me = c.me.id;
  return h("div.reactions", msg.reactions.map((r) => {
    const minePressed = r.users.includes(me);
    const who = r.users.map((id) => c.nameOf(id) || "someone").join(", ");
    return h("button.reaction" + (minePressed ? ".mine" : ""), {
      type: "button", "aria-pressed": String(minePressed), title: `${who} reacted with ${r.emoji}`,
      dataset: { action: "react", emoji: r.emoji },
    }, h("span.reaction-emoji", emojify(r.emoji)), h("span.reaction-count", String(r.users.length)));
  }));
}

/** Deletes msg for everyone, after a confirmation unless skipConfirm. */
export async function deleteMessage(c, room, msg, skipConfirm = false) {
  if (!skipConfirm) {
    const ok = await confirmDialog({ title: "Delete message", text: "Delete this message for everyone? This cannot be undone.", confirmLabel: "Delete", danger: true });
    if (!ok) return;
  }
  try {
    await c.remove(room, msg.seq);
  } catch (err) {
    toastError(err, "Could not delete: ");
  }
}

/**
 * The inline editor of msg: Enter saves (save(text, keep): keep, the IDs
 * of the attachments kept, only when some were taken off), Escape calls
 * cancel; an edit that empties the message calls remove instead.
 */
export function messageEditor(msg, { save: send, cancel, remove }) {
  const ta = h("textarea.msg-edit-input", { rows: 1, "aria-label": "Edit message", maxlength: "16000" });
  ta.value = msg.text;
  // The attachments the edit keeps; the editor's × takes one off.
  const keep = new Set(msg.attachments.map((a) => a.id));
  const files = msg.attachments.length ? h("ul.edit-attachments", { "aria-label": "Attachments" }) : null;
  const renderFiles = () => {
    if (!files) return;
    files.replaceChildren(...msg.attachments.filter((a) => keep.has(a.id)).map((a) => h("li.edit-attachment", { dataset: { att: a.id } },
      icon(isImage(a) ? "clip" : "file"), h("bdi.edit-attachment-name", a.name),
      h("button.icon-btn.small.danger", { type: "button", "aria-label": "Remove " + a.name, title: "Remove from the message", onclick: () => {
        keep.delete(a.id);
        renderFiles();
        ta.focus();
      } }, icon("close")))));
    if (!keep.size) files.appendChild(h("li.muted.edit-attachment-none", "All attachments will be removed."));
  };
  renderFiles();
  const save = async () => {
    const text = ta.value;
    const removed = keep.size !== msg.attachments.length;
    if (!text.trim() && !keep.size) {
      // An empty edit means delete, as in Discord.
      cancel();
      remove();
      return;
    }
    if (text === msg.text && !removed) {
      cancel();
      return;
    }
    ta.disabled = true;
    try {
      await send(text, removed ? [...keep] : undefined);
      cancel();
    } catch (err) {
      ta.disabled = false;
      ta.focus();
      toastError(err, "Could not edit: ");
    }
  };
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      cancel();
    } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    }
  });
  ta.addEventListener("input", () => autosize(ta));
  requestAnimationFrame(() => {
    autosize(ta);
    ta.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);
  });
  return h("div.msg-editor", ta, files,
    h("div.msg-editor-hint", "Escape to ", h("button.link", { type: "button", onclick: cancel }, "cancel"),
      " · Enter to ", h("button.link", { type: "button", onclick: save }, "save")));
}

/**
 * Opens the quick reaction picker by anchor; react(emoji) reacts. The
 * picker is holder.picker until closeReactionPicker(holder).
 */
export function openReactionPicker(holder, anchor, react) {
  closeReactionPicker(holder);
  const buttons = QUICK_EMOJI.map((emoji) => h("button.picker-emoji", {
    type: "button", title: emoji, "aria-label": "React with " + emoji,
    onclick: () => {
      closeReactionPicker(holder);
      if (anchor.isConnected) anchor.focus({ preventScroll: true });
      react(emoji);
    },
  }, emojiImg(emoji)));
  // "More…": the whole set, searchable (ui/emoji-picker.js, loaded on use).
  buttons.push(h("button.picker-emoji.picker-more", {
    type: "button", title: "More emoji", "aria-label": "More emoji…", "aria-haspopup": "dialog",
    onclick: async () => {
      closeReactionPicker(holder);
      const { openEmojiPicker } = await import("./emoji-picker.js");
      holder.picker = openEmojiPicker({ anchor, label: "Pick a reaction", onPick: react, onClose: () => (holder.picker = null) });
    },
  }, icon("plus")));
  const picker = h("div.picker", { role: "dialog", "aria-label": "Pick a reaction" }, buttons);
  picker.addEventListener("keydown", (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      closeReactionPicker(holder);
      anchor.focus();
    } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      e.preventDefault();
      const n = (i + (e.key === "ArrowRight" ? 1 : -1) + buttons.length) % buttons.length;
      buttons[n].focus();
    }
  });
  document.body.appendChild(picker);
  const r = anchor.getBoundingClientRect();
  const pw = picker.offsetWidth;
  const ph = picker.offsetHeight;
  const left = Math.max(8, Math.min(window.innerWidth - pw - 8, r.right - pw));
  const top = r.top - ph - 6 > 8 ? r.top - ph - 6 : r.bottom + 6;
  picker.style.setProperty("left", left + "px");
  picker.style.setProperty("top", top + "px");
  buttons[0].focus();
  holder.picker = picker;
  const outside = (e) => {
    if (!picker.contains(e.target) && e.target !== anchor) closeReactionPicker(holder);
  };
  holder.pickerOutside = outside;
  setTimeout(() => document.addEventListener("mousedown", outside), 0);
}

/** Closes holder's reaction picker, if open. */
export function closeReactionPicker(holder) {
  if (!holder.picker) return;
  const picker = holder.picker;
  holder.picker = null;
  if (picker.close) picker.close(); // the emoji picker
  else picker.remove();
  document.removeEventListener("mousedown", holder.pickerOutside);
}

/** "3 replies · last reply 5 minutes ago" under a thread's root, with its unread count. */
export function threadSummary(msg, t) {
  const n = msg.thread.reply_count;
  const last = parseTime(msg.thread.last_reply_at);
  const unread = t?.unread || 0;
  const label = `${n} ${n === 1 ? "reply" : "replies"}` + (unread ? `, ${unread} unread` : "");
  return h("button.thread-summary" + (unread ? ".unread" : ""), { type: "button", dataset: { action: "thread" }, "aria-label": "Open thread: " + label },
    icon("chat"),
    h("span.thread-count", `${n} ${n === 1 ? "reply" : "replies"}`),
    last ? h("span.thread-last.muted", " · last reply " + formatLastSeen(last)) : null,
    unread ? h("span.thread-unread", { title: `${unread} unread` }, String(unread)) : null);
}

export function actionButton(name, label, action, cls = "") {
  return h("button.icon-btn.msg-action" + (cls ? "." + cls : ""), { type: "button", title: label, "aria-label": label, dataset: { action } }, icon(name));
}

export function reactionSig(msg) {
  return msg.reactions.map((r) => r.emoji + ":" + r.users.join(",")).join(";");
}

function hueOf(user) {
  return hue(user.id || user.username || "");
}

export function autosize(ta, max = 320) {
  ta.style.setProperty("height", "auto");
  ta.style.setProperty("height", Math.min(max, ta.scrollHeight) + "px");
}
