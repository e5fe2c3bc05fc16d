// confab's browser client: entry point. It decides between the sign-in
// screen and the app, and builds the app's parts:
//   api.js      REST client          socket.js   WebSocket with backoff
//   client.js   state + sync         notify.js   title and notifications
//   ui/*        the views            call/       the call boundary
//
// The sign-in screen needs only api.js, ui/auth.js and util/dom.js; the
// app (socket.js, client.js, ui/*) is loaded with import() once there is
// a session, and its call code only when a call starts (call/call.js).
import { Api } from "./api.js";
import { mountAuth } from "./ui/auth.js";
import { h, clear } from "./util/dom.js";

let appModules = null;

// The server (web/assets.go) replaces this string with the URLs of the
// app's modules, ui/app.js and socket.js and all they import statically,
// so that they are fetched at once rather than one import level at a time.
const APP_GRAPH = "modulepreload:./ui/app.js ./socket.js";

// The call UI's stylesheet (its hashed URL, put in by the server): the
// sign-in screen never needs it, so the page does not load it up front.
const CALL_CSS = "asset:/css/call.css";

/** Adds the stylesheet at href; resolves once it applies (or failed). */
function addStylesheet(href) {
  return new Promise((resolve) => {
    const link = h("link", { rel: "stylesheet", href });
    link.addEventListener("load", resolve, { once: true });
    link.addEventListener("error", resolve, { once: true }); // the app works on; only the call UI is unstyled
    document.head.append(link);
  });
}

/** Loads the app's modules and stylesheet, once. */
function loadApp() {
  if (!appModules && Array.isArray(APP_GRAPH)) {
    for (const href of APP_GRAPH) document.head.append(h("link", { rel: "modulepreload", href }));
  }
  appModules ??= Promise.all([import("./socket.js"), import("./client.js"), import("./ui/app.js"), addStylesheet(CALL_CSS)])
    .then(([{ Socket }, { Client }, { App }]) => ({ Socket, Client, App }));
  return appModules;
}

// A hint (not a secret) that this browser had a session, so that a fresh
// visitor does not start with a 401 from GET /me. The session itself is
// the HttpOnly cookie.
const SESSION_HINT = "confab.session";

const root = document.getElementById("root");
let app = null;
let auth = null;

const api = new Api({
  onUnauthenticated: () => {
    if (app) app.client.signedOut("Your session has ended. Please sign in again.");
  },
});

function wsURL() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/ws";
}

function showAuth(notice = "") {
  localStorage.removeItem(SESSION_HINT);
  if (app) {
    app.destroy();
    app = null;
  }
  auth?.destroy();
  auth = mountAuth(root, api, startApp, { notice });
}

/** Starts the app as user; rooms, if given, is a GET /rooms in flight. */
async function startApp(user, rooms) {
  let Socket, Client, App;
  try {
    ({ Socket, Client, App } = await loadApp());
  } catch {
    // A new version was deployed, or the network failed: load the page again.
    appModules = null;
    location.reload();
    return;
  }
  localStorage.setItem(SESSION_HINT, "1");
  auth?.destroy();
  auth = null;
  if (location.pathname === "/signin" || location.pathname === "/signup") history.replaceState(null, "", "/");
  const socket = new Socket(wsURL());
  const client = new Client(api, socket);
  client.on("signedout", (reason) => showAuth(reason));
  client.start(user, rooms);
  app = new App(root, {
    api, socket, client,
    onSignOut: async () => {
      client.forgetPending();
      client.stop();
      try {
        await api.signOut();
      } catch {
        // The session may be gone already; the cookie is cleared either way
        // when the server answers, and the hint below is cleared regardless.
      }
      showAuth();
    },
  });
}

async function boot(attempt = 0) {
  if (!localStorage.getItem(SESSION_HINT)) {
    showAuth();
    return;
  }
  loadApp(); // at the same time as GET /me
  // The room list too: the app's first view needs it, and waiting for
  // GET /me first would put one more round trip before it.
  const rooms = api.rooms();
  rooms.catch(() => { /* a 401 is answered by GET /me below; the sync retries the rest */ });
  try {
    const { user } = await api.me();
    await startApp(user, rooms);
  } catch (err) {
    if (err.status === 401) {
      showAuth();
      return;
    }
    // The server is unreachable: say so and try again.
    const delay = Math.min(10000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
    clear(root).appendChild(h("div.boot", h("span.spinner"), h("p", "Cannot reach confab. Retrying…")));
    setTimeout(() => boot(attempt + 1), delay);
  }
}

boot();
