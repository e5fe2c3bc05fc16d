// The right sidebar: the room's members, online first, with "last seen".
import { h, avatar, icon, reconcileList } from "../util/dom.js";
import { formatLastSeen, isolate, shownName } from "../util/format.js";
import { parseTime } from "../client.js";
import { confirmDialog } from "./dialogs.js";
import { toastError, toast } from "./toast.js";

const ROLE_ORDER = { owner: 0, admin: 1, member: 2 };

export class Members {
  constructor(client, { openDM }) {
    this.client = client;
    this.openDM = openDM;
    this.room = null;
    this.list = h("div.member-groups", { id: "member-list" });
    this.closeBtn = h("button.icon-btn.drawer-close", { type: "button", "aria-label": "Close members", title: "Close (Esc)" }, icon("close"));
    this.el = h("aside.members", { id: "members", "aria-label": "Members" },
      h("div.members-head", h("h2", "Members"), h("span.members-count"), h("span.spacer"), this.closeBtn),
      this.list);
    this.menu = null;
    // "last seen 5 minutes ago" ages.
    this.timer = setInterval(() => this.render(), 30000);
  }

  setRoom(room) {
    this.closeMenu();
    this.room = room;
    this.render();
  }

  render() {
    const c = this.client;
    const room = this.room;
    if (!room) {
      this.list.replaceChildren();
      this.groups = null;
      return;
    }
    const members = [...room.members.values()].map((m) => ({ ...m, user: c.users.get(m.userId) || { id: m.userId, username: "…" } }));
    members.sort((a, b) => (ROLE_ORDER[a.role] - ROLE_ORDER[b.role]) || shownName(a.user).localeCompare(shownName(b.user), undefined, { sensitivity: "base" }));
    // While the socket is down presence is unknown: one list, no one
    // shown online, until it is back.
    const stale = c.conn !== "online";
    const online = stale ? [] : members.filter((m) => m.user.status === "online");
    const offline = stale ? members : members.filter((m) => m.user.status !== "online");
    this.el.querySelector(".members-count").textContent = room.membersLoaded || members.length ? String(members.length) : "";
    const now = new Date();
    if (!this.groups || this.groupsRoom !== room) {
      // One section per status, built once per room; rows move between them.
      this.groupsRoom = room;
      this.groups = {};
      for (const [key, id] of [["online", "members-online"], ["offline", "members-offline"]]) {
        const ul = h("ul");
        this.groups[key] = { el: h("section.member-group", { id }, h("h3"), ul), ul, rows: new Map() };
      }
      this.empty = h("p.muted.members-loading");
      this.staleNote = h("p.muted.members-stale", { id: "members-stale", role: "status" });
      this.list.replaceChildren(this.staleNote, this.groups.online.el, this.groups.offline.el, this.empty);
    }
    this.list.dataset.presence = stale ? "unknown" : "live";
    this.staleNote.hidden = !stale;
    this.staleNote.textContent = stale ? (c.conn === "connecting" ? "Connecting… " : "Reconnecting… ") + "Online status shows once connected." : "";
    for (const [key, list, title] of [["online", online, "Online"], ["offline", offline, stale ? "Members" : "Offline"]]) {
      const g = this.groups[key];
      g.el.hidden = !list.length;
      g.el.firstChild.textContent = `${title} — ${list.length}`;
      // A member who changes status moves: a row is kept only within a section.
      g.rows = reconcileList(g.ul, list.map((m) => this.#row(m, now)), g.rows);
    }
    this.empty.hidden = members.length > 0;
    this.empty.textContent = room.membersLoaded ? "No members." : "Loading members…";
  }

  #row(m, now) {
    const u = m.user;
    const status = this.client.presence(u);
    const seen = status === "unknown" ? "status unknown" : status === "offline" && u.last_seen ? "last seen " + formatLastSeen(parseTime(u.last_seen), now) : status;
    const isMe = u.id === this.client.me.id;
    return {
      key: u.id,
      sig: [status, seen, u.username, shownName(u), u.avatar_url || "", m.role, isMe].join("|"),
      make: () => {
        const li = h("li.member", { dataset: { userId: u.id } });
        const btn = h("button.member-btn", { type: "button", "aria-haspopup": "menu", onclick: () => {
          const cur = this.room?.members.get(li.dataset.userId);
          if (cur) this.openMenu(btn, { ...cur, user: this.client.users.get(cur.userId) || { id: cur.userId, username: li.dataset.username } });
        } });
        li.appendChild(btn);
        return li;
      },
      fill: (li) => {
        li.dataset.status = status;
        li.dataset.username = u.username;
        const roleIcon = m.role === "owner" ? h("span.role-icon.owner", { title: "Room owner" }, icon("crown", "owner"))
          : m.role === "admin" ? h("span.role-icon.admin", { title: "Admin" }, icon("shield", "admin")) : null;
        li.firstChild.replaceChildren(
          h("span.member-avatar", avatar(u, "sm"), h("span.presence-dot", { dataset: { status } })),
          h("span.member-text",
            h("span.member-name", h("span.member-name-text", { title: u.username && !u.deleted ? "@" + u.username : "" }, shownName(u)), isMe ? h("span.muted", " (you)") : null, roleIcon),
            h("span.last-seen", { title: u.last_seen || "" }, seen)));
      },
    };
  }


  openMenu(anchor, m) {
    this.closeMenu();
    const c = this.client;
    const room = this.room;
    const me = c.me.id;
    const u = m.user;
    const items = [];
    const act = (label, fn, danger = false) => items.push(h("button.menu-item" + (danger ? ".danger" : ""), { type: "button", role: "menuitem", onclick: () => { this.closeMenu(); fn(); } }, label));
    if (u.id !== me) act("Send message", () => this.openDM(u.id));
    if (room.kind === "group" && u.id !== me && m.role !== "owner") {
      const canModerate = room.role === "owner" || (room.role === "admin" && m.role === "member");
      if (room.role === "owner") {
        act(m.role === "admin" ? "Remove admin" : "Make admin", () => c.setRole(room, u.id, m.role === "admin" ? "member" : "admin").catch((err) => toastError(err)));
      }
      if (canModerate) {
        act("Remove from room", async () => {
          if (await confirmDialog({ title: `Remove ${isolate(shownName(u))}?`, text: `${isolate(shownName(u))} will be removed from the room. They can join again with an invite code.`, confirmLabel: "Remove", danger: true })) {
            c.kick(room, u.id).then(() => toast(`${isolate(shownName(u))} was removed.`), (err) => toastError(err));
          }
        }, true);
        act("Ban", async () => {
          if (await confirmDialog({ title: `Ban ${isolate(shownName(u))}?`, text: `${isolate(shownName(u))} will be removed and cannot join again.`, confirmLabel: "Ban", danger: true })) {
            c.ban(room, u.id).then(() => toast(`${isolate(shownName(u))} was banned.`), (err) => toastError(err));
          }
        }, true);
      }
    }
    const status = u.status === "online" ? "Online" : u.last_seen ? "Last seen " + formatLastSeen(parseTime(u.last_seen)) : "Offline";
    const menu = h("div.popover.member-menu", { role: "menu", "aria-label": shownName(u) },
      h("div.popover-head", avatar(u, "lg"), h("div", h("strong", shownName(u)),
        u.display_name && !u.deleted ? h("div.muted.small", "@", h("bdi", u.username)) : null, h("div.muted", status), h("div.muted.small", m.role))),
      items);
    document.body.appendChild(menu);
    const r = anchor.getBoundingClientRect();
    const left = Math.max(8, Math.min(window.innerWidth - menu.offsetWidth - 8, r.left - menu.offsetWidth - 8 > 8 ? r.left - menu.offsetWidth - 8 : r.left));
    const top = Math.max(8, Math.min(window.innerHeight - menu.offsetHeight - 8, r.top));
    menu.style.setProperty("left", left + "px");
    menu.style.setProperty("top", top + "px");
    this.menu = menu;
    (items[0] || menu).focus?.();
    const onKey = (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        this.closeMenu();
        anchor.focus();
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const i = items.indexOf(document.activeElement);
        const n = items.length;
        if (n) items[(i + (e.key === "ArrowDown" ? 1 : n - 1) + n) % n].focus();
      }
    };
    const outside = (e) => { if (!menu.contains(e.target)) this.closeMenu(); };
    menu.addEventListener("keydown", onKey);
    setTimeout(() => document.addEventListener("mousedown", outside), 0);
    this.menuCleanup = () => document.removeEventListener("mousedown", outside);
  }

  closeMenu() {
    if (!this.menu) return;
    this.menu.remove();
    this.menu = null;
    this.menuCleanup?.();
  }
}
