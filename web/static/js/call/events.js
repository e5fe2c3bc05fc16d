// Call events in a room's timeline (docs/protocol.md, "Room events"):
// call.started, call.joined, call.left and call.ended. The timeline shows
// one line per call (summarizeCalls, renderCallSummary), updated as its
// events arrive: "Call started by alice · 3 joined · ended after 4 min".
// renderCallEvent renders a single event (one without a call_id).

import { h } from "../util/dom.js";

const LEFT_REASONS = {
  disconnected: " (disconnected)",
  connection_failed: " (connection lost)",
  node_lost: " (server lost)",
};

/**
 * The icon name and text parts of a call event's system line, or null if
 * ev is not a call event. ev is a timeline item {event, data, at};
 * who(userId) renders a user's name.
 */
export function renderCallEvent(ev, who) {
  const d = ev.data || {};
  switch (ev.event) {
    case "call.started":
      return { icon: "phone", parts: [who(d.by), " started a call"] };
    case "call.joined":
      return { icon: "phone", parts: [who(d.user_id), " joined the call"] };
    case "call.left":
      if (d.reason === "removed") return { icon: "phone", parts: [who(d.user_id), " was removed from the call"] };
      return { icon: "phone", parts: [who(d.user_id), " left the call", LEFT_REASONS[d.reason] || ""] };
    case "call.ended":
      return { icon: "phone", parts: [h("strong", "Call"), " · ", callSummary(d.started_at, d.at || ev.at, d.participants)] };
  }
  return null;
}

/**
 * The calls of a room's timeline items: call_id -> {first (the call's
 * first item, where its line goes), by, startedAt, joined (user IDs),
 * inCall (user IDs), ended ({at, startedAt, participants}, or null)}.
 */
export function summarizeCalls(items) {
  const calls = new Map();
  for (const it of items) {
    const id = it.kind === "sys" && it.event?.startsWith("call.") && it.data?.call_id;
    if (!id) continue;
    const d = it.data;
    let s = calls.get(id);
    if (!s) calls.set(id, s = { first: it, by: null, startedAt: null, joined: new Set(), inCall: new Set(), ended: null });
    switch (it.event) {
      case "call.started": s.by = d.by; s.startedAt = d.at || it.at; break;
      case "call.joined": s.joined.add(d.user_id); s.inCall.add(d.user_id); break;
      case "call.left": s.inCall.delete(d.user_id); break;
      case "call.ended": s.ended = { at: d.at || it.at, startedAt: d.started_at, participants: Number(d.participants) || 0 }; s.inCall.clear(); break;
    }
  }
  return calls;
}

/**
 * A call's one line: "Call started by alice · 3 joined · ended after
 * 4 min", or "… · 2 in the call" while it runs. who(userId) renders a
 * user's name. text is the same as a string key for re-rendering.
 */
export function renderCallSummary(s, who, nameOf = () => "") {
  const joined = s.ended ? Math.max(s.ended.participants, s.joined.size) : s.joined.size;
  const parts = s.by ? ["Call started by ", who(s.by)] : [h("strong", "Call")];
  parts.push(` · ${joined} joined`);
  if (s.ended) {
    const ms = parseMs(s.ended.at) - parseMs(s.ended.startedAt || s.startedAt);
    parts.push(Number.isFinite(ms) ? ` · ended after ${formatCallDuration(ms)}` : " · ended");
  } else {
    parts.push(` · ${s.inCall.size} in the call`);
  }
  const key = [s.by ? nameOf(s.by) : "", joined, s.ended ? s.ended.at : s.inCall.size].join("|");
  return { icon: "phone", parts, key };
}

/** "23 min · 4 people". */
export function callSummary(startedAt, endedAt, participants) {
  const ms = parseMs(endedAt) - parseMs(startedAt);
  const n = Number(participants) || 0;
  const parts = [];
  if (Number.isFinite(ms)) parts.push(formatCallDuration(ms));
  parts.push(`${n} ${n === 1 ? "person" : "people"}`);
  return parts.join(" · ");
}

/** "45 s", "23 min", "1 h 5 min". */
export function formatCallDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const hrs = Math.floor(min / 60);
  const rest = min % 60;
  return rest ? `${hrs} h ${rest} min` : `${hrs} h`;
}

/** "4:05", "1:02:09": a running call's clock. */
export function formatClock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** Milliseconds since the epoch of an RFC 3339 time (nanoseconds allowed). */
export function parseMs(s) {
  if (!s) return NaN;
  return new Date(String(s).replace(/(\.\d{3})\d+/, "$1")).getTime();
}
