package projections_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/projections"
)

// verify checks every query of the read models against the aggregates
// the generator kept: what the commands would decide from is what users
// read.
func verify(t *testing.T, p *projections.Projections, g *gen) {
	t.Helper()
	var conns []projections.Conn
	for _, id := range g.userIDs {
		u := g.users[id]
		got, err := p.User(ctx, id)
		if err != nil {
			t.Fatalf("user %s: %v", u.Username, err)
		}
		if got.Username != shownName(u) || got.Online != (len(u.Conns) > 0) {
			t.Errorf("user %s: %+v, want online %v", u.Username, got, len(u.Conns) > 0)
		}
		wantAvatar := ""
		if u.Avatar != nil {
			wantAvatar = u.Avatar.Digest
		}
		if got.DisplayName != u.DisplayName || got.Status != u.Status() || got.Avatar != wantAvatar {
			t.Errorf("user %s: %+v, want display name %q, status %s, avatar %q", u.Username, got, u.DisplayName, u.Status(), wantAvatar)
		}
		for conn, node := range u.Conns {
			conns = append(conns, projections.Conn{UserID: id, ConnID: conn, NodeID: node})
		}
		for sid, us := range u.Sessions {
			s, err := p.SessionByTokenHash(ctx, us.TokenHash)
			if err != nil || s.UserID != id || s.SessionID != sid || !s.CreatedAt.Equal(us.StartedAt.Truncate(time.Microsecond)) ||
				!s.LastUsedAt.Equal(us.LastUsedAt.Truncate(time.Microsecond)) || s.UserAgent != us.UserAgent || s.IP != us.IP {
				t.Errorf("session %s of %s: %+v, %v; want %+v", sid, u.Username, s, err, us)
			}
		}
		sessions, err := p.Sessions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for i, s := range sessions {
			gotIDs = append(gotIDs, s.SessionID)
			if i > 0 && sessions[i-1].CreatedAt.After(s.CreatedAt) {
				t.Errorf("sessions of %s out of order at %d", u.Username, i)
			}
		}
		slices.Sort(gotIDs)
		equal(t, "sessions of "+u.Username, gotIDs, slices.Sorted(maps.Keys(u.Sessions)))

		// Rooms, read markers and unread counts.
		rooms, err := p.RoomsOf(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var wantRooms, gotRooms []domain.RoomID
		for _, rid := range g.roomIDs {
			if g.rooms[rid].IsMember(id) {
				wantRooms = append(wantRooms, rid)
			}
		}
		for i, s := range rooms {
			gotRooms = append(gotRooms, s.ID)
			if i > 0 && rooms[i-1].LastActivity.Before(s.LastActivity) {
				t.Errorf("rooms of %s out of order at %d", u.Username, i)
			}
			r := g.rooms[s.ID]
			if r == nil {
				t.Errorf("rooms of %s: unknown room %s", u.Username, s.ID)
				continue
			}
			read := u.ReadMarkers[s.ID]
			unread := 0
			for seq, m := range r.Messages {
				if seq > read && m.Sender != id && !m.Deleted && m.ThreadRoot == 0 {
					unread++
				}
			}
			mentions := 0
			for seq, m := range r.Messages {
				if seq > read && m.Sender != id && !m.Deleted && m.ThreadRoot == 0 && g.mentions[s.ID][seq][id] {
					mentions++
				}
			}
			if s.Mentions != mentions || s.Notify != u.NotifyLevel(s.ID) || s.MembersCanPin != r.MembersCanPin {
				t.Errorf("room %s of %s: mentions %d, notify %s, members can pin %v; want %d, %s, %v", s.ID, u.Username, s.Mentions, s.Notify, s.MembersCanPin,
					mentions, u.NotifyLevel(s.ID), r.MembersCanPin)
			}
			if s.Role != r.Members[id] || s.LastSeq != r.Seq || s.ReadSeq != read || s.Unread != unread || s.Name != r.Name || s.Kind != r.Kind {
				t.Errorf("room %s of %s: %+v; want role %s, last %d, read %d, unread %d", s.ID, u.Username, s, r.Members[id], r.Seq, read, unread)
			}
			if r.Kind == domain.KindDM {
				var peer domain.UserID
				for m := range r.Members {
					if m != id {
						peer = m
					}
				}
				if s.DMPeer == nil || s.DMPeer.ID != peer {
					t.Errorf("DM %s of %s: peer %+v, want %s", s.ID, u.Username, s.DMPeer, peer)
				}
			}
		}
		slices.Sort(wantRooms)
		slices.Sort(gotRooms)
		equal(t, "rooms of "+u.Username, gotRooms, wantRooms)

		// Who sees this user's presence.
		shared := map[domain.UserID]bool{id: true}
		for _, r := range g.rooms {
			if r.IsMember(id) {
				for m := range r.Members {
					shared[m] = true
				}
			}
		}
		got2, err := p.SharedRoomMembers(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "shared with "+u.Username, got2, slices.Sorted(maps.Keys(shared)))
	}
	for hash, id := range g.hashes {
		if slices.ContainsFunc(slices.Collect(maps.Values(g.users[id].Sessions)), func(s domain.Session) bool { return s.TokenHash == hash }) {
			continue
		}
		if _, err := p.SessionByTokenHash(ctx, hash); domain.KindOf(err) != domain.KindNotFound {
			t.Errorf("ended session %s: %v, want not found", hash, err)
		}
	}
	open, err := p.OpenConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := func(c projections.Conn) string { return string(c.UserID) + "/" + c.ConnID + "@" + c.NodeID }
	var gotConns, wantConns []string
	for _, c := range open {
		gotConns = append(gotConns, key(c))
	}
	for _, c := range conns {
		wantConns = append(wantConns, key(c))
	}
	slices.Sort(gotConns)
	slices.Sort(wantConns)
	equal(t, "open connections", gotConns, wantConns)

	for _, rid := range g.roomIDs {
		r := g.rooms[rid]
		info, err := p.Room(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		pins, err := p.Pins(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		var gotPins []uint64
		for _, pin := range pins {
			gotPins = append(gotPins, pin.Seq)
			if pin.Message.Seq != pin.Seq || pin.Message.Deleted {
				t.Errorf("room %s: pin %d holds message %+v", rid, pin.Seq, pin.Message)
			}
		}
		slices.Sort(gotPins)
		equal(t, string(rid)+" pins", gotPins, slices.Sorted(maps.Keys(r.Pins)))
		if info.Name != r.Name || info.Kind != r.Kind || info.OwnerID != r.Owner || info.InviteCode != r.InviteCode || info.LastSeq != r.Seq {
			t.Errorf("room %s: %+v, want %+v", rid, info, r)
		}
		if r.InviteCode != "" {
			if got, err := p.RoomByInviteCode(ctx, r.InviteCode); err != nil || got != rid {
				t.Errorf("invite %s: %s, %v; want %s", r.InviteCode, got, err, rid)
			}
		}
		members, err := p.Members(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		gotMembers := map[domain.UserID]domain.Role{}
		for _, m := range members {
			gotMembers[m.User.ID] = m.Role
		}
		equal(t, "members of "+string(rid), gotMembers, r.Members)
		for _, uid := range g.userIDs {
			banned, err := p.Banned(ctx, rid, uid)
			if err != nil || banned != r.Banned[uid] {
				t.Errorf("ban of %s in %s: %v, %v; want %v", uid, rid, banned, err, r.Banned[uid])
			}
			role, ok, err := p.Member(ctx, rid, uid)
			wantRole, wantOK := r.Members[uid]
			if err != nil || ok != wantOK || role != wantRole {
				t.Errorf("membership of %s in %s: %q %v %v; want %q %v", uid, rid, role, ok, err, wantRole, wantOK)
			}
		}

		// The whole timeline, page by page.
		var timeline []projections.Message
		for before := uint64(0); ; {
			page, err := p.Messages(ctx, rid, before, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			timeline = append(timeline, page...)
			before = page[len(page)-1].Seq
		}
		inTimeline := 0
		for _, m := range r.Messages {
			if m.ThreadRoot == 0 {
				inTimeline++
			}
		}
		if len(timeline) != inTimeline {
			t.Errorf("room %s: %d messages, want %d", rid, len(timeline), inTimeline)
		}
		verifyThreads(t, g, p, rid, timeline)
		for i, m := range timeline {
			if i > 0 && timeline[i-1].Seq <= m.Seq {
				t.Errorf("room %s: message %d after %d", rid, m.Seq, timeline[i-1].Seq)
			}
			want := r.Messages[m.Seq]
			if want == nil {
				t.Errorf("room %s: unknown message %d", rid, m.Seq)
				continue
			}
			if m.SenderID != want.Sender || m.Deleted != want.Deleted || m.Deleted && (m.Text != "" || m.Mentions != nil) || m.SenderName != shownName(g.users[want.Sender]) {
				t.Errorf("room %s message %d: %+v, want %+v", rid, m.Seq, m, want)
			}
			gotReactions := map[string]map[domain.UserID]bool{}
			for _, re := range m.Reactions {
				if !slices.IsSorted(re.Users) {
					t.Errorf("room %s message %d: unsorted users %v", rid, m.Seq, re.Users)
				}
				gotReactions[re.Emoji] = map[domain.UserID]bool{}
				for _, u := range re.Users {
					gotReactions[re.Emoji][u] = true
				}
			}
			wantReactions := map[string]map[domain.UserID]bool{}
			for e, us := range want.Reactions {
				wantReactions[e] = us
			}
			equal(t, "reactions", gotReactions, wantReactions)
			byseq, err := p.MessageBySeq(ctx, rid, m.Seq)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "message by seq", byseq, m)
		}
	}
}

// verifyThreads checks the threads of room rid, whose timeline is given,
// against the generator's aggregates: each root's replies and summary,
// and every member's list of threads with unread counts.
func verifyThreads(t *testing.T, g *gen, p *projections.Projections, rid domain.RoomID, timeline []projections.Message) {
	t.Helper()
	ctx := context.Background()
	r := g.rooms[rid]
	replies := map[uint64][]uint64{} // root -> replies, in order
	for _, seq := range slices.Sorted(maps.Keys(r.Messages)) {
		if root := r.Messages[seq].ThreadRoot; root != 0 {
			replies[root] = append(replies[root], seq)
		}
	}
	for _, m := range timeline {
		want := replies[m.Seq]
		live := 0
		for _, s := range want {
			if !r.Messages[s].Deleted {
				live++
			}
		}
		switch {
		case len(want) == 0 && m.Thread != nil:
			t.Errorf("room %s message %d: thread %+v, want none", rid, m.Seq, m.Thread)
		case len(want) > 0 && (m.Thread == nil || m.Thread.Replies != live || m.Thread.LastReplySeq != want[len(want)-1]):
			t.Errorf("room %s message %d: thread %+v, want %d replies, last %d", rid, m.Seq, m.Thread, live, want[len(want)-1])
		}
		var got []uint64
		for after := uint64(0); ; {
			page, err := p.ThreadMessages(ctx, rid, m.Seq, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, reply := range page {
				got = append(got, reply.Seq)
				if reply.ThreadRoot != m.Seq || reply.Deleted != r.Messages[reply.Seq].Deleted {
					t.Errorf("room %s reply %d: %+v", rid, reply.Seq, reply)
				}
			}
			after = page[len(page)-1].Seq
		}
		equal(t, fmt.Sprintf("thread %d of %s", m.Seq, rid), got, want)
	}
	for id := range r.Members {
		threads, err := p.Threads(ctx, id, rid, 0, projections.MaxThreadsLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(threads) != min(len(replies), projections.MaxThreadsLimit) {
			t.Errorf("threads of %s for %s: %d, want %d", rid, id, len(threads), len(replies))
		}
		for i, th := range threads {
			if i > 0 && threads[i-1].Root.Thread.LastReplySeq <= th.Root.Thread.LastReplySeq {
				t.Errorf("threads of %s: out of order at %d", rid, i)
			}
			root := r.Messages[th.Root.Seq]
			read := g.users[id].ThreadMarkers[domain.ThreadKey{Room: rid, Root: th.Root.Seq}]
			unread, part := 0, root.Sender == id
			for _, s := range replies[th.Root.Seq] {
				m := r.Messages[s]
				if s > read && m.Sender != id && !m.Deleted {
					unread++
				}
				part = part || m.Sender == id
			}
			// Mentions make participants too: the read model knows them,
			// the aggregate does not; only check that senders are.
			if th.ReadSeq != read || th.Unread != unread || part && !th.Participating {
				t.Errorf("thread %d of %s for %s: read %d unread %d participating %v; want %d %d %v", th.Root.Seq, rid, id, th.ReadSeq, th.Unread, th.Participating, read, unread, part)
			}
		}
	}
}

// shownName is the username the read models show of u: none once deleted.
func shownName(u *domain.User) string {
	if u.Deleted {
		return ""
	}
	return u.Username
}
