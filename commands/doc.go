// Package commands holds confab's use cases, one file each: a command
// struct, a handler built by a constructor that rejects nil dependencies,
// and Handle(ctx, cmd). The files:
//
//   - sign_up.go, sign_in.go, sign_out.go: accounts and their sessions;
//     accounts.go has the session tokens they share (newToken, HashToken,
//     startSession);
//   - sessions.go: TouchSession (the idle timeout's last use, an event),
//     RevokeSession, RevokeOtherSessions, and WithClient, the client a new
//     session records;
//   - change_password.go (ChangePassword: the old password again, the
//     other sessions end), set_profile.go (SetDisplayName, SetAvatar): a
//     user's account settings; manage_user.go (ResetPassword,
//     SetUserEnabled, DeleteUser and MembershipLookup, the read model
//     DeleteUser asks for the user's rooms): the operators' actions, for
//     confab users;
//   - create_room.go, join_room.go (and InviteLookup, the rooms read
//     model it asks), manage_room.go, open_dm.go: rooms and membership;
//   - post_message.go, edit_message.go, delete_message.go, react.go,
//     mark_read.go, mark_thread_read.go, pin.go: messages (a reply in a
//     thread is a PostMessage with ThreadRoot); set_room_settings.go: who
//     may pin; set_notify.go: a member's notification level in a room;
//   - connections.go (Connect: presence), call.go (JoinCall, LeaveCall);
//   - room_access.go: IsMember, the gateway's authoritative membership
//     check, read from the room aggregate;
//   - aggregates.go: Aggregates and the repo that loads and updates them;
//     combine.go: the repo's combined appends of posts;
//   - handlers.go: Config and New, which wires every handler to one store.
//
// A handler loads its aggregate (a user or a room) through Aggregates,
// lets package domain decide, and appends the resulting events expecting
// the revision it decided on. There are no snapshots: repo keeps each
// aggregate's state in memory after its first load from the stream (at
// most maxCached of them, a tenth of the idle ones evicted when full) and
// reads only the events appended since. An append the store refuses for
// a wrong revision (another node or process wrote) reads those events and
// decides again, at most maxConflicts times. The commands of one
// aggregate are serialized on this node by its entry's mutex; repo.mu
// guards the map and is never held while an entry's mutex is awaited.
// Posts (combine.go) do not hold the mutex one durable append each: the
// posts to a room that arrive while one is being appended wait in the
// entry's queue (entry.qmu, taken alone or inside the entry's mutex),
// and the first of them then decides all of them on the same state and
// appends them with one Append, so that a busy room's posts share a
// commit; one that cannot join (a refusal, a duplicate ID, a reply to a
// message of the same group) or a group whose append fails is run again
// alone. Lock order: repo.mu alone; entry.mu, then entry.qmu.
// Handlers a client may retry are idempotent (PostMessage derives its
// event's ID from the client's).
//
// The interfaces handlers need from other parts (EventStore,
// InviteLookup) are declared here, where they are used. This package must
// not import pgx, pion, net/http or NATS (internal/archtest checks). Its
// behaviour is specified as data: testdata/specs, run by spec_test.go.
//
// Sign-up and sign-in share one password.Limiter (Handlers.Hashing, made
// by newHashing in handlers.go): every argon2id hash and check runs in one
// of its slots, so that a flood of them takes bounded memory. SignInHandler
// keeps three in-memory throttles (per account and address, per address,
// per account) and SignUpHandler a token bucket per address, each under
// its own mutex and bounded in keys; a paced sign-in waits on a timer in
// its request's goroutine. The package starts no goroutines.
package commands
