// The message composer: Enter sends, Shift+Enter adds a line, Up edits
// the last own message, Escape cancels a reply; "@" suggests members.
import { h, icon, avatar } from "../util/dom.js";
import { toast } from "./toast.js";
import { autosize } from "./timeline.js";
import { truncate, isolate } from "../util/format.js";

const MAX_CHARS = 4000;

export class Composer {
  constructor(client, { onEditLast, onEscape }) {
    this.client = client;
    this.onEditLast = onEditLast;
    this.onEscape = onEscape;
    this.room = null;
    this.replyTo = null;
    this.drafts = new Map();
    this.suggest = { items: [], index: 0, start: -1 };

    this.input = h("textarea.composer-input", { id: "composer-input", rows: 1, "aria-label": "Message", autocomplete: "off", spellcheck: "true", enterkeyhint: "send" });
    this.sendBtn = h("button.icon-btn.send-btn", { type: "submit", id: "composer-send", title: "Send (Enter)", "aria-label": "Send" }, icon("send"));
    this.replyBar = h("div.reply-bar", { hidden: true });
    this.counter = h("span.char-count", { hidden: true, "aria-live": "polite" });
    this.suggestions = h("ul.suggestions", { role: "listbox", id: "mention-suggestions", hidden: true });
    this.form = h("form.composer", { id: "composer", novalidate: true },
      this.suggestions,
      this.replyBar,
      h("div.composer-box", this.input, this.counter, this.sendBtn));

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

  submit() {
    const room = this.room;
    if (!room) return;
    const text = this.input.value;
    if (!text.trim()) return;
    if ([...text].length > MAX_CHARS) {
      toast(`Messages can be at most ${MAX_CHARS} characters.`, { kind: "error" });
      return;
    }
    this.client.send(room, text, this.replyTo?.seq || 0);
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
      if (u.username.toLowerCase().startsWith(q)) items.push(u);
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
    }, avatar(u, "sm"), h("span", u.username))));
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

/** The "x is typing…" line under the timeline. */
export function typingText(room) {
  const names = [...room.typing.values()].map((t) => isolate(t.username));
  if (!names.length) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return "Several people are typing…";
}
