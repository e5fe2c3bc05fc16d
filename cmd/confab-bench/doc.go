// Command confab-bench is a load generator for confab. It speaks only the
// public API (docs/protocol.md): it signs users up over REST, creates rooms
// and has users join them by invite code, then opens one WebSocket per
// user, subscribes it to the user's rooms and sends messages at a target
// rate, checking every delivery.
//
// Usage:
//
//	confab-bench [flags]
//
// A run has three phases:
//
//   - setup: --users users sign up (in parallel, --signup-concurrency at a
//     time: sign-up hashes the password with argon2id, so it is slow), and
//     --rooms rooms of --members-per-room members are made. Rooms are filled
//     round-robin: room r gets the users r*M .. r*M+M-1, counted modulo
//     --users, its first member being its owner. So with rooms*M = users
//     every user is in one room, with more rooms users are in several, with
//     fewer some users are in none (they only connect). With --state FILE the
//     population (usernames, session tokens, rooms per layout) is saved and
//     reused by later runs against the same server data, which then skip
//     sign-up and joins.
//   - connect: every user opens a WebSocket (authenticated by its token),
//     waits for ready and subscribes to each of its rooms after the room's
//     current last seq; --connect-concurrency at a time. The connect rate is
//     reported.
//   - run: sends are paced on a schedule (message k is due at k/rate) and
//     handed round-robin to every (member, room) pair, so each connection
//     sends rate*rooms_of_user/(rooms*M) per second; the server limits each
//     connection to --ws-rate frames/s (20 by default), and rate_limited
//     answers are counted apart. Each message's text carries its send time;
//     every receiver (the sender too) computes send->receive latency with
//     its own clock, so the generator and server must share a machine or a
//     clock. Several rates (--rate 100,200,400) run as steps on the same
//     connections, stopping after the first step that is not clean.
//
// After each step the generator waits up to --drain for every answer and
// every delivery, then checks, receiver by receiver, that each seq of the
// room after the subscription's after_seq up to the room's head (the
// highest acked seq, or the last seq REST reports if higher) arrived
// exactly once and in order: a seq that never arrived is lost (and counted
// as lost-acked if its send was acknowledged), one that arrived twice is a
// duplicate. One member per room also records at which seq each
// client_msg_id was posted, to catch a message posted twice. A step is
// clean when nothing was lost, duplicated or left unanswered, no send got
// an error, the rate was kept and the p99 latency is within --max-p99.
//
// Clients behave like real ones: a connection that drops reconnects with
// backoff, resubscribes with after_seq set to the last seq it saw, and
// resends unanswered sends with the same client_msg_id.
//
// Modes:
//
//   - default: the steps above. Reports acks/s, deliveries/s, latency
//     p50/p95/p99/max, errors by code, lost and duplicated deliveries, and
//     the server's CPU-seconds and CPU-seconds per million deliveries.
//   - --idle: connect and subscribe, wait --settle, and report the growth
//     of the server's RSS per connection; hold the connections --duration.
//   - --reconnect-storm: send at --rate and, at --storm-at, close every
//     client's TCP connection at once (no close frame); report the time
//     until all are subscribed again, and check that nothing was lost while
//     messages kept flowing.
//   - --call: measures the SFU instead of chat. --publishers participants
//     send audio (50 packets/s) and video (30 frames/s of --video-packets
//     packets) and receive each other; --subscribers more only receive.
//     They are the members of one room of the population (so --state
//     reuses them), each joins the room's call with internal/rtctest's Pion
//     client over its own WebSocket, on loopback host candidates (start the
//     server with --rtc-loopback). Once every receiver gets every
//     publisher's tracks, and --warmup later, it counts over --duration the
//     packets sent, the packets received of the publishers' tracks
//     (forwarded), the expected count (what each publisher sent times its
//     receivers), loss, the kernel's UDP buffer drops on the machine, and
//     the server's CPU: forwarded packets/s per server core. Then a late
//     subscriber joins and the time to its first packet and keyframe of
//     every publisher's video is reported (--late-joiner).
//   - --call across nodes (nodes.go): --server repeated (or a comma list)
//     spreads the participants over those nodes, round-robin in the order
//     publishers, subscribers, late joiner (participant i on node i mod N),
//     so the first publisher is on the first node; it joins alone before
//     the others, so that its node hosts the call. Setup (sign-ups, the
//     room) and the single-server figures (--server-pid, /proc) use the
//     first --server. At the window's edges every node's /metrics is
//     scraped (--metrics-url: one endpoint per --server, comma-separated;
//     default <server>/metrics with --metrics-token, or
//     $CONFAB_METRICS_TOKEN, as a bearer token), and each node is reported
//     with its role (host: its SFU forwarded packets,
//     confab_rtp_packets_forwarded_total rising; relay: none), forwarded
//     packets/s, its CPU-seconds (process_cpu_seconds_total) and cores in
//     use, and the derived figures: forwarded packets/s per core on the
//     host, and cores per remote participant on a relay (its cores in use
//     divided by the participants connected to it), with the call relay
//     messages it sent (confab_call_relay_messages_total). The joins are
//     measured apart, from the first call.join until everyone receives:
//     each node's CPU-seconds, per participant on it, and relay messages.
//     More than one host is flagged: the call is split.
//   - chat across nodes (chatnodes.go): --server repeated (or a comma list)
//     without --call spreads the clients over those nodes, client i on node
//     i mod N; as room r's members are the users r*M .. r*M+M-1, every
//     room has members on every node. Setup and REST reads use the first
//     --server. Each step reports every node's connections and CPU (from
//     /proc for a loopback node, else its /metrics).
//
// --watch name=pid adds a process tree to each step's figures: its CPU and
// that of its descendants, with the children they reaped (PostgreSQL's
// backends: give its postmaster), e.g. --watch postgres=PID,nats=PID.
//
// Server figures come from /proc/<pid>/stat and /proc/<pid>/status when
// the server runs on the same machine (--server-pid, found by itself for a
// loopback --server), else from Prometheus process_* metrics at
// --metrics-url if the server serves them.
//
// Many connections: the generator raises its open-file limit to the hard
// limit; the hard limit (ulimit -Hn) must exceed --users, for the server
// too (Go programs raise their soft limit themselves). One local address
// has about 28k ephemeral ports towards one server address; --source-ips N
// spreads connections over 127.0.0.1 .. 127.0.0.N for more.
//
// Example, 100 rooms of 100 members at 1,000 messages/s for 30 s:
//
//	confab serve &
//	confab-bench --state pop.json --users 10000 --rooms 100 --members-per-room 100 \
//		--rate 1000 --duration 30s --json out.json
//
// The exit status is 1 when deliveries were lost or duplicated, or the run
// failed; the report is printed either way.
package main
