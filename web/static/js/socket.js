// The WebSocket connection (docs/protocol.md, "WebSocket"): one socket,
// authenticated by the session cookie; reconnects with exponential
// backoff and jitter; matches request frames to their ack/error by id;
// and keeps the connection honest with JSON pings.
//
// It knows nothing about rooms: the sync layer (client.js) subscribes and
// resumes on every "ready". Other modules (calls, later) can listen to any
// server frame type with on("frame:<type>", fn) and send their own
// frames with request()/send().

import { Emitter } from "./util/emitter.js";

export class SocketError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "SocketError";
    this.code = code;
  }
}

const BACKOFF_BASE = 500; // ms
const BACKOFF_CAP = 8000; // ms
const PING_EVERY = 25000; // ms: well inside the server's 45 s silence limit
const PONG_WITHIN = 10000; // ms
const CONNECT_WITHIN = 12000; // ms: open + ready (the server's hello timeout is 10 s)
const REQUEST_WITHIN = 20000; // ms: the server answers within 10 s or says unavailable

/**
 * States: "idle" (not started or stopped), "connecting", "ready" (the
 * server sent ready), "waiting" (between attempts, see retryAt).
 */
export class Socket extends Emitter {
  constructor(url) {
    super();
    this.url = url;
    this.state = "idle";
    this.attempt = 0; // failed attempts since the last healthy connection
    this.retryAt = 0;
    this.user = null;
    this.connId = null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.timers = {};
    this.everReady = false;
  }

  start() {
    if (this.state !== "idle") return;
    this.stopped = false;
    this.#connect();
  }

  /** Closes for good (sign-out). */
  stop() {
    this.stopped = true;
    this.#clearTimers();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
    this.#failPending(new SocketError("closed", "connection closed"));
    this.#setState("idle");
  }

  /** Connects now instead of waiting for the backoff (a button, "online"). */
  retryNow() {
    if (this.stopped || this.state !== "waiting") return;
    clearTimeout(this.timers.retry);
    this.#connect();
  }

  get ready() {
    return this.state === "ready";
  }

  /** Sends a frame that expects an ack; resolves with the ack, rejects with a SocketError. */
  request(frame, { timeout = REQUEST_WITHIN } = {}) {
    if (!this.ready) return Promise.reject(new SocketError("disconnected", "not connected"));
    const id = "c" + this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SocketError("timeout", "the server did not answer"));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Sends a frame without waiting for an answer. Returns false when not connected. */
  send(frame) {
    if (!this.ready) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  #connect() {
    this.#clearTimers();
    this.#setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.#scheduleRetry({ code: 0, reason: String(err) });
      return;
    }
    this.ws = ws;
    this.timers.connect = setTimeout(() => {
      // Open or ready took too long: give up on this attempt.
      if (this.ws === ws && this.state === "connecting") this.#drop(ws, { code: 4000, reason: "connect timeout" });
    }, CONNECT_WITHIN);
    ws.onmessage = (ev) => this.#onMessage(ws, ev);
    ws.onclose = (ev) => this.#drop(ws, { code: ev.code, reason: ev.reason });
    ws.onerror = () => {
      // The close event follows and carries what we need; browsers also
      // log the failure themselves.
    };
  }

  #onMessage(ws, ev) {
    if (this.ws !== ws) return;
    let f;
    try {
      f = JSON.parse(ev.data);
    } catch {
      console.warn("confab: ignoring a frame that is not JSON");
      return;
    }
    this.#armPing(ws);
    switch (f.type) {
      case "ready":
        clearTimeout(this.timers.connect);
        this.user = f.user;
        this.connId = f.conn_id;
        this.#setState("ready");
        // Forget past failures once a connection has stayed up a while,
        // so a server that accepts and then drops us still backs off.
        this.timers.healthy = setTimeout(() => { this.attempt = 0; }, 10000);
        this.everReady = true;
        this.emit("ready", f);
        return;
      case "ack":
      case "error":
      case "pong": {
        const p = f.id && this.pending.get(f.id);
        if (p) {
          this.pending.delete(f.id);
          clearTimeout(p.timer);
          if (f.type === "error") p.reject(new SocketError(f.code, f.message));
          else p.resolve(f);
          return;
        }
        if (f.type === "error") {
          if (f.code === "auth_timeout" || f.code === "unauthenticated") this.emit("unauthenticated", f);
          else this.emit("frame:error", f);
        }
        return;
      }
      default:
        this.emit("frame:" + f.type, f);
    }
  }

  #armPing(ws) {
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    if (this.state !== "ready" && this.state !== "connecting") return;
    this.timers.ping = setTimeout(() => {
      if (this.ws !== ws || !this.ready) return;
      this.request({ type: "ping" }, { timeout: PONG_WITHIN }).catch((err) => {
        if (this.ws === ws && err.code === "timeout") this.#drop(ws, { code: 4000, reason: "no pong" });
      });
    }, PING_EVERY);
  }

  #drop(ws, { code, reason }) {
    if (this.ws !== ws) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(); } catch { /* already closing */ }
    this.#clearTimers();
    this.#failPending(new SocketError("disconnected", "connection lost"));
    this.emit("down", { code, reason });
    if (this.stopped) return;
    if (code === 4001) {
      // Signed out (here or elsewhere), or the token is no longer valid.
      this.#setState("idle");
      this.emit("unauthenticated", { code: "unauthenticated" });
      return;
    }
    this.#scheduleRetry({ code, reason });
  }

  #scheduleRetry({ code }) {
    const ceiling = Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** this.attempt);
    // "Equal jitter": half the ceiling, plus a random part of the other half.
    let delay = ceiling / 2 + Math.random() * (ceiling / 2);
    if (code === 4029) delay = Math.max(delay, 5000); // rate limited: slow down
    this.attempt++;
    this.retryAt = Date.now() + delay;
    this.#setState("waiting");
    this.emit("retry", { delay, attempt: this.attempt });
    this.timers.retry = setTimeout(() => this.#connect(), delay);
  }

  #failPending(err) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  #clearTimers() {
    for (const t of Object.values(this.timers)) clearTimeout(t);
    this.timers = {};
  }
}
