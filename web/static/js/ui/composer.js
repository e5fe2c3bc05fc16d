// The message composer: Enter sends, Shift+Enter adds a line, Up edits
// the last own message, Escape cancels a reply, Shift+Tab goes to the
// newest message; "@" suggests members, ":" followed by two letters
// suggests emoji by shortcode (a complete ":smile:" becomes the emoji as
// its closing colon is typed, and on send); the emoji button opens the
// picker (ui/emoji-picker.js, loaded on use). The text is markdown
// (util/markdown.js), sent as typed.
//
// Files (the attach button, a paste, a drop on the room: addFiles) upload
// at once, each with its progress bar and a cancel button; the message
// goes out with them when they are all done, its text their caption.
import { h, icon, avatar } from "../util/dom.js";
import { toast, humanError } from "./toast.js";
import { autosize } from "./timeline.js";
import { truncate, isolate, formatSize, shownName } from "../util/format.js";
import { plain } from "../util/markdown.js";
import { emojiImg, loadEmojiData, searchEmoji, replaceShortcodes } from "../util/emoji.js";

const MAX_CHARS = 4000;
const MAX_FILES = 10; // attachments per message (the server's limit)

export class Composer {
  // send, if given, sends instead of client.send (the thread panel's
  // composer: send(room, text, replyTo, attachments)); id prefixes the
  // element IDs, so that two composers can be on the page.
  constructor(client, { onEditLast, onEscape, onSent, onShiftTab, send = null, id = "composer", label = "Message" }) {
    this.client = client;
    this.onShiftTab = onShiftTab;
    this.sendFn = send;
    this.onSent = onSent;
    this.onEditLast = onEditLast;
    this.onEscape = onEscape;
    this.room = null;
    this.replyTo = null;
    this.drafts = new Map();
    this.suggest = { kind: "", items: [], index: 0, start: -1 };
    this.emojiData = null; // loaded on the first ":" completion or picker
    this.emojiPicker = null;
    this.uploads = new Map(); // room id -> [upload]: {file, state, progress, attachment, error, abort, el}

    this.input = h("textarea.composer-input", { id: id + "-input", rows: 1, "aria-label": label, autocomplete: "off", spellcheck: "true", enterkeyhint: "send" });
    this.sendBtn = h("button.icon-btn.send-btn", { type: "submit", id: id + "-send", title: "Send (Enter)", "aria-label": "Send" }, icon("send"));
    this.replyBar = h("div.reply-bar", { hidden: true });
    this.counter = h("span.char-count", { hidden: true, "aria-live": "polite" });
    this.suggestions = h("ul.suggestions", { role: "listbox", id: id === "composer" ? "mention-suggestions" : id + "-suggestions", hidden: true });
    this.fileInput = h("input.visually-hidden", { type: "file", multiple: true, id: id + "-file", tabindex: "-1", "aria-hidden": "true" });
    this.fileInput.addEventListener("change", () => {
      this.addFiles([...this.fileInput.files]);
      this.fileInput.value = "";
    });
    this.attachBtn = h("button.icon-btn.attach-btn", { type: "button", id: id + "-attach", title: "Attach files", "aria-label": "Attach files",
      onclick: () => this.fileInput.click() }, icon("clip"));
    this.emojiBtn = h("button.icon-btn.emoji-btn", { type: "button", id: id + "-emoji", title: "Emoji", "aria-label": "Emoji", "aria-haspopup": "dialog",
      onclick: () => this.toggleEmojiPicker() }, icon("smile"));
    this.tray = h("ul.upload-tray", { id: id === "composer" ? "upload-tray" : id + "-tray", "aria-label": "Files to send", hidden: true });
    this.form = h("form.composer", { id, novalidate: true },
      this.suggestions,
      this.replyBar,
      this.tray,
      h("div.composer-box", this.attachBtn, this.fileInput, this.input, this.counter, this.emojiBtn, this.sendBtn));
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
    this.input.addEventListener("input", (e) => {
      if (e.data === ":") this.#convertShortcode();
      this.#onInput();
    });
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
    this.emojiBtn.disabled = !room;
    this.emojiPicker?.close();
    this.emojiPicker = null;
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
      h("span", "Replying to ", h("strong", "@" + name), h("span.reply-bar-snippet", " — " + truncate(plain(msg.text).replace(/\s+/g, " "), 80))),
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
    let text = this.input.value;
    if (this.emojiData) text = replaceShortcodes(this.emojiData, text);
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
    if (this.sendFn) this.sendFn(room, text.trim() ? text : "", this.replyTo?.seq || 0, attachments);
    else this.client.send(room, text.trim() ? text : "", this.replyTo?.seq || 0, attachments);
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
    } else if (e.key === "Tab" && e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      // Back to the messages (the newest), not to the attach button.
      if (this.onShiftTab?.()) e.preventDefault();
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

  /** Opens the emoji picker above the composer, or closes it. */
  async toggleEmojiPicker() {
    if (this.emojiPicker) {
      this.emojiPicker.close();
      this.emojiPicker = null;
      return;
    }
    const room = this.room;
    let start = this.input.selectionStart ?? this.input.value.length;
    let end = this.input.selectionEnd ?? start;
    const { openEmojiPicker } = await import("./emoji-picker.js");
    if (this.room !== room || this.emojiPicker) return;
    this.emojiPicker = openEmojiPicker({
      anchor: this.emojiBtn,
      label: "Insert an emoji",
      onClose: () => {
        this.emojiPicker = null;
        this.focus();
      },
      onPick: (emoji, keepOpen) => {
        if (this.room !== room) return;
        const v = this.input.value;
        this.input.value = v.slice(0, start) + emoji + v.slice(end);
        start = end = start + emoji.length;
        this.input.setSelectionRange(start, end);
        if (!keepOpen) {
          this.emojiPicker = null;
          this.focus();
        }
        this.#onInput();
      },
    });
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
    if (room && !m) return this.#updateEmojiSuggestions(v, caret);
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
    this.suggest = { kind: "mention", items: items.slice(0, 8), index: 0, start: caret - m[2].length - 1 };
    this.#renderSuggestions();
  }

  /** ":sm" before the caret: emoji whose shortcode, name or keyword match. */
  #updateEmojiSuggestions(v, caret) {
    const m = /(^|[\s([{"'])(:([a-z0-9_+\-]{2,32}))$/i.exec(v.slice(0, caret));
    if (!m) return this.#hideSuggestions();
    if (!this.emojiData) {
      loadEmojiData().then((d) => {
        this.emojiData = d;
        if (document.activeElement === this.input) this.#updateSuggestions();
      }, () => {});
      return;
    }
    const items = searchEmoji(this.emojiData, m[3], 8).map((e) => ({ emoji: e.emoji, code: e.codes.find((c) => c.includes(m[3].toLowerCase())) || e.codes[0], name: e.name }));
    if (!items.length) return this.#hideSuggestions();
    this.suggest = { kind: "emoji", items, index: 0, start: caret - m[2].length };
    this.#renderSuggestions();
  }

  /** A ":code:" just closed before the caret becomes its emoji. */
  #convertShortcode() {
    if (!this.emojiData) return;
    const v = this.input.value;
    const caret = this.input.selectionStart;
    const before = v.slice(0, caret);
    const m = /(?<!\w):[a-z0-9_+\-]+:$/i.exec(before);
    if (!m) return;
    const replaced = before.slice(0, m.index) + replaceShortcodes(this.emojiData, m[0]);
    if (replaced === before) return;
    this.input.value = replaced + v.slice(caret);
    this.input.setSelectionRange(replaced.length, replaced.length);
  }

  #renderSuggestions() {
    const { kind, items, index } = this.suggest;
    this.suggestions.setAttribute("aria-label", kind === "emoji" ? "Emoji" : "Members");
    this.suggestions.replaceChildren(...items.map((it, i) => h("li.suggestion" + (i === index ? ".active" : ""), {
      role: "option", "aria-selected": String(i === index), id: "mention-opt-" + i, dataset: kind === "emoji" ? { emoji: it.emoji } : {},
      onmousedown: (e) => { e.preventDefault(); this.#pick(it); },
    }, kind === "emoji"
      ? [emojiImg(it.emoji), h("span", ":" + it.code + ":"), h("span.suggestion-note", it.name)]
      : [avatar(it, "sm"), h("span", shownName(it)), it.display_name ? h("span.muted", " @", h("bdi", it.username)) : null])));
    this.suggestions.hidden = false;
    this.input.setAttribute("aria-activedescendant", "mention-opt-" + index);
  }

  #pick(item) {
    const v = this.input.value;
    const caret = this.input.selectionStart;
    const before = v.slice(0, this.suggest.start) + (this.suggest.kind === "emoji" ? item.emoji : "@" + item.username + " ");
    this.input.value = before + v.slice(caret);
    this.input.setSelectionRange(before.length, before.length);
    this.#hideSuggestions();
    this.input.focus();
  }

  #hideSuggestions() {
    this.suggestions.hidden = true;
    this.suggest = { kind: "", items: [], index: 0, start: -1 };
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
