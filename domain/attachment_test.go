package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSanitizeFileName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"cat.png", "cat.png"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\report.pdf`, "report.pdf"},
		{"evil\u202egnp.exe", "evilgnp.exe"},
		{"a\x00b\nc.txt", "ab c.txt"},
		{`"quoted" <name>?.txt`, "quoted name.txt"},
		{"  .hidden. ", "hidden"},
		{"", "file"},
		{"...", "file"},
		{"tab\there.txt", "tab here.txt"},
		{strings.Repeat("é", 150) + ".jpeg", strings.Repeat("é", 97) + ".jpeg"},
	} {
		if got := SanitizeFileName(c.in); got != c.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUploadsAndQuota(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &User{}
	u.Apply(UserSignedUp{UserID: "u1", Username: "alice"})
	a := Attachment{ID: "a1", Name: "x", Size: 600, Digest: "sha256:00"}
	evs, err := u.RecordUpload("r1", a, "", 1000, now)
	if err != nil || len(evs) != 1 {
		t.Fatalf("upload: %v %v", evs, err)
	}
	u.Apply(evs[0])
	if u.UploadUsage() != 600 {
		t.Fatalf("usage %d", u.UploadUsage())
	}
	if evs, err := u.RecordUpload("r1", a, "", 1000, now); err != nil || len(evs) != 0 {
		t.Fatalf("the same upload again: %v %v, want nothing", evs, err)
	}
	b := Attachment{ID: "a2", Size: 500, Digest: "sha256:01"}
	if _, err := u.RecordUpload("r1", b, "", 1000, now); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("over quota: %v", err)
	}
	if evs, err := u.RecordUpload("r1", b, "", 0, now); err != nil || len(evs) != 1 {
		t.Fatalf("no quota: %v %v", evs, err)
	}
	for _, bad := range []Attachment{{ID: "", Digest: "sha256:0"}, {ID: "x", Digest: "md5:0"}, {ID: "x", Size: -1, Digest: "sha256:0"}, {ID: strings.Repeat("x", 65), Digest: "sha256:0"}} {
		if _, err := u.RecordUpload("r1", bad, "", 0, now); KindOf(err) != KindInvalid {
			t.Errorf("%+v: %v, want invalid", bad, err)
		}
	}
	evs, _ = u.Discard("a1", now)
	u.Apply(evs[0])
	if _, ok := u.Upload("a1"); ok || u.UploadUsage() != 0 {
		t.Fatalf("after discard: usage %d", u.UploadUsage())
	}
	if evs, _ := u.Discard("a1", now); len(evs) != 0 {
		t.Fatal("discarded twice")
	}
}

func TestPostAndEditAttachments(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Room{}
	r.Apply(1, RoomCreated{RoomID: "r1", Kind: KindGroup, Name: "x", OwnerID: "o", Members: []UserID{"o"}, InviteCode: "c"})
	f1, f2 := Attachment{ID: "a1", Digest: "sha256:1"}, Attachment{ID: "a2", Digest: "sha256:2"}
	if _, err := r.PostFiles("o", "m0", "", 0, nil, nil, now); KindOf(err) != KindInvalid {
		t.Fatalf("empty post without files: %v", err)
	}
	if _, err := r.PostFiles("o", "m0", "", 0, nil, []Attachment{f1, f1}, now); KindOf(err) != KindInvalid {
		t.Fatalf("a file twice: %v", err)
	}
	many := make([]Attachment, MaxAttachments+1)
	for i := range many {
		many[i] = Attachment{ID: string(rune('a' + i))}
	}
	if _, err := r.PostFiles("o", "m0", "x", 0, nil, many, now); KindOf(err) != KindInvalid {
		t.Fatalf("too many files: %v", err)
	}
	evs, err := r.PostFiles("o", "m1", "", 0, nil, []Attachment{f1, f2}, now)
	if err != nil {
		t.Fatal(err)
	}
	r.Apply(2, evs[0])
	if _, err := r.PostFiles("o", "m2", "again", 0, nil, []Attachment{f2}, now); KindOf(err) != KindInvalid {
		t.Fatalf("a file on two messages: %v", err)
	}
	if _, err := r.EditFiles("o", 2, "", nil, []string{"zz"}, true, now); KindOf(err) != KindInvalid {
		t.Fatalf("keeping a file the message lacks: %v", err)
	}
	if _, err := r.EditFiles("o", 2, "", nil, []string{}, true, now); KindOf(err) != KindInvalid {
		t.Fatalf("empty text, no file left: %v", err)
	}
	evs, err = r.EditFiles("o", 2, "", nil, []string{"a2"}, true, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := evs[0].(MessageEdited).RemovedAttachments; len(got) != 1 || got[0] != "a1" {
		t.Fatalf("removed %v", got)
	}
	r.Apply(3, evs[0])
	if m := r.Messages[2]; len(m.Attachments) != 1 || m.Attachments[0] != "a2" {
		t.Fatalf("state %v", m.Attachments)
	}
	evs, err = r.Edit("o", 2, "text only", nil, now)
	if err != nil || len(evs[0].(MessageEdited).RemovedAttachments) != 0 {
		t.Fatalf("plain edit: %v %v", evs, err)
	}
}
