// The pinned messages panel of the open room, loaded with import() the
// first time it opens: the room's pins, most recently pinned first, each
// with a jump to the message (onOpen(roomId, seq), as a search result)
// and, for those who may pin, an unpin button. It follows the room's
// pin events while it is open.

import { h, icon, iconButton, avatar } from "../util/dom.js";
import { formatFull, formatDay, formatTime } from "../util/format.js";
import { parseTime } from "../client.js";
import { humanError, toastError } from "./toast.js";

export class PinsPanel {
  constructor(client, { onOpen, onClose }) {
    this.client = client;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.room = null;
    this.status = h("div.search-status", { id: "pins-status", role: "status" });
    this.list = h("ul.search-results.pins-list", { id: "pins-list", "aria-label": "Pinned messages" });
    this.el = h("aside.search-panel.pins-panel", { id: "pins-panel", role: "dialog", "aria-labelledby": "pins-title", hidden: true },
      h("div.search-head.pins-head",
        h("h2.pins-title", { id: "pins-title" }, icon("pin"), "Pinned messages"),
        iconButton("close", "Close pinned messages", () => this.close(), "pins-close")),
      this.status,
      h("div.search-scroll", this.list));
    this.el.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      }
    });
    client.on("pins", (id) => { if (this.open && id === this.room?.id) this.render(); });
    client.on("users", () => { if (this.open) this.render(); });
  }

  get open() {
    return !this.el.hidden;
  }

  async show(room) {
    this.room = room;
    this.el.hidden = false;
    this.status.textContent = "Loading…";
    this.list.replaceChildren();
    this.el.querySelector(".pins-close").focus();
    try {
      await this.client.loadPins(room);
    } catch (err) {
      if (this.room === room) this.status.textContent = humanError(err);
      return;
    }
    if (this.room === room) this.render();
  }

  close() {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.onClose();
  }

  render() {
    const c = this.client;
    const room = this.room;
    const pins = [...(room.pins?.values() || [])].sort((a, b) => (a.pinned_at < b.pinned_at ? 1 : a.pinned_at > b.pinned_at ? -1 : b.seq - a.seq));
    this.status.textContent = pins.length ? `${pins.length} pinned message${pins.length === 1 ? "" : "s"}` : "No pinned messages yet.";
    const canPin = c.canPin(room);
    this.list.replaceChildren(...pins.map((p) => {
      // A pin that came live has no message yet: the timeline may hold it.
      const msg = p.message || c.message(room, p.seq) || null;
      if (!msg && !p.fetching) {
        p.fetching = true;
        c.loadPins(room).catch(() => {});
      }
      const sender = msg ? c.user(msg.sender_id) || { id: msg.sender_id, username: msg.sender_name || "" } : null;
      const name = sender ? c.nameOf(sender.id) || sender.username || "…" : "…";
      const at = parseTime(msg?.created_at);
      const jump = h("button.search-result.pin-jump", { type: "button", dataset: { seq: p.seq }, "aria-label": `Jump to the message of ${name}`, onclick: () => this.onOpen(room.id, p.seq) },
        h("div.search-msg",
          sender ? avatar(sender, "sm") : null,
          h("div.search-body",
            h("div.search-where", h("span.search-author", name),
              at ? h("time.search-time", { datetime: at.toISOString(), title: formatFull(at) }, formatDay(at) + " " + formatTime(at)) : null),
            h("div.search-text", h("bdi", msg ? msg.text : "…")))));
      const unpin = canPin ? iconButton("close", "Unpin", () => {
        c.pin(room, p.seq, false).catch((err) => toastError(err, "Could not unpin: "));
      }, "pin-unpin") : null;
      return h("li.pin-item", { dataset: { seq: p.seq } }, jump, unpin);
    }));
  }
}
