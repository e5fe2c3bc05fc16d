// The REST client (docs/protocol.md, "REST endpoints"). The browser
// authenticates with the HttpOnly session cookie that sign-up and sign-in
// set, so no token is kept in JavaScript.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** A request that never reached the server (offline, connection cut). */
export class NetworkError extends Error {
  constructor(cause) {
    super("cannot reach the server");
    this.name = "NetworkError";
    this.code = "network";
    this.cause = cause;
  }
}

const enc = encodeURIComponent;

export class Api {
  /** onUnauthenticated is called when a request that needs a session gets 401. */
  constructor({ base = "/api/v1", onUnauthenticated = () => {} } = {}) {
    this.base = base;
    this.onUnauthenticated = onUnauthenticated;
  }

  async request(method, path, body, { auth = true } = {}) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.base + path, init);
    } catch (err) {
      throw new NetworkError(err);
    }
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch {
      // not JSON: fall through with data == null
    }
    if (!res.ok) {
      const e = data?.error || {};
      const retry = Number(res.headers.get("Retry-After")) || 0;
      const err = new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText || "request failed", retry);
      if (res.status === 401 && auth) this.onUnauthenticated(err);
      throw err;
    }
    return data;
  }

  // Accounts
  signUp(username, password) { return this.request("POST", "/auth/signup", { username, password }, { auth: false }); }
  signIn(username, password) { return this.request("POST", "/auth/signin", { username, password }, { auth: false }); }
  signOut() { return this.request("POST", "/auth/signout"); }
  sessions() { return this.request("GET", "/sessions"); }
  revokeSession(id) { return this.request("DELETE", `/sessions/${enc(id)}`); }
  revokeOtherSessions() { return this.request("POST", "/sessions/revoke-others"); }
  me() { return this.request("GET", "/me", undefined, { auth: false }); }
  // Account settings
  setDisplayName(displayName) { return this.request("PATCH", "/me", { display_name: displayName }); }
  changePassword(oldPassword, newPassword) { return this.request("POST", "/me/password", { old_password: oldPassword, new_password: newPassword }); }
  removeAvatar() { return this.request("DELETE", "/me/avatar"); }
  /** Sets the avatar to an image file (its raw bytes); returns {user}. */
  async setAvatar(file) {
    let res;
    try {
      res = await fetch(this.base + "/me/avatar", { method: "PUT", credentials: "same-origin", headers: { "Content-Type": "application/octet-stream" }, body: file });
    } catch (err) {
      throw new NetworkError(err);
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const e = data?.error || {};
      const err = new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText || "upload failed");
      if (res.status === 401) this.onUnauthenticated(err);
      throw err;
    }
    return data;
  }

  // Users
  user(id) { return this.request("GET", `/users/${enc(id)}`); }
  userByName(name) { return this.request("GET", `/users/by-name/${enc(name)}`); }

  // Rooms
  rooms() { return this.request("GET", "/rooms"); }
  room(id) { return this.request("GET", `/rooms/${enc(id)}`); }
  createRoom(name) { return this.request("POST", "/rooms", { name }); }
  joinRoom(code) { return this.request("POST", "/rooms/join", { invite_code: code }); }
  renameRoom(id, name) { return this.request("PATCH", `/rooms/${enc(id)}`, { name }); }
  rotateInvite(id) { return this.request("POST", `/rooms/${enc(id)}/invite`); }
  leaveRoom(id) { return this.request("POST", `/rooms/${enc(id)}/leave`); }
  members(id) { return this.request("GET", `/rooms/${enc(id)}/members`); }
  kick(id, userId) { return this.request("POST", `/rooms/${enc(id)}/members/${enc(userId)}/kick`); }
  ban(id, userId) { return this.request("POST", `/rooms/${enc(id)}/members/${enc(userId)}/ban`); }
  setRole(id, userId, role) { return this.request("PUT", `/rooms/${enc(id)}/members/${enc(userId)}/role`, { role }); }
  openDM(userId) { return this.request("POST", "/dms", { user_id: userId }); }

  // Messages
  messages(id, before = 0, limit = 50) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before > 0) q.set("before", String(before));
    return this.request("GET", `/rooms/${enc(id)}/messages?${q}`);
  }
  /** The message seq with up to limit/2 older and limit/2 newer ones (a search result's context). */
  messagesAround(id, seq, limit = 50) {
    return this.request("GET", `/rooms/${enc(id)}/messages?around=${seq}&limit=${limit}`);
  }
  /** The limit messages right after seq, newest first. */
  messagesAfter(id, seq, limit = 50) {
    return this.request("GET", `/rooms/${enc(id)}/messages?after=${seq}&limit=${limit}`);
  }
  postMessage(id, clientMsgId, text, replyTo = 0, attachments = []) {
    const body = { client_msg_id: clientMsgId, text, reply_to: replyTo };
    if (attachments.length) body.attachments = attachments;
    return this.request("POST", `/rooms/${enc(id)}/messages`, body);
  }
  /** attachments, when given, are the IDs the message keeps (the others are taken off). */
  editMessage(id, seq, text, attachments) {
    const body = { text };
    if (attachments) body.attachments = attachments;
    return this.request("PATCH", `/rooms/${enc(id)}/messages/${seq}`, body);
  }
  deleteMessage(id, seq) { return this.request("DELETE", `/rooms/${enc(id)}/messages/${seq}`); }
  react(id, seq, emoji, add) {
    return this.request(add ? "PUT" : "DELETE", `/rooms/${enc(id)}/messages/${seq}/reactions/${enc(emoji)}`);
  }
  markRead(id, seq) { return this.request("POST", `/rooms/${enc(id)}/read`, { seq }); }
  // Threads (docs/protocol.md, "Threads").
  postReply(id, root, clientMsgId, text, attachments = []) {
    const body = { client_msg_id: clientMsgId, text, thread_root: root };
    if (attachments.length) body.attachments = attachments;
    return this.request("POST", `/rooms/${enc(id)}/messages`, body);
  }
  threadMessages(id, root, after = 0) { return this.request("GET", `/rooms/${enc(id)}/threads/${root}/messages?after=${after}&limit=100`); }
  threads(id) { return this.request("GET", `/rooms/${enc(id)}/threads?limit=100`); }
  markThreadRead(id, root, seq) { return this.request("POST", `/rooms/${enc(id)}/threads/${root}/read`, { seq }); }
  pins(id) { return this.request("GET", `/rooms/${enc(id)}/pins`); }
  pin(id, seq, on) { return this.request(on ? "PUT" : "DELETE", `/rooms/${enc(id)}/pins/${seq}`); }
  setRoomSettings(id, settings) { return this.request("PATCH", `/rooms/${enc(id)}/settings`, settings); }
  setNotify(id, level) { return this.request("PUT", `/rooms/${enc(id)}/notify`, { level }); }

  // Search: q is parsed by the server (words, "phrases", from:, in:, has:, before:, after:, mentions:).
  search(q, { roomId = "", cursor = "", limit = 25 } = {}) {
    const p = new URLSearchParams({ q, limit: String(limit) });
    if (roomId) p.set("room_id", roomId);
    if (cursor) p.set("cursor", cursor);
    return this.request("GET", `/search?${p}`);
  }

  /**
   * Uploads a file to a room as an attachment, its bytes as the body.
   * XMLHttpRequest, not fetch: it reports upload progress. Returns
   * {promise, abort}; onProgress(fraction) is called as bytes go out; the
   * promise resolves to the attachment, or rejects with an ApiError (code
   * "aborted" after abort()).
   */
  upload(roomId, file, onProgress = () => {}) {
    const xhr = new XMLHttpRequest();
    const promise = new Promise((resolve, reject) => {
      xhr.open("POST", `${this.base}/rooms/${enc(roomId)}/attachments?name=${enc(file.name || "file")}`);
      xhr.responseType = "text";
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total); });
      xhr.addEventListener("load", () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          // not JSON
        }
        if (xhr.status === 201 && data?.attachment) {
          onProgress(1);
          resolve(normalizeAttachment(data.attachment));
          return;
        }
        const e = data?.error || {};
        const err = new ApiError(xhr.status, e.code || "http_" + xhr.status, e.message || xhr.statusText || "upload failed");
        if (xhr.status === 401) this.onUnauthenticated(err);
        reject(err);
      });
      xhr.addEventListener("error", () => reject(new NetworkError(null)));
      xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "upload cancelled")));
      xhr.send(file);
    });
    return { promise, abort: () => xhr.abort() };
  }
}

/**
 * Fills in an attachment's URLs when an event carries only its fields
 * (the WebSocket's message.posted has the domain object): the file, and a
 * thumbnail for images.
 */
export function normalizeAttachment(a) {
  const out = { ...a };
  if (!out.url) out.url = `/api/v1/attachments/${enc(a.id)}/${enc(a.name || "file")}`;
  if (!out.thumbnail_url && isImage(a)) out.thumbnail_url = `/api/v1/attachments/${enc(a.id)}/thumbnail`;
  return out;
}

/** True for an attachment the server decoded as an image (it has a thumbnail). */
export function isImage(a) {
  return /^image\//.test(a.content_type || "") && (a.width > 0 || !!a.thumbnail_url);
}
