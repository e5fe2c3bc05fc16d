// The message composer: Enter sends, Shift+Enter adds a line, Up edits
// the last own message, Escape cancels a reply; "@" suggests members.
//
// Files (the attach button, a paste, a drop on the room: addFiles) upload
// at once, each with its progress bar and a cancel button; the message
// goes out with them when they are all done, its text their caption.
import { h, icon, avatar } from "../util/dom.js";
import { toast, humanError } from "./toast.js";
import { autosize } from "./timeline.js";
import { truncate, isolate, formatSize, shownName } from "../util/format.js";

const MAX_CHARS = 4000;
const MAX_FILES = 10; // attachments per message (the server's limit)

export class Composer {
  constructor(client, { onEditLast, onEscape, onSent }) {
    this.client = client;
    this.onSent = onSent;
    this.onEditLast = onEditLast;
    this.onEscape = onEscape;
    this.room = null;
    this.replyTo = null;
    this.drafts = new Map();
    this.suggest = { items: [], index: 0, start: -1 };
    this.uploads = new Map(); // room id -> [upload]: {file, state, progress, attachment, error, abort, el}

    this.input = h("textarea.composer-input", { id: "composer-input", rows: 1, "aria-label": "Message", autocomplete: "off", spellcheck: "true", enterkeyhint: "send" });
    this.sendBtn = h("button.icon-btn.send-btn", { type: "submit", id: "composer-send", title: "Send (Enter)", "aria-label": "Send" }, icon("send"));
    this.replyBar = h("div.reply-bar", { hidden: true });
    this.counter = h("span.char-count", { hidden: true, "aria-live": "polite" });
    this.suggestions = h("ul.suggestions", { role: "listbox", id: "mention-suggestions", hidden: true });
    this.fileInput = h("input.visually-hidden", { type: "file", multiple: true, id: "composer-file", tabindex: "-1", "aria-hidden": "true" });
    this.fileInput.addEventListener("change", () => {
      this.addFiles([...this.fileInput.files]);
      this.fileInput.value = "";
    });
    this.attachBtn = h("button.icon-btn.attach-btn", { type: "button", id: "composer-attach", title: "Attach files", "aria-label": "Attach files",
      onclick: () => this.fileInput.click() }, icon("clip"));
    this.tray = h("ul.upload-tray", { id: "upload-tray", "aria-label": "Files to send", hidden: true });
    this.form = h("form.composer", { id: "composer", novalidate: true },
      this.suggestions,
      this.replyBar,
      this.tray,
      h("div.composer-box", this.attachBtn, this.fileInput, this.input, this.counter, this.sendBtn));
    this.input.addEventListener("paste", (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (!files.length) return;
      e.preventDefault();
      this.addFiles(files);
    });

    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => this.#onKey(e));
    this.input.addEventListener("input", () => this.#onInput());
    this.input.addEventListener("blur", () => setTimeout(() => this.#hideSuggestions(), 150));
  }

  setRoom(room) {
    if (this.room) this.drafts.set(this.room.id, this.input.value);
    this.room = room;
    this.cancelReply();
    this.input.value = room ? this.drafts.get(room.id) || "" : "";
    this.input.placeholder = room ? (room.kind === "dm" ? "Message @" : "Message #") + this.client.displayName(room) : "";
    this.input.disabled = !room;
    this.attachBtn.disabled = !room;
    this.#renderTray();
    this.#hideSuggestions();
    this.#updateCounter();
    autosize(this.input, 240);
  }

  /** Refreshes the placeholder after a rename. */
  refresh() {
    if (this.room) this.input.placeholder = (this.room.kind === "dm" ? "Message @" : "Message #") + this.client.displayName(this.room);
  }

  focus() {
    if (!this.input.disabled) this.input.focus();
  }

  replyToMessage(msg) {
    this.replyTo = msg;
    const name = this.client.nameOf(msg.sender_id) || msg.sender_name || "someone";
    this.replyBar.replaceChildren(
      icon("reply"),
      h("span", "Replying to ", h("strong", "@" + name), h("span.reply-bar-snippet", " — " + truncate(msg.text.replace(/\s+/g, " "), 80))),
      h("button.icon-btn.small", { type: "button", "aria-label": "Cancel reply", title: "Cancel reply (Esc)", onclick: () => { this.cancelReply(); this.focus(); } }, icon("close")));
    this.replyBar.hidden = false;
    this.focus();
  }

  cancelReply() {
    this.replyTo = null;
    this.replyBar.hidden = true;
    this.replyBar.replaceChildren();
  }

  // ---- attachments --------------------------------------------------------

  #list(room = this.room) {
    if (!room) return [];
    let list = this.uploads.get(room.id);
    if (!list) this.uploads.set(room.id, (list = []));
    return list;
  }

  /** Starts uploading files to the room shown, for the next message. */
  addFiles(files) {
    const room = this.room;
    if (!room || !files.length) return;
    const list = this.#list(room);
    for (const file of files) {
      if (list.length >= MAX_FILES) {
        toast(`A message can carry at most ${MAX_FILES} files.`, { kind: "error" });
        break;
      }
      const up = { file, state: "uploading", progress: 0, attachment: null, error: null, abort: null, bar: null };
      list.push(up);
      const { promise, abort } = this.client.api.upload(room.id, file, (f) => {
        up.progress = f;
        if (up.bar) up.bar.value = Math.round(f * 100);
      });
      up.abort = abort;
      promise.then((a) => {
        up.state = "done";
        up.attachment = a;
        up.progress = 1;
      }, (err) => {
        if (err.code === "aborted") return;
        up.state = "failed";
        up.error = uploadError(err, file);
        toast(up.error, { kind: "error" });
      }).finally(() => {
        if (this.room === room) this.#renderTray();
      });
    }
    this.#renderTray();
    this.focus();
  }

  #remove(up) {
    const list = this.#list();
    const i = list.indexOf(up);
    if (i < 0) return;
    list.splice(i, 1);
    if (up.state === "uploading") up.abort();
    this.#renderTray();
    this.focus();
  }

  #renderTray() {
    const list = this.#list();
    this.tray.hidden = !list.length;
    this.tray.replaceChildren(...list.map((up) => {
      const name = up.file.name || "file";
      up.bar = up.state === "uploading"
        ? h("progress.upload-progress", { max: "100", value: String(Math.round(up.progress * 100)), "aria-label": "Uploading " + name })
        : null;
      const status = up.state === "failed" ? h("span.upload-error", up.error)
        : up.state === "done" ? h("span.upload-meta", formatSize(up.file.size))
        : up.bar;
      const label = up.state === "uploading" ? "Cancel upload of " + name : "Remove " + name;
      return h("li.upload" + (up.state === "failed" ? ".failed" : ""), { dataset: { state: up.state } },
        h("span.upload-name", { title: name }, h("bdi", name)),
        status,
        h("button.icon-btn.small", { type: "button", "aria-label": label, title: label, onclick: () => this.#remove(up) }, icon("close")));
    }));
    const busy = list.some((u) => u.state === "uploading");
    this.sendBtn.disabled = busy;
    this.sendBtn.title = busy ? "Uploading files…" : "Send (Enter)";
  }

  submit() {
    const room = this.room;
    if (!room) return;
    const text = this.input.value;
    const list = this.#list(room);
    if (list.some((u) => u.state === "uploading")) {
      toast("Wait until the files have uploaded, or cancel them.");
      return;
    }
    if (list.some((u) => u.state === "failed")) {
      toast("Some files could not be uploaded: remove them to send.", { kind: "error" });
      return;
    }
    const attachments = list.map((u) => u.attachment);
    if (!text.trim() && !attachments.length) return;
    if ([...text].length > MAX_CHARS) {
      toast(`Messages can be at most ${MAX_CHARS} characters.`, { kind: "error" });
      return;
    }
    this.client.send(room, text.trim() ? text : "", this.replyTo?.seq || 0, attachments);
    this.uploads.delete(room.id);
    this.#renderTray();
    this.onSent?.();
    this.client.typingReset(room);
    this.input.value = "";
    this.drafts.delete(room.id);
    this.cancelReply();
    this.#hideSuggestions();
    this.#updateCounter();
    autosize(this.input, 240);
  }

  #onKey(e) {
    if (!this.suggestions.hidden && this.suggest.items.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = this.suggest.items.length;
        this.suggest.index = (this.suggest.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.#renderSuggestions();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        this.#pick(this.suggest.items[this.suggest.index]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        this.#hideSuggestions();
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    } else if (e.key === "Escape") {
      if (this.replyTo) {
        e.preventDefault();
        this.cancelReply();
      } else {
        this.onEscape();
      }
    } else if (e.key === "ArrowUp" && !this.input.value) {
      if (this.onEditLast()) e.preventDefault();
    }
  }

  #onInput() {
    autosize(this.input, 240);
    this.#updateCounter();
    if (this.room && this.input.value.trim()) this.client.typing(this.room);
    this.#updateSuggestions();
  }

  #updateCounter() {
    const n = [...this.input.value].length;
    this.counter.hidden = n < MAX_CHARS - 500;
    this.counter.textContent = String(MAX_CHARS - n);
    this.counter.classList.toggle("over", n > MAX_CHARS);
  }

  #updateSuggestions() {
    const room = this.room;
    const v = this.input.value;
    const caret = this.input.selectionStart;
    const m = /(^|[^A-Za-z0-9_.\-])@([A-Za-z0-9_.\-]{0,32})$/.exec(v.slice(0, caret));
    if (!room || !m) return this.#hideSuggestions();
    const q = m[2].toLowerCase();
    const items = [];
    for (const member of room.members.values()) {
      const u = this.client.users.get(member.userId);
      if (!u || u.id === this.client.me.id) continue;
      if (!u.deleted && (u.username.toLowerCase().startsWith(q) || (u.display_name || "").toLowerCase().startsWith(q))) items.push(u);
    }
    items.sort((a, b) => a.username.localeCompare(b.username));
    if (!items.length) return this.#hideSuggestions();
    this.suggest = { items: items.slice(0, 8), index: 0, start: caret - m[2].length - 1 };
    this.#renderSuggestions();
  }

  #renderSuggestions() {
    const { items, index } = this.suggest;
    this.suggestions.replaceChildren(...items.map((u, i) => h("li.suggestion" + (i === index ? ".active" : ""), {
      role: "option", "aria-selected": String(i === index), id: "mention-opt-" + i,
      onmousedown: (e) => { e.preventDefault(); this.#pick(u); },
    }, avatar(u, "sm"), h("span", shownName(u)), u.display_name ? h("span.muted", " @", h("bdi", u.username)) : null)));
    this.suggestions.hidden = false;
    this.input.setAttribute("aria-activedescendant", "mention-opt-" + index);
  }

  #pick(user) {
    const v = this.input.value;
    const caret = this.input.selectionStart;
    const before = v.slice(0, this.suggest.start) + "@" + user.username + " ";
    this.input.value = before + v.slice(caret);
    this.input.setSelectionRange(before.length, before.length);
    this.#hideSuggestions();
    this.input.focus();
  }

  #hideSuggestions() {
    this.suggestions.hidden = true;
    this.suggest = { items: [], index: 0, start: -1 };
    this.input.removeAttribute("aria-activedescendant");
  }
}

/** What to tell the user when the server refuses an upload. */
function uploadError(err, file) {
  const name = isolate(file.name || "file");
  switch (err.code) {
    case "too_large": return `${name} is too large to upload (${formatSize(file.size)}).`;
    case "quota_exceeded": return `${name}: you have used up your upload space.`;
    case "invalid": return `${name} cannot be uploaded: ${humanError(err).replace(/\.$/, "")}.`;
    case "not_found": return `${name}: you are not in this room any more.`;
    default: return `${name} could not be uploaded: ${humanError(err)}`;
  }
}

/** The "x is typing…" line under the timeline. */
export function typingText(room) {
  const names = [...room.typing.values()].map((t) => isolate(t.username));
  if (!names.length) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return "Several people are typing…";
}
