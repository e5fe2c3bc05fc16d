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
	"github.com/confabhq/confab/projections"
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
		decoded = append(decoded, replayEvent{seq: e.Revision, typ: e.Type, at: at, recorded: e.RecordedAt, ev: ev})
	}
	if len(decoded) == 0 {
		return fmt.Errorf("room %s did not exist yet at %s UTC: its first event is at %s UTC", room, until.Format(replayTime), eventAt(mustDecode(&events[0]), events[0].RecordedAt).Format(replayTime))
	}
	r := newReplay(room, replayNames(ctx, a.store, decoded))
	if speed == 0 {
		for _, e := range decoded {
			if err := r.fold(e); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "%s as of %s UTC: %d of %s\n", r.title(), until.Format(replayTime), len(decoded), count(total, "event", "events"))
		for _, it := range r.items {
			fmt.Fprintln(w, r.render(it))
		}
		r.footer(w)
		return nil
	}

	if err := r.fold(decoded[0]); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s, played back at %gx until %s UTC (%d of %s)\n", r.title(), speed, until.Format(replayTime), len(decoded), count(total, "event", "events"))
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
		line, err := r.play(e)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, line)
	}
	r.footer(w)
	return nil
}

func mustDecode(e *eventstore.RecordedEvent) domain.Event {
	ev, _ := domain.Decode(e.Type, e.Data)
	return ev
}

// eventAt returns when an event happened, as the read models have it:
// its At, else when it was recorded.
func eventAt(ev domain.Event, recorded time.Time) time.Time {
	return projections.EventTime(ev, recorded).UTC()
}

type replayEvent struct {
	seq      uint64
	typ      string
	at       time.Time
	recorded time.Time
	ev       domain.Event // nil for a type this confab does not know
}

// replay shows a room's timeline: the room, its messages (text after
// edits, deletion, reactions), members and calls as the read models
// fold them (projections.Timeline), and every other event as a line.
type replay struct {
	id    domain.RoomID
	tl    *projections.Timeline
	names map[domain.UserID]string
	items []replayEvent // what the timeline shows, in order
	// What the read models do not keep: a DM's members in the order it
	// began with, and when and by whom each message was deleted.
	dmMembers []domain.UserID
	deletions map[uint64]replayEvent
}

func newReplay(room domain.RoomID, names map[domain.UserID]string) *replay {
	return &replay{id: room, tl: projections.NewTimeline(room), names: names, deletions: map[uint64]replayEvent{}}
}

// replayNames returns the usernames of the users the events name, each
// from their stream's first event.
func replayNames(ctx context.Context, store eventstore.Store, events []replayEvent) map[domain.UserID]string {
	names := map[domain.UserID]string{}
	for _, e := range events {
		for _, id := range eventUsers(e.ev) {
			if _, ok := names[id]; ok {
				continue
			}
			names[id] = "user " + string(id)
			evs, err := store.ReadStream(ctx, domain.UserStream(id), 1, eventstore.Forwards, 1)
			if err != nil || len(evs) != 1 {
				continue
			}
			if ev, err := domain.Decode(evs[0].Type, evs[0].Data); err == nil {
				if su, ok := ev.(domain.UserSignedUp); ok {
					names[id] = su.Username
				}
			}
		}
	}
	return names
}

var (
	userIDType  = reflect.TypeFor[domain.UserID]()
	userIDsType = reflect.TypeFor[[]domain.UserID]()
)

// eventUsers returns the users an event names: its fields of type
// domain.UserID and []domain.UserID.
func eventUsers(ev domain.Event) []domain.UserID {
	v := reflect.ValueOf(ev)
	if ev == nil || v.Kind() != reflect.Struct {
		return nil
	}
	var ids []domain.UserID
	for i := range v.NumField() {
		switch f := v.Field(i); f.Type() {
		case userIDType:
			ids = append(ids, f.Interface().(domain.UserID))
		case userIDsType:
			ids = append(ids, f.Interface().([]domain.UserID)...)
		}
	}
	return ids
}

// name returns a user's username.
func (r *replay) name(id domain.UserID) string {
	if id == "" {
		return "someone"
	}
	if n, ok := r.names[id]; ok {
		return n
	}
	return "user " + string(id)
}

// title names the room as it was at the end of the fold.
func (r *replay) title() string {
	info, _ := r.tl.Room()
	if info.Kind == domain.KindDM {
		var names []string
		for _, u := range r.dmMembers {
			names = append(names, r.name(u))
		}
		return fmt.Sprintf("direct messages of %s (room %s)", strings.Join(names, " and "), r.id)
	}
	return fmt.Sprintf("room %q (%s)", info.Name, r.id)
}

// fold applies an event to the timeline.
func (r *replay) fold(e replayEvent) error {
	show, known := replayShows[e.typ]
	if show.note != nil {
		show.note(r, e)
	}
	if !show.inMessage {
		r.items = append(r.items, e)
	}
	if !known || e.ev == nil {
		return nil // the read models skip what they do not know
	}
	if err := r.tl.Apply(e.seq, e.ev, e.recorded); err != nil {
		return fmt.Errorf("replay %s: %w", r.id, err)
	}
	return nil
}

// indent is where a line's text starts (after "2006-01-02 15:04:05  #1234 "),
// for continuation lines.
var indent = strings.Repeat(" ", len(replayTime)+8)

func (r *replay) line(e replayEvent, text string) string {
	return fmt.Sprintf("%s  #%-4d %s", e.at.Format(replayTime), e.seq, strings.ReplaceAll(text, "\n", "\n"+indent))
}

// render returns a timeline item as it stands after the fold.
func (r *replay) render(e replayEvent) string {
	if show := replayShows[e.typ]; show.render != nil && e.ev != nil {
		return r.line(e, show.render(r, e))
	}
	return r.line(e, r.describe(e))
}

// renderPosted shows a posted message as it stands: as the read models
// have it.
func (r *replay) renderPosted(e replayEvent) string {
	if m, ok := r.tl.Message(e.seq); ok {
		return r.message(m)
	}
	return r.describe(e)
}

// renderCall shows a call that started, and how it ended.
func (r *replay) renderCall(e replayEvent) string {
	ev := e.ev.(domain.CallStarted)
	s := r.name(ev.By) + " started a call"
	if c, ok := r.callOf(ev.CallID); ok && c.EndedSeq != 0 {
		return s + fmt.Sprintf(" (ended %s, after %v, %s)", c.EndedAt.Format(replayTime), c.EndedAt.Sub(e.at).Round(time.Second), count(c.Participants, "person", "people"))
	}
	return s + " (still going on)"
}

// message shows a message as the read models have it.
func (r *replay) message(m projections.Message) string {
	who := r.name(m.SenderID)
	if m.ThreadRoot != 0 {
		who += fmt.Sprintf(" (in thread #%d)", m.ThreadRoot)
	}
	if m.ReplyTo != 0 {
		who += fmt.Sprintf(" (reply to #%d)", m.ReplyTo)
	}
	if m.Deleted {
		d, _ := r.deletions[m.Seq].ev.(domain.MessageDeleted) // noted by the deletion
		return fmt.Sprintf("%s: [deleted at %s by %s]", who, r.deletions[m.Seq].at.Format(replayTime), r.name(d.By)) + threadLine(m)
	}
	s := who + ": " + m.Text + attachedList(m.Attachments)
	if m.EditedAt != nil {
		s += fmt.Sprintf("  (edited %s)", m.EditedAt.Format(replayTime))
	}
	for _, re := range m.Reactions {
		var names []string
		for _, u := range re.Users {
			names = append(names, r.name(u))
		}
		s += fmt.Sprintf("\n  %s %s", re.Emoji, strings.Join(names, ", "))
	}
	return s + threadLine(m)
}

// threadLine shows the thread of a root: "\n  [thread: 2 replies, last #14]".
func threadLine(m projections.Message) string {
	if m.Thread == nil {
		return ""
	}
	noun := "replies"
	if m.Thread.Replies == 1 {
		noun = "reply"
	}
	return fmt.Sprintf("\n  [thread: %d %s, last #%d]", m.Thread.Replies, noun, m.Thread.LastReplySeq)
}

// attachedList shows a message's attachments: " [attached: a.png (image/png, 800×600, 1234 bytes), ...]".
func attachedList(files []domain.Attachment) string {
	if len(files) == 0 {
		return ""
	}
	var parts []string
	for _, a := range files {
		p := fmt.Sprintf("%s (%s", a.Name, a.ContentType)
		if a.Width > 0 {
			p += fmt.Sprintf(", %d×%d", a.Width, a.Height)
		}
		parts = append(parts, p+", "+count(a.Size, "byte", "bytes")+")")
	}
	return " [attached: " + strings.Join(parts, ", ") + "]"
}

// callOf returns the room's call with ID id.
func (r *replay) callOf(id string) (projections.CallInfo, bool) {
	calls := r.tl.Calls()
	i := slices.IndexFunc(calls, func(c projections.CallInfo) bool { return c.ID == id })
	if i < 0 {
		return projections.CallInfo{}, false
	}
	return calls[i], true
}

// describe says what an event did, as it happened.
func (r *replay) describe(e replayEvent) string {
	if show := replayShows[e.typ]; show.describe != nil && e.ev != nil {
		return show.describe(r, e)
	}
	return "(" + e.typ + ")"
}

// play folds an event and returns its playback line, which says what
// it did to the timeline as it was.
func (r *replay) play(e replayEvent) (string, error) {
	line := r.line(e, r.describe(e))
	return line, r.fold(e)
}

// footer lists the members, and who is in the call, at the end.
func (r *replay) footer(w io.Writer) {
	var ms []string
	for u, role := range r.tl.Roles() {
		ms = append(ms, fmt.Sprintf("%s (%s)", r.name(u), role))
	}
	slices.Sort(ms)
	fmt.Fprintf(w, "members: %s\n", strings.Join(ms, ", "))
	calls := r.tl.Calls()
	if len(calls) == 0 || calls[len(calls)-1].EndedSeq != 0 {
		return
	}
	parts := r.tl.Participants()
	slices.SortStableFunc(parts, func(a, b projections.CallParticipant) int { return a.JoinedAt.Compare(b.JoinedAt) })
	var in []string
	for _, p := range parts {
		if p.CallID == calls[len(calls)-1].ID {
			in = append(in, r.name(p.UserID))
		}
	}
	fmt.Fprintf(w, "in the call: %s\n", strings.Join(in, ", "))
}
