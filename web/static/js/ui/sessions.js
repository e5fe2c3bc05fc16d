// The account's sessions: where the user is signed in, this device
// marked; revoke one, or sign out everywhere else.
import { h, clear } from "../util/dom.js";
import { openDialog, confirmDialog } from "./dialogs.js";
import { toast, toastError } from "./toast.js";
import { parseTime } from "../client.js";

/** describeAgent returns a short name for a user agent string. */
function describeAgent(ua) {
  if (!ua) return "Unknown client";
  const browser = [["Firefox", /Firefox\//], ["Edge", /Edg\//], ["Chrome", /Chrome\/|HeadlessChrome\//], ["Safari", /Safari\//]]
    .find(([, re]) => re.test(ua));
  const os = [["Windows", /Windows/], ["Android", /Android/], ["iOS", /iPhone|iPad/], ["macOS", /Mac OS X/], ["Linux", /Linux/]]
    .find(([, re]) => re.test(ua));
  if (!browser && !os) return ua.length > 60 ? ua.slice(0, 60) + "…" : ua;
  return [browser?.[0], os?.[0]].filter(Boolean).join(" on ");
}

function when(t) {
  const d = parseTime(t);
  return d ? d.toLocaleString() : "";
}

/** sessionsDialog lists the account's sessions. */
export function sessionsDialog(api) {
  const list = h("ul.session-list", { id: "session-list", "aria-live": "polite" });
  const others = h("button.btn.btn-danger", { type: "button", id: "revoke-other-sessions", onclick: () => revokeOthers() }, "Sign out everywhere else");
  const close = h("button.btn.btn-ghost", { type: "button", onclick: () => dlg.close() }, "Close");
  const dlg = openDialog({
    title: "Sessions",
    description: "Where your account is signed in. Revoking a session signs that device out.",
    body: list, footer: [close, others], className: "sessions-dialog", id: "sessions-dialog",
  });

  async function load() {
    let sessions;
    try {
      ({ sessions } = await api.sessions());
    } catch (err) {
      toastError(err, "Could not load sessions: ");
      return;
    }
    clear(list);
    for (const s of sessions) {
      const revoke = s.current ? h("span.session-current", "This device")
        : h("button.btn.btn-ghost.session-revoke", { type: "button", onclick: () => revokeOne(s) }, "Revoke");
      list.appendChild(h("li.session" + (s.current ? ".current" : ""), { "data-session-id": s.id },
        h("div.session-info",
          h("div.session-agent", describeAgent(s.user_agent)),
          h("div.session-meta", `${s.ip || "unknown address"} · signed in ${when(s.created_at)} · last active ${when(s.last_used_at)}`)),
        revoke));
    }
    others.disabled = !sessions.some((s) => !s.current);
  }

  async function revokeOne(s) {
    try {
      await api.revokeSession(s.id);
      toast("Session revoked");
    } catch (err) {
      toastError(err, "Could not revoke: ");
    }
    load();
  }

  async function revokeOthers() {
    const ok = await confirmDialog({ title: "Sign out everywhere else?", text: "Every other device signed in to your account will be signed out.", confirmLabel: "Sign out others", danger: true });
    if (!ok) return;
    try {
      const { revoked } = await api.revokeOtherSessions();
      toast(revoked === 1 ? "1 session revoked" : `${revoked} sessions revoked`);
    } catch (err) {
      toastError(err, "Could not revoke: ");
    }
    load();
  }

  load();
  return dlg;
}
