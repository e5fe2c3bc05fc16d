// Attachments in the timeline and the image viewer.
//
// An image shows its thumbnail in a box sized from the attachment's width
// and height before the thumbnail loads (the <img> gets width and height
// attributes, so the browser reserves the box: no layout jump); a click
// opens the viewer. Video and audio play inline; any other file is a card
// with its name, size and type and a download link.

import { h, icon } from "../util/dom.js";
import { formatSize } from "../util/format.js";
import { isImage } from "../api.js";

const THUMB_W = 400; // px: the largest a thumbnail shows in the timeline
const THUMB_H = 300;
const RETRIES = 5; // loads of an image that failed, 0.4 s, 0.8 s, ... apart

/**
 * Loads an image again when it fails: the event that shows a message can
 * reach us before the server's read model lets us fetch its files (a
 * 404 for a moment), and a connection can drop.
 */
function retrying(img, url) {
  let tries = 0;
  let base = url;
  img.addEventListener("error", () => {
    if (img.dataset.src !== base) {
      base = img.dataset.src; // another image now (the viewer): count afresh
      tries = 0;
    }
    if (tries >= RETRIES || !img.isConnected) return;
    const n = ++tries;
    const want = base;
    setTimeout(() => {
      if (img.isConnected && img.dataset.src === want) img.src = `${want}${want.includes("?") ? "&" : "?"}retry=${n}`;
    }, 200 * 2 ** n);
  });
  img.dataset.src = url;
  img.src = url;
  return img;
}

/** The box an image of w×h shows in: fits THUMB_W×THUMB_H, never enlarged. */
export function thumbBox(w, h) {
  if (!(w > 0 && h > 0)) return { w: 240, h: 180 };
  const s = Math.min(1, THUMB_W / w, THUMB_H / h);
  return { w: Math.max(1, Math.round(w * s)), h: Math.max(1, Math.round(h * s)) };
}

/**
 * The attachments of a message. onOpen(attachment, opener) opens an image
 * in the viewer.
 */
export function renderAttachments(list, { onOpen } = {}) {
  return h("div.attachments", list.map((a) => renderAttachment(a, onOpen)));
}

function renderAttachment(a, onOpen) {
  const type = a.content_type || "";
  if (isImage(a)) {
    const box = thumbBox(a.width, a.height);
    const img = retrying(h("img.att-thumb", { alt: a.name, width: String(box.w), height: String(box.h), decoding: "async" }), a.thumbnail_url);
    return h("button.att-image", {
      type: "button", "aria-label": "Open image " + a.name, title: a.name,
      dataset: { att: a.id }, onclick: (e) => onOpen && onOpen(a, e.currentTarget),
    }, img);
  }
  if (type.startsWith("video/")) {
    const v = h("video.att-video", { controls: true, preload: "metadata", src: a.url, "aria-label": "Video " + a.name });
    if (a.width > 0 && a.height > 0) {
      const box = thumbBox(a.width, a.height);
      v.width = box.w;
      v.height = box.h;
    }
    return h("figure.att-media", v, h("figcaption.att-caption", fileLine(a)));
  }
  if (type.startsWith("audio/")) {
    return h("figure.att-media.att-audio", h("audio", { controls: true, preload: "none", src: a.url, "aria-label": "Audio " + a.name }),
      h("figcaption.att-caption", fileLine(a)));
  }
  return h("div.att-file", { dataset: { att: a.id } },
    h("span.att-file-icon", icon("file")),
    h("span.att-file-info",
      h("a.att-file-name", { href: a.url, download: a.name, title: "Download " + a.name }, h("bdi", a.name)),
      h("span.att-file-meta", formatSize(a.size), " · ", type || "file")),
    h("a.icon-btn.att-download", { href: a.url, download: a.name, "aria-label": "Download " + a.name, title: "Download" }, icon("download")));
}

function fileLine(a) {
  return [h("a.att-file-name", { href: a.url, download: a.name }, h("bdi", a.name)), " · ", formatSize(a.size)];
}

/**
 * Opens the image viewer on images[index] (attachment objects, in the
 * room's order). Escape closes it, ←/→ go to the previous and next image;
 * it is a modal <dialog>, so focus stays inside (Tab wraps around) and
 * goes back to opener when it closes. Returns {close}.
 */
export function openViewer(images, index, opener) {
  let i = Math.max(0, Math.min(index, images.length - 1));
  const titleId = "viewer-title";
  const img = h("img.viewer-img", { alt: "" });
  let retry = null;
  const title = h("h2.viewer-title", { id: titleId });
  const count = h("span.viewer-count", { "aria-live": "polite" });
  const download = h("a.icon-btn.viewer-download", { "aria-label": "Download", title: "Download" }, icon("download"));
  const prev = h("button.icon-btn.viewer-prev", { type: "button", "aria-label": "Previous image", title: "Previous (←)", onclick: () => go(-1) }, icon("left"));
  const next = h("button.icon-btn.viewer-next", { type: "button", "aria-label": "Next image", title: "Next (→)", onclick: () => go(1) }, icon("right"));
  const closeBtn = h("button.icon-btn.viewer-close", { type: "button", "aria-label": "Close viewer", title: "Close (Esc)", onclick: () => close() }, icon("close"));
  const dlg = h("dialog.viewer", { id: "viewer", "aria-labelledby": titleId },
    h("div.viewer-head", h("div.viewer-heading", title, count), h("div.viewer-tools", download, closeBtn)),
    h("div.viewer-stage", prev, h("figure.viewer-figure", img), next));

  function show() {
    const a = images[i];
    if (retry) {
      img.dataset.src = a.url;
      img.src = a.url;
    } else {
      retry = retrying(img, a.url);
    }
    img.alt = a.name;
    if (a.width > 0 && a.height > 0) {
      img.width = a.width;
      img.height = a.height;
    } else {
      img.removeAttribute("width");
      img.removeAttribute("height");
    }
    title.replaceChildren(h("bdi", a.name));
    count.textContent = images.length > 1 ? `${i + 1} of ${images.length}` : "";
    download.href = a.url;
    download.setAttribute("download", a.name);
    prev.disabled = i === 0;
    next.disabled = i === images.length - 1;
    prev.hidden = next.hidden = images.length < 2;
    dlg.dataset.index = String(i);
  }
  function go(d) {
    const n = i + d;
    if (n < 0 || n >= images.length) return;
    i = n;
    show();
    // Keep focus on a button that still works.
    if (document.activeElement?.disabled || (d < 0 && prev.disabled) || (d > 0 && next.disabled)) closeBtn.focus();
  }
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (dlg.open) dlg.close();
    dlg.remove();
    // Back to the image, without scrolling the timeline away from where it was.
    if (opener && opener.isConnected) opener.focus({ preventScroll: true });
  }
  dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  dlg.addEventListener("close", close);
  dlg.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      go(e.key === "ArrowLeft" ? -1 : 1);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close();
    } else if (e.key === "Tab") {
      // Focus stays in the viewer: wrap around at either end.
      const f = [...dlg.querySelectorAll("button, a[href]")].filter((el) => !el.disabled && !el.hidden);
      if (!f.length) return;
      const at = f.indexOf(document.activeElement);
      if (e.shiftKey && at <= 0) { e.preventDefault(); f[f.length - 1].focus(); }
      else if (!e.shiftKey && at === f.length - 1) { e.preventDefault(); f[0].focus(); }
    }
  });
  dlg.addEventListener("click", (e) => {
    // A click on the backdrop or around the image closes it.
    if (e.target === dlg || e.target.classList.contains("viewer-stage") || e.target.classList.contains("viewer-figure")) close();
  });
  show();
  document.body.appendChild(dlg);
  dlg.showModal();
  closeBtn.focus();
  return { close, el: dlg };
}
