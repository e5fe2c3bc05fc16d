// The sign-in / sign-up screen.
import { h, clear } from "../util/dom.js";
import { ApiError } from "../api.js";

const USERNAME_RE = /^[A-Za-z0-9_.\-]{3,32}$/;

/** serverMessage(err) is an API error's message for people: without the
 * operation prefix ("sign up: "), capitalised, ending with a full stop. */
function serverMessage(err) {
  const m = err.message.replace(/^[a-z ]+: /, "").replace(/^./, (c) => c.toUpperCase());
  return /[.!?]$/.test(m) ? m : m + ".";
}

/**
 * mountAuth(root, api, onSignedIn, {notice}) shows the form; onSignedIn(user)
 * runs after a successful sign-in or sign-up.
 */
export function mountAuth(root, api, onSignedIn, { notice = "" } = {}) {
  let mode = "signin";
  let lockedUntil = 0;
  let lockTimer = null;

  const username = h("input.input", { id: "auth-username", name: "username", type: "text", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true, "aria-describedby": "auth-username-error" });
  const password = h("input.input", { id: "auth-password", name: "password", type: "password", autocomplete: "current-password", required: true, "aria-describedby": "auth-password-error" });
  const userErr = h("div.field-error", { id: "auth-username-error" });
  const passErr = h("div.field-error", { id: "auth-password-error" });
  const passHint = h("div.field-hint", "At least 8 characters.");
  const formErr = h("div.form-error", { id: "auth-error", role: "alert", "aria-live": "assertive" });
  const submit = h("button.btn.btn-primary.btn-block", { id: "auth-submit", type: "submit" }, "Sign in");
  const tabIn = h("button.auth-tab", { type: "button", role: "tab", id: "tab-signin", onclick: () => setMode("signin") }, "Sign in");
  const tabUp = h("button.auth-tab", { type: "button", role: "tab", id: "tab-signup", onclick: () => setMode("signup") }, "Create account");
  const title = h("h1.auth-title");
  const sub = h("p.auth-sub");

  const form = h("form.auth-form", { id: "auth-form", novalidate: true },
    h("label.field", { for: "auth-username" }, h("span.field-label", "Username"), username, userErr),
    h("label.field", { for: "auth-password" }, h("span.field-label", "Password"), password, passHint, passErr),
    formErr,
    submit);

  const card = h("main.auth-card", { id: "auth" },
    h("div.auth-brand", h("span.logo-mark", { "aria-hidden": "true" }), h("span.logo-text", "confab")),
    title, sub,
    h("div.auth-tabs", { role: "tablist", "aria-label": "Account" }, tabIn, tabUp),
    notice ? h("div.form-notice", { role: "status" }, notice) : null,
    form);

  clear(root).appendChild(h("div.auth-screen", card));

  function setMode(m) {
    mode = m;
    const up = m === "signup";
    tabIn.setAttribute("aria-selected", String(!up));
    tabUp.setAttribute("aria-selected", String(up));
    title.textContent = up ? "Create your account" : "Welcome back";
    sub.textContent = up ? "Pick a username your friends will recognise." : "Sign in to pick up where you left off.";
    submit.textContent = up ? "Create account" : "Sign in";
    password.autocomplete = up ? "new-password" : "current-password";
    passHint.hidden = !up;
    userErr.textContent = passErr.textContent = formErr.textContent = "";
    username.removeAttribute("aria-invalid");
    password.removeAttribute("aria-invalid");
    updateLock();
    username.focus();
  }

  function fieldError(input, el, text) {
    el.textContent = text;
    if (el === passErr) passHint.hidden = !!text || mode !== "signup";
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function updateLock() {
    clearTimeout(lockTimer);
    const left = Math.ceil((lockedUntil - Date.now()) / 1000);
    if (mode === "signin" && left > 0) {
      submit.disabled = true;
      formErr.textContent = `Too many failed sign-ins. Try again in ${left} s.`;
      lockTimer = setTimeout(updateLock, 250);
    } else {
      if (lockedUntil) {
        lockedUntil = 0;
        formErr.textContent = "";
      }
      submit.disabled = false;
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    const u = username.value.trim();
    const p = password.value;
    fieldError(username, userErr, "");
    fieldError(password, passErr, "");
    formErr.textContent = "";
    let bad = false;
    if (!u) {
      fieldError(username, userErr, "Enter your username.");
      bad = true;
    } else if (mode === "signup" && !USERNAME_RE.test(u)) {
      fieldError(username, userErr, "3–32 characters: letters, digits, “_”, “-” or “.”.");
      bad = true;
    }
    if (!p) {
      fieldError(password, passErr, "Enter your password.");
      bad = true;
    } else if (mode === "signup" && [...p].length < 8) {
      fieldError(password, passErr, "Use at least 8 characters.");
      bad = true;
    } else if (mode === "signup" && !p.trim()) {
      fieldError(password, passErr, "Use at least one character that is not a space.");
      bad = true;
    }
    if (bad) {
      (username.getAttribute("aria-invalid") ? username : password).focus();
      return;
    }
    submit.disabled = true;
    submit.classList.add("busy");
    let res = null;
    try {
      res = mode === "signup" ? await api.signUp(u, p) : await api.signIn(u, p);
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.code === "conflict") {
          fieldError(username, userErr, `The username “${u}” is taken. Try another one.`);
          username.focus();
        } else if (mode === "signup" && err.code === "invalid" && /password/i.test(err.message)) {
          // The server's password rules (e.g. "password is too common")
          // go under the password field, in its words.
          fieldError(password, passErr, serverMessage(err));
          password.select();
          password.focus();
        } else if (err.code === "rate_limited" && mode === "signin") {
          const secs = err.retryAfter || Number((/(\d+) s/.exec(err.message) || [])[1]) || 1;
          lockedUntil = Date.now() + secs * 1000;
        } else if (err.code === "unauthenticated") {
          formErr.textContent = "Wrong username or password.";
          password.select();
          password.focus();
        } else {
          formErr.textContent = serverMessage(err);
        }
      } else {
        formErr.textContent = "Cannot reach the server. Check your connection and try again.";
      }
    } finally {
      submit.classList.remove("busy");
      submit.disabled = false;
      updateLock();
    }
    if (res) {
      clearTimeout(lockTimer);
      onSignedIn(res.user);
    }
  });

  setMode(location.pathname === "/signup" ? "signup" : "signin");
  passErr.setAttribute("aria-live", "polite");
  return { destroy() { clearTimeout(lockTimer); } };
}
