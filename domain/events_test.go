package domain

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleEvents holds one event of each type, every field set.
var sampleEvents = []Event{
	UserSignedUp{UserID: UserIDFor("alice"), Username: "Alice", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", At: now},
	SessionStarted{SessionID: "s1", TokenHash: strings.Repeat("ab", 32), UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", IP: "192.0.2.7", At: now},
	SessionUsed{SessionID: "s1", At: now},
	SessionEnded{SessionID: "s1", Reason: EndRevoked, At: now},
	RoomRead{RoomID: "r1", Seq: 1<<64 - 1, At: now},
	ThreadRead{RoomID: "r1", Root: 2, Seq: 9, At: now},
	ConnectionOpened{ConnID: "c1", NodeID: "n1", At: now},
	ConnectionClosed{ConnID: "c1", Reason: "node_lost", At: now},
	RoomCreated{RoomID: "r1", Kind: KindGroup, Name: "café ☕", OwnerID: owner, Members: []UserID{owner, member}, InviteCode: "code1", At: now},
	MemberJoined{UserID: member, At: now},
	MemberLeft{UserID: member, At: now},
	MemberKicked{UserID: member, By: owner, At: now},
	MemberBanned{UserID: member, By: owner, At: now},
	MemberUnbanned{UserID: member, By: owner, At: now},
	MemberRoleChanged{UserID: member, Role: RoleAdmin, By: owner, At: now},
	RoomRenamed{Name: "random", By: admin, At: now},
	InviteCodeRotated{InviteCode: "code2", By: owner, At: now},
	MessagePosted{SenderID: member, ClientMsgID: "m1", Text: "hi @olive <b>\"&\"</b>\n👍", ReplyTo: 3, ThreadRoot: 2, Mentions: []UserID{owner, admin}, At: now},
	MessageEdited{Seq: 4, Text: "hello", Mentions: []UserID{owner}, By: member, At: now},
	MessageDeleted{Seq: 4, ThreadRoot: 2, By: admin, At: now},
	ReactionAdded{Seq: 4, Emoji: "👨‍👩‍👧", UserID: member, At: now},
	ReactionRemoved{Seq: 4, Emoji: "👍", UserID: member, At: now},
	MessagePinned{Seq: 4, By: member, At: now},
	MessageUnpinned{Seq: 4, By: member, At: now},
	RoomSettingsChanged{MembersCanPin: true, By: member, At: now},
	RoomNotifySet{RoomID: "r1", Level: NotifyMentions, At: now},
	AttachmentUploaded{RoomID: "r1", Attachment: Attachment{ID: "a1", Name: "cat.png", Size: 42, ContentType: "image/png", Width: 3, Height: 2, Digest: "sha256:00"}, Thumbnail: "sha256:01", At: now},
	AttachmentDiscarded{ID: "a1", At: now},
	PasswordChanged{PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", By: ByOperator, At: now},
	DisplayNameChanged{DisplayName: "Alice ☕", At: now},
	AvatarChanged{Avatar: Avatar{Digest: "sha256:02", ContentType: "image/png", Size: 7}, At: now},
	AvatarRemoved{At: now},
	UserDisabled{At: now},
	UserEnabled{At: now},
	UserDeleted{At: now},
	CallStarted{CallID: "c1", By: member, At: now},
	CallJoined{CallID: "c1", UserID: member, NodeID: "n1", ConnID: "k1", At: now},
	CallLeft{CallID: "c1", UserID: member, Reason: CallLeaveFailed, At: now},
	CallEnded{CallID: "c1", StartedAt: now.Add(-23 * time.Minute), Participants: 4, At: now},
}

func TestEncodeDecode(t *testing.T) {
	// The optional fields left out.
	sparse := []Event{
		RoomCreated{RoomID: "d", Kind: KindDM, Members: []UserID{dana, dave}, At: now},
		MessagePosted{SenderID: member, ClientMsgID: "m1", Text: "hi", At: now},
		MessageEdited{Seq: 4, Text: "hello", By: member, At: now},
		UserSignedUp{},
		SessionStarted{SessionID: "s1", TokenHash: "h", At: now},
		SessionEnded{SessionID: "s1", At: now},
	}
	for _, e := range append(sampleEvents, sparse...) {
		typ, data, err := Encode(e)
		if err != nil {
			t.Errorf("Encode(%#v): %v", e, err)
			continue
		}
		if typ != e.EventType() {
			t.Errorf("Encode(%T) type = %q, want %q", e, typ, e.EventType())
		}
		got, err := Decode(typ, data)
		if err != nil {
			t.Errorf("Decode(%s, %s): %v", typ, data, err)
			continue
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("Decode(Encode(e)):\n got %#v\nwant %#v", got, e)
		}
	}
}

// Every registered type has a sample, so TestEncodeDecode covers it, and
// every sample is registered.
func TestSampleEventsCoverTypes(t *testing.T) {
	samples := map[string]bool{}
	for _, e := range sampleEvents {
		typ := e.EventType()
		if samples[typ] {
			t.Errorf("two samples of %s", typ)
		}
		samples[typ] = true
		if !KnownType(typ) {
			t.Errorf("KnownType(%q) = false for %T", typ, e)
		}
		if name := reflect.TypeOf(e).Name(); typ != name {
			t.Errorf("%s.EventType() = %q, want its type's name", name, typ)
		}
	}
	for typ := range decoders {
		if !samples[typ] {
			t.Errorf("registered type %s has no sample", typ)
		}
	}
}

// Stored data is a contract: the JSON names of fields must not change.
func TestEncodeJSON(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{SessionEnded{SessionID: "s1", At: now}, `{"session_id":"s1","at":"2025-03-04T05:06:07.000000008Z"}`},
		{SessionEnded{SessionID: "s1", Reason: EndLimit, At: now}, `{"session_id":"s1","reason":"session_limit","at":"2025-03-04T05:06:07.000000008Z"}`},
		{SessionStarted{SessionID: "s1", TokenHash: "h", At: now}, `{"session_id":"s1","token_hash":"h","at":"2025-03-04T05:06:07.000000008Z"}`},
		{SessionStarted{SessionID: "s1", TokenHash: "h", UserAgent: "curl/8", IP: "::1", At: now},
			`{"session_id":"s1","token_hash":"h","user_agent":"curl/8","ip":"::1","at":"2025-03-04T05:06:07.000000008Z"}`},
		{SessionUsed{SessionID: "s1", At: now}, `{"session_id":"s1","at":"2025-03-04T05:06:07.000000008Z"}`},
		{RoomCreated{RoomID: "d", Kind: KindDM, Members: []UserID{"a", "b"}, At: now},
			`{"room_id":"d","kind":"dm","name":"","members":["a","b"],"at":"2025-03-04T05:06:07.000000008Z"}`},
		{MessagePosted{SenderID: "a", ClientMsgID: "m1", Text: "hi", At: now},
			`{"sender_id":"a","client_msg_id":"m1","text":"hi","at":"2025-03-04T05:06:07.000000008Z"}`},
		{MessagePosted{SenderID: "a", ClientMsgID: "m1", Text: "hi", ReplyTo: 2, Mentions: []UserID{"b"}, At: now},
			`{"sender_id":"a","client_msg_id":"m1","text":"hi","reply_to":2,"mentions":["b"],"at":"2025-03-04T05:06:07.000000008Z"}`},
		{MemberRoleChanged{UserID: "a", Role: RoleAdmin, By: "b", At: now},
			`{"user_id":"a","role":"admin","by":"b","at":"2025-03-04T05:06:07.000000008Z"}`},
	}
	for _, tt := range tests {
		_, data, err := Encode(tt.e)
		if err != nil || string(data) != tt.want {
			t.Errorf("Encode(%T) = %s, %v; want %s", tt.e, data, err, tt.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		typ, data string
	}{
		{"NoSuchEvent", `{}`},
		{"", `{}`},
		{"usersignedup", `{}`}, // Types are case-sensitive.
		{"UserSignedUp", `{`},
		{"UserSignedUp", ``},
		{"UserSignedUp", `[]`},
		{"UserSignedUp", `"x"`},
		{"RoomRead", `{"seq":"1"}`},
		{"RoomRead", `{"seq":-1}`},
		{"RoomRead", `{"at":"yesterday"}`},
		{"RoomCreated", `{"members":"a"}`},
	}
	for _, tt := range tests {
		if e, err := Decode(tt.typ, []byte(tt.data)); err == nil {
			t.Errorf("Decode(%q, %q) = %#v, want an error", tt.typ, tt.data, e)
		}
	}
}

func TestKnownType(t *testing.T) {
	tests := []struct {
		typ  string
		want bool
	}{
		{"UserSignedUp", true},
		{"MessagePosted", true},
		{"ReactionRemoved", true},
		{"", false},
		{"messageposted", false},
		{"MessagePosted ", false},
		{"Event", false},
	}
	for _, tt := range tests {
		if got := KnownType(tt.typ); got != tt.want {
			t.Errorf("KnownType(%q) = %t, want %t", tt.typ, got, tt.want)
		}
	}
}

// FuzzDecode checks that Decode never panics, and that what it decodes
// encodes and decodes again.
func FuzzDecode(f *testing.F) {
	for _, e := range sampleEvents {
		typ, data, err := Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(typ, data)
	}
	f.Add("RoomRead", []byte(`{"seq":1e30}`))
	f.Add("MessagePosted", []byte(`{"text":"\ud800","mentions":null}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := Decode(typ, data)
		if err != nil {
			return
		}
		typ2, data2, err := Encode(e)
		if err != nil || typ2 != typ {
			t.Fatalf("Encode(Decode(%q, %q)) = %q, %v", typ, data, typ2, err)
		}
		if _, err := Decode(typ2, data2); err != nil {
			t.Fatalf("Decode(Encode(Decode(%q, %q))): %v", typ, data, err)
		}
	})
}
