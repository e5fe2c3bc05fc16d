package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/urfave/cli/v3"
)

// replayTime is how replay prints times: UTC, to the second.
const replayTime = "2006-01-02 15:04:05"

// untilLayouts are the forms --until takes; all but RFC 3339 are UTC.
var untilLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseUntil(s string) (time.Time, error) {
	for _, l := range untilLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--until %q: want RFC 3339 (2025-06-01T09:30:00Z), or a date or date and time in UTC (2025-06-01, 2025-06-01T09:30)", s)
}

func (m *Main) eventsReplay(ctx context.Context, c *cli.Command) error {
	if c.NArg() > 0 {
		return fmt.Errorf("events replay takes no arguments, got %q", c.Args().Slice())
	}
	room := domain.RoomID(strings.TrimPrefix(c.String("room"), "room-"))
	stream := domain.RoomStream(room)
	if err := eventstore.ValidateStream(stream); err != nil || room == "" {
		return fmt.Errorf("--room %q: not a room ID", c.String("room"))
	}
	until := time.Now().UTC()
	if s := c.String("until"); s != "" {
		var err error
		if until, err = parseUntil(s); err != nil {
			return err
		}
	}
	speed := c.Float("speed")
	if speed < 0 {
		return fmt.Errorf("--speed %v: want 0 (print the timeline) or more", speed)
	}
	a, err := m.openAdmin(ctx, c, false)
	if err != nil {
		return err
	}
	defer a.Close()

	var events []eventstore.RecordedEvent
	for from := uint64(1); ; {
		batch, err := a.store.ReadStream(ctx, stream, from, eventstore.Forwards, 1000)
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		events = append(events, batch...)
		if len(batch) < 1000 {
			break
		}
		from = batch[len(batch)-1].Revision + 1
	}
	if len(events) == 0 {
		return fmt.Errorf("no room %s: its stream %s is empty", room, stream)
	}
	r := &replay{id: room, ctx: ctx, store: a.store, names: map[domain.UserID]string{}, msgs: map[uint64]*replayMsg{}, members: map[domain.UserID]domain.Role{}}
	w := bufio.NewWriter(m.Stdout)
	defer w.Flush()

	total := len(events)
	var decoded []replayEvent
	for i := range events {
		e := &events[i]
		ev, err := domain.Decode(e.Type, e.Data)
		if err != nil && domain.KnownType(e.Type) {
			return fmt.Errorf("%s #%d: %w", stream, e.Revision, err)
		}
		at := eventAt(ev, e.RecordedAt)
		if at.After(until) {
			break // the room's history up to the moment: a prefix of its stream
		}
		decoded = append(decoded, replayEvent{seq: e.Revision, typ: e.Type, at: at, ev: ev})
	}
	if len(decoded) == 0 {
		return fmt.Errorf("room %s did not exist yet at %s UTC: its first event is at %s UTC", room, until.Format(replayTime), eventAt(mustDecode(&events[0]), events[0].RecordedAt).Format(replayTime))
	}
	if speed == 0 {
		for _, e := range decoded {
			r.fold(e)
		}
		fmt.Fprintf(w, "%s as of %s UTC: %d of %d events\n", r.title(), until.Format(replayTime), len(decoded), total)
		for _, it := range r.items {
			fmt.Fprintln(w, r.render(it))
		}
		r.footer(w)
		return nil
	}

	r.fold(decoded[0])
	fmt.Fprintf(w, "%s, played back at %gx until %s UTC (%d of %d events)\n", r.title(), speed, until.Format(replayTime), len(decoded), total)
	fmt.Fprintln(w, r.render(decoded[0]))
	maxGap := c.Duration("max-gap")
	for i := 1; i < len(decoded); i++ {
		e := decoded[i]
		gap := min(time.Duration(float64(e.at.Sub(decoded[i-1].at))/speed), maxGap)
		if gap > 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			t := time.NewTimer(gap)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil // interrupted: the playback ends
			case <-t.C:
			}
		}
		if line := r.play(e); line != "" {
			fmt.Fprintln(w, line)
		}
	}
	r.footer(w)
	return nil
}

func mustDecode(e *eventstore.RecordedEvent) domain.Event {
	ev, _ := domain.Decode(e.Type, e.Data)
	return ev
}

// eventAt returns when an event happened: its At field (every domain event
// has one), else when it was recorded.
func eventAt(ev domain.Event, recorded time.Time) time.Time {
	if ev != nil {
		v := reflect.ValueOf(ev)
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("At"); f.IsValid() {
				if t, ok := f.Interface().(time.Time); ok && !t.IsZero() {
					return t.UTC()
				}
			}
		}
	}
	return recorded.UTC()
}

type replayEvent struct {
	seq uint64
	typ string
	at  time.Time
	ev  domain.Event // nil for a type this confab does not know
}

type replayMsg struct {
	sender    domain.UserID
	text      string
	replyTo   uint64
	edited    time.Time
	deleted   bool
	deletedAt time.Time
	deletedBy domain.UserID
	reactions []replayReaction
}

type replayReaction struct {
	emoji string
	users []domain.UserID
}

// replay folds a room's events into its timeline.
type replay struct {
	id        domain.RoomID
	kind      string
	roomName  string
	dmMembers []domain.UserID
	ctx       context.Context
	store     eventstore.Store
	names     map[domain.UserID]string
	msgs      map[uint64]*replayMsg
	items     []replayEvent // what the timeline shows, in order
	members   map[domain.UserID]domain.Role
	calls     map[string]*replayCall
	call      string // the ongoing call
}

type replayCall struct {
	startedSeq   uint64
	ended        time.Time
	participants int
	in           []domain.UserID
}

// name returns a user's username, from their stream's first event.
func (r *replay) name(id domain.UserID) string {
	if id == "" {
		return "someone"
	}
	if n, ok := r.names[id]; ok {
		return n
	}
	n := "user " + string(id)
	evs, err := r.store.ReadStream(r.ctx, domain.UserStream(id), 1, eventstore.Forwards, 1)
	if err == nil && len(evs) == 1 {
		if ev, err := domain.Decode(evs[0].Type, evs[0].Data); err == nil {
			if su, ok := ev.(domain.UserSignedUp); ok {
				n = su.Username
			}
		}
	}
	r.names[id] = n
	return n
}

// title names the room as it was at the end of the fold.
func (r *replay) title() string {
	if r.kind == domain.KindDM {
		var names []string
		for _, u := range r.dmMembers {
			names = append(names, r.name(u))
		}
		return fmt.Sprintf("direct messages of %s (room %s)", strings.Join(names, " and "), r.id)
	}
	return fmt.Sprintf("room %q (%s)", r.roomName, r.id)
}

// fold applies an event to the timeline.
func (r *replay) fold(e replayEvent) {
	switch ev := e.ev.(type) {
	case domain.RoomCreated:
		r.kind, r.roomName, r.dmMembers = ev.Kind, ev.Name, ev.Members
		for _, u := range ev.Members {
			r.members[u] = domain.RoleMember
		}
		if ev.OwnerID != "" {
			r.members[ev.OwnerID] = domain.RoleOwner
		}
	case domain.MemberJoined:
		if _, ok := r.members[ev.UserID]; !ok {
			r.members[ev.UserID] = domain.RoleMember
		}
	case domain.MemberLeft:
		delete(r.members, ev.UserID)
	case domain.MemberKicked:
		delete(r.members, ev.UserID)
	case domain.MemberBanned:
		delete(r.members, ev.UserID)
	case domain.MemberRoleChanged:
		if _, ok := r.members[ev.UserID]; ok {
			r.members[ev.UserID] = ev.Role
		}
	case domain.RoomRenamed:
		r.roomName = ev.Name
	case domain.MessagePosted:
		r.msgs[e.seq] = &replayMsg{sender: ev.SenderID, text: ev.Text, replyTo: ev.ReplyTo}
	case domain.MessageEdited:
		if m := r.msgs[ev.Seq]; m != nil && !m.deleted {
			m.text, m.edited = ev.Text, e.at
		}
		return
	case domain.MessageDeleted:
		if m := r.msgs[ev.Seq]; m != nil && !m.deleted {
			m.deleted, m.deletedAt, m.deletedBy = true, e.at, ev.By
			m.reactions = nil
		}
		return
	case domain.ReactionAdded:
		if m := r.msgs[ev.Seq]; m != nil && !m.deleted {
			m.react(ev.Emoji, ev.UserID, true)
		}
		return
	case domain.ReactionRemoved:
		if m := r.msgs[ev.Seq]; m != nil {
			m.react(ev.Emoji, ev.UserID, false)
		}
		return
	case domain.CallStarted:
		if r.calls == nil {
			r.calls = map[string]*replayCall{}
		}
		r.calls[ev.CallID] = &replayCall{startedSeq: e.seq}
		r.call = ev.CallID
	case domain.CallJoined:
		if c := r.calls[ev.CallID]; c != nil && !slices.Contains(c.in, ev.UserID) {
			c.in = append(c.in, ev.UserID)
		}
	case domain.CallLeft:
		if c := r.calls[ev.CallID]; c != nil {
			c.in = slices.DeleteFunc(c.in, func(u domain.UserID) bool { return u == ev.UserID })
		}
	case domain.CallEnded:
		if c := r.calls[ev.CallID]; c != nil {
			c.ended, c.participants, c.in = e.at, ev.Participants, nil
		}
		if r.call == ev.CallID {
			r.call = ""
		}
	}
	r.items = append(r.items, e)
}

func (m *replayMsg) react(emoji string, user domain.UserID, add bool) {
	for i := range m.reactions {
		re := &m.reactions[i]
		if re.emoji != emoji {
			continue
		}
		has := slices.Contains(re.users, user)
		switch {
		case add && !has:
			re.users = append(re.users, user)
		case !add && has:
			re.users = slices.DeleteFunc(re.users, func(u domain.UserID) bool { return u == user })
			if len(re.users) == 0 {
				m.reactions = slices.Delete(m.reactions, i, i+1)
			}
		}
		return
	}
	if add {
		m.reactions = append(m.reactions, replayReaction{emoji: emoji, users: []domain.UserID{user}})
	}
}

// indent is where a line's text starts (after "2006-01-02 15:04:05  #1234 "),
// for continuation lines.
var indent = strings.Repeat(" ", len(replayTime)+8)

func (r *replay) line(e replayEvent, text string) string {
	return fmt.Sprintf("%s  #%-4d %s", e.at.Format(replayTime), e.seq, strings.ReplaceAll(text, "\n", "\n"+indent))
}

// render returns a timeline item as it stands after the fold.
func (r *replay) render(e replayEvent) string {
	switch ev := e.ev.(type) {
	case domain.MessagePosted:
		m := r.msgs[e.seq]
		who := r.name(m.sender)
		if m.replyTo != 0 {
			who += fmt.Sprintf(" (reply to #%d)", m.replyTo)
		}
		if m.deleted {
			return r.line(e, fmt.Sprintf("%s: [deleted at %s by %s]", who, m.deletedAt.Format(replayTime), r.name(m.deletedBy)))
		}
		s := who + ": " + m.text
		if !m.edited.IsZero() {
			s += fmt.Sprintf("  (edited %s)", m.edited.Format(replayTime))
		}
		for _, re := range m.reactions {
			var names []string
			for _, u := range re.users {
				names = append(names, r.name(u))
			}
			s += fmt.Sprintf("\n  %s %s", re.emoji, strings.Join(names, ", "))
		}
		return r.line(e, s)
	case domain.CallStarted:
		s := r.name(ev.By) + " started a call"
		if c := r.calls[ev.CallID]; c != nil && !c.ended.IsZero() {
			s += fmt.Sprintf(" (ended %s, after %v, %d people)", c.ended.Format(replayTime), c.ended.Sub(e.at).Round(time.Second), c.participants)
		} else {
			s += " (still going on)"
		}
		return r.line(e, s)
	}
	return r.line(e, r.describe(e))
}

// describe says what an event did, for every event but messages.
func (r *replay) describe(e replayEvent) string {
	switch ev := e.ev.(type) {
	case domain.RoomCreated:
		if ev.Kind == domain.KindDM {
			return "the direct messages began"
		}
		return fmt.Sprintf("%s created the room %q", r.name(ev.OwnerID), ev.Name)
	case domain.MemberJoined:
		return r.name(ev.UserID) + " joined"
	case domain.MemberLeft:
		return r.name(ev.UserID) + " left"
	case domain.MemberKicked:
		return fmt.Sprintf("%s kicked %s", r.name(ev.By), r.name(ev.UserID))
	case domain.MemberBanned:
		return fmt.Sprintf("%s banned %s", r.name(ev.By), r.name(ev.UserID))
	case domain.MemberUnbanned:
		return fmt.Sprintf("%s lifted the ban on %s", r.name(ev.By), r.name(ev.UserID))
	case domain.MemberRoleChanged:
		return fmt.Sprintf("%s made %s %s", r.name(ev.By), r.name(ev.UserID), ev.Role)
	case domain.RoomRenamed:
		return fmt.Sprintf("%s renamed the room to %q", r.name(ev.By), ev.Name)
	case domain.InviteCodeRotated:
		return r.name(ev.By) + " made a new invite code"
	case domain.MessagePosted:
		who := r.name(ev.SenderID)
		if ev.ReplyTo != 0 {
			who += fmt.Sprintf(" (reply to #%d)", ev.ReplyTo)
		}
		return who + ": " + ev.Text
	case domain.CallStarted:
		return r.name(ev.By) + " started a call"
	case domain.CallJoined:
		return r.name(ev.UserID) + " joined the call"
	case domain.CallLeft:
		s := r.name(ev.UserID) + " left the call"
		if ev.Reason != "" && ev.Reason != domain.CallLeaveLeft {
			s += " (" + strings.ReplaceAll(ev.Reason, "_", " ") + ")"
		}
		return s
	case domain.CallEnded:
		return fmt.Sprintf("the call ended after %v, %d people", e.at.Sub(ev.StartedAt).Round(time.Second), ev.Participants)
	}
	return "(" + e.typ + ")"
}

// play folds an event and returns its playback line.
func (r *replay) play(e replayEvent) string {
	before := map[uint64]replayMsg{}
	switch ev := e.ev.(type) {
	case domain.MessageDeleted:
		if m := r.msgs[ev.Seq]; m != nil {
			before[ev.Seq] = *m
		}
	}
	r.fold(e)
	switch ev := e.ev.(type) {
	case domain.MessageEdited:
		return r.line(e, fmt.Sprintf("%s edited #%d: %s", r.name(ev.By), ev.Seq, ev.Text))
	case domain.MessageDeleted:
		was := ""
		if m, ok := before[ev.Seq]; ok && !m.deleted {
			was = fmt.Sprintf(" (%s had written: %s)", r.name(m.sender), m.text)
		}
		return r.line(e, fmt.Sprintf("%s deleted #%d%s", r.name(ev.By), ev.Seq, was))
	case domain.ReactionAdded:
		return r.line(e, fmt.Sprintf("%s reacted %s to #%d", r.name(ev.UserID), ev.Emoji, ev.Seq))
	case domain.ReactionRemoved:
		return r.line(e, fmt.Sprintf("%s took back %s on #%d", r.name(ev.UserID), ev.Emoji, ev.Seq))
	}
	return r.line(e, r.describe(e))
}

// footer lists the members, and who is in the call, at the end.
func (r *replay) footer(w io.Writer) {
	var ms []string
	for u, role := range r.members {
		ms = append(ms, fmt.Sprintf("%s (%s)", r.name(u), role))
	}
	slices.Sort(ms)
	fmt.Fprintf(w, "members: %s\n", strings.Join(ms, ", "))
	if c := r.calls[r.call]; c != nil {
		var in []string
		for _, u := range c.in {
			in = append(in, r.name(u))
		}
		fmt.Fprintf(w, "in the call: %s\n", strings.Join(in, ", "))
	}
}
