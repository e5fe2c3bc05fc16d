// Short-lived notices at the top of the screen, below the room header.
import { h } from "../util/dom.js";

let host = null;

export function toast(text, { kind = "info", ms = 4500 } = {}) {
  if (!host || !host.isConnected) {
    host = h("div.toasts", { role: "status", "aria-live": "polite" });
    document.body.appendChild(host);
  }
  const el = h("div.toast.toast-" + kind, text);
  host.appendChild(el);
  setTimeout(() => {
    el.classList.add("leaving");
    setTimeout(() => el.remove(), 250);
  }, ms);
}

/** Shows an error from the API or socket in a toast, for people. */
export function toastError(err, prefix = "") {
  toast(prefix + humanError(err), { kind: "error" });
}

/** The server's message without the operation prefix ("sign up: ..."). */
export function humanError(err) {
  if (!err) return "Something went wrong.";
  if (err.code === "network") return "Cannot reach the server. Check your connection.";
  if (err.code === "disconnected") return "Not connected. It will be sent when the connection is back.";
  let msg = String(err.message || "Something went wrong.");
  msg = msg.replace(/^[a-z ]+: /, "");
  return msg.charAt(0).toUpperCase() + msg.slice(1);
}
