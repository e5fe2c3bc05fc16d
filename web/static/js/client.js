// The client's state and its synchronisation with the server.
//
// Rooms come from GET /rooms; each room's recent events (its "window")
// come over the WebSocket by subscribing with after_seq, and older messages
// by paging GET /rooms/{id}/messages. Every event is applied exactly once,
// in seq order: an event at or below the room's highSeq is a duplicate
// and is ignored, a gap makes us subscribe again from highSeq. After a
// dropped connection the same subscribe with after_seq = highSeq delivers
// exactly what was missed (docs/protocol.md, "Resuming after a
// disconnect"); unacknowledged sends are resent with the same
// client_msg_id, which the server posts once.
//
// Edits, deletions and reactions are "last write wins" per message (per
// user and emoji for reactions), so a REST snapshot of a message followed
// by a replay of the modification events we have seen for it, in order,
// always ends in the current state; modLog keeps those events.
//
// The UI listens to these events:
//   "rooms"            the list of rooms, a room's name, unread count or order
//   "room"   (roomId)  a room's timeline, pending messages or header data
//   "members"(roomId)  a room's member list
//   "users"            a user's name or presence
//   "typing" (roomId)  who is typing
//   "conn"   (state)   "connecting" | "syncing" | "online" | "reconnecting"
//   "removed"(room, why)  we are no longer in a room
//   "notify" (room, message)  a live message that mentions us or is a DM,
//                      in a room whose notification level lets it notify,
//                      or a reply in a thread we take part in
//   "thread" (roomId, root)  a thread's replies, unread count or summary
//   "pins"   (roomId)  a room's pinned messages (room.pins, once loaded)
//   "signedout" (reason)
//
// A jump to an old message (a search result) loads the messages around it
// into room.jump, a window of its own that is not contiguous with the live
// one: items() returns it while it is set; paging older (before=) and
// newer (after=) grows it, and once the newer pages reach the live window
// the two are merged and room.jump is dropped (live again).
//
// Replies in threads (message.posted with thread_root) are not items of
// the timeline: they update their root's `thread` summary and go to
// room.threads (root -> {replies, unread, participating, loaded}), which
// the thread panel (ui/thread.js) shows; their unread counts are per
// thread, not in room.unread.

import { Emitter } from "./util/emitter.js";
import { SocketError } from "./socket.js";
import { ApiError, normalizeAttachment } from "./api.js";
import { shownName } from "./util/format.js";

export const TAIL = 200; // events a first subscribe catches up on (system lines included)
export const PAGE = 50; // messages per history page
const TYPING_FOR = 6000; // ms a typing notice lasts
const TYPING_SEND_EVERY = 2100; // ms between our typing frames (the server forwards one per 2 s)
const UNAVAILABLE_RETRY_MAX = 10000; // ms: the longest wait before sending again a message the server could not store

/** Parses RFC 3339 times, with more than millisecond precision. */
export function parseTime(s) {
  if (!s) return null;
  const d = new Date(s.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(d.getTime()) ? null : d;
}

function newClientMsgId() {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `w-${Date.now().toString(36)}-${rand[0].toString(36)}${rand[1].toString(36)}`;
}

export class Client extends Emitter {
  constructor(api, socket) {
    super();
    this.api = api;
    this.socket = socket;
    this.me = null;
    this.rooms = new Map();
    this.users = new Map();
    this.activeRoomId = null;
    this.conn = "connecting";
    this.gen = 0; // connection generation: async work of an older one is dropped
    this.activityClock = 1e9;
    this.userFetches = new Map();
    /** Set by the UI: is the user looking at the bottom of this room right now? */
    this.isReading = () => false;
    this.typingSentAt = new Map();
    this.typingTimers = new Map();

    socket.on("ready", () => this.#onReady());
    socket.on("down", () => this.#onDown());
    socket.on("state", (s) => {
      if (s === "waiting" && this.conn === "online") this.#setConn("reconnecting");
    });
    socket.on("unauthenticated", () => this.#checkSession());
    socket.on("frame:event", (f) => this.#onEvent(f));
    socket.on("frame:presence", (f) => this.#onPresence([f]));
    socket.on("frame:presence_batch", (f) => this.#onPresence(f.users || []));
    socket.on("frame:typing", (f) => this.#onTyping(f));
    socket.on("frame:read_marker", (f) => this.#onReadMarker(f));
    socket.on("frame:thread_read", (f) => this.#onThreadRead(f));
    socket.on("frame:notify_level", (f) => this.#onNotifyLevel(f));
    socket.on("frame:rooms_changed", (f) => this.#onRoomsChanged(f));
    socket.on("frame:user", (f) => this.applyUser(f.user));
    socket.on("frame:error", (f) => console.warn("confab: server error frame", f.code, f.message));
  }

  /**
   * Starts syncing as user (from GET /me or sign-in). rooms, if given, is
   * a GET /rooms already in flight.
   */
  start(user, rooms) {
    this.me = user;
    this.#loadPending();
    this.#putUser(user);
    this.socket.start();
    // Rooms can be listed before the socket is up, so the UI has something to show.
    (rooms || this.api.rooms()).then(({ rooms }) => {
      if (this.conn !== "online" && this.conn !== "syncing") this.#mergeRooms(rooms, false);
    }).catch(() => { /* the sync on "ready" retries */ });
  }

  stop() {
    this.gen++;
    this.socket.stop();
  }

  // ---- connection and sync ------------------------------------------------

  #setConn(state) {
    if (this.conn === state) return;
    this.conn = state;
    this.emit("conn", state);
  }

  #onDown() {
    this.gen++;
    for (const room of this.rooms.values()) {
      room.sub = "none";
      room.typing.clear();
      for (const p of room.pending) if (p.state === "sending") p.state = "queued";
    }
    this.#setConn(this.conn === "connecting" ? "connecting" : "reconnecting");
    for (const room of this.rooms.values()) this.emit("typing", room.id);
  }

  async #onReady() {
    const gen = ++this.gen;
    const wasConnecting = this.conn === "connecting";
    this.#setConn("syncing");
    // Subscribe everything afresh (also after a failed attempt on this
    // connection: subscribing again replaces a subscription, and events
    // we already have are skipped by seq).
    for (const room of this.rooms.values()) room.sub = "none";
    try {
      const { rooms } = await this.api.rooms();
      if (gen !== this.gen) return;
      this.#mergeRooms(rooms, true);
      const order = [...this.rooms.values()].sort((a, b) => (b.id === this.activeRoomId) - (a.id === this.activeRoomId));
      // A few at a time: each catch-up must fit the server's outbound queue.
      let next = 0;
      const worker = async () => {
        while (next < order.length && gen === this.gen) {
          const room = order[next++];
          if (this.rooms.get(room.id) === room) await this.#subscribe(room, gen);
        }
      };
      await Promise.all([worker(), worker(), worker()]);
      if (gen !== this.gen) return;
      this.#setConn("online");
      this.#flushPending();
      if (!wasConnecting) {
        // Presence changed while we were away: member lists are stale.
        for (const room of this.rooms.values()) room.membersLoaded = false;
        const active = this.activeRoom;
        if (active) this.loadMembers(active).catch(() => {});
        // And the DM peers' presence the sidebar shows.
        for (const room of this.rooms.values()) if (room.kind === "dm" && room.dmPeerId) this.#refreshUser(room.dmPeerId);
      }
    } catch (err) {
      if (gen !== this.gen) return;
      if (err instanceof ApiError && err.status === 401) return; // signed out: handled by the API hook
      console.warn("confab: sync failed, retrying", err.message);
      setTimeout(() => { if (gen === this.gen && this.socket.ready) this.#onReady(); }, 2000);
    }
  }

  async #subscribe(room, gen) {
    if (room.sub !== "none") return;
    room.sub = "subscribing";
    let ack;
    try {
      ack = await this.socket.request({ type: "subscribe", room_id: room.id, after_seq: room.highSeq });
    } catch (err) {
      if (gen !== this.gen) return;
      room.sub = "none";
      if (err.code === "not_found") {
        this.#removeRoom(room, "You are no longer a member of this room.");
        return;
      }
      if (err.code === "invalid") {
        // after_seq is past the room's end: our view is newer than the
        // store (it was reset). Start the room over.
        this.#resetRoom(room, 0);
        return this.#subscribe(room, gen);
      }
      if (err.code === "slow_consumer" || err.code === "unavailable" || err.code === "rate_limited") {
        await new Promise((r) => setTimeout(r, 1000));
        if (gen === this.gen) return this.#subscribe(room, gen);
        return;
      }
      throw err;
    }
    if (gen !== this.gen) return;
    if (ack.too_many_missed) {
      // Too much happened while we were away: reload the room instead.
      this.#resetRoom(room, ack.seq);
      this.loadMembers(room).catch(() => {});
      this.refreshRoom(room).catch(() => {});
    } else if (ack.seq > room.highSeq) {
      console.warn("confab: catch-up ended short of its ack", room.id, room.highSeq, ack.seq);
      room.sub = "none";
      return this.#subscribe(room, gen);
    }
    room.sub = "live";
    this.emit("room", room.id);
  }

  #flushPending() {
    for (const room of this.rooms.values()) {
      for (const p of room.pending) if (p.state === "queued") this.#trySend(room, p);
    }
  }

  async #checkSession() {
    try {
      await this.api.me();
      // The session is fine: the socket reconnects by itself.
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.signedOut("Your session has ended. Please sign in again.");
    }
  }

  signedOut(reason) {
    this.forgetPending();
    this.stop();
    this.emit("signedout", reason);
  }

  // ---- unsent messages survive a reload -------------------------------------
  //
  // Messages not yet acknowledged are kept in this tab's sessionStorage, so
  // a reload resends them (with the same client_msg_id: posted once).

  #pendingKey() {
    return "confab.pending." + this.me.id;
  }

  #loadPending() {
    this.restoredPending = new Map();
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.#pendingKey()) || "{}");
      for (const [roomId, list] of Object.entries(saved)) {
        if (Array.isArray(list) && list.length) this.restoredPending.set(roomId, list);
      }
    } catch {
      // Unreadable: start without.
    }
  }

  #savePending() {
    const out = {};
    for (const room of this.rooms.values()) {
      const list = room.pending.filter((p) => p.state !== "failed")
        .map(({ client_msg_id, text, reply_to, created_at, attachments }) => ({ client_msg_id, text, reply_to, created_at, attachments }));
      if (list.length) out[room.id] = list;
    }
    // Rooms not loaded yet keep what was saved for them.
    for (const [roomId, list] of this.restoredPending || []) if (!this.rooms.has(roomId)) out[roomId] = list;
    try {
      if (Object.keys(out).length) sessionStorage.setItem(this.#pendingKey(), JSON.stringify(out));
      else sessionStorage.removeItem(this.#pendingKey());
    } catch {
      // Storage full or unavailable: the messages still go out from memory.
    }
  }

  /** Drops saved unsent messages (sign-out). */
  forgetPending() {
    if (!this.me) return;
    this.restoredPending = new Map();
    try {
      sessionStorage.removeItem(this.#pendingKey());
    } catch {
      // ignore
    }
  }

  #restorePendingFor(room) {
    const list = this.restoredPending?.get(room.id);
    if (!list) return;
    this.restoredPending.delete(room.id);
    for (const s of list) {
      if (typeof s?.client_msg_id !== "string" || typeof s.text !== "string") continue;
      if (room.pending.some((p) => p.client_msg_id === s.client_msg_id)) continue;
      const attachments = Array.isArray(s.attachments) ? s.attachments.filter((a) => typeof a?.id === "string").map(normalizeAttachment) : [];
      room.pending.push({ client_msg_id: s.client_msg_id, text: s.text, reply_to: s.reply_to || 0, attachments, created_at: s.created_at || new Date().toISOString(), state: "queued", error: null });
    }
  }

  // ---- rooms --------------------------------------------------------------

  get activeRoom() {
    return this.activeRoomId ? this.rooms.get(this.activeRoomId) || null : null;
  }

  sortedRooms() {
    return [...this.rooms.values()].sort((a, b) => b.activity - a.activity);
  }

  totalUnread() {
    let n = 0;
    for (const r of this.rooms.values()) n += this.counted(r);
    return n;
  }

  /**
   * A user's presence as the UI may show it: "online" or "offline", or
   * "unknown" while the socket is not live (no presence frames arrive
   * then, so what we last heard is stale).
   */
  presence(u) {
    if (this.conn !== "online") return "unknown";
    return u?.status === "online" ? "online" : "offline";
  }

  /**
   * The unread messages of a room that count (its badge, the tab title):
   * none when it is muted, only mentions with "mentions".
   */
  counted(room) {
    if (room.notify === "none") return 0;
    return room.notify === "mentions" ? room.mentions : room.unread;
  }

  #mentionsMe(msg) {
    return !!this.me && msg.sender_id !== this.me.id && (msg.mentions || []).includes(this.me.id);
  }

  displayName(room) {
    if (room.kind === "dm") return shownName(this.users.get(room.dmPeerId)) || "direct message";
    return room.name;
  }

  #newRoom(r) {
    const windowStart = Math.max(0, (r.last_seq || 0) - TAIL);
    return {
      id: r.id,
      kind: r.kind,
      name: r.name || "",
      ownerId: r.owner_id || null,
      role: r.role || "member",
      inviteCode: r.invite_code || null,
      lastSeq: r.last_seq || 0,
      readSeq: r.read_seq || 0,
      unread: r.unread || 0,
      mentions: r.mentions || 0,
      notify: r.notify || "all",
      membersCanPin: !!r.members_can_pin,
      pins: null, // seq -> pin (GET /rooms/{id}/pins), once loaded: loadPins
      unreadBase: r.last_seq || 0,
      // Messages after this seq may notify: not what was there when we
      // loaded the room, but what came later, live or after a reconnect.
      notifyAfter: r.last_seq || 0,
      dmPeerId: r.dm_peer?.id || null,
      activity: 0,
      members: new Map(),
      membersLoaded: false,
      membersLoading: null,
      items: new Map(), // seq -> {kind: "msg", msg, v} | {kind: "sys", seq, event, data, at}
      sorted: null,
      windowStart,
      highSeq: windowStart,
      historyBefore: windowStart + 1,
      hasMore: windowStart > 0,
      loadingHistory: null,
      sub: "none",
      pending: [],
      modLog: new Map(),
      typing: new Map(),
      replyCache: new Map(),
      threads: new Map(), // root seq -> thread state (thread())
      threadOf: new Map(), // reply seq -> root seq
      threadsLoaded: null, // the promise of GET /threads, once asked
      openThread: 0, // the root of the thread the panel shows
      markerSeq: null,
      jump: null, // {items, low, high, hasOlder, hasNewer, loading, target}: see jumpTo
      version: 0,
    };
  }

  #updateRoomFields(room, r) {
    room.kind = r.kind;
    room.name = r.name || "";
    room.ownerId = r.owner_id || null;
    room.role = r.role || room.role;
    if (r.invite_code) room.inviteCode = r.invite_code;
    if (r.dm_peer) {
      room.dmPeerId = r.dm_peer.id;
      this.#putUser(r.dm_peer);
    }
    room.lastSeq = Math.max(room.lastSeq, r.last_seq || 0);
    room.readSeq = Math.max(room.readSeq, r.read_seq || 0);
    // The server's count covers everything up to its last_seq; add what we
    // already processed beyond it.
    let extra = 0, extraMentions = 0;
    for (const it of room.items.values()) {
      if (it.kind === "msg" && it.msg.seq > (r.last_seq || 0) && it.msg.seq > room.readSeq && !it.msg.deleted && it.msg.sender_id !== this.me?.id) {
        extra++;
        if (this.#mentionsMe(it.msg)) extraMentions++;
      }
    }
    room.unread = (r.unread || 0) + extra;
    room.mentions = (r.mentions || 0) + extraMentions;
    if (r.notify) room.notify = r.notify;
    room.membersCanPin = !!r.members_can_pin;
    room.unreadBase = Math.max(room.unreadBase, r.last_seq || 0);
  }

  /** Applies a GET /rooms answer; with complete, rooms missing from it are gone. */
  #mergeRooms(list, complete) {
    const seen = new Set();
    list.forEach((r, i) => {
      seen.add(r.id);
      let room = this.rooms.get(r.id);
      if (!room) {
        room = this.#newRoom(r);
        this.rooms.set(r.id, room);
        this.#restorePendingFor(room);
      }
      this.#updateRoomFields(room, r);
      room.activity = list.length - i;
    });
    if (complete) {
      for (const room of [...this.rooms.values()]) {
        if (!seen.has(room.id)) this.#removeRoom(room, "You are no longer a member of this room.");
      }
    }
    this.emit("rooms");
    for (const id of seen) this.emit("room", id);
  }

  /**
   * Adds or updates a room from a single-room REST answer; subscribes if we
   * can. fresh: someone else added us (a DM opened with us), so all of its
   * messages are news.
   */
  addRoom(r, { fresh = false } = {}) {
    let room = this.rooms.get(r.id);
    if (!room) {
      room = this.#newRoom(r);
      if (fresh) room.notifyAfter = 0;
      room.activity = ++this.activityClock;
      this.rooms.set(r.id, room);
      this.#restorePendingFor(room);
    }
    this.#updateRoomFields(room, r);
    if ((this.conn === "online" || this.conn === "syncing") && this.socket.ready && room.sub === "none") this.#subscribe(room, this.gen).catch((err) => console.warn("confab: subscribe failed", err.message));
    this.emit("rooms");
    this.emit("room", room.id);
    return room;
  }

  #removeRoom(room, why) {
    if (this.rooms.get(room.id) !== room) return;
    this.rooms.delete(room.id);
    if (room.sub === "live" && this.socket.ready) {
      this.socket.request({ type: "unsubscribe", room_id: room.id }).catch(() => {});
    }
    this.emit("removed", room, why);
    this.emit("rooms");
  }

  #resetRoom(room, seq) {
    room.jump = null;
    room.items.clear();
    room.sorted = null;
    room.modLog.clear();
    room.replyCache.clear();
    room.windowStart = seq;
    room.highSeq = seq;
    room.lastSeq = Math.max(room.lastSeq, seq);
    room.historyBefore = seq + 1;
    room.hasMore = seq > 0;
    room.markerSeq = null;
    room.version++;
    this.emit("room", room.id);
  }

  async refreshRoom(room) {
    const { room: r } = await this.api.room(room.id);
    this.#updateRoomFields(room, r);
    this.emit("rooms");
    this.emit("room", room.id);
    return room;
  }

  async loadMembers(room) {
    if (room.membersLoading) return room.membersLoading;
    room.membersLoading = (async () => {
      try {
        const { members } = await this.api.members(room.id);
        room.members = new Map();
        for (const m of members) {
          this.#putUser(m.user);
          room.members.set(m.user.id, { userId: m.user.id, role: m.role, joinedAt: m.joined_at });
        }
        room.membersLoaded = true;
        this.emit("members", room.id);
        this.emit("room", room.id);
      } finally {
        room.membersLoading = null;
      }
    })();
    return room.membersLoading;
  }

  // ---- users --------------------------------------------------------------

  #putUser(u) {
    if (!u?.id) return;
    const old = this.users.get(u.id);
    this.users.set(u.id, { ...old, ...u });
  }

  user(id) {
    const u = this.users.get(id);
    if (!u) this.ensureUser(id);
    return u || null;
  }

  /** nameOf is the name user id is shown by (shownName), or null if unknown yet. */
  nameOf(id) {
    return shownName(this.user(id)) || null;
  }

  /**
   * Applies a user as the server shows them now (a "user" frame, an
   * account change): unlike #putUser, fields it leaves out are cleared.
   */
  applyUser(u) {
    if (!u?.id) return;
    const old = this.users.get(u.id);
    this.users.set(u.id, { ...old, ...u, display_name: u.display_name || "", avatar_url: u.avatar_url || "", deleted: !!u.deleted });
    if (this.me && u.id === this.me.id) this.me = { ...this.me, ...this.users.get(u.id) };
    this.emit("users");
  }

  ensureUser(id) {
    if (this.users.has(id) || this.userFetches.has(id)) return;
    const p = this.api.user(id).then(({ user }) => {
      this.#putUser(user);
      this.emit("users");
    }).catch(() => {}).finally(() => this.userFetches.delete(id));
    this.userFetches.set(id, p);
  }

  /** Loads a user again (their presence may have changed). */
  #refreshUser(id) {
    this.api.user(id).then(({ user }) => {
      this.#putUser(user);
      this.emit("users");
    }).catch(() => {});
  }

  /** Applies presence changes: a presence frame's, or a presence_batch's users (each once, latest). */
  #onPresence(changes) {
    let changed = false;
    for (const f of changes) {
      const u = this.users.get(f.user_id);
      if (!u) continue;
      u.status = f.status;
      if (f.last_seen) u.last_seen = f.last_seen;
      changed = true;
    }
    if (changed) this.emit("users");
  }

  // ---- events -------------------------------------------------------------

  #onEvent(f) {
    const room = this.rooms.get(f.room_id);
    if (!room || room.sub === "none") return;
    if (f.seq <= room.highSeq) return; // already applied
    if (f.seq !== room.highSeq + 1) {
      console.warn("confab: gap in room events; resubscribing", room.id, room.highSeq, f.seq);
      room.sub = "none";
      this.#subscribe(room, this.gen).catch(() => {});
      return;
    }
    room.highSeq = f.seq;
    room.lastSeq = Math.max(room.lastSeq, f.seq);
    const live = room.sub === "live";
    const d = f.data || {};
    switch (f.event) {
      case "message.posted":
        if (d.thread_root) this.#onThreadReply(room, f, d, live);
        else this.#onPosted(room, f, d, live);
        break;
      case "message.edited":
      case "message.deleted":
      case "reaction.added":
      case "reaction.removed": {
        const ev = { event: f.event, seq: f.seq, data: d };
        let log = room.modLog.get(d.seq);
        if (!log) room.modLog.set(d.seq, (log = []));
        log.push(ev);
        const it = room.items.get(d.seq);
        if (it?.kind === "msg") {
          const wasCounted = f.event === "message.deleted" && !it.msg.deleted && it.msg.seq > room.readSeq && it.msg.sender_id !== this.me.id;
          const wasMention = wasCounted && this.#mentionsMe(it.msg);
          this.#applyMod(it.msg, ev);
          it.v++;
          if (wasCounted && room.unread > 0) {
            room.unread--;
            if (wasMention && room.mentions > 0) room.mentions--;
            this.emit("rooms");
          }
        }
        if (f.event === "message.deleted" && room.pins?.delete(d.seq)) this.emit("pins", room.id);
        const cached = room.replyCache.get(d.seq);
        if (cached) this.#applyMod(cached, ev);
        this.#threadMod(room, ev);
        const jumped = room.jump?.items.get(d.seq);
        if (jumped && jumped !== it) {
          this.#applyMod(jumped.msg, ev);
          jumped.v++;
          room.jump.sorted = null;
        }
        break;
      }
      default:
        this.#onRoomEvent(room, f, d);
    }
    room.version++;
    this.emit("room", room.id);
  }

  #onPosted(room, f, d, live) {
    const msg = {
      room_id: room.id,
      seq: f.seq,
      sender_id: d.sender_id,
      client_msg_id: d.client_msg_id,
      text: d.text,
      reply_to: d.reply_to || 0,
      mentions: d.mentions || [],
      reactions: [],
      attachments: (d.attachments || []).map(normalizeAttachment),
      created_at: d.at || f.at,
    };
    room.items.set(f.seq, { kind: "msg", msg, v: 0 });
    room.sorted = null;
    this.ensureUser(d.sender_id);
    const typing = room.typing.delete(d.sender_id);
    if (typing) this.emit("typing", room.id);
    const mine = d.sender_id === this.me.id;
    if (mine) {
      const i = room.pending.findIndex((p) => p.client_msg_id === d.client_msg_id);
      if (i >= 0) {
        room.pending.splice(i, 1);
        this.#savePending();
      }
      if (live) room.markerSeq = null;
    }
    room.activity = live ? ++this.activityClock : room.activity;
    if (!mine && f.seq > room.readSeq && f.seq > room.unreadBase) {
      if (live && this.isReading(room)) {
        this.scheduleRead(room);
      } else {
        room.unread++;
        if (this.#mentionsMe(msg)) room.mentions++;
        if (room.id === this.activeRoomId && room.markerSeq === null) room.markerSeq = f.seq - 1;
      }
    }
    this.emit("rooms");
    const mention = msg.mentions.includes(this.me.id);
    const level = room.notify;
    if (!mine && f.seq > room.notifyAfter && level !== "none" && (mention || (room.kind === "dm" && level === "all"))) this.emit("notify", room, msg);
    room.notifyAfter = Math.max(room.notifyAfter, f.seq);
  }

  // ---- threads -------------------------------------------------------------

  /** The state of the thread of root in room (made empty if new). */
  thread(room, root) {
    let t = room.threads.get(root);
    if (!t) room.threads.set(root, (t = { root, replies: new Map(), unread: 0, participating: false, loaded: null, version: 0 }));
    return t;
  }

  /** The thread's replies, oldest first. */
  threadReplies(room, root) {
    return [...this.thread(room, root).replies.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Loads the room's threads (unread counts, participation), once. */
  loadThreads(room) {
    room.threadsLoaded ||= this.api.threads(room.id).then(({ threads }) => {
      for (const s of threads) {
        const t = this.thread(room, s.root.seq);
        t.unread = s.unread;
        t.readSeq = Math.max(t.readSeq || 0, s.read_seq || 0);
        // The replies up to here are in unread; those after count live.
        t.counted = Math.max(t.counted || 0, s.root.thread?.last_reply_seq || 0);
        t.participating ||= s.participating;
        t.version++;
      }
      room.version++;
      this.emit("room", room.id);
    }).catch((err) => { room.threadsLoaded = null; console.warn("confab: cannot load threads", err.message); });
    return room.threadsLoaded;
  }

  /** Loads a thread's root and replies. */
  loadThread(room, root) {
    const t = this.thread(room, root);
    t.loaded ||= this.api.threadMessages(room.id, root).then(({ root: r, messages }) => {
      t.rootMsg = r;
      this.#addReplies(room, t, messages);
      if (r.sender_id === this.me.id) t.participating = true;
      t.version++;
      this.emit("thread", room.id, root);
    }).catch((err) => { t.loaded = null; throw err; });
    return t.loaded;
  }

  /** Loads the next page of a thread's replies (after loadThread, while t.hasMore). */
  async loadMoreReplies(room, root) {
    const t = this.thread(room, root);
    if (!t.hasMore) return;
    const { messages } = await this.api.threadMessages(room.id, root, t.pageEnd);
    this.#addReplies(room, t, messages);
    t.version++;
    this.emit("thread", room.id, root);
  }

  /** Adds a page of replies (oldest first, at most 100) to thread t. */
  #addReplies(room, t, messages) {
    if (messages.length) t.pageEnd = messages[messages.length - 1].seq;
    t.hasMore = messages.length >= 100;
    const root = t.root;
    for (const m of messages) {
      if (t.replies.has(m.seq)) continue;
      t.replies.set(m.seq, this.#fetched(room, m));
      room.threadOf.set(m.seq, root);
    }
  }

  /** Posts a reply in the thread of root. */
  async sendInThread(room, root, text, attachments = []) {
    const t = this.thread(room, root);
    t.participating = true;
    const { message } = await this.api.postReply(room.id, root, newClientMsgId(), text, attachments.map((a) => a.id));
    return message;
  }

  /** Marks the thread of root read up to its last reply. */
  markThreadRead(room, root) {
    const t = this.thread(room, root);
    const last = Math.max(0, ...t.replies.keys());
    if (!last || last <= (t.readSeq || 0)) {
      if (t.unread) { t.unread = 0; t.version++; room.version++; this.emit("room", room.id); this.emit("thread", room.id, root); }
      return;
    }
    t.readSeq = last;
    t.unread = 0;
    t.version++;
    room.version++;
    this.emit("room", room.id);
    this.emit("thread", room.id, root);
    this.api.markThreadRead(room.id, root, last).catch((err) => console.warn("confab: cannot mark the thread read", err.message));
  }

  #onThreadReply(room, f, d, live) {
    const root = d.thread_root;
    const msg = {
      room_id: room.id, seq: f.seq, sender_id: d.sender_id, client_msg_id: d.client_msg_id, text: d.text,
      reply_to: d.reply_to || 0, thread_root: root, mentions: d.mentions || [], reactions: [],
      attachments: (d.attachments || []).map(normalizeAttachment), created_at: d.at || f.at,
    };
    const t = this.thread(room, root);
    t.replies.set(f.seq, msg);
    room.threadOf.set(f.seq, root);
    this.ensureUser(d.sender_id);
    const rootMsg = this.message(room, root) || t.rootMsg;
    const mine = d.sender_id === this.me.id;
    if (mine) t.participating = true;
    const it = room.items.get(root) || room.jump?.items.get(root);
    for (const m of new Set([it?.kind === "msg" ? it.msg : null, t.rootMsg].filter(Boolean))) {
      const th = m.thread || { reply_count: 0 };
      m.thread = { reply_count: th.reply_count + 1, last_reply_seq: f.seq, last_reply_at: msg.created_at };
    }
    if (it) it.v++;
    const mentioned = msg.mentions.includes(this.me.id);
    if (mentioned || rootMsg?.sender_id === this.me.id) t.participating = true;
    // Replies caught up on before the room's threads loaded are in the
    // counts GET /threads gives.
    if (!mine && f.seq > (t.readSeq || 0) && f.seq > (t.counted || 0) && (live || room.threadsLoaded)) {
      if (live && room.openThread === root && document.visibilityState === "visible") this.markThreadRead(room, root);
      else t.unread++;
    }
    t.version++;
    // The room's notification level applies to its threads too: muted, no
    // notification; "mentions", only a reply that mentions us.
    const level = room.notify;
    const notifies = level === "all" ? t.participating || room.kind === "dm" : level === "mentions" && mentioned;
    if (!mine && live && f.seq > room.notifyAfter && notifies) this.emit("notify", room, msg);
    room.notifyAfter = Math.max(room.notifyAfter, f.seq);
    this.emit("thread", room.id, root);
  }

  /** Applies an edit, deletion or reaction to a reply in a thread. */
  #threadMod(room, ev) {
    const root = room.threadOf.get(ev.data.seq) || ev.data.thread_root;
    if (!root) return;
    const t = this.thread(room, root);
    const reply = t.replies.get(ev.data.seq);
    const wasLive = reply ? !reply.deleted : true;
    if (reply) this.#applyMod(reply, ev);
    if (ev.event === "message.deleted" && ev.data.thread_root && wasLive) {
      const it = room.items.get(root) || room.jump?.items.get(root);
      for (const m of new Set([it?.kind === "msg" ? it.msg : null, t.rootMsg].filter(Boolean))) {
        if (m.thread?.reply_count > 0) m.thread = { ...m.thread, reply_count: m.thread.reply_count - 1 };
      }
      if (it) it.v++;
      if (reply && reply.sender_id !== this.me.id && ev.data.seq > (t.readSeq || 0) && t.unread > 0) t.unread--;
    }
    t.version++;
    this.emit("thread", room.id, root);
  }

  #onThreadRead(f) {
    const room = this.rooms.get(f.room_id);
    if (!room) return;
    const t = this.thread(room, f.root);
    if (f.seq <= (t.readSeq || 0)) return;
    t.readSeq = f.seq;
    let n = 0;
    for (const m of t.replies.values()) if (m.seq > f.seq && !m.deleted && m.sender_id !== this.me.id) n++;
    t.unread = n;
    t.version++;
    room.version++;
    this.emit("room", room.id);
    this.emit("thread", room.id, f.root);
  }

  #applyMod(msg, ev) {
    const d = ev.data;
    switch (ev.event) {
      case "message.edited":
        if (msg.deleted) return;
        msg.text = d.text;
        msg.mentions = d.mentions || [];
        msg.edited_at = d.at;
        if (d.removed_attachments?.length) msg.attachments = msg.attachments.filter((a) => !d.removed_attachments.includes(a.id));
        return;
      case "message.deleted":
        msg.deleted = true;
        msg.text = "";
        msg.mentions = [];
        msg.reactions = [];
        msg.attachments = [];
        return;
      case "reaction.added":
      case "reaction.removed": {
        if (msg.deleted) return;
        let r = msg.reactions.find((x) => x.emoji === d.emoji);
        if (ev.event === "reaction.added") {
          if (!r) {
            r = { emoji: d.emoji, users: [] };
            msg.reactions.push(r);
            msg.reactions.sort((a, b) => (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0));
          }
          if (!r.users.includes(d.user_id)) r.users.push(d.user_id);
        } else if (r) {
          r.users = r.users.filter((u) => u !== d.user_id);
          if (!r.users.length) msg.reactions = msg.reactions.filter((x) => x !== r);
        }
      }
    }
  }

  #onRoomEvent(room, f, d) {
    room.items.set(f.seq, { kind: "sys", seq: f.seq, event: f.event, data: d, at: d.at || f.at });
    room.sorted = null;
    const members = room.members;
    switch (f.event) {
      case "room.created":
        if (!room.membersLoaded && d.members) {
          for (const id of d.members) members.set(id, { userId: id, role: id === d.owner_id ? "owner" : "member", joinedAt: d.at });
        }
        break;
      case "member.joined":
        if (!members.has(d.user_id)) members.set(d.user_id, { userId: d.user_id, role: "member", joinedAt: d.at });
        this.ensureUser(d.user_id);
        break;
      case "member.left":
      case "member.kicked":
      case "member.banned":
        members.delete(d.user_id);
        room.typing.delete(d.user_id);
        if (d.user_id === this.me.id && room.sub === "live") {
          const why = f.event === "member.left" ? null : f.event === "member.kicked" ? "You were removed from this room." : "You were banned from this room.";
          this.#removeRoom(room, why);
        }
        break;
      case "member.role_changed": {
        const m = members.get(d.user_id);
        if (m) m.role = d.role;
        if (d.user_id === this.me.id) {
          room.role = d.role;
          if (d.role === "admin") this.refreshRoom(room).catch(() => {});
          else room.inviteCode = null;
          this.emit("rooms");
        }
        break;
      }
      case "room.renamed":
        room.name = d.name;
        this.emit("rooms");
        break;
      case "invite.rotated":
        if (room.role === "owner" || room.role === "admin") this.refreshRoom(room).catch(() => {});
        break;
      case "message.pinned":
        if (room.pins && !room.pins.has(d.seq)) {
          room.pins.set(d.seq, { seq: d.seq, pinned_by: d.by, pinned_at: d.at });
          this.emit("pins", room.id);
        }
        break;
      case "message.unpinned":
        if (room.pins?.delete(d.seq)) this.emit("pins", room.id);
        break;
      case "room.settings_changed":
        room.membersCanPin = !!d.members_can_pin;
        break;
    }
    if (f.event.startsWith("member.") || f.event === "room.created") this.emit("members", room.id);
    for (const key of ["user_id", "by", "owner_id"]) if (d[key]) this.ensureUser(d[key]);
  }

  #onTyping(f) {
    const room = this.rooms.get(f.room_id);
    if (!room || f.user_id === this.me.id) return;
    room.typing.set(f.user_id, { username: this.nameOf(f.user_id) || f.username, until: Date.now() + TYPING_FOR });
    this.emit("typing", room.id);
    setTimeout(() => {
      const t = room.typing.get(f.user_id);
      if (t && t.until <= Date.now()) {
        room.typing.delete(f.user_id);
        this.emit("typing", room.id);
      }
    }, TYPING_FOR + 50);
  }

  #onReadMarker(f) {
    const room = this.rooms.get(f.room_id);
    if (!room || f.seq <= room.readSeq) return;
    room.readSeq = f.seq;
    if (f.seq >= room.highSeq) {
      room.unread = 0;
      room.mentions = 0;
    } else if (f.seq >= room.windowStart) {
      let n = 0, m = 0;
      for (const it of room.items.values()) {
        if (it.kind === "msg" && it.msg.seq > f.seq && !it.msg.deleted && it.msg.sender_id !== this.me.id) {
          n++;
          if (this.#mentionsMe(it.msg)) m++;
        }
      }
      room.unread = n;
      room.mentions = m;
    }
    this.emit("rooms");
  }

  #onNotifyLevel(f) {
    const room = this.rooms.get(f.room_id);
    if (!room || room.notify === f.level) return;
    room.notify = f.level;
    this.emit("rooms");
    this.emit("room", room.id);
  }

  async #onRoomsChanged(f) {
    if (f.change === "removed") {
      const room = this.rooms.get(f.room_id);
      if (room) this.#removeRoom(room, null);
      return;
    }
    try {
      const { room } = await this.api.room(f.room_id);
      this.addRoom(room, { fresh: true });
    } catch (err) {
      console.warn("confab: cannot load a new room", err.message);
    }
  }

  // ---- timeline -----------------------------------------------------------

  /** The room's items in seq order. */
  items(room) {
    const j = room.jump;
    if (j) {
      if (!j.sorted) j.sorted = [...j.items.values()].sort((a, b) => itemSeq(a) - itemSeq(b));
      return j.sorted;
    }
    if (!room.sorted) room.sorted = [...room.items.values()].sort((a, b) => itemSeq(a) - itemSeq(b));
    return room.sorted;
  }

  message(room, seq) {
    const it = room.items.get(seq) || room.jump?.items.get(seq);
    if (it?.kind === "msg") return it.msg;
    return room.replyCache.get(seq) || null;
  }

  /** True when the message seq is in the view items() gives. */
  shows(room, seq) {
    return (room.jump ? room.jump.items : room.items).get(seq)?.kind === "msg";
  }

  /**
   * Shows the message seq: at once when the live window holds it, else
   * by loading the messages around it into room.jump. Resolves once it
   * is in items(); rejects with the API's error (not_found: deleted or
   * not there).
   */
  async jumpTo(room, seq) {
    if (room.items.get(seq)?.kind === "msg" && seq >= room.historyBefore) {
      if (room.jump) this.leaveJump(room);
      return;
    }
    const half = PAGE / 2;
    const { messages } = await this.api.messagesAround(room.id, seq, PAGE);
    if (this.rooms.get(room.id) !== room) return;
    if (!messages.some((m) => m.seq === seq)) throw new ApiError(404, "not_found", "that message is not there any more");
    const older = messages.filter((m) => m.seq < seq).length;
    const newer = messages.filter((m) => m.seq > seq).length;
    const seqs = messages.map((m) => m.seq);
    room.jump = {
      items: new Map(), sorted: null, target: seq,
      low: Math.min(...seqs), high: Math.max(...seqs),
      hasOlder: older >= half, hasNewer: newer >= half, loading: null,
    };
    for (const m of messages) this.#insertSnapshot(room, m, room.jump.items);
    if (!room.jump.hasNewer || room.jump.high >= room.historyBefore) this.#mergeJump(room);
    room.version++;
    this.emit("room", room.id);
  }

  /** Back to the live window (the present). */
  leaveJump(room) {
    if (!room.jump) return;
    room.jump = null;
    room.version++;
    this.emit("room", room.id);
  }

  /** The jump window reaches the live one: one window again. */
  #mergeJump(room) {
    const j = room.jump;
    room.jump = null;
    if (j.low < room.historyBefore) {
      for (const it of j.items.values()) if (!room.items.has(it.msg.seq)) room.items.set(it.msg.seq, it);
      room.historyBefore = j.low;
      room.hasMore = j.hasOlder;
      room.sorted = null;
    }
  }

  /** Loads the page of messages after the newest one of the jump window. */
  loadNewer(room) {
    const j = room.jump;
    if (!j || !j.hasNewer) return Promise.resolve();
    if (j.loading) return j.loading;
    j.loading = (async () => {
      try {
        const { messages } = await this.api.messagesAfter(room.id, j.high, PAGE);
        if (room.jump !== j) return;
        for (const m of messages) this.#insertSnapshot(room, m, j.items);
        if (messages.length) j.high = Math.max(j.high, ...messages.map((m) => m.seq));
        j.sorted = null;
        if (messages.length < PAGE || j.high >= room.historyBefore) this.#mergeJump(room);
        room.version++;
      } finally {
        j.loading = null;
        this.emit("room", room.id);
      }
    })();
    this.emit("room", room.id);
    return j.loading;
  }

  /** Loads the page of messages before the oldest loaded one. */
  loadOlder(room) {
    if (room.jump) return this.#loadOlderJump(room);
    if (!room.hasMore) return Promise.resolve();
    if (room.loadingHistory) return room.loadingHistory;
    room.loadingHistory = (async () => {
      try {
        const before = room.historyBefore;
        const { messages } = await this.api.messages(room.id, before, PAGE);
        if (room.historyBefore !== before) return; // reset meanwhile
        for (const m of messages) this.#insertSnapshot(room, m);
        if (messages.length) room.historyBefore = Math.min(...messages.map((m) => m.seq));
        if (messages.length < PAGE) room.hasMore = false;
        room.sorted = null;
        room.version++;
      } finally {
        room.loadingHistory = null;
        this.emit("room", room.id);
      }
    })();
    this.emit("room", room.id);
    return room.loadingHistory;
  }

  #loadOlderJump(room) {
    const j = room.jump;
    if (!j.hasOlder) return Promise.resolve();
    if (j.loadingOlder) return j.loadingOlder;
    j.loadingOlder = (async () => {
      try {
        const { messages } = await this.api.messages(room.id, j.low, PAGE);
        if (room.jump !== j) return;
        for (const m of messages) this.#insertSnapshot(room, m, j.items);
        if (messages.length) j.low = Math.min(j.low, ...messages.map((m) => m.seq));
        if (messages.length < PAGE) j.hasOlder = false;
        j.sorted = null;
        room.version++;
      } finally {
        j.loadingOlder = null;
        this.emit("room", room.id);
      }
    })();
    this.emit("room", room.id);
    return j.loadingOlder;
  }

  #insertSnapshot(room, m, into = room.items) {
    if (into.has(m.seq)) return;
    const live = into !== room.items ? room.items.get(m.seq) : null;
    if (live?.kind === "msg") {
      // The live window has it already, with every event applied.
      into.set(m.seq, live);
      return;
    }
    into.set(m.seq, { kind: "msg", msg: this.#fetched(room, m), v: 0 });
  }

  /**
   * A message as fetched over REST, made like a live one: a copy with its
   * attachments normalized, and with the edits, deletions and reactions
   * that arrived live before it (room.modLog) applied; its sender's name
   * kept if the user is not known yet.
   */
  #fetched(room, m) {
    const msg = structuredClone(m);
    msg.attachments = (msg.attachments || []).map(normalizeAttachment);
    msg.mentions ||= [];
    msg.reactions ||= [];
    if (m.sender_name && !this.users.has(m.sender_id)) this.users.set(m.sender_id, { id: m.sender_id, username: m.sender_name });
    for (const ev of room.modLog.get(m.seq) || []) this.#applyMod(msg, ev);
    return msg;
  }

  /** Fetches one message (a reply's target) that is not loaded. */
  async fetchMessage(room, seq) {
    if (this.message(room, seq) || room.replyCache.has(seq)) return;
    room.replyCache.set(seq, null);
    try {
      const { messages } = await this.api.messages(room.id, seq + 1, 1);
      const m = messages[0];
      if (m && m.seq === seq) {
        m.attachments = (m.attachments || []).map(normalizeAttachment);
        if (m.sender_name && !this.users.has(m.sender_id)) this.users.set(m.sender_id, { id: m.sender_id, username: m.sender_name });
        for (const ev of room.modLog.get(seq) || []) this.#applyMod(m, ev);
        room.replyCache.set(seq, m);
        room.version++;
        this.emit("room", room.id);
      }
    } catch {
      room.replyCache.delete(seq);
    }
  }

  // ---- sending ------------------------------------------------------------

  /** Sends a message; attachments are uploaded attachment objects. */
  send(room, text, replyTo = 0, attachments = []) {
    room.jump = null;
    const p = {
      client_msg_id: newClientMsgId(),
      text,
      reply_to: replyTo || 0,
      attachments,
      created_at: new Date().toISOString(),
      state: "queued",
      error: null,
    };
    room.pending.push(p);
    this.#savePending();
    room.markerSeq = null;
    room.activity = ++this.activityClock;
    this.emit("rooms");
    this.emit("room", room.id);
    if (this.conn === "online") this.#trySend(room, p);
    return p;
  }

  #trySend(room, p) {
    if (!this.socket.ready || p.state !== "queued") return;
    p.state = "sending";
    const gen = this.gen;
    const frame = { type: "send", room_id: room.id, client_msg_id: p.client_msg_id, text: p.text, reply_to: p.reply_to };
    if (p.attachments?.length) frame.attachments = p.attachments.map((a) => a.id);
    this.socket.request(frame)
      .then((ack) => {
        p.state = "sent";
        p.seq = ack.seq;
        p.unavailable = false;
        p.tries = 0;
        this.emit("room", room.id);
      }, (err) => {
        if (!room.pending.includes(p)) return;
        if (["disconnected", "timeout", "unavailable", "rate_limited", "closed"].includes(err.code)) {
          p.state = "queued";
          // "unavailable": the server cannot store messages right now (its
          // database is down or restarting). The message stays queued, and
          // the row says so, and is retried with a growing wait.
          p.unavailable = err.code === "unavailable";
          p.tries = (p.tries || 0) + 1;
          if (err.code !== "disconnected" && err.code !== "closed") {
            const wait = p.unavailable ? Math.min(1000 * 2 ** Math.min(p.tries - 1, 4), UNAVAILABLE_RETRY_MAX) : 1500;
            setTimeout(() => { if (gen === this.gen) this.#trySend(room, p); }, wait);
          }
        } else {
          p.state = "failed";
          p.error = err.message;
          this.#savePending();
        }
        this.emit("room", room.id);
      });
    this.emit("room", room.id);
  }

  retry(room, p) {
    if (p.state !== "failed") return;
    p.state = "queued";
    p.error = null;
    this.#savePending();
    this.#trySend(room, p);
    this.emit("room", room.id);
  }

  discard(room, p) {
    room.pending = room.pending.filter((x) => x !== p);
    this.#savePending();
    this.emit("room", room.id);
  }

  /**
   * Tells the room we are typing. The server forwards one typing frame
   * per room every 2 s and drops the rest, so a keystroke that comes
   * sooner is sent once that window has passed.
   */
  typing(room) {
    const wait = (this.typingSentAt.get(room.id) || 0) + TYPING_SEND_EVERY - Date.now();
    if (wait <= 0) {
      if (this.socket.send({ type: "typing", room_id: room.id })) this.typingSentAt.set(room.id, Date.now());
      return;
    }
    if (this.typingTimers.has(room.id)) return;
    this.typingTimers.set(room.id, setTimeout(() => {
      this.typingTimers.delete(room.id);
      this.typing(room);
    }, wait));
  }

  /** We sent the message: others stop seeing us type when it arrives. */
  typingReset(room) {
    clearTimeout(this.typingTimers.get(room.id));
    this.typingTimers.delete(room.id);
  }

  scheduleRead(room) {
    clearTimeout(room.readTimer);
    // Still reading when it fires? The tab may have been hidden meanwhile.
    room.readTimer = setTimeout(() => {
      room.readTimer = null;
      if (this.isReading(room)) this.markRead(room);
    }, 300);
  }

  /**
   * The user leaves room (another room, a reload): a read scheduled while
   * they were reading it is sent now, so the messages they saw stay read.
   */
  flushRead(room) {
    if (!room?.readTimer) return;
    clearTimeout(room.readTimer);
    room.readTimer = null;
    this.markRead(room);
  }

  markRead(room) {
    if (room.unread || room.mentions) {
      room.unread = 0;
      room.mentions = 0;
      this.emit("rooms");
    }
    const seq = room.highSeq;
    if (seq <= room.readSeq || seq < 1 || !this.socket.ready) return;
    const before = room.readSeq;
    room.readSeq = seq;
    this.socket.request({ type: "read", room_id: room.id, seq }).catch(() => {
      // Not stored: let the next read send it again.
      if (room.readSeq === seq) room.readSeq = before;
    });
  }

  // ---- actions over REST --------------------------------------------------

  /** keep, when given, are the IDs of the attachments the message keeps. */
  edit(room, seq, text, keep) { return this.api.editMessage(room.id, seq, text, keep); }
  remove(room, seq) { return this.api.deleteMessage(room.id, seq); }
  toggleReaction(room, msg, emoji) {
    const mine = msg.reactions.some((r) => r.emoji === emoji && r.users.includes(this.me.id));
    return this.api.react(room.id, msg.seq, emoji, !mine);
  }

  /** Whether we may pin in room: owner and admins, members if the room allows, both in a DM. */
  canPin(room) {
    return room.kind === "dm" || room.role === "owner" || room.role === "admin" || room.membersCanPin;
  }

  /** Loads the room's pins into room.pins (a Map by seq, most recently pinned first). */
  async loadPins(room) {
    const { pins } = await this.api.pins(room.id);
    room.pins = new Map(pins.map((p) => [p.seq, p]));
    this.emit("pins", room.id);
    this.emit("room", room.id);
    return pins;
  }

  async pin(room, seq, on) {
    const { pins } = await this.api.pin(room.id, seq, on);
    room.pins = new Map(pins.map((p) => [p.seq, p]));
    this.emit("pins", room.id);
    this.emit("room", room.id);
  }

  async setMembersCanPin(room, on) {
    const { room: r } = await this.api.setRoomSettings(room.id, { members_can_pin: on });
    this.#updateRoomFields(room, r);
    this.emit("room", room.id);
  }

  async setNotify(room, level) {
    const { room: r } = await this.api.setNotify(room.id, level);
    this.#updateRoomFields(room, r);
    this.emit("rooms");
    this.emit("room", room.id);
  }

  async createRoom(name) {
    const { room } = await this.api.createRoom(name);
    return this.addRoom(room);
  }

  async joinRoom(code) {
    const { room } = await this.api.joinRoom(code);
    return this.addRoom(room);
  }

  async openDM(username) {
    const { user } = await this.api.userByName(username);
    this.#putUser(user);
    const { room } = await this.api.openDM(user.id);
    return this.addRoom(room);
  }

  async openDMWith(userId) {
    const { room } = await this.api.openDM(userId);
    return this.addRoom(room);
  }

  async rename(room, name) {
    const { room: r } = await this.api.renameRoom(room.id, name);
    this.#updateRoomFields(room, r);
    this.emit("rooms");
    this.emit("room", room.id);
  }

  async rotateInvite(room) {
    const { room: r } = await this.api.rotateInvite(room.id);
    this.#updateRoomFields(room, r);
    this.emit("room", room.id);
    return room.inviteCode;
  }

  async leave(room) {
    await this.api.leaveRoom(room.id);
    this.#removeRoom(room, null);
  }

  async kick(room, userId) { await this.api.kick(room.id, userId); }
  async ban(room, userId) { await this.api.ban(room.id, userId); }
  async setRole(room, userId, role) { await this.api.setRole(room.id, userId, role); }
}

function itemSeq(it) {
  return it.kind === "msg" ? it.msg.seq : it.seq;
}

export { SocketError };
