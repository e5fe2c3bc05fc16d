package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API scheme is defined with HMAC-SHA1
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	pionturn "github.com/pion/turn/v4"
)

// Credentials mints a TURN REST API credential pair for userID, valid until
// expires (rounded down to the second): the scheme coturn calls
// use-auth-secret. userID must not be empty, or the server refuses the pair.
func Credentials(secret, userID string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + userID
	return username, sign(secret, username)
}

// sign returns base64(HMAC-SHA1(secret, username)), the password of username.
func sign(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username)) // a hash.Hash never returns an error
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Why a username is refused; the messages go to the debug log.
var (
	errMalformedUsername = errors.New("malformed username, want <unix expiry>:<user id>")
	errExpired           = errors.New("credentials expired")
	errWrongRealm        = errors.New("wrong realm")
)

// parseUsername splits a TURN REST API username into its expiry and user ID.
func parseUsername(username string) (expires time.Time, userID string, err error) {
	stamp, userID, ok := strings.Cut(username, ":")
	if !ok || userID == "" || stamp == "" {
		return time.Time{}, "", errMalformedUsername
	}
	// ParseUint rather than Atoi: no sign, so "+1" and "-1" are malformed.
	unix, err := strconv.ParseUint(stamp, 10, 63)
	if err != nil {
		return time.Time{}, "", errMalformedUsername
	}
	return time.Unix(int64(unix), 0), userID, nil
}

// checkUsername tells whether the server accepts username in realm at now.
// It cannot check the password: TURN never sends it. The server instead
// derives the key from the password the username should have, and pion
// checks the request's MESSAGE-INTEGRITY with it.
func (s *Server) checkUsername(username, realm string, now time.Time) error {
	if realm != s.cfg.Realm {
		return errWrongRealm
	}
	expires, _, err := parseUsername(username)
	if err != nil {
		return err
	}
	if !now.Before(expires) {
		return errExpired
	}
	return nil
}

// authenticate is pion's AuthHandler: it returns the long-term credential
// key MD5(username:realm:password) for a valid username.
func (s *Server) authenticate(username, realm string, src net.Addr) (key []byte, ok bool) {
	if err := s.checkUsername(username, realm, time.Now()); err != nil {
		s.log.Debug("turn: refused credentials", "client", src, "username", username, "realm", realm, "reason", err)
		return nil, false
	}
	return pionturn.GenerateAuthKey(username, realm, sign(s.cfg.Secret, username)), true
}

// onAuth is pion's OnAuth event hook. The integrity check, hence a wrong
// password or secret, is only visible here.
func (s *Server) onAuth(src, _ net.Addr, protocol, username, realm, method string, verdict bool) {
	if !verdict {
		s.log.Debug("turn: refused credentials", "client", src, "transport", protocol,
			"username", username, "realm", realm, "method", method, "reason", "message integrity check failed")
	}
}
