// Package turn is confab's embedded TURN/STUN server, built on pion/turn/v4.
//
// Browsers behind NATs and firewalls that block UDP cannot always reach the
// SFU directly; they relay their media through this server instead. It runs
// in the confab process, listens on UDP and/or TCP (both usually :3478),
// answers STUN Binding requests, and hands out UDP relay allocations.
//
// # Credentials
//
// Credentials follow coturn's use-auth-secret scheme (the "TURN REST API",
// draft-uberti-behave-turn-rest): the server and the API share a secret, and
// the API mints short-lived credentials without telling the TURN server:
//
//	username   = "<unix expiry>:<user id>"
//	credential = base64(HMAC-SHA1(secret, username))
//
// [Credentials] mints them and [Server.ICEServers] returns them with the URLs
// a browser puts in RTCPeerConnection's iceServers. The server refuses a
// username that is malformed (not "<digits>:<non-empty id>"), has expired,
// or was signed with another secret (the MESSAGE-INTEGRITY check, which
// pion performs with a constant-time compare, fails). It also refuses a
// realm other than its own. Refusals are logged at debug level: they are
// normal client behaviour (stale credentials), and an attacker must not be
// able to flood the log.
//
// # Relay policy
//
// A TURN server is an open proxy for whoever holds credentials, and every
// member of a room can get credentials. Left open, it would let a user reach
// services that are only reachable from the server's own host or network
// (an admin port on localhost, a database on the private LAN, the cloud
// metadata service at 169.254.169.254). So the server refuses
// CreatePermission and ChannelBind requests, the only ways to open a path to
// a peer, for peers in these ranges:
//
//   - unspecified and "this network": 0.0.0.0/8, ::
//   - loopback: 127.0.0.0/8, ::1
//   - private: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7
//   - shared address space (carrier-grade NAT): 100.64.0.0/10
//   - link-local: 169.254.0.0/16, fe80::/10
//   - deprecated IPv6 site-local: fec0::/10
//   - multicast: 224.0.0.0/4, ff00::/8
//   - limited broadcast: 255.255.255.255
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged by their IPv4
// address. Peers inside one of [Config.AllowPeers] are allowed even when a
// range above denies them: tests use 127.0.0.0/8, and a LAN deployment
// whose clients and SFU share a private network allows that network. Without
// a permission the server relays nothing in either direction (Send
// indications and ChannelData are dropped, and datagrams arriving at the
// relay from a peer are discarded), so filtering permissions is enough.
//
// # Limits of pion/turn v4.1.4
//
// Relay sockets are always UDP over IPv4 ("udp4"): RelayIP and RelayBind
// must be IPv4 addresses and IPv6 peers cannot be reached (clients may still
// reach the server itself over IPv6). TCP relays (RFC 6062) are not
// supported; TCP is only a client-to-server transport.
//
// # Error codes
//
// Refused credentials (malformed, expired, other secret or realm) get
// 401 Unauthorized with REALM and NONCE (RFC 8489 section 9.2.4, as
// coturn answers); a CreatePermission or ChannelBind towards a peer the
// relay policy refuses gets 403 Forbidden (RFC 8656), with
// MESSAGE-INTEGRITY. pion/turn v4.1.4 answers 400, 401 (ChannelBind) and
// an error without ERROR-CODE (CreatePermission) instead, and offers no
// hook to choose: the sockets the server hands pion correct these answers
// on their way out (codes.go explains how). Each remembers the last
// authenticated request it read (atomically: pion's relay goroutines
// write on the same sockets), and on TCP a frameScanner finds the
// messages in the stream pion reads.
package turn
