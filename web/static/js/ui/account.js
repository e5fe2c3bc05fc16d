// Account settings (loaded on first use, by dynamic import): the display
// name, the avatar (upload or remove) and the password (the old one again,
// the new one twice; every other session is signed out).
import { h, avatar } from "../util/dom.js";
import { shownName } from "../util/format.js";
import { openDialog } from "./dialogs.js";
import { toast, humanError } from "./toast.js";

const MAX_DISPLAY_NAME = 32; // characters, as the server counts them
const MAX_AVATAR = 8 << 20; // bytes (MaxAvatarUpload)

function fieldError(input, el, text) {
  el.textContent = text;
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function field(id, label, input, error, hint) {
  input.id = id;
  error.id = id + "-error";
  input.setAttribute("aria-describedby", error.id + (hint ? " " + id + "-hint" : ""));
  return h("label.field", { for: id }, h("span.field-label", label), input,
    hint ? h("div.field-hint", { id: id + "-hint" }, hint) : null, error);
}

/** accountDialog opens the account settings of the signed-in user. */
export function accountDialog(client) {
  const api = client.api;
  const me = () => client.users.get(client.me.id) || client.me;

  // The profile: avatar and display name.
  const preview = h("span.account-avatar");
  const who = h("div.account-who");
  const fileInput = h("input.visually-hidden", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", id: "account-avatar-file", tabindex: "-1", "aria-hidden": "true" });
  const upload = h("button.btn.btn-ghost.btn-small", { type: "button", id: "account-upload-avatar", onclick: () => fileInput.click() }, "Upload avatar");
  const remove = h("button.btn.btn-ghost.btn-small", { type: "button", id: "account-remove-avatar", onclick: () => removeAvatar() }, "Remove avatar");
  const avatarErr = h("div.field-error", { id: "account-avatar-error", role: "alert" });
  const nameInput = h("input.input", { type: "text", autocomplete: "nickname", spellcheck: "false", placeholder: "No display name" });
  const nameErr = h("div.field-error", { role: "alert" });
  const saveName = h("button.btn.btn-primary", { type: "submit", id: "account-save-name" }, "Save name");
  const profile = h("form.account-section", { id: "account-profile", novalidate: true, "aria-labelledby": "account-profile-title" },
    h("h3.account-title", { id: "account-profile-title" }, "Profile"),
    h("div.account-avatar-row", preview, h("div", who, h("div.account-avatar-actions", upload, remove), avatarErr), fileInput),
    field("account-display-name", "Display name", nameInput, nameErr, `Shown instead of your username, up to ${MAX_DISPLAY_NAME} characters. Leave it empty to show your username.`),
    saveName);

  function renderProfile() {
    const u = me();
    preview.replaceChildren(avatar(u, "xl"));
    who.replaceChildren(h("strong", h("bdi", shownName(u))), h("div.muted.small", "@", h("bdi", u.username)));
    remove.hidden = !u.avatar_url;
  }

  profile.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = nameInput.value.trim();
    fieldError(nameInput, nameErr, "");
    if ([...v].length > MAX_DISPLAY_NAME) {
      fieldError(nameInput, nameErr, `Use at most ${MAX_DISPLAY_NAME} characters.`);
      nameInput.focus();
      return;
    }
    saveName.disabled = true;
    try {
      const { user } = await api.setDisplayName(v);
      client.applyUser(user);
      nameInput.value = user.display_name || "";
      renderProfile();
      toast(v ? "Display name saved." : "Display name removed.");
    } catch (err) {
      fieldError(nameInput, nameErr, humanError(err));
      nameInput.focus();
    } finally {
      saveName.disabled = false;
    }
  });

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    avatarErr.textContent = "";
    if (!file) return;
    if (file.size > MAX_AVATAR) {
      avatarErr.textContent = `That image is too large: an avatar may be at most ${MAX_AVATAR >> 20} MB.`;
      return;
    }
    upload.disabled = true;
    try {
      const { user } = await api.setAvatar(file);
      client.applyUser(user);
      renderProfile();
      toast("Avatar updated.");
    } catch (err) {
      avatarErr.textContent = humanError(err);
    } finally {
      upload.disabled = false;
    }
  });

  async function removeAvatar() {
    avatarErr.textContent = "";
    try {
      const { user } = await api.removeAvatar();
      client.applyUser(user);
      renderProfile();
      toast("Avatar removed.");
      upload.focus();
    } catch (err) {
      avatarErr.textContent = humanError(err);
    }
  }

  // The password.
  const oldPw = h("input.input", { type: "password", autocomplete: "current-password" });
  const newPw = h("input.input", { type: "password", autocomplete: "new-password" });
  const confirmPw = h("input.input", { type: "password", autocomplete: "new-password" });
  const oldErr = h("div.field-error", { role: "alert" });
  const newErr = h("div.field-error", { role: "alert" });
  const confirmErr = h("div.field-error", { role: "alert" });
  const formErr = h("div.field-error", { id: "account-password-error", role: "alert" });
  const change = h("button.btn.btn-primary", { type: "submit", id: "account-change-password" }, "Change password");
  const password = h("form.account-section", { id: "account-password", novalidate: true, "aria-labelledby": "account-password-title" },
    h("h3.account-title", { id: "account-password-title" }, "Password"),
    h("p.muted.small", "Changing your password signs you out everywhere else."),
    // A username field helps password managers file the new password.
    h("input", { type: "text", autocomplete: "username", value: client.me.username, hidden: true, tabindex: "-1", "aria-hidden": "true", readonly: true }),
    field("account-old-password", "Current password", oldPw, oldErr),
    field("account-new-password", "New password", newPw, newErr, "At least 8 characters, not one of the most common passwords."),
    field("account-confirm-password", "Confirm new password", confirmPw, confirmErr),
    formErr, change);

  password.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const [i, el] of [[oldPw, oldErr], [newPw, newErr], [confirmPw, confirmErr]]) fieldError(i, el, "");
    formErr.textContent = "";
    const o = oldPw.value, n = newPw.value, c = confirmPw.value;
    let bad = null;
    if (!o) bad = bad || (fieldError(oldPw, oldErr, "Enter your current password."), oldPw);
    if (!n) bad = bad || (fieldError(newPw, newErr, "Enter a new password."), newPw);
    else if ([...n].length < 8) bad = bad || (fieldError(newPw, newErr, "Use at least 8 characters."), newPw);
    else if (!n.trim()) bad = bad || (fieldError(newPw, newErr, "Use at least one character that is not a space."), newPw);
    else if (n !== c) bad = bad || (fieldError(confirmPw, confirmErr, "The passwords do not match."), confirmPw);
    if (bad) {
      bad.focus();
      return;
    }
    change.disabled = true;
    try {
      const { sessions_ended: ended } = await api.changePassword(o, n);
      for (const i of [oldPw, newPw, confirmPw]) i.value = "";
      toast(ended === 1 ? "Password changed. 1 other session was signed out." : `Password changed. ${ended} other sessions were signed out.`);
    } catch (err) {
      if (err.code === "forbidden") {
        fieldError(oldPw, oldErr, "The current password is wrong.");
        oldPw.select();
        oldPw.focus();
      } else if (err.code === "invalid") {
        fieldError(newPw, newErr, humanError(err));
        newPw.select();
        newPw.focus();
      } else {
        formErr.textContent = humanError(err);
      }
    } finally {
      change.disabled = false;
    }
  });

  nameInput.value = me().display_name || "";
  renderProfile();
  const off = client.on("users", () => renderProfile());
  const close = h("button.btn.btn-ghost", { type: "button", onclick: () => dlg.close() }, "Close");
  const dlg = openDialog({
    title: "Account settings",
    body: [profile, password], footer: [close], className: "account-dialog", id: "account-dialog",
    onClose: off,
  });
  return dlg;
}
