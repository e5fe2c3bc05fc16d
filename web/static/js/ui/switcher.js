// The quick switcher (Ctrl+K / Cmd+K: rooms and DMs by a fuzzy filter)
// and the keyboard shortcuts dialog (?). Loaded with import() the first
// time either opens.
import { h, icon, avatar } from "../util/dom.js";
import { openDialog } from "./dialogs.js";

/**
 * The score of name for the query q (both lower case), higher is better,
 * or -1: every character of q in order; a prefix beats a word start,
 * which beats letters spread out.
 */
export function fuzzyScore(name, q) {
  if (!q) return 0;
  if (name.startsWith(q)) return 1000 - name.length;
  const at = name.indexOf(q);
  if (at >= 0) return (/[\s\-_.]/.test(name[at - 1]) ? 800 : 600) - at;
  let score = 0;
  let j = 0;
  for (let i = 0; i < name.length && j < q.length; i++) {
    if (name[i] !== q[j]) continue;
    score += i === 0 || /[\s\-_.]/.test(name[i - 1]) ? 10 : 1;
    j++;
  }
  return j === q.length ? score : -1;
}

/** Opens the quick switcher; navigate(id) opens a room. */
export function quickSwitcher(client, navigate) {
  const rooms = client.sortedRooms();
  const input = h("input.input.switcher-input", {
    type: "text", id: "switcher-input", autocomplete: "off", spellcheck: "false", placeholder: "Where to?",
    role: "combobox", "aria-expanded": "true", "aria-controls": "switcher-list", "aria-autocomplete": "list", "aria-label": "Room or person",
  });
  const list = h("ul.switcher-list", { id: "switcher-list", role: "listbox", "aria-label": "Rooms and direct messages" });
  let shown = [];
  let index = 0;
  const go = (room) => {
    dlg.close();
    navigate(room.id);
  };
  const paint = () => {
    list.replaceChildren(...shown.map((room, i) => {
      const name = client.displayName(room);
      const dm = room.kind === "dm";
      return h("li.switcher-item" + (i === index ? ".active" : ""), {
        role: "option", id: "switcher-opt-" + i, "aria-selected": String(i === index), dataset: { room: room.id },
        onmousedown: (e) => { e.preventDefault(); go(room); },
      }, dm ? avatar(client.user(room.dmPeerId) || { id: room.dmPeerId, username: name }, "sm") : icon("hash"),
      h("bdi.switcher-name", name), dm ? h("span.switcher-kind", "Direct message") : null,
      room.unread ? h("span.badge", { "aria-label": room.unread + " unread" }, String(room.unread)) : null);
    }));
    if (!shown.length) list.appendChild(h("li.switcher-none.muted", "No room or person matches."));
    if (shown.length) input.setAttribute("aria-activedescendant", "switcher-opt-" + index);
    else input.removeAttribute("aria-activedescendant");
    list.children[index]?.scrollIntoView({ block: "nearest" });
  };
  const filter = () => {
    const q = input.value.trim().toLowerCase().replace(/^[#@]/, "");
    const scored = rooms.map((room, i) => ({ room, i, s: fuzzyScore(client.displayName(room).toLowerCase(), q) })).filter((x) => x.s >= 0);
    // The room open now goes last when nothing is typed: Ctrl+K, Enter
    // goes to the one before.
    if (!q) scored.sort((a, b) => (a.room.id === client.activeRoomId) - (b.room.id === client.activeRoomId) || a.i - b.i);
    else scored.sort((a, b) => b.s - a.s || a.i - b.i);
    shown = scored.map((x) => x.room).slice(0, 50);
    index = 0;
    paint();
  };
  input.addEventListener("input", filter);
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!shown.length) return;
      index = (index + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      paint();
    } else if (e.key === "Enter" && !e.isComposing) {
      e.preventDefault();
      if (shown[index]) go(shown[index]);
    }
  });
  const dlg = openDialog({
    title: "Switch to…", id: "quick-switcher", className: "switcher",
    description: "Type part of a room's or a person's name; ↑ ↓ to pick, Enter to open, Esc to close.",
    body: [input, list],
  });
  filter();
  input.focus();
  return dlg;
}

/** The keyboard shortcuts, as the help dialog lists them: [keys, what]. */
export const SHORTCUTS = [
  ["Anywhere", [
    [["Ctrl", "K"], "Quick switcher: go to a room or a direct message"],
    [["Ctrl", "F"], "Search messages"],
    [["Alt", "↑"], "Previous room"], [["Alt", "↓"], "Next room"],
    [["?"], "This list of shortcuts"],
    [["Esc"], "Close a dialog or panel; mark the room as read"],
  ]],
  ["Composer", [
    [["Enter"], "Send"], [["Shift", "Enter"], "New line"],
    [["↑"], "Edit your last message (in an empty composer)"],
    [["Shift", "Tab"], "Go to the messages"],
    [["Esc"], "Cancel a reply"],
  ]],
  ["A focused message", [
    [["↑"], "Previous message"], [["↓"], "Next message"],
    [["Home"], "Oldest loaded"], [["End"], "Newest"], [["PgUp"], "Ten up"], [["PgDn"], "Ten down"],
    [["Enter"], "Reply"], [["R"], "Reply"], [["E"], "Edit (your own)"], [["+"], "React"],
    [["Delete"], "Delete (asks first)"], [["Esc"], "Back to the composer"],
  ]],
];

/** Opens the keyboard shortcuts dialog. */
export function shortcutsDialog() {
  return openDialog({
    title: "Keyboard shortcuts", id: "shortcuts-dialog", className: "dialog-wide",
    description: "On a Mac, ⌘ works where Ctrl is named.",
    body: SHORTCUTS.map(([group, rows]) => h("section.shortcuts",
      h("h3.shortcuts-title", group),
      h("dl.shortcuts-list", rows.map(([keys, what]) => [
        h("dt", keys.flatMap((k, i) => [i ? " + " : null, h("kbd", k)])),
        h("dd", what),
      ])))),
  });
}
