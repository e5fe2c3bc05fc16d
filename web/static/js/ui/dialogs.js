// Modal dialogs on the native <dialog> element: Escape closes them, focus
// stays inside while open and returns to where it was afterwards.
import { h, icon } from "../util/dom.js";
import { humanError } from "./toast.js";

/**
 * openDialog({title, description, body, footer, className}) shows a modal.
 * body and footer are nodes (or arrays). Returns {el, close}.
 */
export function openDialog({ title, description, body, footer, className = "", onClose, id }) {
  const previous = document.activeElement;
  const titleId = "dlg-title-" + Math.random().toString(36).slice(2);
  const dlg = h("dialog.dialog" + (className ? "." + className : ""), { "aria-labelledby": titleId, id },
    h("div.dialog-head",
      h("h2.dialog-title", { id: titleId }, title),
      h("button.icon-btn.dialog-close", { type: "button", "aria-label": "Close", title: "Close (Esc)", onclick: () => close() }, icon("close"))),
    description ? h("p.dialog-desc", description) : null,
    h("div.dialog-body", body),
    footer ? h("div.dialog-foot", footer) : null);
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (dlg.open) dlg.close();
    dlg.remove();
    if (onClose) onClose();
    if (previous && previous.isConnected && typeof previous.focus === "function") {
      // The dialog gives focus back by itself, but after a mouse click
      // Chromium can leave a text field focused that takes no typing:
      // focus it again, from scratch.
      previous.blur();
      previous.focus();
    }
  }
  dlg.addEventListener("close", close);
  dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  dlg.addEventListener("mousedown", (e) => {
    // A click on the backdrop (outside the dialog's box) closes it.
    if (e.target !== dlg) return;
    const r = dlg.getBoundingClientRect();
    if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) close();
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  const first = dlg.querySelector("[autofocus]") || dlg.querySelector("input, textarea, button:not(.dialog-close)");
  if (first) first.focus();
  return { el: dlg, close };
}

/**
 * formDialog shows a form with one text field. submit(value) may throw;
 * its error is shown under the field and the dialog stays open.
 */
export function formDialog({ title, description, label, placeholder = "", value = "", submitLabel = "Save", maxLength, validate, submit, inputId, autocomplete = "off" }) {
  const input = h("input.input", { type: "text", id: inputId, placeholder, autocomplete, spellcheck: "false", autofocus: true });
  input.value = value;
  if (maxLength) input.maxLength = maxLength;
  const error = h("div.field-error", { role: "alert" });
  const button = h("button.btn.btn-primary", { type: "submit" }, submitLabel);
  const form = h("form.dialog-form", { novalidate: true },
    h("label.field", h("span.field-label", label), input),
    error);
  let dlg;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = input.value.trim();
    const problem = validate ? validate(v) : null;
    if (problem) {
      error.textContent = problem;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = "";
    try {
      await submit(v);
      dlg.close();
    } catch (err) {
      error.textContent = humanError(err);
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  const cancel = h("button.btn.btn-ghost", { type: "button", onclick: () => dlg.close() }, "Cancel");
  dlg = openDialog({ title, description, body: form, footer: [cancel, button] });
  button.setAttribute("form", form.id = "f" + Math.random().toString(36).slice(2));
  input.select();
  return dlg;
}

/** confirmDialog resolves true when the user confirms. */
export function confirmDialog({ title, text, confirmLabel = "OK", danger = false }) {
  return new Promise((resolve) => {
    let ok = false;
    const yes = h("button.btn" + (danger ? ".btn-danger" : ".btn-primary"), { type: "button", autofocus: true, onclick: () => { ok = true; dlg.close(); } }, confirmLabel);
    const no = h("button.btn.btn-ghost", { type: "button", onclick: () => dlg.close() }, "Cancel");
    const dlg = openDialog({ title, body: h("p", text), footer: [no, yes], className: "confirm", onClose: () => resolve(ok) });
    yes.focus();
  });
}

/** Copies text to the clipboard; falls back to selecting it. */
export async function copyText(text, fallbackEl) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallbackEl) {
      const range = document.createRange();
      range.selectNodeContents(fallbackEl);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try {
        return document.execCommand("copy");
      } catch {
        return false;
      }
    }
    return false;
  }
}
