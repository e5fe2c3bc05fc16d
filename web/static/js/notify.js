// Unread count in the tab title, and desktop notifications for mentions
// and DMs while the tab is hidden (if the user allowed them).
import { truncate, isolate } from "./util/format.js";
import { plain } from "./util/markdown.js";

const PREF = "confab.notifications";

// The notification's icon (its hashed URL, put in by the server).
const ICON = "asset:/favicon.svg";

export class Notifier {
  constructor(client, { onChange, openRoom }) {
    this.client = client;
    this.onChange = onChange;
    this.openRoom = openRoom;
    client.on("notify", (room, msg) => this.#notify(room, msg));
  }

  /** "on", "off", "blocked" or "unsupported". */
  state() {
    if (!("Notification" in window)) return "unsupported";
    if (Notification.permission === "denied") return "blocked";
    if (Notification.permission === "granted" && localStorage.getItem(PREF) !== "off") return "on";
    return "off";
  }

  async toggle() {
    const s = this.state();
    if (s === "unsupported" || s === "blocked") {
      this.onChange(s);
      return;
    }
    if (s === "on") {
      localStorage.setItem(PREF, "off");
    } else if (Notification.permission === "granted") {
      localStorage.removeItem(PREF);
    } else {
      try {
        const p = await Notification.requestPermission();
        if (p === "granted") localStorage.removeItem(PREF);
      } catch {
        // Some browsers only have the callback form; treat as declined.
      }
    }
    this.onChange(this.state());
  }

  /** Sets the title: "(3) General · confab". */
  updateTitle() {
    const c = this.client;
    const n = c.totalUnread();
    const room = c.activeRoom;
    const name = room ? (room.kind === "dm" ? "@" : "#") + isolate(c.displayName(room)) + " · " : "";
    document.title = (n > 0 ? `(${n > 99 ? "99+" : n}) ` : "") + name + "confab";
  }

  #notify(room, msg) {
    if (this.state() !== "on" || document.visibilityState === "visible") return;
    const c = this.client;
    const sender = c.nameOf(msg.sender_id) || "Someone";
    const title = room.kind === "dm" ? sender : `${isolate(sender)} in #${isolate(room.name)}`;
    try {
      // One notification per room: a burst (after a reconnect) replaces it.
      const n = new Notification(title, { body: truncate(plain(msg.text), 180), tag: room.id, renotify: true, icon: ICON });
      n.onclick = () => {
        window.focus();
        this.openRoom(room.id);
        n.close();
      };
    } catch {
      // Notification constructor unavailable (e.g. some mobile browsers).
    }
  }
}
