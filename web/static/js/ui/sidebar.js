// The left sidebar: rooms and DMs with unread badges, actions to create,
// join and start DMs, and the signed-in user's panel.
import { h, icon, iconButton, avatar, reconcileList } from "../util/dom.js";
import { shownName } from "../util/format.js";


export class Sidebar {
  constructor(client, { onCreate, onJoin, onDM, onSignOut, onSessions, onAccount, notifier, navigate }) {
    this.client = client;
    this.navigate = navigate;
    this.notifier = notifier;
    this.roomList = h("ul.room-list", { id: "room-list", "aria-label": "Rooms" });
    this.dmList = h("ul.room-list", { id: "dm-list", "aria-label": "Direct messages" });
    // The actions are above (and on the home page's cards): not again here.
    this.emptyRooms = h("div.sb-empty", { hidden: true }, h("p", "You are not in any room yet."));
    this.emptyDMs = h("div.sb-empty.small", { hidden: true }, "No conversations yet.");
    this.meName = h("span.me-name");
    this.meStatus = h("span.me-status");
    this.meAvatar = h("span.me-avatar");
    this.bell = iconButton("bellOff", "Enable desktop notifications", () => notifier.toggle(), "bell-btn");
    this.bell.id = "notify-toggle";

    this.el = h("nav.sidebar", { id: "sidebar", "aria-label": "Rooms and direct messages" },
      h("div.sb-head",
        this.closeBtn = h("button.icon-btn.drawer-close", { type: "button", "aria-label": "Close room list", title: "Close (Esc)" }, icon("close")),
        h("a.brand", { href: "/", "aria-label": "confab home", onclick: (e) => { e.preventDefault(); navigate(null); } }, h("span.logo-mark", { "aria-hidden": "true" }), h("span.logo-text", "confab"))),
      h("div.sb-actions",
        h("button.sb-action", { type: "button", id: "create-room", onclick: onCreate }, icon("plus"), h("span", "Create room")),
        h("button.sb-action", { type: "button", id: "join-room", onclick: onJoin }, icon("key"), h("span", "Join with code"))),
      h("div.sb-scroll",
        h("section.sb-section",
          h("div.sb-section-head", h("h2", "Rooms")),
          this.roomList, this.emptyRooms),
        h("section.sb-section",
          h("div.sb-section-head", h("h2", "Direct messages"), iconButton("plus", "Start a direct message", onDM, "start-dm")),
          this.dmList, this.emptyDMs)),
      h("div.me-panel",
        this.meAvatar,
        h("div.me-info", this.meName, this.meStatus),
        this.bell,
        iconButton("user", "Account settings", onAccount, "account-btn"),
        iconButton("shield", "Sessions", onSessions, "sessions-btn"),
        iconButton("logout", "Sign out", onSignOut, "signout-btn")));
    this.el.querySelector(".sessions-btn").id = "open-sessions";
    this.el.querySelector(".account-btn").id = "open-account";
    this.el.querySelector(".start-dm").id = "start-dm";
    this.el.querySelector(".signout-btn").id = "sign-out";
  }

  render() {
    const c = this.client;
    const rooms = c.sortedRooms();
    const groups = rooms.filter((r) => r.kind === "group");
    const dms = rooms.filter((r) => r.kind === "dm");
    this.roomRows = reconcileList(this.roomList, groups.map((r) => this.#row(r)), this.roomRows || new Map());
    this.dmRows = reconcileList(this.dmList, dms.map((r) => this.#row(r)), this.dmRows || new Map());
    this.emptyRooms.hidden = groups.length > 0;
    this.emptyDMs.hidden = dms.length > 0;
    const me = c.users.get(c.me.id) || c.me;
    this.meName.textContent = shownName(me);
    this.meAvatar.replaceChildren(avatar(me, "sm"), h("span.presence-dot", { dataset: { status: c.conn === "online" ? "online" : "offline" } }));
    this.meStatus.textContent = { online: "Online", syncing: "Connecting…", connecting: "Connecting…", reconnecting: "Reconnecting…" }[c.conn] || "";
    this.meStatus.dataset.conn = c.conn;
    const n = this.notifier.state();
    this.bell.replaceChildren(icon(n === "on" ? "bell" : "bellOff"));
    const label = { on: "Desktop notifications are on (click to turn off)", off: "Enable desktop notifications", blocked: "Desktop notifications are blocked by the browser", unsupported: "Desktop notifications are not supported here" }[n];
    this.bell.title = label;
    this.bell.setAttribute("aria-label", label);
    this.bell.setAttribute("aria-pressed", String(n === "on"));
  }

  #row(room) {
    const c = this.client;
    const active = room.id === c.activeRoomId;
    const name = c.displayName(room);
    const peer = room.kind === "dm" ? c.users.get(room.dmPeerId) || { id: room.dmPeerId, username: name } : null;
    // A muted room's count is shown dimmed; with "mentions only" the
    // count is its mentions (client.counted).
    const counted = active ? 0 : c.counted(room);
    const unread = counted > 0;
    const dim = !active && !unread && room.notify === "none" && room.unread > 0;
    const shown = unread ? counted : dim ? room.unread : 0;
    return {
      key: room.id,
      sig: [active, shown, dim, room.notify, name, room.kind, peer ? c.presence(peer) : "", peer?.avatar_url || ""].join("|"),
      make: () => {
        const a = h("a.room-link", {
          href: "/r/" + room.id,
          dataset: { roomId: room.id, kind: room.kind },
          onclick: (e) => {
            if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
            e.preventDefault();
            this.navigate(a.dataset.roomId);
          },
        });
        return h("li", a);
      },
      fill: (li) => {
        const a = li.firstChild;
        a.className = "room-link" + (active ? " active" : "") + (unread ? " unread" : "");
        if (active) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
        const lead = peer
          ? h("span.room-avatar", avatar(peer, "sm"), h("span.presence-dot", { dataset: { status: c.presence(peer) } }))
          : h("span.room-icon", icon("hash"));
        a.replaceChildren(lead, h("span.room-name", name));
        if (room.notify !== "all") a.appendChild(h("span.room-notify", { title: room.notify === "none" ? "Muted" : "Mentions only", "aria-label": room.notify === "none" ? "muted" : "mentions only" }, icon(room.notify === "none" ? "bellOff" : "at")));
        if (shown) {
          const what = dim ? "unread, muted" : room.notify === "mentions" ? "unread mentions" : "unread";
          a.appendChild(h("span.badge" + (dim ? ".muted" : ""), { "aria-label": `${shown} ${what}` }, shown > 99 ? "99+" : String(shown)));
        }
      },
    };
  }

}
