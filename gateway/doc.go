// Package gateway is confab's edge: the HTTP API under /api/v1, the
// WebSocket that streams committed events to clients, and the health
// endpoints operators and orchestrators probe. It authenticates callers,
// turns requests into commands and queries, and translates errors into
// statuses and error codes in one place.
//
// # Map
//
//   - gateway.go: Config, New, Run (the loops), tracking of connections for
//     shutdown; rest.go, auth.go, sessions.go: the REST handlers (each
//     returns its error; handle, authed and member write it once, through
//     errors.go's table); edge.go, caps.go, text.go: the defenses below.
//   - ws.go: a WebSocket's life (upgrade, hello, reader, parking, end);
//     requests.go: what its request frames do (handleFrame, subscribe);
//     frames.go: decoding and checking request frames; wire.go: encoding
//     (event frames and their public names, acks and errors, prepare) and
//     parsing room IDs; typing.go: typing, over the bus's ephemeral topic.
//   - hub.go, fanout.go: who is subscribed to what, and the delivery of
//     committed events; conn.go, batchconn.go: a connection's queues and
//     writer; presence.go: the presence loop, the node lease and the
//     reaper; members.go: the rooms' member sets, for presence;
//     presencebatch.go: a connection's presence changes of one window.
//   - account.go: account settings (PATCH /me, POST /me/password, the
//     avatar's upload, removal and serving) and the profile loop, which
//     sends "user" frames when a display name or avatar changes.
//   - calls.go, callhost.go, callrelay.go: call signalling, the host of a
//     room's call, and the relay to it from other nodes.
//
// # A connection's life
//
// serveWS takes a slot of the per-address cap, authenticates by token or
// cookie when the request has one, upgrades, and hands the socket to
// serveConn on a new goroutine (so that the HTTP server frees what it held
// for the request). serveConn waits for hello if there was no token (at
// most HelloTimeout), takes the per-user cap, makes the conn, queues ready
// (always the first frame), adds it to the hub and records
// ConnectionOpened (the user's first one puts them online). From then on a connection has: a reader, which
// reads frames while the socket has them and handles each one inline
// (rate limited, FramesPerSecond and FrameBurst, closed on a flood), then
// parks on a fresh small goroutine until the socket is readable again
// (park, readable.go; TLS connections keep a blocking reader); a writer
// goroutine, started only while its queues hold frames (conn.writeLoop);
// and a ping timer (PingInterval; no pong or frame within PongTimeout ends
// it). When the reader ends, endConn closes the socket after a close frame,
// removes the conn from the hub, takes it out of its call, records
// ConnectionClosed and frees its slot. Shutdown closes every tracked
// connection with 1001.
//
// # The edge's defenses
//
// Before any route (edge.go, ServeHTTP): every response gets the security
// headers (CSP with frame-ancestors 'none', X-Frame-Options, nosniff,
// Referrer-Policy, HSTS over HTTPS); state-changing /api/ requests from
// another site (Origin, Sec-Fetch-Site) get 403 csrf, and bodies that are
// not application/json 415. "This site" is publicOrigin: Host and TLS, or
// a trusted proxy's X-Forwarded-Host/-Proto; the WebSocket's CheckOrigin
// uses the same sameOrigin. authed adds that a cookie-authenticated
// change must prove its origin. Text is checked on the raw bytes before
// JSON decoding (text.go: UTF-8 and lone surrogate escapes), because
// encoding/json would replace it with U+FFFD silently: REST answers 400,
// a WebSocket text frame that is not UTF-8 closes with 1007.
//
// Caps (caps.go): connCaps counts this node's WebSockets per client
// address (taken before the upgrade) and per user (at the upgrade when
// the request carries a token, else after hello); a connSlot holds both
// until endConn releases it, once. Room creations are a token bucket per
// user (throttle.Buckets, as sign-ups per address). Both are in memory,
// per node. Their mutexes are
// leaves: nothing else is locked while they are held.
//
// # Loops and faults
//
// Run starts the gateway's long-running loops, each a supervise.Loop in
// Config.Loops: the hub follower (bus.FollowSupervised: committed events
// to subscribed connections), the typing follower (ephemeral frames from
// every node), the call relay and call hosts loops (with CallHosts; see
// Calls across nodes), presence (pushes presence flips, a window's at a
// time; a change that cannot be read is retried until it can), the node lease (renewed every LeaseTTL/3,
// retried with backoff) and the reaper (ends the connections and call
// seats of nodes whose lease expired; a failed round is tried again at
// the next tick). Faults of the store or the bus are retried inside the
// loops; only a fatal error ends Run.
//
// Errors of a store that is down (eventstore.ErrUnavailable, or any error
// eventstore.Classify calls transient, as the read models' database
// gives them) are answered 503 "unavailable" with Retry-After, and logged
// at debug level only: the loops log the outage once.
//
// # Presence
//
// The hub queues a presence change (the user and the position of the
// event) for each ConnectionOpened and ConnectionClosed it dispatches;
// the presence loop (presenceLoop, one goroutine) takes them in order.
// For each, it waits for the read models to reach the event, reads the
// user's status (a second connection of an online user changes nothing)
// and their rooms (RoomIDsOf, one row per room), and finds their peers in
// the member cache (members.go): the members of each room, loaded from the
// read models (MemberIDs) the first time a change needs the room, then
// kept current by the membership events the hub dispatches (onMembers:
// RoomCreated, DMs included, MemberJoined, MemberLeft, MemberKicked,
// MemberBanned, in log order, right after the hub applies them). A room
// loading while dispatch runs on keeps what dispatch sees meanwhile and
// applies it to the loaded rows, after waiting for the read models to
// reach the last membership event dispatch had seen. After a change,
// those of its rooms that no longer have a member connected to this
// node are dropped (a room left by its last local member while
// connected stays until a change of a member needs it again).
//
// The change is not sent at once: it goes into the batch of each
// receiving connection (presencebatch.go: per connection, the latest
// status of each user), and when the window (Limits.PresenceWindow,
// 100 ms by default; it opens at the first change after a flush) ends, the
// loop queues each connection's batch as one frame: "presence" for one
// change (the frame of old), "presence_batch" for several. Connections
// given the same changes share one prepared frame. A storm of n connects
// in one room thus costs about n × windows frames instead of n², and one
// member query per room instead of one per change. The batch and the
// loop's map of online users are the loop's alone (no lock); the member
// cache's mutex is below hub.mu (the loop holds hub.mu read-locked while
// it reads the cache and the users' connections; dispatch takes the
// cache's mutex alone).
//
// # Fan-out
//
// The hub follower's handler (hub.dispatch) encodes each room event once
// into a prepared frame, on the follower's goroutine, and hands runs of
// them to fanOut (fanout.go): each room's subscriptions are split into
// tasks of fanChunk, and up to GOMAXPROCS goroutines (the follower's and
// helpers started per run, only when there are at least fanInline offers)
// take the tasks; a task offers all of its room's events of the run, in
// order, to each of its subscriptions, then starts the writers of the
// connections that were idle. fanOut returns when every task is done, so
// the next run never overtakes, and holds hub.mu read-locked meanwhile,
// so subscribe and unsubscribe wait for it as before. A run ends at a
// user's event and after a membership change (whose effects must follow
// the deliveries before it). A subscription delivers each seq once, in
// order: subscription.mu orders offer with the catch-up handover
// (finishCatchUp). Lock order: hub.mu, then subscription.mu, conn.mu or
// memberCache.mu, then conn.qmu; batchConn.mu is the writer's, below all
// of them.
//
// # Health
//
// /healthz is liveness only. /readyz answers 503 with a reason while the
// node shuts down, the store does not answer, a dependency reports a
// fault, a loop of Config.Loops is retrying or failed, or the read models
// lag by more than ReadyMaxLag. A dependency reports faults by
// implementing HealthChecker (Health(ctx) error): readyz asks the store,
// Pub and Sub when they do. The NATS bus does (a disconnected
// connection); a store may (say, a store that went read-only because
// its disk is nearly full) and readyz then shows "event store: " and its
// error.
//
// # Sessions
//
// Every authentication (lookupSession) checks the session's expiry by the
// commands' domain.SessionPolicy and, when its recorded last use is a
// touch interval old, records a new one in a short-lived goroutine (at
// most one per session per node: Gateway.touching). Run also runs the
// session loop, which every sweep touches the sessions of this node's
// open WebSockets and closes, with 4001 "session expired", those past
// their maximum age; the hub closes the WebSockets of a session whose
// SessionEnded it sees, on every node (sessions.go).
//
// # Calls across nodes
//
// With Config.CallHosts (several nodes on NATS), a room's call is hosted
// by one node's SFU (callhost.go, callrelay.go). A connection's seat in a
// call is a seat interface: a localSeat (this node's SFU) or a remoteSeat,
// whose methods are requests to the host over the bus, on the host's
// topic confab.calls.<node ID> (core NATS: not stored, at most once). The
// call frames' handlers do not care which. joinCall finds the host
// (callHost: the room's lease, or an election: this node if it has calls
// and is not much busier than the least loaded calls-enabled node, else
// that node, asked by a claim request), records the join, then takes the
// seat. Envelopes are requests (with a correlation ID, the sender's node
// and the fencing token it resolved: the host refuses another with
// not_host), replies, and pushes (every message the host's SFU sends a
// remote participant, already framed). A request without a reply within
// 5 s fails with call_host_unavailable.
//
// Goroutines: the call relay loop (followCalls, supervised) handles this
// node's envelopes one at a time, in order: a reply wakes its requester,
// after running the requester's onReply on the loop (the ack carrying
// call.offer's answer is queued before the candidates pushed after it:
// the host publishes the reply from inside Publish's deliver, on the same
// NATS connection as its pushes); a push is queued on the connection; a
// request is served inline (SFU calls that do not wait on the relay). The
// call hosts loop (callHostLoop, supervised) drops the leases of a
// previous process of this node ID at start, then publishes the node's
// load every 2 s, renews the hosted calls' leases every 3 s (a call it
// cannot renew it stops hosting at once: its participants get
// call.rejoin; one without participants it releases), and every second
// checks the leases of the calls its connections take part in elsewhere:
// gone or with a new token, it elects a new host and sends call.rejoin.
// A client told to rejoin keeps its seat in the log (conn.rejoin) for
// rejoinGrace (20 s, a timer), then CallLeft connection_failed. A rejoin
// push is handled on its own goroutine (it takes the conn's callMu, which
// a join may hold while it waits for the loop). The host's callRegistry
// holds the CallJoined seq of remote participants too (from the join
// request), so onCallEvent (kick, ban, moved, node_lost) finds them.
//
// Lock order: conn.callMu → relay.mu; conn.callMu → hosting.mu;
// callRegistry.mu, relay.mu and hosting.mu are leaves. No lock is held
// while publishing to the bus or waiting for a reply, except the callMu
// of a connection whose join waits for the host.
//
// # Slow consumers
//
// Slow consumers: each connection has a bounded outbound queue (conn) and
// one writer; on TCP the bytes waiting unsent in the kernel are capped
// (TCP_NOTSENT_LOWAT, see batchConn) so that the socket always has room
// for a close frame. A connection whose queue overflows, or whose socket
// takes nothing for the write timeout, is closed with 4008: an overflow
// interrupts the writer's blocked write, the rest of the frame it cut and
// the close frame go out with the cap lifted, and the drop is logged at
// info and counted (Metrics.SlowConsumer). The hub never waits for a
// connection: it only queues.
//
// A connection has two lanes under one mutex (conn.qmu): the fan-out
// queue (room events, presence, typing: hub and presence loop) and the
// reply lane (conn.reply, through Gateway.sendJSON: ready, the ack or
// error of each frame, a subscription's catch-up events and its ack, call
// signalling). The writer writes the replies first, and looks for new
// ones between the frames of a batch, so that an ack never waits behind
// deliveries; each lane keeps its own order, and both count towards the
// bound. A subscription's live events follow its ack because they are
// only queued, on the fan-out queue, after the ack is on the reply lane.
package gateway
