// The call UI: the "Join call" button in the room header, the call stage
// (a tile per participant, screen shares as large tiles, the controls)
// above the room's timeline, and a slim bar while the call goes on and
// another room is shown. The signaling and media live in session.js; the
// timeline's call lines in events.js.
//
// Contract with the app (ui/app.js):
//   mountCallSlot(slot, {client, socket, api}) -> {setRoom(room), destroy()}
//   - slot: an element in the room header, reserved for call controls.
//     The stage and the bar are placed in the same <main>, just before
//     the room view.
//   - client: the chat client (client.js): client.me, client.rooms,
//     client.nameOf(id), client.on("members" | "users" | "removed", ...).
//   - socket: the WebSocket (socket.js): request(), on("frame:<type>"),
//     on("ready") after every (re)connect.
//   - api: the REST client (api.js), for GET /rooms/{id}/call.
//   setRoom(room) is called whenever the shown room changes (null: none).
//
// For tests and debugging, with localStorage "confab.debug" set, the page
// has window.confabCall: pcs() -> {pub, sub}, tracks() -> {mid: track ID}
// of the sub connection, session() -> the CallSession.

import { h, avatar } from "../util/dom.js";
import { toast, toastError } from "../ui/toast.js";
// The media code (session.js, devices.js, sdp.js: signaling, devices,
// WebRTC) is loaded with import() when the user starts or joins a call:
// never before, so that the app loads without it.
const loadMedia = () => Promise.all([import("./session.js"), import("./devices.js")]);

/** Whether the browser can share a screen (as devices.js checks it). */
const canShareScreen = () => !!navigator.mediaDevices?.getDisplayMedia;
import { callIcon } from "./icons.js";
import { formatClock, parseMs } from "./events.js";

export { renderCallEvent } from "./events.js";

const NARROW = window.matchMedia("(max-width: 900px)");

export function mountCallSlot(slot, deps) {
  return new CallUI(slot, deps);
}

const ENDED_TEXT = {
  moved: "You joined this call from another tab or device, so you left it here.",
  removed: "You were removed from the call.",
  connection_failed: "Your call connection failed. Check your network and join again.",
};

class CallUI {
  constructor(slot, { client, socket, api }) {
    this.slot = slot;
    this.client = client;
    this.socket = socket;
    this.api = api;
    this.room = null;
    this.session = null;
    this.joining = null; // room ID while opening devices and joining
    this.calls = new Map(); // room ID -> {callId, startedAt, inCall: Set}
    this.seen = new Map(); // room ID -> last call event seq applied
    this.ended = new Set(); // IDs of calls that ended
    this.notices = []; // {id, kind, text}
    this.noticeSeq = 0;
    this.focus = false;
    this.tiles = new Map(); // key -> {el, video, track}
    this.audios = new Map(); // track ID -> <audio>
    this.needsSound = false;

    this.#build();
    this.offs = [
      socket.on("frame:event", (f) => this.#onEvent(f)),
      socket.on("ready", () => { if (this.room) this.#fetchCall(this.room.id); }),
      client.on("members", () => this.render()),
      client.on("users", () => this.render()),
      client.on("removed", (room) => {
        if (this.session?.roomId === room.id) this.session.leave();
        this.calls.delete(room.id);
      }),
    ];
    this.onKey = (e) => this.#onKey(e);
    document.addEventListener("keydown", this.onKey);
    this.onResize = () => this.#layout();
    NARROW.addEventListener("change", this.onResize);
    this.resizeObserver = new ResizeObserver(() => this.#layout());
    this.resizeObserver.observe(this.grid);
    this.clock = setInterval(() => this.#tick(), 1000);
    if (localStorage.getItem("confab.debug")) this.#exposeDebug();
  }

  // ---- building ------------------------------------------------------------

  #build() {
    this.joinLabel = h("span.btn-label", "Join call");
    this.joinCount = h("span.call-count", { hidden: true });
    this.joinFaces = h("span.call-faces", { "aria-hidden": "true" });
    this.joinBtn = h("button.btn.btn-call", { type: "button", id: "join-call", onclick: () => this.join() },
      callIcon("phone"), this.joinLabel, this.joinFaces, this.joinCount);
    this.pill = h("span.call-pill", { id: "call-pill", hidden: true }, h("span.call-pill-dot"), h("span.call-pill-text"));
    this.slot.replaceChildren(this.pill, this.joinBtn);
    this.slot.hidden = true;

    // The stage.
    this.grid = h("div.call-grid", { id: "call-grid", role: "list", "aria-label": "Call participants" });
    this.spotlight = h("div.call-spotlight", { id: "call-spotlight", hidden: true });
    this.noticeList = h("div.call-notices", { id: "call-notices" });
    this.overlay = h("div.call-overlay", { hidden: true }, h("span.spinner"), h("span.call-overlay-text"));
    // Only the state is announced, not the clock's every second.
    this.status = h("div.call-status", { id: "call-status" }, h("span.call-status-dot"), h("span.call-status-text", { role: "status" }), h("span.call-status-clock"));
    this.micBtn = this.#control("call-mic", () => this.toggleMute());
    this.camBtn = this.#control("call-camera", () => this.toggleCamera());
    this.screenBtn = this.#control("call-screen", () => this.toggleScreen());
    this.screenBtn.hidden = !canShareScreen();
    this.focusBtn = this.#control("call-focus", () => this.toggleFocus());
    this.leaveBtn = h("button.call-ctl.call-ctl-leave", { type: "button", id: "call-leave", title: "Leave call", "aria-label": "Leave call", onclick: () => this.leave() }, callIcon("hangup"));
    this.controls = h("div.call-controls", { role: "toolbar", "aria-label": "Call controls" },
      this.status,
      h("div.call-buttons", this.micBtn, this.camBtn, this.screenBtn, this.focusBtn, this.leaveBtn),
      h("div.call-controls-end"));
    this.controls.addEventListener("keydown", (e) => this.#toolbarKeys(e));
    this.audioBox = h("div.call-audio", { "aria-hidden": "true" });
    this.stage = h("section.call-stage", { id: "call-stage", "aria-label": "Call", hidden: true },
      h("div.call-media", this.spotlight, this.grid, this.overlay),
      this.noticeList,
      this.controls);

    // The bar, while another room (or none) is shown.
    this.barText = h("span.call-bar-text");
    this.barMic = h("button.icon-btn.call-bar-mic", { type: "button", onclick: () => this.toggleMute() });
    this.bar = h("div.call-bar", { id: "call-bar", role: "region", "aria-label": "Ongoing call", hidden: true },
      h("span.call-bar-icon", callIcon("speaker")),
      h("button.call-bar-return", { type: "button", id: "call-return", title: "Go to the call", onclick: () => this.#goToCall() }, this.barText),
      h("span.spacer"),
      this.barMic,
      h("button.icon-btn.call-bar-leave", { type: "button", title: "Leave call", "aria-label": "Leave call", onclick: () => this.leave() }, callIcon("hangup")));
    this.host = h("div.call-host", this.stage, this.bar, this.audioBox);
  }

  #control(id, onclick) {
    return h("button.call-ctl", { type: "button", id, onclick });
  }

  /** Puts the stage in the page, before the room view (the layout is built after us). */
  #place() {
    if (this.host.isConnected) return;
    const main = this.slot.closest("main, .main");
    if (!main) return;
    const view = [...main.children].find((el) => el.classList.contains("room-view"));
    main.insertBefore(this.host, view || null);
  }

  // ---- the app's calls -------------------------------------------------------

  setRoom(room) {
    this.room = room;
    this.slot.hidden = !room;
    if (room) this.#fetchCall(room.id);
    this.render();
  }

  destroy() {
    this.session?.leave();
    for (const off of this.offs) off();
    document.removeEventListener("keydown", this.onKey);
    NARROW.removeEventListener("change", this.onResize);
    this.resizeObserver.disconnect();
    clearInterval(this.clock);
    this.#setFocus(false);
    this.host.remove();
    this.slot.replaceChildren();
    if (window.confabCall?.owner === this) delete window.confabCall;
  }

  // ---- what calls are going on -------------------------------------------------

  async #fetchCall(roomId) {
    const seenBefore = this.seen.get(roomId) || 0;
    let res;
    try {
      res = await this.api.request("GET", `/rooms/${encodeURIComponent(roomId)}/call`);
    } catch {
      return; // not a member any more, or offline: the events keep us close enough
    }
    // The read model may lag the live events: a call event that came
    // meanwhile is newer than this answer, and an ended call is over.
    if ((this.seen.get(roomId) || 0) !== seenBefore) return;
    const c = res?.call;
    if (c && this.ended.has(c.call_id)) return;
    if (this.session?.roomId === roomId && this.session.participants.length) {
      // call.state is fresher than the read model.
      const info = this.#info(roomId, c?.call_id);
      if (c) info.startedAt = parseMs(c.started_at);
    } else if (c) {
      this.calls.set(roomId, { callId: c.call_id, startedAt: parseMs(c.started_at), inCall: new Set(c.in_call || []) });
    } else {
      this.calls.delete(roomId);
    }
    this.render();
  }

  #info(roomId, callId) {
    let info = this.calls.get(roomId);
    if (!info || (callId && info.callId && info.callId !== callId)) {
      info = { callId: callId || null, startedAt: NaN, inCall: new Set() };
      this.calls.set(roomId, info);
    }
    if (callId && !info.callId) info.callId = callId;
    return info;
  }

  #onEvent(f) {
    if (!f.event?.startsWith("call.")) return;
    if (f.seq <= (this.seen.get(f.room_id) || 0)) return;
    this.seen.set(f.room_id, f.seq);
    const d = f.data || {};
    switch (f.event) {
      case "call.started": {
        this.calls.set(f.room_id, { callId: d.call_id, startedAt: parseMs(d.at || f.at), inCall: new Set() });
        break;
      }
      case "call.joined":
        this.#info(f.room_id, d.call_id).inCall.add(d.user_id);
        this.client.user?.(d.user_id);
        break;
      case "call.left":
        this.#info(f.room_id, d.call_id).inCall.delete(d.user_id);
        break;
      case "call.ended":
        this.ended.add(d.call_id);
        this.calls.delete(f.room_id);
        break;
    }
    this.render();
  }

  // ---- joining and leaving -------------------------------------------------------

  async join() {
    const room = this.room;
    if (!room || this.joining) return;
    if (this.session?.roomId === room.id) return;
    if (!this.socket.ready) {
      toast("Not connected to the server yet. Try again in a moment.", { kind: "error" });
      return;
    }
    this.session?.leave(); // one call at a time
    this.joining = room.id;
    this.#clearNotices();
    this.render();
    let devices, CallSession;
    try {
      const [session, { openDevices }] = await loadMedia();
      CallSession = session.CallSession;
      devices = await openDevices();
    } catch (err) {
      toastError(err);
      this.render();
      return;
    } finally {
      this.joining = null;
    }
    if (this.session || !this.client.rooms.has(room.id)) {
      for (const t of [devices.mic, devices.cam]) t?.stop();
      this.render();
      return;
    }
    const s = new CallSession(this.socket, room.id, {
      me: this.client.me.id, mic: devices.mic, cam: devices.cam,
      fetchIceServers: () => this.api.request("GET", "/rtc/ice-servers"),
    });
    this.session = s;
    for (const n of devices.notices) this.#notice(n.kind, n.text);
    s.on("state", () => this.render());
    s.on("participants", () => {
      const info = this.#info(s.roomId, s.callId);
      if (s.participants.length) info.inCall = new Set(s.participants.map((p) => p.user_id));
      for (const p of s.participants) this.client.user?.(p.user_id);
      this.render();
    });
    s.on("speaker", () => this.#renderSpeaker());
    s.on("tracks", () => this.render());
    s.on("local", () => this.render());
    s.on("media", () => this.render());
    s.on("notice", (n) => this.#notice(n.kind, n.text));
    s.on("ended", (reason, err) => this.#onEnded(s, reason, err));
    s.start();
    this.render();
    // The call's start time, for the clock.
    setTimeout(() => { if (this.session === s) this.#fetchCall(s.roomId); }, 800);
  }

  leave() {
    this.session?.leave();
  }

  #onEnded(s, reason, err) {
    if (this.session !== s) return;
    this.session = null;
    this.#clearNotices();
    this.#setFocus(false);
    const info = this.calls.get(s.roomId);
    if (info) {
      info.inCall.delete(this.client.me.id);
      if (!info.inCall.size) this.calls.delete(s.roomId);
    }
    if (reason === "error" && err?.code === "calls_unavailable") this.unavailable = true;
    if (reason === "error") toastError(err, "Could not join the call: ");
    else if (ENDED_TEXT[reason]) toast(ENDED_TEXT[reason], { kind: reason === "moved" ? "info" : "error", ms: 7000 });
    this.render();
    // The read model catches up with our leave in a moment.
    setTimeout(() => { if (this.room && !this.session) this.#fetchCall(this.room.id); }, 1500);
  }

  toggleMute() {
    const s = this.session;
    if (s) s.setMuted(!(s.muted || !s.mic));
  }

  toggleCamera() {
    const s = this.session;
    if (s) s.setCamera(!s.cam);
  }

  toggleScreen() {
    const s = this.session;
    if (!s) return;
    if (s.screen) s.stopScreen();
    else s.startScreen();
  }

  toggleFocus() {
    this.#setFocus(!this.focus);
    this.render();
  }

  #setFocus(on) {
    this.focus = on;
    const main = this.slot.closest("main, .main");
    main?.classList.toggle("call-focus", on);
  }

  #goToCall() {
    const s = this.session;
    if (!s) return;
    history.pushState(null, "", "/r/" + s.roomId);
    window.dispatchEvent(new PopStateEvent("popstate"));
  }

  #onKey(e) {
    if (!this.session || e.defaultPrevented) return;
    // Ctrl+Shift+M toggles the microphone, as in Discord.
    if ((e.ctrlKey || e.metaKey) && e.shiftKey && !e.altKey && (e.key === "M" || e.key === "m")) {
      e.preventDefault();
      this.toggleMute();
    }
  }

  #toolbarKeys(e) {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    const buttons = [...this.controls.querySelectorAll("button")].filter((b) => !b.hidden && !b.disabled);
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    buttons[(i + (e.key === "ArrowRight" ? 1 : buttons.length - 1)) % buttons.length].focus();
  }

  // ---- notices ----------------------------------------------------------------

  #notice(kind, text) {
    if (this.notices.some((n) => n.text === text)) return;
    const id = ++this.noticeSeq;
    this.notices.push({ id, kind, text });
    if (this.notices.length > 4) this.notices.shift();
    if (!this.session || this.session.roomId !== this.room?.id) toast(text, { kind: kind === "error" ? "error" : "info", ms: 7000 });
    if (kind !== "error") setTimeout(() => this.#dismiss(id), 12000);
    this.render();
  }

  #dismiss(id) {
    const n = this.notices.length;
    this.notices = this.notices.filter((x) => x.id !== id);
    if (this.notices.length !== n) this.render();
  }

  #clearNotices() {
    this.notices = [];
  }

  // ---- rendering ----------------------------------------------------------------

  name(id) {
    return this.client.nameOf(id) || "…";
  }

  render() {
    this.#place();
    this.#renderSlot();
    const s = this.session;
    const here = !!s && !!this.room && s.roomId === this.room.id;
    this.stage.hidden = !here;
    this.bar.hidden = !s || here;
    if (!here && this.focus) this.#setFocus(false);
    if (s) {
      this.#renderTiles();
      this.#renderAudio();
      this.#renderControls();
      this.#renderBar();
      this.#renderNotices();
    } else {
      this.#clearTiles();
      this.#renderAudio();
    }
  }

  #renderSlot() {
    const room = this.room;
    if (!room) return;
    const s = this.session;
    const info = this.calls.get(room.id);
    const inHere = s?.roomId === room.id;
    this.pill.hidden = !inHere;
    this.joinBtn.hidden = inHere;
    if (inHere) {
      this.#tick();
      return;
    }
    const ids = info ? [...info.inCall] : [];
    const n = ids.length;
    const joining = this.joining === room.id;
    this.joinBtn.disabled = joining || !!this.unavailable;
    this.joinBtn.classList.toggle("busy-call", joining);
    this.joinBtn.classList.toggle("live", n > 0);
    this.joinLabel.textContent = joining ? "Joining…" : n > 0 ? "Join call" : "Start call";
    this.joinCount.hidden = n === 0;
    this.joinCount.textContent = String(n);
    this.joinFaces.replaceChildren(...ids.slice(0, 3).map((id) => avatar(this.client.users.get(id) || { id, username: this.name(id) }, "sm")));
    const names = ids.map((id) => this.name(id));
    const title = this.unavailable ? "Calls are not enabled on this server"
      : n > 0 ? `${names.join(", ")} ${n === 1 ? "is" : "are"} in the call. Join them.` : "Start a voice and video call in this room";
    this.joinBtn.title = title;
    this.joinBtn.setAttribute("aria-label", n > 0 ? `Join call, ${n} in it` : "Start call");
    this.joinBtn.dataset.count = String(n);
  }

  #tick() {
    const s = this.session;
    if (!s) return;
    const started = this.calls.get(s.roomId)?.startedAt;
    const clock = Number.isFinite(started) ? formatClock(Date.now() - started) : "";
    const stateText = this.#stateText();
    this.pill.querySelector(".call-pill-text").textContent = clock ? `In call · ${clock}` : "In call";
    this.pill.dataset.state = stateText.state;
    this.status.querySelector(".call-status-clock").textContent = clock;
    const roomName = this.#roomName(s.roomId);
    this.barText.textContent = `${stateText.short} · ${roomName}${clock ? " · " + clock : ""}`;
  }

  #roomName(id) {
    const room = this.client.rooms.get(id);
    if (!room) return "call";
    return room.kind === "dm" ? "@" + this.client.displayName(room) : "#" + this.client.displayName(room);
  }

  #stateText() {
    const s = this.session;
    if (!s) return { state: "idle", text: "", short: "" };
    if (s.state === "joining") return { state: "connecting", text: "Joining…", short: "Joining" };
    if (s.state === "reconnecting") return { state: "connecting", text: "Reconnecting…", short: "Reconnecting" };
    const m = s.mediaState;
    if (m === "connected") return { state: "connected", text: "Voice connected", short: "In call" };
    if (m === "unstable") return { state: "unstable", text: "Connection unstable…", short: "Unstable" };
    return { state: "connecting", text: "Connecting media…", short: "Connecting" };
  }

  #renderControls() {
    const s = this.session;
    const st = this.#stateText();
    this.status.dataset.state = st.state;
    this.status.querySelector(".call-status-text").textContent = st.text;
    this.stage.dataset.state = st.state;
    const overlay = s.state !== "connected";
    this.overlay.hidden = !overlay;
    if (overlay) this.overlay.querySelector(".call-overlay-text").textContent = st.text;

    // Toggle buttons: a fixed name and aria-pressed for assistive
    // technology; the tooltip says what a click does.
    const micOn = s.audioOn;
    setControl(this.micBtn, {
      icon: micOn ? "mic" : "micOff", off: !micOn, pressed: !micOn, label: "Mute",
      title: micOn ? "Mute" : s.mic ? "Unmute" : "Turn on your microphone", keys: "Control+Shift+M",
    });
    setControl(this.camBtn, {
      icon: s.cam ? "video" : "videoOff", off: !s.cam, pressed: !s.cam, label: "Turn off camera",
      title: s.cam ? "Turn camera off" : "Turn camera on",
    });
    setControl(this.screenBtn, {
      icon: s.screen ? "screenOff" : "screen", active: !!s.screen, pressed: !!s.screen, label: "Share your screen",
      title: s.screen ? "Stop sharing your screen" : "Share your screen",
    });
    setControl(this.focusBtn, {
      icon: this.focus ? "collapse" : "expand", pressed: this.focus, label: "Hide the chat",
      title: this.focus ? "Show the chat" : "Hide the chat",
    });
    this.#tick();
  }

  #renderBar() {
    const s = this.session;
    const micOn = s.audioOn;
    this.barMic.replaceChildren(callIcon(micOn ? "mic" : "micOff"));
    this.barMic.classList.toggle("off", !micOn);
    this.barMic.title = micOn ? "Mute" : "Unmute";
    this.barMic.setAttribute("aria-label", this.barMic.title);
    this.barMic.setAttribute("aria-pressed", String(!micOn));
    this.#tick();
  }

  #renderNotices() {
    const list = this.notices.map((n) => h("div.call-notice", { class: "call-notice-" + n.kind, role: n.kind === "error" ? "alert" : "status", dataset: { id: n.id } },
      callIcon(n.kind === "error" ? "alert" : "info"),
      h("span.call-notice-text", n.text),
      h("button.icon-btn.small", { type: "button", title: "Dismiss", "aria-label": "Dismiss", onclick: () => this.#dismiss(n.id) }, callIcon("close"))));
    if (this.needsSound) {
      list.push(h("div.call-notice.call-notice-info", { role: "status" },
        callIcon("speaker"), h("span.call-notice-text", "Your browser blocked the call's sound."),
        h("button.btn.btn-small.btn-accent", { type: "button", onclick: () => this.#resumeSound() }, "Turn sound on")));
    }
    const key = list.map((el) => el.textContent).join("\n");
    if (key !== this.noticeKey) {
      this.noticeKey = key;
      this.noticeList.replaceChildren(...list);
    }
  }

  /** The tiles we want: one per participant, and one per screen share. */
  #wantedTiles() {
    const s = this.session;
    const me = this.client.me.id;
    let parts = s.participants.length ? s.participants : [];
    if (!parts.some((p) => p.user_id === me) && s.state !== "ended") parts = [{ user_id: me }, ...parts];
    const cams = [];
    const screens = [];
    for (const p of parts) {
      const local = p.user_id === me;
      const audio = local ? s.audioOn : !!p.audio;
      const videoTrack = local ? s.cam : s.remote.get(p.user_id + ":video");
      const video = local ? !!s.cam : !!p.video && !!videoTrack;
      cams.push({ key: p.user_id + ":camera", user: p.user_id, kind: "camera", local, audio, video, track: video ? videoTrack : null });
      const screenTrack = local ? s.screen : s.remote.get(p.user_id + ":screen");
      if (local ? !!s.screen : !!p.screen || !!screenTrack) {
        screens.push({ key: p.user_id + ":screen", user: p.user_id, kind: "screen", local, audio, video: !!screenTrack, track: screenTrack || null });
      }
    }
    return { cams, screens };
  }

  #renderTiles() {
    const { cams, screens } = this.#wantedTiles();
    const keep = new Set();
    const place = (parent, list) => {
      let cursor = parent.firstChild;
      for (const t of list) {
        keep.add(t.key);
        const tile = this.#tile(t);
        if (tile.el === cursor) cursor = cursor.nextSibling;
        else parent.insertBefore(tile.el, cursor);
      }
      while (cursor) {
        const next = cursor.nextSibling;
        cursor.remove();
        cursor = next;
      }
    };
    place(this.spotlight, screens);
    place(this.grid, cams);
    for (const [key, tile] of this.tiles) {
      if (!keep.has(key)) {
        tile.el.remove();
        if (tile.video) tile.video.srcObject = null;
        this.tiles.delete(key);
      }
    }
    this.spotlight.hidden = screens.length === 0;
    this.stage.classList.toggle("has-screen", screens.length > 0);
    this.grid.dataset.count = String(cams.length);
    this.#renderSpeaker();
    this.#layout();
  }

  #tile(t) {
    let tile = this.tiles.get(t.key);
    if (!tile) {
      const video = h("video.call-video", { autoplay: true, playsInline: true, muted: true });
      video.muted = true;
      const user = this.client.users.get(t.user) || { id: t.user, username: this.name(t.user) };
      const face = h("div.call-face", avatar(user, "xl"));
      const nameEl = h("span.call-name");
      const mute = h("span.call-tile-muted", { title: "Muted" }, callIcon("micOff", "Muted"));
      const label = h("div.call-label", mute, nameEl);
      const el = h("div.call-tile", { role: "listitem", dataset: { user: t.user, kind: t.kind } }, video, face, label);
      if (t.kind === "screen") el.appendChild(h("div.call-screen-badge", callIcon("screen"), "Screen"));
      tile = { el, video, face, nameEl, track: null, avatarName: user.username };
      this.tiles.set(t.key, tile);
    }
    const name = this.name(t.user);
    const el = tile.el;
    el.dataset.name = name;
    el.dataset.local = String(t.local);
    el.dataset.muted = String(!t.audio);
    el.dataset.video = String(!!t.track);
    el.classList.toggle("mirror", t.local && t.kind === "camera");
    tile.nameEl.textContent = t.kind === "screen" ? `${name}'s screen` : t.local ? `${name} (you)` : name;
    el.setAttribute("aria-label", t.kind === "screen" ? `${name}'s screen` : `${name}${t.audio ? "" : ", muted"}${t.track ? "" : ", camera off"}`);
    if (tile.avatarName !== name && this.client.users.get(t.user)) {
      tile.avatarName = name;
      tile.face.replaceChildren(avatar(this.client.users.get(t.user), "xl"));
    }
    if (tile.track !== t.track) {
      tile.track = t.track;
      tile.video.srcObject = t.track ? new MediaStream([t.track]) : null;
      if (t.track) tile.video.play().catch(() => { /* plays once the track has frames */ });
    }
    return tile;
  }

  #clearTiles() {
    for (const tile of this.tiles.values()) {
      tile.el.remove();
      if (tile.video) tile.video.srcObject = null;
    }
    this.tiles.clear();
    this.spotlight.hidden = true;
    this.stage.classList.remove("has-screen");
  }

  #renderSpeaker() {
    const s = this.session;
    for (const [key, tile] of this.tiles) {
      const speaking = !!s && !!s.speaker && key === s.speaker + ":camera" && tile.el.dataset.muted !== "true";
      tile.el.classList.toggle("speaking", speaking);
    }
  }

  /** Sizes the camera tiles so that they fill the grid's box, 16:9. */
  #layout() {
    const n = this.grid.childElementCount;
    if (!n || this.stage.hidden) return;
    const gap = 8;
    const W = this.grid.clientWidth;
    const H = this.grid.clientHeight;
    if (!W || !H) return;
    let best = 0;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = Math.min((W - gap * (cols - 1)) / cols, ((H - gap * (rows - 1)) / rows) * 16 / 9);
      if (w > best) best = w;
    }
    this.grid.style.setProperty("--tile-w", Math.max(120, Math.floor(best)) + "px");
  }

  /** One <audio> per remote audio track. */
  #renderAudio() {
    const s = this.session;
    const want = new Map();
    if (s) for (const [id, track] of s.remote) if (id.endsWith(":audio")) want.set(id, track);
    for (const [id, el] of this.audios) {
      if (want.get(id) !== el._track) {
        el.srcObject = null;
        el.remove();
        this.audios.delete(id);
      }
    }
    for (const [id, track] of want) {
      if (this.audios.has(id)) continue;
      const el = h("audio", { autoplay: true });
      el._track = track;
      el.srcObject = new MediaStream([track]);
      this.audioBox.appendChild(el);
      this.audios.set(id, el);
      el.play().catch((err) => {
        if (err?.name === "NotAllowedError" && !this.needsSound) {
          this.needsSound = true;
          this.render();
        }
      });
    }
  }

  #resumeSound() {
    this.needsSound = false;
    for (const el of this.audios.values()) el.play().catch(() => {});
    this.render();
  }

  #exposeDebug() {
    const ui = this;
    window.confabCall = {
      owner: ui,
      session: () => ui.session,
      pcs: () => ui.session?.pcs() || { pub: null, sub: null },
      tracks: () => Object.fromEntries(ui.session?.remoteMids || []),
    };
  }
}

/** Updates a call control button: icon, name, tooltip, pressed state. */
function setControl(btn, { icon, label, title, pressed = false, off = false, active = false, keys = "" }) {
  if (btn.dataset.icon !== icon) {
    btn.dataset.icon = icon;
    btn.replaceChildren(callIcon(icon));
  }
  btn.title = keys ? `${title} (${keys.replace("Control", "Ctrl")})` : title;
  btn.setAttribute("aria-label", label);
  btn.setAttribute("aria-pressed", String(pressed));
  if (keys) btn.setAttribute("aria-keyshortcuts", keys);
  btn.classList.toggle("off", off);
  btn.classList.toggle("active", active);
}
