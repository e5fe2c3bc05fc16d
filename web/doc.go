// Package web embeds confab's browser client into the binary with
// go:embed, so that running it needs no Node toolchain. Handler serves the
// files of static/ and index.html for every other path, so that the
// client's routes (/r/<room id>, /join/<invite code>) survive a reload.
//
// # Assets
//
// assets.go builds, once per process (sync.Once, on the first Handler
// call; about 0.2 s), a table of the embedded files: each file's
// references to other files (ES module specifiers, static and import(),
// url("/...") in CSS, href/src in index.html) are rewritten to
// content-hashed URLs, "/js/main.<10 hex of SHA-256>.js", hashed in
// dependency order so that a change in a module changes the URL of every
// module importing it (an import cycle fails the start). index.html gets
// a <link rel="modulepreload"> for every module main.js imports
// statically, and a string literal "modulepreload:./a.js ./b.js" in a
// module becomes the array of the hashed URLs of those modules and all
// they import statically: main.js adds them as modulepreload links when it
// loads the app, so its graph is fetched at once, not one import level at a
// time. Scripts and stylesheets are minified (tdewolff/minify: comments,
// whitespace, local names) before they are hashed; a string literal
// "asset:/path" in a module becomes that file's hashed URL. Each file is
// compressed once with gzip (best) and brotli
// (level 9); the request's Accept-Encoding picks the smallest accepted
// variant (Vary: Accept-Encoding). Hashed URLs are sent with
// Cache-Control "public, max-age=31536000, immutable"; index.html and the
// plain names with "no-cache" and a strong ETag (one per encoding), so a
// reload is one 304 and no file is fetched again. An unknown path with a
// file's extension (.js, .css, ...: another version's hashed name) is a
// 404, any other unknown path index.html. No inline script is
// added, so the CSP's script-src 'self' holds as it is.
//
// # Emoji
//
// emoji.go serves the bundled emoji set, emoji/twemoji.zip (3,663
// Twemoji 15.0 SVGs and data.json, 3.9 MB, made by scripts/gen-emoji
// from pinned npm packages), under /emoji/<10 hex of the zip's
// SHA-256>/<name>: immutable, gzip as stored (each file's deflate stream
// in a gzip frame) or inflated for a client without gzip; any other name
// or hash is a 404. It does not go through the asset table: thousands of
// images would slow its start-up pass, and a page loads a few of them.
// The first request reads the zip's directory and hashes it (about
// 20 ms). The client's util/emoji-base.js (generated) names the prefix.
//
// # The client
//
// Plain modern JavaScript (ES modules, no build step, no dependencies),
// HTML and CSS. It speaks the API of docs/protocol.md: REST with the
// HttpOnly session cookie, and one WebSocket authenticated by the same
// cookie. The modules under static/js:
//
//	main.js           entry point: the sign-in screen (api.js, ui/auth.js,
//	                  util/dom.js only) or the app, loaded with import()
//	                  once there is a session (in parallel with GET /me)
//	api.js            REST client; errors carry the server's code and Retry-After
//	socket.js         the WebSocket: reconnects with exponential backoff and
//	                  jitter, matches requests to ack/error by id, JSON pings;
//	                  emits "ready", "down", "state" and "frame:<type>"
//	client.js         the state and its sync: rooms, members, users and
//	                  presence, timelines, pending sends, unread counts
//	notify.js         unread count in the tab title, desktop notifications
//	call/             voice and video calls, mounted by ui/app.js in the
//	                  room header's call slot (mountCallSlot in call/call.js);
//	                  the media code (session.js, devices.js, sdp.js) is
//	                  loaded with import() when the user starts a call
//	ui/app.js         layout, routing, room header, connection banner, dialogs
//	ui/auth.js        sign in / sign up
//	ui/sidebar.js     rooms and DMs with unread badges, the user's panel
//	ui/timeline.js    messages and system lines (one per call, updated as
//	                  people join and leave), keyed rendering, paging,
//	                  jumping to a message (jumpTo); keyboard: the messages
//	                  are one tab stop (roving tabindex), ↑/↓ Home/End
//	                  PgUp/PgDn move, Enter/R reply, E edit, + react,
//	                  Delete (confirmed), Esc back to the composer; it
//	                  exports the message parts ui/thread.js shares
//	                  (reactions, quick picker, inline editor, delete)
//	ui/thread.js      loaded with import() when a thread opens: the thread
//	                  panel (the root, its replies live, a composer of its
//	                  own); replies are full messages (the timeline's parts:
//	                  attachments, reactions and the quick picker, the inline
//	                  editor, "(edited)", confirmed delete), "Load more
//	                  replies" past the first 100; keyboard as in the
//	                  timeline (roving tabindex, ↑/↓, E, +, Delete, Esc)
//	ui/switcher.js    loaded with import(): the quick switcher (Ctrl+K, fuzzy
//	                  over rooms and DMs) and the shortcuts dialog (?)
//	ui/attachments.js a message's files: image thumbnails in a box sized from
//	                  the image's width and height before it loads, inline
//	                  <video>/<audio>, file cards; the image viewer (a modal
//	                  <dialog>: Esc, ←/→ through the room's images, Tab wraps)
//	ui/composer.js    the composer, mention suggestions, the typing line;
//	                  files (button, paste, a drop on the room) upload at once
//	                  over XMLHttpRequest (api.js upload: progress, abort)
//	                  and go out with the next message, its text their caption
//	ui/search.js      the search panel (Ctrl+F, the header's button):
//	                  GET /search, newest first, the query's terms in <mark>,
//	                  "Load more" with next_cursor, "this room only" (room_id)
//	ui/members.js     members with presence and "last seen" (presence
//	                  shows as unknown while the socket is down), member actions
//	ui/dialogs.js     modal dialogs on <dialog>; ui/toast.js: short notices
//	                  at the top, below the room header
//	ui/emoji-picker.js the emoji picker (import() on first use: the
//	                  composer's emoji button, a message's "More emoji…"):
//	                  search, groups as tabs, recently used (localStorage),
//	                  skin tone, arrows/Enter/Esc; css/emoji.css with it
//	util/dom.js       element helpers, icons, plain text rendering (links,
//	                  mentions, emoji); util/format.js: dates; util/emitter.js
//	util/emoji.js     emojify(text): text nodes and <img class="emoji">
//	                  (alt = the emoji, title = its :shortcode: on hover) for
//	                  every RGI emoji; the set's data (names, shortcodes,
//	                  keywords) fetched only when the picker, the completion
//	                  or a tooltip needs it; search and :shortcode: replacement
//	util/markdown.js  message text: a CommonMark subset (docs/protocol.md,
//	                  "Message text") parsed into a tree, rendered as DOM
//	                  nodes, or as plain text for previews and notifications;
//	                  util/highlight.js colours code blocks, loaded with
//	                  import() when one with a language shows
//
// User data reaches the page only through textContent and attributes,
// never innerHTML, and always as a bidi isolate (a <bdi>, a class with
// unicode-bidi: isolate in app.css, or isolate() of util/format.js, FSI …
// PDI, inside plain strings: toasts, titles, the typing line), so that
// right-to-left text or an override cannot reorder the text around it; links are http(s) only, with rel="noopener noreferrer"
// and target=_blank. Handler sends a Content-Security-Policy header
// (ContentSecurityPolicy; a <meta> policy cannot forbid framing) that
// allows only the page's own scripts and styles, and no framing.
//
// # Sync
//
// client.js loads GET /rooms, subscribes to each room (a few at a time, so
// catch-ups fit the server's outbound queue) with after_seq set 200 events
// back on first load, so that recent joins, renames and the like show as
// system lines, and pages older messages with GET .../messages when the
// user scrolls up. Events are applied exactly once in seq order: one at or
// below the room's highest seq is skipped, a gap subscribes again. After a
// dropped connection it subscribes with after_seq = the highest seq seen,
// reloads a room whose ack says too_many_missed, and resends unacknowledged
// messages with their client_msg_id. Edits, deletions and reactions are
// replayed onto messages loaded later over REST, so a snapshot never
// undoes a newer event.
//
// A jump to a message outside the loaded history (a search result) loads
// GET .../messages?around=SEQ into a window of its own (room.jump), not
// contiguous with the live one: the timeline shows it while it is set,
// pages it older with before= and newer with after=, and merges it into
// the live window once a newer page reaches it (live again); "Jump to
// present" or sending a message leaves it at once. Attachments in
// message.posted events carry no URLs: normalizeAttachment (api.js) makes
// them from the ID and name, as the server does; an edit's
// removed_attachments takes them off.
//
// # Tests
//
// browser_test.go (chat) builds cmd/confab (or uses CONFAB_TEST_BIN), runs
// `confab serve` per test on a free port with its data in a temporary
// directory, and drives headless Chromium (one fresh profile per browser)
// with chromedp. It fails on any uncaught exception, console.error or
// JavaScript dialog. Chromium missing: the tests skip, or fail with CI=true.
// A passing test keeps its screenshots (signin.png, chat.png, ...) in its
// artifact directory (go test -artifacts); only -update-screenshots
// (make screenshots) writes them over docs/screenshots: the suite never
// writes tracked files.
// browser_files_test.go drops an image and a file on the timeline (a
// synthesized drop with a DataTransfer of Files), sees the thumbnail in the
// other browser, the viewer, an edit that takes a file off, and finds an
// old message by search and jumps to it, at 1280 px and at 390 px (the
// panel full screen); its screenshots are files.png, viewer.png and
// search.png.
// browser_layout_test.go checks long names truncate and user text is
// isolated; browser_assets_test.go counts the bytes Chromium transfers;
// assets_test.go fetches the client over HTTP as a browser would.
// browser_emoji_test.go picks emoji in the composer's picker and for a
// reaction (with a skin tone), completes and converts :shortcodes:, and
// checks the other browser shows Twemoji images; emoji_test.go checks the
// emoji handler's headers and 404s, and that every emoji and shortcode of
// data.json has its image and is a reaction the server accepts.
// browser_polish_test.go holds the tests of small fixes: a read sent when
// the user leaves a room, presence unknown while disconnected, a call as
// one timeline line, toasts that cover nothing, one "Create a room" on
// the home page, no "#" in DMs.
package web
