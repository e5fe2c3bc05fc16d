// Time and text formatting for people.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });
const shortDayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

export const parseTime = (s) => (s ? new Date(s) : null);

export function formatTime(d) {
  return d ? timeFmt.format(d) : "";
}

export function formatFull(d) {
  return d ? fullFmt.format(d) : "";
}

/** A local calendar day key, YYYY-MM-DD. */
export function dayKey(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function formatDay(d, now = new Date()) {
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86400000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return dayFmt.format(d);
}

/** "just now", "5 minutes ago", "yesterday at 9:12 PM", "on Nov 3". */
export function formatLastSeen(d, now = new Date()) {
  if (!d) return "";
  const s = Math.max(0, (now - d) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return `${m} minute${m === 1 ? "" : "s"} ago`;
  }
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86400000);
  if (days === 0) {
    const hrs = Math.floor(s / 3600);
    return `${hrs} hour${hrs === 1 ? "" : "s"} ago`;
  }
  if (days === 1) return `yesterday at ${timeFmt.format(d)}`;
  return `on ${shortDayFmt.format(d)}`;
}

export function truncate(s, n) {
  const chars = [...s];
  return chars.length > n ? chars.slice(0, n - 1).join("") + "…" : s;
}

/**
 * s between Unicode isolates (FSI … PDI): user text inside a plain string
 * (a toast, a title, the typing line) cannot reorder the text around it.
 */
export function isolate(s) {
  return "\u2068" + s + "\u2069";
}

/** A file size for people: "512 B", "1.4 KB", "25 MB" (powers of 1024). */
export function formatSize(n) {
  if (!(n >= 0)) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * shownName is the name a user is shown by: their display name, else
 * their username; "Deleted user" once their account is deleted.
 */
export function shownName(user) {
  if (user?.deleted) return "Deleted user";
  return user?.display_name || user?.username || "";
}
