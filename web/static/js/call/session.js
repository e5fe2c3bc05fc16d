// One person's presence in one room's call: the signaling over the
// WebSocket and the two peer connections of docs/protocol.md ("Calls").
//
//   pub  we offer (call.offer, the answer comes in the ack) with one
//        sendonly transceiver each for the microphone, the camera and,
//        once shared, the screen; the offer names each by mid in `tracks`.
//   sub  the SFU offers (a call.offer frame) a sendonly transceiver per
//        track of the others; we answer with call.answer.
//
// Muting and turning the camera off keep the transceivers (track.enabled,
// replaceTrack) and tell everyone with call.media; sharing the screen adds
// (or re-activates) the screen transceiver and renegotiates pub.
//
// Candidates: the server's are added as they come, none held back: it
// sends them after the description they belong to, and we set that
// description in the same task as its frame comes (docs/protocol.md).
// TURN credentials are renewed (GET /rtc/ice-servers) before they expire.
//
// Recovery: a connection that goes "failed" (or stays "disconnected")
// restarts ICE (pub: a new offer with iceRestart; sub: call.restart_ice);
// a dropped WebSocket takes us out of the call on the server, so we join
// again after the socket's next "ready"; call.rejoin (the node hosting the
// call is gone) closes both connections and joins again at once, on the
// same socket; call.removed ends the session
// (moved to another tab, removed from the room) or, for a failed
// connection, joins again once.
//
// Events: "state" (joining | connected | reconnecting | ended),
// "participants", "speaker", "tracks" (remote tracks), "local" (our
// devices or mute), "media" (connection states), "notice" ({kind, text}),
// "ended" (reason, error).

import { Emitter } from "../util/emitter.js";
import { msidsByMid } from "./sdp.js";
import { openMic, openCam, openScreen, micProblem, camProblem, screenProblem } from "./devices.js";

const DISCONNECTED_GRACE = 2500; // ms a connection may stay "disconnected" before we restart ICE
const RESTART_RETRY = 4000; // ms between ICE restarts while it stays down
const REJOIN_WITHIN = 60000; // ms: a second failure this soon after a rejoin ends the call
const ICE_REFRESH_EARLY = 5 * 60000; // ms before TURN credentials expire that we fetch fresh ones
const ICE_REFRESH_RETRY = 30000; // ms between attempts when fetching them failed

export class CallSession extends Emitter {
  /**
   * socket: socket.js's Socket; roomId: the room; me: our user ID;
   * mic, cam: MediaStreamTracks to send (null: none); fetchIceServers:
   * () => Promise<{ice_servers}> (GET /rtc/ice-servers), to renew TURN
   * credentials before they expire (null: never).
   */
  constructor(socket, roomId, { me, mic = null, cam = null, fetchIceServers = null }) {
    super();
    this.socket = socket;
    this.roomId = roomId;
    this.me = me;
    this.mic = mic;
    this.cam = cam;
    this.screen = null;
    this.muted = false;
    this.state = "joining";
    this.callId = null;
    this.iceServers = [];
    this.fetchIceServers = fetchIceServers;
    this.participants = []; // [{user_id, audio, video, screen}] from call.state
    this.speaker = "";
    this.remote = new Map(); // "<user>:<kind>" -> MediaStreamTrack
    this.remoteMids = new Map(); // sub mid -> "<user>:<kind>", of the tracks we receive
    this.pub = null;
    this.sub = null;
    this.audioTx = this.videoTx = this.screenTx = null;
    this.localStream = new MediaStream();
    this.screenStream = new MediaStream();
    this.gen = 0; // bumped by every (re)join and by the end: stale async work checks it
    this.early = null; // offer/candidate frames that come before the join's ack (and our connections)
    this.pubQueue = Promise.resolve();
    this.subQueue = Promise.resolve();
    this.timers = {};
    this.rejoinedAt = 0;
    this.endReason = null;

    const mine = (fn) => (f) => { if (f.room_id === this.roomId && this.state !== "ended") fn(f); };
    this.offs = [
      socket.on("frame:call.offer", mine((f) => this.#signal(f))),
      socket.on("frame:call.candidate", mine((f) => this.#signal(f))),
      socket.on("frame:call.state", mine((f) => this.#onState(f))),
      socket.on("frame:call.speaker", mine((f) => this.#onSpeaker(f))),
      socket.on("frame:call.removed", mine((f) => this.#onRemoved(f))),
      socket.on("frame:call.rejoin", mine((f) => this.#onRejoin(f))),
      socket.on("down", () => this.#onDown()),
      socket.on("ready", () => this.#onReady()),
    ];
  }

  /** Joins the call. */
  start() {
    if (this.mic) this.mic.enabled = !this.muted;
    this.#watchTrack(this.mic, "mic");
    this.#watchTrack(this.cam, "cam");
    this.#rejoin();
  }

  get audioOn() { return !!this.mic && !this.muted; }
  get videoOn() { return !!this.cam; }
  get screenOn() { return !!this.screen; }

  /** The peer connections, for debugging and tests. */
  pcs() {
    return { pub: this.pub, sub: this.sub };
  }

  // ---- joining -----------------------------------------------------------

  #setState(s) {
    if (this.state === s || this.state === "ended") return;
    this.state = s;
    this.emit("state", s);
  }

  /** Joins (again); an unexpected failure ends the session. */
  #rejoin() {
    this.#join().catch((err) => {
      console.warn("confab: call: joining failed", err);
      this.#end("error", err);
    });
  }

  async #join() {
    const gen = ++this.gen;
    this.#closePCs();
    this.early = [];
    if (!this.socket.ready) {
      this.#setState("reconnecting"); // "ready" joins again
      return;
    }
    let ack;
    try {
      ack = await this.socket.request({ type: "call.join", room_id: this.roomId });
    } catch (err) {
      if (gen !== this.gen) return;
      if (err.code === "disconnected" || err.code === "closed") {
        this.#setState("reconnecting");
        return;
      }
      if (err.code === "timeout" || err.code === "unavailable" || err.code === "rate_limited" || err.code === "call_host_unavailable") {
        this.#setState("reconnecting");
        this.timers.rejoin = setTimeout(() => { if (gen === this.gen) this.#rejoin(); }, 2000);
        return;
      }
      this.#end("error", err);
      return;
    }
    if (gen !== this.gen) return;
    this.callId = ack.call_id || null;
    this.iceServers = Array.isArray(ack.ice_servers) ? ack.ice_servers : [];
    this.#createPCs();
    this.#scheduleIceRefresh(gen);
    const early = this.early || [];
    this.early = null;
    for (const f of early) this.#signal(f);
    this.#setState("connected");
    try {
      await this.#negotiatePub(false);
    } catch (err) {
      if (gen !== this.gen) return;
      if (err.code === "disconnected" || err.code === "not_in_call") return; // a rejoin follows
      console.warn("confab: call: publishing failed", err);
      this.emit("notice", { kind: "error", text: "Could not send your audio and video: " + (err.message || err) });
    }
    this.#sendMedia();
  }

  #createPCs() {
    const cfg = { iceServers: this.iceServers, bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" };
    const pub = new RTCPeerConnection(cfg);
    const sub = new RTCPeerConnection(cfg);
    this.pub = pub;
    this.sub = sub;
    this.pubQueue = Promise.resolve();
    this.subQueue = Promise.resolve();
    this.remote = new Map();
    this.remoteMids = new Map();
    this.audioTx = pub.addTransceiver(this.mic || "audio", { direction: "sendonly", streams: [this.localStream] });
    this.videoTx = pub.addTransceiver(this.cam || "video", { direction: "sendonly", streams: [this.localStream] });
    this.screenTx = this.screen ? pub.addTransceiver(this.screen, { direction: "sendonly", streams: [this.screenStream] }) : null;
    for (const [name, pc] of [["pub", pub], ["sub", sub]]) {
      pc.onicecandidate = (e) => {
        if (!e.candidate || !e.candidate.candidate || this[name] !== pc) return;
        this.#sendCandidate(name, e.candidate.toJSON());
      };
      pc.onconnectionstatechange = () => this.#onConnState(name, pc);
    }
    sub.ontrack = () => this.#updateRemote();
    this.emit("media");
    this.emit("tracks");
  }

  #closePCs() {
    for (const k of ["pubfail", "subfail", "pubretry", "subretry", "rejoin", "ice"]) clearTimeout(this.timers[k]);
    for (const pc of [this.pub, this.sub]) {
      if (!pc) continue;
      pc.onicecandidate = pc.onconnectionstatechange = pc.ontrack = null;
      try { pc.close(); } catch { /* closed already */ }
    }
    this.pub = this.sub = null;
    this.audioTx = this.videoTx = this.screenTx = null;
    if (this.remote.size) {
      this.remote = new Map();
      this.emit("tracks");
    }
    this.emit("media");
  }

  async #sendCandidate(pc, candidate, attempt = 0) {
    const gen = this.gen;
    try {
      await this.socket.request({ type: "call.candidate", room_id: this.roomId, pc, candidate });
    } catch (err) {
      // Over the frame rate limit: try again a little later.
      if (err.code === "rate_limited" && attempt < 3 && gen === this.gen) {
        setTimeout(() => { if (gen === this.gen) this.#sendCandidate(pc, candidate, attempt + 1); }, 600 * (attempt + 1));
      }
    }
  }

  // ---- signaling ----------------------------------------------------------

  #signal(f) {
    if (this.early) {
      this.early.push(f);
      return;
    }
    if (!this.pub) return;
    if (f.type === "call.offer") this.#onOffer(f);
    else if (f.type === "call.candidate") this.#onCandidate(f);
  }

  /** Offers pub (again) and applies the answer. One negotiation at a time. */
  #negotiatePub(iceRestart) {
    const gen = this.gen;
    const pub = this.pub;
    const run = async () => {
      if (gen !== this.gen || !pub || pub.signalingState === "closed") return;
      const offer = await pub.createOffer({ iceRestart });
      await pub.setLocalDescription(offer);
      const tracks = {};
      if (this.audioTx?.mid) tracks[this.audioTx.mid] = "audio";
      if (this.videoTx?.mid) tracks[this.videoTx.mid] = "video";
      if (this.screenTx?.mid) tracks[this.screenTx.mid] = "screen";
      const ack = await this.socket.request({ type: "call.offer", room_id: this.roomId, sdp: pub.localDescription.sdp, tracks });
      if (gen !== this.gen || pub.signalingState === "closed") return;
      // No await between the ack and this call: it runs in the ack's
      // message task, before the next frame's, so the candidates that
      // follow the ack (the server sends them after it) queue behind it.
      await pub.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    };
    const p = this.pubQueue.then(run);
    this.pubQueue = p.catch(() => {});
    return p;
  }

  #onOffer(f) {
    const gen = this.gen;
    const sub = this.sub;
    if (sub.signalingState === "closed") return;
    // Applied at once, not in subQueue: the candidates that follow the
    // offer must find it (addIceCandidate queues behind it on the
    // connection's operations chain). The server sends an offer only once
    // it has our answer to the previous one, so sub is stable here.
    const applied = sub.setRemoteDescription({ type: "offer", sdp: f.sdp });
    applied.catch(() => {}); // reported by run
    const run = async () => {
      await applied;
      if (gen !== this.gen || sub.signalingState === "closed") return;
      const answer = await sub.createAnswer();
      await sub.setLocalDescription(answer);
      this.#updateRemote();
      await this.socket.request({ type: "call.answer", room_id: this.roomId, sdp: sub.localDescription.sdp });
    };
    this.subQueue = this.subQueue.then(run).catch((err) => {
      if (gen !== this.gen || err.code === "disconnected" || err.code === "not_in_call") return;
      console.warn("confab: call: answering the server's offer failed", err);
    });
  }

  /**
   * Adds one of the server's candidates as it comes, held back nowhere:
   * the server sends a connection's candidates only after the answer
   * (pub) or offer (sub) they belong to (docs/protocol.md), and we set
   * that description as soon as its frame comes (see #negotiatePub and
   * #onOffer), so addIceCandidate finds it, once the setRemoteDescription
   * before it on the connection's operations chain is done.
   */
  #onCandidate(f) {
    const name = f.pc === "pub" ? "pub" : "sub";
    const pc = this[name];
    if (!pc || !f.candidate) return;
    pc.addIceCandidate(f.candidate).catch((err) => console.warn("confab: call: ICE candidate refused", name, err.message));
  }

  // ---- TURN credentials ----------------------------------------------------

  /**
   * Fetches fresh ICE servers before the TURN credentials expire (their
   * username is "<unix expiry>:<user id>"). They cannot be revoked, so
   * the server keeps their lifetime short (1 h by default).
   */
  #scheduleIceRefresh(gen) {
    clearTimeout(this.timers.ice);
    const expiry = turnExpiry(this.iceServers);
    if (!expiry || !this.fetchIceServers) return;
    const left = expiry - Date.now();
    const wait = left > 2 * ICE_REFRESH_EARLY ? left - ICE_REFRESH_EARLY : Math.max(left / 2, 1000);
    this.timers.ice = setTimeout(() => { if (gen === this.gen) this.#refreshIce(gen); }, wait);
  }

  /**
   * Gives both connections the fresh servers, for what they gather from
   * now on, and restarts ICE on a connection that relays through TURN:
   * its allocation must be refreshed with valid credentials.
   */
  async #refreshIce(gen) {
    let servers;
    try {
      const res = await this.fetchIceServers();
      servers = Array.isArray(res?.ice_servers) ? res.ice_servers : [];
    } catch (err) {
      if (gen !== this.gen) return;
      console.warn("confab: call: fetching fresh ICE servers failed", err.message);
      this.timers.ice = setTimeout(() => { if (gen === this.gen) this.#refreshIce(gen); }, ICE_REFRESH_RETRY);
      return;
    }
    if (gen !== this.gen) return;
    this.iceServers = servers;
    this.#scheduleIceRefresh(gen);
    for (const name of ["pub", "sub"]) {
      const pc = this[name];
      if (!pc || pc.signalingState === "closed") continue;
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: servers });
      } catch (err) {
        console.warn("confab: call: new ICE servers refused", name, err.message);
        continue;
      }
      if (await relayed(pc) && gen === this.gen && this[name] === pc) this.#restartIce(name);
    }
  }

  /** Rebuilds the map of remote tracks from the sub connection's transceivers. */
  #updateRemote() {
    const sub = this.sub;
    if (!sub || !sub.remoteDescription) return;
    const msids = msidsByMid(sub.remoteDescription.sdp);
    const remote = new Map();
    const mids = new Map();
    for (const tr of sub.getTransceivers()) {
      if (!tr.mid || tr.stopped) continue;
      const id = msids.get(tr.mid)?.track;
      const dir = tr.currentDirection || tr.direction;
      if (!id || (dir !== "recvonly" && dir !== "sendrecv")) continue;
      mids.set(tr.mid, id);
      remote.set(id, tr.receiver.track);
    }
    this.remoteMids = mids;
    let changed = remote.size !== this.remote.size;
    if (!changed) for (const [id, t] of remote) if (this.remote.get(id) !== t) changed = true;
    this.remote = remote;
    if (changed) this.emit("tracks");
  }

  // ---- server frames -----------------------------------------------------

  #onState(f) {
    this.participants = Array.isArray(f.participants) ? f.participants : [];
    this.emit("participants");
  }

  #onSpeaker(f) {
    this.speaker = f.user_id || "";
    this.emit("speaker");
  }

  #onRemoved(f) {
    switch (f.reason) {
      case "connection_failed":
        if (Date.now() - this.rejoinedAt > REJOIN_WITHIN) {
          this.rejoinedAt = Date.now();
          this.emit("notice", { kind: "info", text: "Your call connection was lost. Reconnecting…" });
          this.#setState("reconnecting");
          this.#rejoin();
          return;
        }
        this.#end("connection_failed");
        return;
      case "shutdown":
        // The server is going away: its WebSocket closes next, and we join
        // again once it is back.
        this.gen++;
        this.#closePCs();
        this.#setState("reconnecting");
        this.timers.rejoin = setTimeout(() => { if (this.state === "reconnecting" && this.socket.ready) this.#rejoin(); }, 5000);
        return;
      default:
        this.#end(f.reason || "removed");
    }
  }

  // The node hosting the call is gone (or gave it up): the server kept our
  // seat; we close both connections and join again on this socket, with
  // the same microphone, camera and screen (#join recreates the
  // transceivers from them and sends call.media).
  #onRejoin(f) {
    if (this.state === "ended") return;
    this.emit("notice", { kind: "info", text: "The call moved to another server. Reconnecting…" });
    this.participants = [];
    this.speaker = "";
    this.emit("participants");
    this.#setState("reconnecting");
    this.#rejoin();
  }

  #onDown() {
    if (this.state === "ended") return;
    // The server took us out of the call when the socket closed.
    this.gen++;
    this.#closePCs();
    this.participants = [];
    this.speaker = "";
    this.emit("participants");
    this.#setState("reconnecting");
  }

  #onReady() {
    if (this.state === "reconnecting") this.#rejoin();
  }

  // ---- connection health ---------------------------------------------------

  #onConnState(name, pc) {
    if (this[name] !== pc) return;
    const s = pc.connectionState;
    this.emit("media");
    clearTimeout(this.timers[name + "fail"]);
    if (s === "failed") {
      this.#restartIce(name);
    } else if (s === "disconnected") {
      this.timers[name + "fail"] = setTimeout(() => {
        if (this[name] === pc && (pc.connectionState === "disconnected" || pc.connectionState === "failed")) this.#restartIce(name);
      }, DISCONNECTED_GRACE);
    } else if (s === "connected") {
      clearTimeout(this.timers[name + "retry"]);
    }
  }

  #restartIce(name) {
    const pc = this[name];
    if (!pc || this.state !== "connected" || !this.socket.ready) return;
    clearTimeout(this.timers[name + "retry"]);
    if (name === "pub") {
      this.#negotiatePub(true).catch((err) => console.warn("confab: call: ICE restart of pub failed", err.message));
    } else if (pc.remoteDescription) {
      this.socket.request({ type: "call.restart_ice", room_id: this.roomId }).catch((err) => console.warn("confab: call: ICE restart of sub failed", err.message));
    }
    this.timers[name + "retry"] = setTimeout(() => {
      if (this[name] === pc && (pc.connectionState === "failed" || pc.connectionState === "disconnected")) this.#restartIce(name);
    }, RESTART_RETRY);
  }

  /** A summary of the media connections: "connecting" | "connected" | "unstable". */
  get mediaState() {
    const states = [this.pub?.connectionState];
    if (this.sub?.remoteDescription) states.push(this.sub.connectionState);
    if (states.some((s) => s === "failed" || s === "disconnected")) return "unstable";
    if (states.every((s) => s === "connected")) return "connected";
    return "connecting";
  }

  // ---- our media -----------------------------------------------------------

  /** A device that goes away (unplugged, revoked) is turned off, with a notice. */
  #watchTrack(track, kind) {
    track?.addEventListener("ended", () => {
      if (this[kind] !== track || this.state === "ended") return;
      this[kind] = null;
      const tx = kind === "mic" ? this.audioTx : this.videoTx;
      tx?.sender.replaceTrack(null).catch(() => {});
      this.emit("notice", { kind: "error", text: kind === "mic" ? "Your microphone stopped working or was disconnected." : "Your camera stopped working or was disconnected." });
      this.#sendMedia();
      this.emit("local");
    });
  }

  #sendMedia() {
    if (this.state !== "connected" || !this.socket.ready) return;
    this.socket.request({ type: "call.media", room_id: this.roomId, audio: this.audioOn, video: this.videoOn, screen: this.screenOn })
      .catch((err) => { if (err.code !== "disconnected" && err.code !== "not_in_call") console.warn("confab: call: call.media failed", err.message); });
  }

  async setMuted(muted) {
    if (this.state === "ended") return;
    if (!muted && !this.mic) {
      let mic;
      try {
        mic = await openMic();
      } catch (err) {
        this.emit("notice", { kind: "error", text: micProblem(err) });
        return;
      }
      if (this.state === "ended") { mic.stop(); return; }
      this.mic = mic;
      this.#watchTrack(mic, "mic");
      await this.audioTx?.sender.replaceTrack(mic).catch(() => {});
    }
    this.muted = muted;
    if (this.mic) this.mic.enabled = !muted;
    this.#sendMedia();
    this.emit("local");
  }

  async setCamera(on) {
    if (this.state === "ended" || on === !!this.cam) return;
    if (on) {
      let cam;
      try {
        cam = await openCam();
      } catch (err) {
        this.emit("notice", { kind: "error", text: camProblem(err, false) });
        return;
      }
      if (this.state === "ended" || this.cam) { cam.stop(); return; }
      this.cam = cam;
      this.#watchTrack(cam, "cam");
      await this.videoTx?.sender.replaceTrack(cam).catch(() => {});
    } else {
      const cam = this.cam;
      this.cam = null;
      await this.videoTx?.sender.replaceTrack(null).catch(() => {});
      cam?.stop();
    }
    this.#sendMedia();
    this.emit("local");
  }

  async startScreen() {
    if (this.state === "ended" || this.screen) return;
    let track;
    try {
      track = await openScreen();
    } catch (err) {
      this.emit("notice", { kind: "error", text: screenProblem(err) });
      return;
    }
    if (!track) return; // cancelled
    if (this.state === "ended" || this.screen) { track.stop(); return; }
    this.screen = track;
    track.addEventListener("ended", () => { if (this.screen === track) this.stopScreen(); }); // "Stop sharing" in the browser's bar
    this.emit("local");
    if (this.pub) {
      const tx = this.screenTx;
      if (tx && !tx.stopped) {
        tx.direction = "sendonly";
        await tx.sender.replaceTrack(track).catch(() => {});
        tx.sender.setStreams?.(this.screenStream);
      } else {
        this.screenTx = this.pub.addTransceiver(track, { direction: "sendonly", streams: [this.screenStream] });
      }
      try {
        await this.#negotiatePub(false);
      } catch (err) {
        if (err.code !== "disconnected" && err.code !== "not_in_call") {
          console.warn("confab: call: screen share negotiation failed", err);
          this.emit("notice", { kind: "error", text: "Could not share your screen: " + (err.message || err) });
        }
      }
    }
    this.#sendMedia();
  }

  async stopScreen() {
    const track = this.screen;
    if (!track) return;
    this.screen = null;
    track.stop();
    this.emit("local");
    const tx = this.screenTx;
    if (tx && this.pub && !tx.stopped) {
      await tx.sender.replaceTrack(null).catch(() => {});
      tx.direction = "inactive";
      await this.#negotiatePub(false).catch((err) => {
        if (err.code !== "disconnected" && err.code !== "not_in_call") console.warn("confab: call: renegotiation failed", err);
      });
    }
    this.#sendMedia();
  }

  // ---- leaving ---------------------------------------------------------------

  /** Hangs up. */
  leave() {
    if (this.state === "ended") return;
    const wasIn = this.socket.ready;
    this.#end("left");
    if (wasIn) this.socket.request({ type: "call.leave", room_id: this.roomId }).catch(() => {});
  }

  #end(reason, err = null) {
    if (this.state === "ended") return;
    this.gen++;
    this.endReason = reason;
    this.#closePCs();
    for (const t of Object.values(this.timers)) clearTimeout(t);
    for (const t of [this.mic, this.cam, this.screen]) t?.stop();
    this.mic = this.cam = this.screen = null;
    for (const off of this.offs) off();
    this.state = "ended";
    this.emit("state", "ended");
    this.emit("ended", reason, err);
  }
}

/** The expiry (ms since the epoch) of the TURN credentials in servers, or 0. */
function turnExpiry(servers) {
  let min = 0;
  for (const s of servers || []) {
    const stamp = Number(String(s.username || "").split(":")[0]);
    if (s.username && Number.isFinite(stamp) && stamp > 0 && (!min || stamp * 1000 < min)) min = stamp * 1000;
  }
  return min;
}

/** Whether pc's selected candidate pair goes through a TURN relay. */
async function relayed(pc) {
  let stats;
  try {
    stats = await pc.getStats();
  } catch {
    return false;
  }
  let pairId = null;
  stats.forEach((r) => { if (r.type === "transport" && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId; });
  const pair = pairId && stats.get(pairId);
  const local = pair && stats.get(pair.localCandidateId);
  return local?.candidateType === "relay";
}
