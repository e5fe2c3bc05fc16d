package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/confabhq/confab/domain"
)

// replayShow is how confab events replay shows one event type.
type replayShow struct {
	// describe says what an event did, as it happened; nil for the
	// types of user streams, which a room's stream never has.
	describe func(r *replay, e replayEvent) string
	// note records, before the event is folded, what the replay shows
	// beyond the read models.
	note func(r *replay, e replayEvent)
	// render, if set, shows an item of the timeline as it stands after
	// the fold (else it shows as describe says).
	render func(r *replay, e replayEvent) string
	// inMessage: the event changes an earlier message (an edit, a
	// deletion, a reaction), which the timeline shows, rather than being
	// an item of its own.
	inMessage bool
}

// replayEntry is a replayShow and the type it is for.
type replayEntry struct {
	typ string
	replayShow
}

// shown is how replay shows the events of type E: as describe says.
func shown[E domain.Event](describe func(r *replay, e replayEvent, ev E) string) replayEntry {
	var zero E
	return replayEntry{typ: zero.EventType(), replayShow: replayShow{
		describe: func(r *replay, e replayEvent) string { return describe(r, e, e.ev.(E)) },
	}}
}

// inUserStream is the entry of a type of user streams.
func inUserStream[E domain.Event]() replayEntry {
	var zero E
	return replayEntry{typ: zero.EventType()}
}

// changesMessage marks the entry's type as one that changes an earlier
// message.
func (x replayEntry) changesMessage() replayEntry {
	x.inMessage = true
	return x
}

// rendering makes render show the entry's items.
func (x replayEntry) rendering(render func(r *replay, e replayEvent) string) replayEntry {
	x.render = render
	return x
}

// noting adds a note to the entry.
func (x replayEntry) noting(note func(r *replay, e replayEvent)) replayEntry {
	x.note = note
	return x
}

// replayShows has an entry for every event type of domain, keyed by its
// stored type (admin_replay_events_test.go checks that none is missing).
// It is made in init: its entries call describe and render, which read
// it.
var replayShows map[string]replayShow

func init() {
	replayShows = replayTable(
		inUserStream[domain.UserSignedUp](),
		inUserStream[domain.SessionStarted](),
		inUserStream[domain.SessionEnded](),
		inUserStream[domain.SessionUsed](),
		inUserStream[domain.RoomRead](),
		inUserStream[domain.ThreadRead](),
		inUserStream[domain.ConnectionOpened](),
		inUserStream[domain.ConnectionClosed](),
		// Uploads are the uploader's; a room shows a file once a message
		// holds it.
		inUserStream[domain.AttachmentUploaded](),
		inUserStream[domain.AttachmentDiscarded](),
		inUserStream[domain.RoomNotifySet](),
		shown(func(r *replay, _ replayEvent, ev domain.MessagePinned) string {
			return fmt.Sprintf("%s pinned #%d", r.name(ev.By), ev.Seq)
		}),
		shown(func(r *replay, _ replayEvent, ev domain.MessageUnpinned) string {
			return fmt.Sprintf("%s unpinned #%d", r.name(ev.By), ev.Seq)
		}),
		shown(func(r *replay, _ replayEvent, ev domain.RoomSettingsChanged) string {
			if ev.MembersCanPin {
				return r.name(ev.By) + " let members pin messages"
			}
			return r.name(ev.By) + " let only the owner and admins pin messages"
		}),
		// Account settings and the operators' account actions.
		inUserStream[domain.PasswordChanged](),
		inUserStream[domain.DisplayNameChanged](),
		inUserStream[domain.AvatarChanged](),
		inUserStream[domain.AvatarRemoved](),
		inUserStream[domain.UserDisabled](),
		inUserStream[domain.UserEnabled](),
		inUserStream[domain.UserDeleted](),
		shown(func(r *replay, _ replayEvent, ev domain.RoomCreated) string {
			if ev.Kind == domain.KindDM {
				return "the direct messages began"
			}
			return fmt.Sprintf("%s created the room %q", r.name(ev.OwnerID), ev.Name)
		}).noting(func(r *replay, e replayEvent) { r.dmMembers = e.ev.(domain.RoomCreated).Members }),
		shown(func(r *replay, _ replayEvent, ev domain.MemberJoined) string { return r.name(ev.UserID) + " joined" }),
		shown(func(r *replay, _ replayEvent, ev domain.MemberLeft) string { return r.name(ev.UserID) + " left" }),
		shown(func(r *replay, _ replayEvent, ev domain.MemberKicked) string {
			return fmt.Sprintf("%s kicked %s", r.name(ev.By), r.name(ev.UserID))
		}),
		shown(func(r *replay, _ replayEvent, ev domain.MemberBanned) string {
			return fmt.Sprintf("%s banned %s", r.name(ev.By), r.name(ev.UserID))
		}),
		shown(func(r *replay, _ replayEvent, ev domain.MemberUnbanned) string {
			return fmt.Sprintf("%s lifted the ban on %s", r.name(ev.By), r.name(ev.UserID))
		}),
		shown(func(r *replay, _ replayEvent, ev domain.MemberRoleChanged) string {
			return fmt.Sprintf("%s made %s %s", r.name(ev.By), r.name(ev.UserID), ev.Role)
		}),
		shown(func(r *replay, _ replayEvent, ev domain.RoomRenamed) string {
			return fmt.Sprintf("%s renamed the room to %q", r.name(ev.By), ev.Name)
		}),
		shown(func(r *replay, _ replayEvent, ev domain.InviteCodeRotated) string {
			return r.name(ev.By) + " made a new invite code"
		}),
		shown(func(r *replay, _ replayEvent, ev domain.MessagePosted) string {
			who := r.name(ev.SenderID)
			if ev.ReplyTo != 0 {
				who += fmt.Sprintf(" (reply to #%d)", ev.ReplyTo)
			}
			return who + ": " + ev.Text + attachedList(ev.Attachments)
		}).rendering((*replay).renderPosted),
		shown(func(r *replay, _ replayEvent, ev domain.MessageEdited) string {
			s := fmt.Sprintf("%s edited #%d: %s", r.name(ev.By), ev.Seq, ev.Text)
			if len(ev.RemovedAttachments) > 0 {
				s += fmt.Sprintf(" (took off %d attachment(s))", len(ev.RemovedAttachments))
			}
			return s
		}).changesMessage(),
		shown(func(r *replay, _ replayEvent, ev domain.MessageDeleted) string {
			was := "" // what the message said, while it stands
			if m, ok := r.tl.Message(ev.Seq); ok && !m.Deleted {
				was = fmt.Sprintf(" (%s had written: %s)", r.name(m.SenderID), m.Text)
			}
			return fmt.Sprintf("%s deleted #%d%s", r.name(ev.By), ev.Seq, was)
		}).changesMessage().noting(func(r *replay, e replayEvent) {
			seq := e.ev.(domain.MessageDeleted).Seq
			if m, ok := r.tl.Message(seq); ok && !m.Deleted {
				r.deletions[seq] = e
			}
		}),
		shown(func(r *replay, _ replayEvent, ev domain.ReactionAdded) string {
			return fmt.Sprintf("%s reacted %s to #%d", r.name(ev.UserID), ev.Emoji, ev.Seq)
		}).changesMessage(),
		shown(func(r *replay, _ replayEvent, ev domain.ReactionRemoved) string {
			return fmt.Sprintf("%s took back %s on #%d", r.name(ev.UserID), ev.Emoji, ev.Seq)
		}).changesMessage(),
		shown(func(r *replay, _ replayEvent, ev domain.CallStarted) string { return r.name(ev.By) + " started a call" }).
			rendering((*replay).renderCall),
		shown(func(r *replay, _ replayEvent, ev domain.CallJoined) string {
			return r.name(ev.UserID) + " joined the call"
		}),
		shown(func(r *replay, _ replayEvent, ev domain.CallLeft) string {
			s := r.name(ev.UserID) + " left the call"
			if ev.Reason != "" && ev.Reason != domain.CallLeaveLeft {
				s += " (" + strings.ReplaceAll(ev.Reason, "_", " ") + ")"
			}
			return s
		}),
		shown(func(_ *replay, e replayEvent, ev domain.CallEnded) string {
			return fmt.Sprintf("the call ended after %v, %s", e.at.Sub(ev.StartedAt).Round(time.Second), count(ev.Participants, "person", "people"))
		}),
	)
}

// replayTable keys entries by their type; a type given twice panics (at
// start-up, and so in every test).
func replayTable(entries ...replayEntry) map[string]replayShow {
	t := make(map[string]replayShow, len(entries))
	for _, x := range entries {
		if _, dup := t[x.typ]; dup {
			panic("replay: two entries for " + x.typ)
		}
		t[x.typ] = x.replayShow
	}
	return t
}
