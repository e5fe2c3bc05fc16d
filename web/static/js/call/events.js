// Call events in a room's timeline (docs/protocol.md, "Room events"):
// call.started, call.joined, call.left and call.ended as system lines; an
// ended call reads "Call · 23 min · 4 people".

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
