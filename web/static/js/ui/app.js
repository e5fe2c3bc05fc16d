// The signed-in application: layout, routing (/r/<room>, /join/<code>),
// the room header, the connection banner, and the wiring between the
// client (state) and the components.
import { h, icon, iconButton, avatar, clear } from "../util/dom.js";
import { formatLastSeen, isolate, shownName } from "../util/format.js";
import { parseTime } from "../client.js";
import { Sidebar } from "./sidebar.js";
import { Timeline } from "./timeline.js";
import { Composer, typingText } from "./composer.js";
import { Members } from "./members.js";
import { openDialog, formDialog, confirmDialog, copyText } from "./dialogs.js";
import { toast, toastError, humanError } from "./toast.js";
import { Notifier } from "../notify.js";
import { mountCallSlot } from "../call/call.js";
import { SearchPanel } from "./search.js";

const NARROW = window.matchMedia("(max-width: 900px)");

/** True when el takes typing (a text field), where "?" is a character. */
function typing(el) {
  return !!el && (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
    (el.tagName === "INPUT" && !["button", "checkbox", "radio", "submit", "reset", "file", "range", "color"].includes(el.type)));
}
const LAST_ROOM = "confab.lastRoom";
const MEMBERS_PREF = "confab.membersHidden";

export class App {
  constructor(root, { api, socket, client, onSignOut }) {
    this.root = root;
    this.api = api;
    this.socket = socket;
    this.client = client;
    this.onSignOut = onSignOut;
    this.shownRoom = undefined;
    this.dirty = new Set();
    this.flushTimer = null;
    this.everOnline = false;
    this.pendingJoin = null;
    this.restoreLast = true;
    this.welcomeKey = "";

    this.notifier = new Notifier(client, {
      onChange: (s) => {
        if (s === "blocked") toast("Notifications are blocked for this site in your browser settings.");
        if (s === "unsupported") toast("This browser does not support desktop notifications.");
        if (s === "on") toast("Desktop notifications are on for mentions and direct messages.");
        this.invalidate("sidebar");
      },
      openRoom: (id) => this.navigate(id),
    });
    this.sidebar = new Sidebar(client, {
      onCreate: () => this.createRoomDialog(),
      onJoin: () => this.joinDialog(),
      onDM: () => this.dmDialog(),
      onSignOut: () => this.signOut(),
      onSessions: () => import("./sessions.js").then(({ sessionsDialog }) => sessionsDialog(this.client.api)),
      // Loaded when first opened: the first load stays small.
      onAccount: () => import("./account.js").then((m) => m.accountDialog(this.client), (err) => toastError(err, "Could not open account settings: ")),
      notifier: this.notifier,
      navigate: (id) => this.navigate(id),
    });
    this.timeline = new Timeline(client, {
      onReply: (msg) => this.composer.replyToMessage(msg),
      onThread: (msg) => this.openThread(msg.seq),
      focusComposer: () => this.composer.focus(),
      openRoom: (id) => this.navigate(id),
    });
    this.composer = new Composer(client, {
      onEditLast: () => this.timeline.editLast(),
      onEscape: () => this.markActiveRead(),
      onSent: () => this.timeline.scrollToBottom(),
      onShiftTab: () => this.timeline.focusLast(),
    });
    this.search = new SearchPanel(client, {
      onOpen: (roomId, seq, threadRoot) => this.openResult(roomId, seq, threadRoot),
      onClose: () => this.searchBtn.focus(),
    });
    this.members = new Members(client, { openDM: (id) => this.openDMWith(id) });
    client.isReading = (room) => room.id === client.activeRoomId && document.visibilityState === "visible" && this.timeline.atBottom;

    this.#buildLayout();
    this.#listen();
    this.sidebar.render();
    // The first room is shown in a task of its own: building the shell
    // and laying out and rendering the room are each a shorter task,
    // which leaves the page free for input in between.
    this.routeTimer = setTimeout(() => this.#route(), 0);
    this.notifier.updateTitle();
  }

  // ---- layout -------------------------------------------------------------

  #buildLayout() {
    this.navToggle = iconButton("menu", "Open room list", () => this.toggleDrawer("left"), "nav-toggle");
    this.navToggle.setAttribute("aria-controls", "sidebar");
    this.membersToggle = iconButton("users", "Show members", () => this.toggleDrawer("right"), "members-toggle");
    this.membersToggle.id = "members-toggle";
    this.membersToggle.setAttribute("aria-controls", "members");
    this.titleIcon = h("span.room-title-icon");
    this.titleText = h("h1.room-title-text", { id: "room-title" });
    this.titleSub = h("span.room-title-sub", { id: "room-sub" });
    this.callSlot = h("div.call-slot", { id: "call-slot" });
    this.inviteBtn = h("button.btn.btn-small.btn-accent", { type: "button", id: "invite-btn", "aria-label": "Invite people", title: "Invite people", onclick: () => this.inviteDialog() }, icon("link"), h("span.btn-label", "Invite"));
    this.roomMenuBtn = iconButton("more", "Room settings", (e) => this.roomMenu(e.currentTarget), "room-menu-btn");
    this.roomMenuBtn.id = "room-menu-btn";
    this.roomMenuBtn.setAttribute("aria-haspopup", "menu");
    this.pinsBtn = iconButton("pin", "Pinned messages", () => this.showPins(), "pins-open");
    this.pinsBtn.id = "pins-open";
    // aria-controls="pins-panel" once the panel exists (it is loaded on
    // first use; a reference to no element is invalid ARIA).
    this.searchBtn = h("button.search-open", { type: "button", id: "search-open", title: "Search messages (Ctrl+F)", "aria-label": "Search messages",
      "aria-controls": "search-panel", "aria-keyshortcuts": "Control+F", onclick: () => this.search.show() },
    icon("search"), h("span.search-open-label", "Search"), h("kbd.search-open-kbd", "Ctrl F"));
    this.header = h("header.room-header", { id: "room-header" },
      this.navToggle,
      h("div.room-title", this.titleIcon, this.titleText, this.titleSub),
      h("div.room-header-actions", this.searchBtn, this.callSlot, this.inviteBtn, this.pinsBtn, this.roomMenuBtn, this.membersToggle));
    this.call = mountCallSlot(this.callSlot, { client: this.client, socket: this.socket, api: this.api });

    this.bannerText = h("span.conn-banner-text");
    this.bannerBtn = h("button.link", { type: "button", onclick: () => this.socket.retryNow() }, "Reconnect now");
    this.banner = h("div.conn-banner", { id: "conn-banner", role: "status", hidden: true }, h("span.spinner.small"), this.bannerText, this.bannerBtn);

    this.typingLine = h("div.typing-line", { id: "typing", "aria-live": "polite" });
    this.welcome = h("div.welcome", { id: "welcome", hidden: true });
    this.dropHint = h("div.drop-hint", { hidden: true, "aria-hidden": "true" }, h("div.drop-hint-inner", icon("clip"), "Drop files to attach them"));
    this.roomView = h("div.room-view", this.timeline.el, this.typingLine, this.composer.form, this.dropHint);
    this.#listenDrop();
    this.main = h("main.main", { id: "main" }, this.header, this.banner, this.welcome, this.roomView);
    this.scrim = h("div.scrim", { onclick: () => this.closeDrawers() });
    for (const btn of [this.sidebar.closeBtn, this.members.closeBtn]) btn.addEventListener("click", () => this.closeDrawers());
    this.shell = h("div.app", { id: "app" }, this.sidebar.el, this.main, this.members.el, this.scrim, this.search.el);
    if (localStorage.getItem(MEMBERS_PREF)) this.shell.classList.add("members-hidden");
    clear(this.root).appendChild(this.shell);
  }

  /**
   * Opens the thread of the message root of the room shown, in its panel
   * (ui/thread.js, loaded the first time); seq, if given, is a reply to
   * scroll to and highlight.
   */
  async openThread(root, seq = 0) {
    const room = this.shownRoom;
    if (!room) return;
    if (!this.threadPanel) {
      const { ThreadPanel } = await import("./thread.js");
      this.threadPanel ??= new ThreadPanel(this.client, { onClose: () => this.composer.focus() });
      this.shell.appendChild(this.threadPanel.el);
    }
    if (this.shownRoom === room) this.threadPanel.show(room, root, seq);
  }

  /** Dropping files anywhere on the room (timeline or composer) attaches them. */
  #listenDrop() {
    let depth = 0;
    const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
    const hide = () => { depth = 0; this.dropHint.hidden = true; };
    this.roomView.addEventListener("dragenter", (e) => {
      if (!hasFiles(e) || !this.shownRoom) return;
      e.preventDefault();
      depth++;
      this.dropHint.hidden = false;
    });
    this.roomView.addEventListener("dragover", (e) => {
      if (!hasFiles(e) || !this.shownRoom) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    this.roomView.addEventListener("dragleave", () => { if (--depth <= 0) hide(); });
    this.roomView.addEventListener("drop", (e) => {
      const files = [...(e.dataTransfer?.files || [])];
      hide();
      if (!files.length || !this.shownRoom) return;
      e.preventDefault();
      this.composer.addFiles(files);
    });
  }

  /** Opens the pinned messages panel of the room shown (ui/pins.js, loaded on first use). */
  async showPins() {
    const room = this.shownRoom;
    if (!room) return;
    if (!this.pins) {
      const { PinsPanel } = await import("./pins.js");
      this.pins ||= new PinsPanel(this.client, {
        onOpen: (roomId, seq) => this.openResult(roomId, seq),
        onClose: () => this.pinsBtn.focus(),
      });
      this.shell.appendChild(this.pins.el);
      this.pinsBtn.setAttribute("aria-controls", this.pins.el.id);
    }
    this.search.close();
    this.pins.show(room);
  }

  /**
   * A search result: its room, scrolled to the message and highlighted; a
   * reply in a thread is not in the timeline: its root is, and the thread
   * opens beside it at the reply.
   */
  openResult(roomId, seq, threadRoot = 0) {
    if (!this.client.rooms.has(roomId)) {
      toast("You are not in that room any more.", { kind: "error" });
      return;
    }
    this.search.el.hidden = true;
    if (this.client.activeRoomId !== roomId) this.navigate(roomId);
    this.timeline.jumpTo(threadRoot || seq);
    if (threadRoot) this.openThread(threadRoot, seq);
  }

  toggleDrawer(side) {
    if (side === "right" && !NARROW.matches) {
      const hidden = this.shell.classList.toggle("members-hidden");
      if (hidden) localStorage.setItem(MEMBERS_PREF, "1");
      else localStorage.removeItem(MEMBERS_PREF);
      this.#renderHeader();
      return;
    }
    const cls = side === "left" ? "left-open" : "right-open";
    const open = !this.shell.classList.contains(cls);
    this.closeDrawers();
    if (open) {
      this.shell.classList.add(cls);
      const panel = side === "left" ? this.sidebar.el : this.members.el;
      const first = panel.querySelector("a, button");
      if (first) first.focus();
    }
    this.#renderHeader();
  }

  closeDrawers() {
    const was = this.shell.classList.contains("left-open") || this.shell.classList.contains("right-open");
    this.shell.classList.remove("left-open", "right-open");
    if (was) this.#renderHeader();
    return was;
  }

  // ---- events -------------------------------------------------------------

  #listen() {
    const c = this.client;
    const active = (id) => id === c.activeRoomId;
    this.offs = [
      c.on("rooms", () => { this.invalidate("sidebar", "title", "header", "route"); }),
      c.on("room", (id) => { if (active(id)) this.invalidate("timeline", "header"); }),
      c.on("members", (id) => { if (active(id)) this.invalidate("members", "header"); }),
      c.on("users", () => this.invalidate("sidebar", "members", "timeline", "header")),
      c.on("typing", (id) => { if (active(id)) this.invalidate("typing"); }),
      c.on("conn", (s) => {
        if (s === "online") this.everOnline = true;
        this.invalidate("banner", "sidebar", "timeline", "members", "header");
        if (s === "online" && this.pendingJoin) this.#joinFromLink();
      }),
      c.on("removed", (room, why) => {
        if (active(room.id)) {
          toast(why || `You left ${isolate(c.displayName(room))}.`);
          this.navigate(null, { replace: true });
        } else if (why) {
          toast(`${isolate(c.displayName(room))}: ${why}`);
        }
      }),
      this.socket.on("state", () => this.invalidate("banner")),
    ];
    this.onPop = () => this.#route();
    this.onVisibility = () => {
      if (document.visibilityState === "visible") {
        this.socket.retryNow();
        this.invalidate("timeline");
      }
    };
    this.onOnline = () => this.socket.retryNow();
    this.onPageHide = () => c.flushRead(this.shownRoom);
    this.onKey = (e) => this.#onKey(e);
    this.onNarrow = () => { this.closeDrawers(); this.#renderHeader(); };
    window.addEventListener("popstate", this.onPop);
    document.addEventListener("visibilitychange", this.onVisibility);
    window.addEventListener("online", this.onOnline);
    window.addEventListener("pagehide", this.onPageHide);
    document.addEventListener("keydown", this.onKey);
    NARROW.addEventListener("change", this.onNarrow);
    this.bannerTimer = setInterval(() => { if (!this.banner.hidden) this.#renderBanner(); }, 500);
  }

  destroy() {
    for (const off of this.offs) off();
    window.removeEventListener("popstate", this.onPop);
    document.removeEventListener("visibilitychange", this.onVisibility);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("pagehide", this.onPageHide);
    document.removeEventListener("keydown", this.onKey);
    NARROW.removeEventListener("change", this.onNarrow);
    clearInterval(this.bannerTimer);
    clearInterval(this.members.timer);
    clearTimeout(this.flushTimer);
    clearTimeout(this.routeTimer);
    this.timeline.closePicker();
    this.members.closeMenu();
    this.call.destroy();
    document.title = "confab";
  }

  invalidate(...what) {
    for (const w of what) this.dirty.add(w);
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.#flush(), 0);
  }

  // The parts a flush renders, in order: what the user looks at first
  // (the room and its timeline) before the lists around it.
  #parts = [
    ["route", () => this.#syncShownRoom()],
    ["header", () => this.#renderHeader()],
    ["timeline", () => this.timeline.update()],
    ["sidebar", () => { this.sidebar.render(); this.notifier.updateTitle(); }],
    ["title", () => this.notifier.updateTitle()],
    ["members", () => this.members.render()],
    ["typing", () => this.#renderTyping()],
    ["banner", () => this.#renderBanner()],
  ];

  #flush() {
    this.flushTimer = null;
    // A flush that has taken a frame's worth of time leaves the rest to
    // a next task, so that a big first render is not one long task that
    // holds back input.
    const start = performance.now();
    for (const [part, render] of this.#parts) {
      if (!this.dirty.has(part)) continue;
      if (performance.now() - start > 12) {
        this.flushTimer = setTimeout(() => this.#flush(), 0);
        return;
      }
      this.dirty.delete(part);
      render();
    }
  }

  #onKey(e) {
    if (e.defaultPrevented) return;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && (e.key === "k" || e.key === "K")) {
      // Ctrl+K (Cmd+K): the quick switcher; again closes it.
      e.preventDefault();
      const open = document.querySelector("dialog#quick-switcher[open]");
      if (open) open.close();
      else if (!document.querySelector("dialog[open]")) this.#lazy((m) => m.quickSwitcher(this.client, (id) => this.navigate(id)));
      return;
    }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key === "f") {
      // Ctrl+F: search (the browser's find would miss the messages not
      // loaded).
      if (document.querySelector("dialog[open]")) return;
      e.preventDefault();
      this.search.show();
      return;
    }
    if (e.key === "?" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target) && !document.querySelector("dialog[open]")) {
      e.preventDefault();
      this.#lazy((m) => m.shortcutsDialog());
      return;
    }
    if (e.key === "Escape") {
      if (document.querySelector("dialog[open]")) return;
      if (this.search.open) { this.search.close(); return; }
      if (this.threadPanel?.open) { this.threadPanel.close(); return; }
      if (this.pins?.open) { this.pins.close(); return; }
      if (this.timeline.picker) { this.timeline.closePicker(); return; }
      if (this.members.menu) { this.members.closeMenu(); return; }
      if (this.closeDrawers()) return;
      this.markActiveRead();
      return;
    }
    if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
      const rooms = this.#navOrder();
      if (!rooms.length) return;
      e.preventDefault();
      const i = rooms.findIndex((r) => r.id === this.client.activeRoomId);
      const n = rooms.length;
      const next = rooms[(i + (e.key === "ArrowDown" ? 1 : n - 1) + n) % n];
      this.navigate(next.id);
    }
    // Typing anywhere (outside inputs) goes to the composer, like Discord.
    if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
      const t = e.target;
      if (t === document.body || t === this.timeline.scroller || t.matches?.(".msg[data-seq]")) this.composer.focus();
    }
  }

  /** Runs fn with ui/switcher.js, loaded the first time. */
  #lazy(fn) {
    import("./switcher.js").then(fn, (err) => toastError(err, "Could not open: "));
  }

  #navOrder() {
    const rooms = this.client.sortedRooms();
    return [...rooms.filter((r) => r.kind === "group"), ...rooms.filter((r) => r.kind === "dm")];
  }

  markActiveRead() {
    const room = this.client.activeRoom;
    if (!room) return;
    room.markerSeq = null;
    this.client.markRead(room);
    this.timeline.update();
  }

  // ---- routing ------------------------------------------------------------

  navigate(roomId, { replace = false } = {}) {
    const path = roomId ? "/r/" + roomId : "/";
    if (location.pathname !== path) history[replace ? "replaceState" : "pushState"](null, "", path);
    this.#route();
  }

  #route() {
    const path = location.pathname;
    let m = /^\/join\/([^/]+)\/?$/.exec(path);
    if (m) {
      this.pendingJoin = decodeURIComponent(m[1]);
      history.replaceState(null, "", "/");
      if (this.client.conn === "online") this.#joinFromLink();
      this.#show(null);
      return;
    }
    m = /^\/r\/([0-9a-fA-F-]{36})\/?$/.exec(path);
    let id = m ? m[1].toLowerCase() : null;
    if (!id && path === "/" && this.restoreLast) {
      // On start, "/" opens the room the user was in last time.
      const last = localStorage.getItem(LAST_ROOM);
      if (last && this.client.rooms.has(last)) {
        history.replaceState(null, "", "/r/" + last);
        id = last;
      }
    }
    if (id || this.client.conn === "online") this.restoreLast = false;
    this.#show(id);
  }

  async #joinFromLink() {
    const code = this.pendingJoin;
    this.pendingJoin = null;
    try {
      const room = await this.client.joinRoom(code);
      toast(`You joined ${isolate(this.client.displayName(room))}.`);
      this.navigate(room.id, { replace: true });
    } catch (err) {
      toast(err.code === "not_found" ? "That invite link is not valid any more." : humanError(err), { kind: "error" });
    }
  }

  /** Shows a room (or the welcome page) when its state arrives late. */
  #syncShownRoom() {
    const want = this.client.activeRoomId;
    const room = want ? this.client.rooms.get(want) || null : null;
    if (room !== this.shownRoom) this.#show(want);
    else if (!want && location.pathname === "/" && this.restoreLast) this.#route();
    else if (!room) this.#renderWelcome(!!want);
  }

  #show(id) {
    const c = this.client;
    c.activeRoomId = id;
    const room = id ? c.rooms.get(id) || null : null;
    this.closeDrawers();
    // Lay the room out before the timeline measures it.
    this.welcome.hidden = !!room;
    this.roomView.hidden = !room;
    this.shell.classList.toggle("no-room", !room);
    // Home: its cards offer creating and joining, so the sidebar does not too.
    this.shell.classList.toggle("home", !id);
    if (room !== this.shownRoom) {
      c.flushRead(this.shownRoom);
      this.shownRoom = room;
      this.threadPanel?.close();
      if (room) {
        localStorage.setItem(LAST_ROOM, room.id);
        room.markerSeq = room.unread > 0 ? room.readSeq : null;
        if (!room.membersLoaded) c.loadMembers(room).catch((err) => toastError(err, "Could not load members: "));
        if ((room.role === "owner" || room.role === "admin") && room.kind === "group" && !room.inviteCode) c.refreshRoom(room).catch(() => {});
      }
      this.timeline.setRoom(room);
      this.composer.setRoom(room);
      this.members.setRoom(room);
      this.call.setRoom(room);
      this.#renderTyping();
      if (room && !NARROW.matches) this.composer.focus();
    }
    if (!room) this.#renderWelcome(!!id);
    this.#renderHeader();
    this.sidebar.render();
    this.notifier.updateTitle();
  }

  #renderWelcome(waiting) {
    const c = this.client;
    const key = `${waiting}|${c.conn === "online"}|${c.rooms.size > 0}`;
    if (key === this.welcomeKey && this.welcome.firstChild) return;
    this.welcomeKey = key;
    if (waiting) {
      const loading = c.conn !== "online";
      this.welcome.replaceChildren(h("div.welcome-inner", loading
        ? [h("span.spinner"), h("p.muted", "Loading room…")]
        : [h("h2", "Room not found"), h("p.muted", "It does not exist, or you are not a member."),
          h("button.btn.btn-primary", { type: "button", onclick: () => this.navigate(null) }, "Back home")]));
      return;
    }
    const me = c.users.get(c.me.id) || c.me;
    this.welcome.replaceChildren(h("div.welcome-inner",
      h("div.welcome-mark", { "aria-hidden": "true" }, h("span.logo-mark.big")),
      h("h2", "Welcome, ", h("bdi", shownName(me)), "!"),
      h("p.muted", c.rooms.size ? "Pick a room on the left, or start something new." : "Create a room and share its invite code, or join one a friend shared with you."),
      h("div.welcome-cards",
        h("button.welcome-card", { type: "button", id: "welcome-create", onclick: () => this.createRoomDialog() }, icon("hash"), h("strong", "Create a room"), h("span.muted", "A place for your group to talk.")),
        h("button.welcome-card", { type: "button", id: "welcome-join", onclick: () => this.joinDialog() }, icon("key"), h("strong", "Join with a code"), h("span.muted", "Got an invite code? Enter it here.")),
        h("button.welcome-card", { type: "button", onclick: () => this.dmDialog() }, icon("at"), h("strong", "Message someone"), h("span.muted", "Start a direct message by username.")))));
  }

  // ---- header, banner, typing ----------------------------------------------

  #renderHeader() {
    const c = this.client;
    const room = this.shownRoom;
    const narrow = NARROW.matches;
    this.navToggle.hidden = !narrow;
    this.navToggle.setAttribute("aria-expanded", String(this.shell.classList.contains("left-open")));
    if (!room) {
      this.titleIcon.replaceChildren();
      this.titleText.textContent = this.client.activeRoomId ? "" : "Home";
      this.titleSub.textContent = "";
      this.inviteBtn.hidden = true;
      this.pinsBtn.hidden = true;
      this.roomMenuBtn.hidden = true;
      this.membersToggle.hidden = true;
      return;
    }
    const name = c.displayName(room);
    this.titleText.textContent = name;
    if (room.kind === "dm") {
      const peer = c.users.get(room.dmPeerId) || { id: room.dmPeerId, username: name };
      const status = c.presence(peer);
      this.titleIcon.replaceChildren(h("span.room-avatar", avatar(peer, "sm"), h("span.presence-dot", { dataset: { status } })));
      this.titleSub.textContent = status === "unknown" ? "connecting…" : status === "online" ? "online" : peer.last_seen ? "last seen " + formatLastSeen(parseTime(peer.last_seen)) : "offline";
    } else {
      this.titleIcon.replaceChildren(icon("hash"));
      const n = room.members.size;
      this.titleSub.textContent = n ? `${n} member${n === 1 ? "" : "s"}` : "";
    }
    this.inviteBtn.hidden = !(room.kind === "group" && (room.role === "owner" || room.role === "admin"));
    this.roomMenuBtn.hidden = false;
    this.pinsBtn.hidden = false;
    // The pins mark their messages in the timeline: load them once per room.
    if (!room.pins && !room.pinsAsked) {
      room.pinsAsked = true;
      c.loadPins(room).catch(() => { room.pinsAsked = false; });
    }
    this.membersToggle.hidden = false;
    const membersShown = narrow ? this.shell.classList.contains("right-open") : !this.shell.classList.contains("members-hidden");
    this.membersToggle.setAttribute("aria-pressed", String(membersShown));
    this.membersToggle.title = membersShown ? "Hide members" : "Show members";
    this.membersToggle.setAttribute("aria-label", this.membersToggle.title);
    this.composer.refresh();
  }

  #renderBanner() {
    const c = this.client;
    const s = this.socket;
    let text = "";
    let show = false;
    let canRetry = false;
    if (c.conn === "reconnecting" || (c.conn === "syncing" && this.everOnline)) {
      show = true;
      if (c.conn === "syncing") {
        text = "Reconnected — catching up…";
      } else if (s.state === "waiting") {
        const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
        text = secs > 0 ? `Connection lost. Reconnecting in ${secs} s…` : "Reconnecting…";
        canRetry = true;
      } else {
        text = "Reconnecting…";
      }
    } else if (c.conn === "connecting" || (c.conn === "syncing" && !this.everOnline)) {
      // Only worth a banner when it takes a while.
      if (!this.connectingSince) this.connectingSince = Date.now();
      show = Date.now() - this.connectingSince > 1500;
      text = s.state === "waiting" ? "Cannot reach the server. Retrying…" : "Connecting…";
      canRetry = s.state === "waiting";
    }
    this.banner.hidden = !show;
    this.banner.dataset.state = show ? c.conn : "online";
    this.bannerText.textContent = text;
    this.bannerBtn.hidden = !canRetry;
    this.shell.classList.toggle("offline", show);
  }

  #renderTyping() {
    const room = this.shownRoom;
    const text = room ? typingText(room) : "";
    this.typingLine.replaceChildren(text ? h("span.typing-dots", { "aria-hidden": "true" }, h("i"), h("i"), h("i")) : "", text);
    this.typingLine.classList.toggle("active", !!text);
  }

  // ---- dialogs ------------------------------------------------------------

  createRoomDialog() {
    formDialog({
      title: "Create a room",
      description: "Rooms are where your group talks. You can invite people with a code once it exists.",
      label: "Room name",
      placeholder: "e.g. General",
      submitLabel: "Create room",
      inputId: "create-room-name",
      maxLength: 100,
      validate: (v) => (!v ? "Give the room a name." : [...v].length > 100 ? "Use at most 100 characters." : null),
      submit: async (name) => {
        const room = await this.client.createRoom(name);
        this.navigate(room.id);
        setTimeout(() => this.inviteDialog(), 0);
      },
    });
  }

  joinDialog() {
    formDialog({
      title: "Join a room",
      description: "Enter the invite code (or link) someone shared with you.",
      label: "Invite code",
      placeholder: "e.g. dkcqvea3pcmb6rq3",
      submitLabel: "Join room",
      inputId: "join-code",
      validate: (v) => (!v ? "Enter an invite code." : null),
      submit: async (value) => {
        const code = value.replace(/^.*\/join\//, "").replace(/[/\s]+$/, "");
        try {
          const room = await this.client.joinRoom(code);
          this.navigate(room.id);
          toast(`You joined ${isolate(this.client.displayName(room))}.`);
        } catch (err) {
          if (err.code === "not_found") throw new Error("That invite code is not valid. Check it, or ask for a new one.");
          throw err;
        }
      },
    });
  }

  dmDialog() {
    formDialog({
      title: "Start a direct message",
      label: "Username",
      placeholder: "Their username",
      submitLabel: "Open conversation",
      inputId: "dm-username",
      validate: (v) => (!v ? "Enter a username." : v.toLowerCase() === this.client.me.username.toLowerCase() ? "That is you! Pick someone else." : null),
      submit: async (name) => {
        try {
          const room = await this.client.openDM(name.replace(/^@/, ""));
          this.navigate(room.id);
        } catch (err) {
          if (err.code === "not_found") throw new Error(`There is no user called “${name}”.`);
          throw err;
        }
      },
    });
  }

  async openDMWith(userId) {
    try {
      const room = await this.client.openDMWith(userId);
      this.navigate(room.id);
    } catch (err) {
      toastError(err);
    }
  }

  async inviteDialog() {
    const c = this.client;
    const room = this.shownRoom;
    if (!room || room.kind !== "group") return;
    const codeEl = h("code.invite-code", { id: "invite-code" }, room.inviteCode || "…");
    const status = h("div.invite-status", { role: "status" });
    const linkFor = (code) => `${location.origin}/join/${code}`;
    const copyCode = h("button.btn.btn-primary", { type: "button", id: "copy-invite", onclick: async () => {
      const ok = await copyText(room.inviteCode, codeEl);
      status.textContent = ok ? "Invite code copied." : "Select the code and copy it.";
    } }, icon("copy"), "Copy code");
    const copyLink = h("button.btn.btn-ghost", { type: "button", onclick: async () => {
      const ok = await copyText(linkFor(room.inviteCode));
      status.textContent = ok ? "Invite link copied." : "Could not copy the link.";
    } }, icon("link"), "Copy link");
    const rotate = room.role === "owner" ? h("button.btn.btn-ghost.btn-danger-text", { type: "button", id: "rotate-invite", onclick: async () => {
      const ok = await confirmDialog({ title: "Make a new invite code?", text: "The current code stops working at once. People already in the room stay.", confirmLabel: "New code" });
      if (!ok) return;
      try {
        const code = await c.rotateInvite(room);
        codeEl.textContent = code;
        status.textContent = "New invite code made. The old one no longer works.";
      } catch (err) {
        status.textContent = humanError(err);
      }
    } }, icon("refresh"), "New code") : null;
    openDialog({
      title: `Invite people to #${isolate(room.name)}`,
      description: "Share this code. Anyone with it can join the room.",
      id: "invite-dialog",
      className: "dialog-wide",
      body: [h("div.invite-box", codeEl), status],
      footer: [rotate, h("span.spacer"), copyLink, copyCode],
    });
    copyCode.focus();
    if (!room.inviteCode) {
      try {
        await c.refreshRoom(room);
        codeEl.textContent = room.inviteCode || "unavailable";
      } catch (err) {
        status.textContent = humanError(err);
      }
    }
  }

  roomMenu(anchor) {
    const c = this.client;
    const room = this.shownRoom;
    if (!room) return;
    this.members.closeMenu();
    const items = [];
    const add = (label, ico, fn, cls = "") => items.push(h("button.menu-item" + cls, { type: "button", role: "menuitem", onclick: () => { close(); fn(); } }, icon(ico), label));
    if (room.role === "owner" || room.role === "admin") {
      add("Invite people", "link", () => this.inviteDialog());
      add("Rename room", "edit", () => this.renameDialog());
    }
    add("Mark as read", "chat", () => this.markActiveRead());
    // Notification levels: a radio group of three.
    for (const [level, label, ico] of [["all", "All messages", "bell"], ["mentions", "Only mentions", "at"], ["none", "Mute", "bellOff"]]) {
      const item = h("button.menu-item.notify-item", { type: "button", role: "menuitemradio", "aria-checked": String(room.notify === level), dataset: { level },
        onclick: () => { close(); c.setNotify(room, level).catch((err) => toastError(err, "Could not change notifications: ")); } }, icon(ico), label);
      items.push(item);
    }
    if (room.kind === "group" && (room.role === "owner" || room.role === "admin")) {
      items.push(h("button.menu-item", { type: "button", role: "menuitemcheckbox", id: "members-can-pin", "aria-checked": String(room.membersCanPin),
        onclick: () => { close(); c.setMembersCanPin(room, !room.membersCanPin).catch((err) => toastError(err, "Could not change the setting: ")); } }, icon("pin"), "Members can pin"));
    }
    if (room.kind === "group" && room.role !== "owner") add("Leave room", "door", () => this.leaveDialog(), ".danger");
    const menu = h("div.popover.room-menu", { role: "menu", id: "room-menu" }, items);
    document.body.appendChild(menu);
    const r = anchor.getBoundingClientRect();
    menu.style.setProperty("top", r.bottom + 6 + "px");
    menu.style.setProperty("left", Math.max(8, Math.min(window.innerWidth - menu.offsetWidth - 8, r.right - menu.offsetWidth)) + "px");
    items[0]?.focus();
    const outside = (e) => { if (!menu.contains(e.target)) close(); };
    const onKey = (e) => {
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(); anchor.focus(); }
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const i = items.indexOf(document.activeElement);
        items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length].focus();
      }
    };
    function close() {
      menu.remove();
      document.removeEventListener("mousedown", outside);
    }
    menu.addEventListener("keydown", onKey);
    setTimeout(() => document.addEventListener("mousedown", outside), 0);
  }

  renameDialog() {
    const room = this.shownRoom;
    formDialog({
      title: "Rename room",
      label: "Room name",
      value: room.name,
      submitLabel: "Rename",
      inputId: "rename-room",
      maxLength: 100,
      validate: (v) => (!v ? "Give the room a name." : null),
      submit: (name) => this.client.rename(room, name),
    });
  }

  async leaveDialog() {
    const room = this.shownRoom;
    const ok = await confirmDialog({ title: `Leave #${isolate(room.name)}?`, text: "You will need a new invite code to come back.", confirmLabel: "Leave room", danger: true });
    if (!ok) return;
    try {
      await this.client.leave(room);
    } catch (err) {
      toastError(err, "Could not leave: ");
    }
  }

  async signOut() {
    this.onSignOut();
  }
}
