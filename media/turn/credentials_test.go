package turn

import (
	"errors"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"
)

func TestCredentials(t *testing.T) {
	// Computed independently:
	//   printf 1700000000:alice | openssl dgst -sha1 -hmac test-secret -binary | base64
	user, pass := Credentials("test-secret", "alice", time.Unix(1_700_000_000, 999_000_000))
	if user != "1700000000:alice" || pass != "RWcENWOonFtFc5brOGv0s1jhDhE=" {
		t.Errorf("Credentials = %q, %q; want 1700000000:alice, RWcENWOonFtFc5brOGv0s1jhDhE=", user, pass)
	}
}

// TestCredentialsMatchPion checks the scheme against pion's own generator
// for TURN REST API credentials.
func TestCredentialsMatchPion(t *testing.T) {
	pionUser, pionPass, err := pionturn.GenerateLongTermTURNRESTCredentials("s3cret", "bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expires, userID, err := parseUsername(pionUser)
	if err != nil {
		t.Fatalf("parseUsername(%q): %v", pionUser, err)
	}
	user, pass := Credentials("s3cret", userID, expires)
	if user != pionUser || pass != pionPass {
		t.Errorf("Credentials = %q, %q; pion made %q, %q", user, pass, pionUser, pionPass)
	}
}

func TestCheckUsername(t *testing.T) {
	srv := &Server{cfg: Config{Realm: "confab"}}
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		username, realm string
		want            error
	}{
		{"1700000001:alice", "confab", nil},
		{"1700000001:a:b", "confab", nil}, // the user ID is everything after the first colon
		{"1700000000:alice", "confab", errExpired},
		{"1699999999:alice", "confab", errExpired},
		{"0:alice", "confab", errExpired},
		{"1700000001:alice", "other", errWrongRealm},
		{"1700000001:", "confab", errMalformedUsername},
		{":alice", "confab", errMalformedUsername},
		{"alice", "confab", errMalformedUsername},
		{"1700000001", "confab", errMalformedUsername},
		{"-1700000001:alice", "confab", errMalformedUsername},
		{"+1700000001:alice", "confab", errMalformedUsername},
		{" 1700000001:alice", "confab", errMalformedUsername},
		{"0x65:alice", "confab", errMalformedUsername},
		{"99999999999999999999:alice", "confab", errMalformedUsername}, // overflows int64
		{"", "confab", errMalformedUsername},
	}
	for _, tc := range cases {
		if got := srv.checkUsername(tc.username, tc.realm, now); !errors.Is(got, tc.want) {
			t.Errorf("checkUsername(%q, %q) = %v, want %v", tc.username, tc.realm, got, tc.want)
		}
	}
}

// TestAuthenticateKey checks that the key handed to pion is the long-term
// key of the username's HMAC password, and that refusals give no key.
func TestAuthenticateKey(t *testing.T) {
	srv := &Server{cfg: Config{Realm: "confab", Secret: "s3cret"}, log: quietLogger()}
	user, pass := Credentials("s3cret", "alice", time.Now().Add(time.Minute))
	key, ok := srv.authenticate(user, "confab", nil)
	if want := pionturn.GenerateAuthKey(user, "confab", pass); !ok || string(key) != string(want) {
		t.Errorf("authenticate(%q) = %x, %v; want %x, true", user, key, ok, want)
	}
	expired, _ := Credentials("s3cret", "alice", time.Now().Add(-time.Minute))
	if key, ok := srv.authenticate(expired, "confab", nil); ok || key != nil {
		t.Errorf("authenticate(%q) = %x, %v; want a refusal", expired, key, ok)
	}
	if key, ok := srv.authenticate(user, "other-realm", nil); ok || key != nil {
		t.Errorf("authenticate in another realm = %x, %v; want a refusal", key, ok)
	}
}
