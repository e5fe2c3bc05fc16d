package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v3"
	pionturn "github.com/pion/turn/v4"
)

// pion/turn v4.1.4 answers two kinds of refusal with error codes clients
// misread, and has no hook to choose them (its AuthHandler and
// PermissionHandler return a bool; internal/server builds the answers):
//
//   - credentials it refuses (the AuthHandler says no, or the
//     MESSAGE-INTEGRITY check fails) get 400 Bad Request. RFC 8489
//     section 9.2.4 (and coturn) answer 401 Unauthorized with REALM and
//     NONCE, which tells a client its credentials are bad rather than its
//     request malformed;
//   - a peer the PermissionHandler refuses gets, on ChannelBind, 401
//     Unauthorized, which makes clients authenticate again and again, and
//     on CreatePermission an error response without any ERROR-CODE. RFC
//     8656 (receiving a CreatePermission or ChannelBind request) says
//     "403 (Forbidden)".
//
// So the server corrects these answers on their way out. Each socket pion
// is handed remembers the last authenticated request it read (a
// requestSlot: pion handles one request at a time per socket, the UDP
// socket and each TCP connection, and answers it before it reads the
// next), and rewrites an error response to that request when the request
// explains it: its credentials fail the same check pion made, or it names
// a peer the relay policy refuses. Any other answer, and everything that
// is not an error response (relayed data included), passes untouched.

// fixedMethods are the authenticated requests whose error answers may
// need fixing.
var fixedMethods = map[stun.Method]bool{
	stun.MethodAllocate:         true,
	stun.MethodRefresh:          true,
	stun.MethodCreatePermission: true,
	stun.MethodChannelBind:      true,
}

// maxRequest bounds the requests a slot keeps: pion drops datagrams and
// frames of its inbound MTU (1600 bytes) or more unread.
const maxRequest = 1600

// request is an authenticated request read from a client.
type request struct {
	from string // the client's address; "" on a TCP connection, which has one client
	id   [stun.TransactionIDSize]byte
	msg  *stun.Message // only the socket's read goroutine touches it
}

// requestSlot holds the last authenticated request a socket read.
type requestSlot struct {
	s    *Server
	last atomic.Pointer[request]
}

// observe notes a datagram or frame read from client from (nil on TCP):
// an authenticated request of fixedMethods replaces the last one, any
// other request clears it.
func (r *requestSlot) observe(from net.Addr, b []byte) {
	class, method, ok := stunType(b)
	if !ok || class != stun.ClassRequest {
		return // ChannelData, indications: not answered
	}
	if !fixedMethods[method] || len(b) >= maxRequest {
		r.last.Store(nil)
		return
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if m.Decode() != nil || !m.Contains(stun.AttrMessageIntegrity) {
		r.last.Store(nil) // unauthenticated: pion challenges it with 401 itself
		return
	}
	r.last.Store(&request{from: addrKey(from), id: m.TransactionID, msg: m})
}

// fix returns the answer to send instead of b, to client to (nil on TCP),
// or nil to send b as it is.
func (r *requestSlot) fix(to net.Addr, b []byte) []byte {
	class, _, ok := stunType(b)
	if !ok || class != stun.ClassErrorResponse {
		return nil
	}
	req := r.last.Load()
	if req == nil || req.from != addrKey(to) || [stun.TransactionIDSize]byte(b[8:20]) != req.id {
		return nil
	}
	r.last.CompareAndSwap(req, nil) // one answer per request
	res := &stun.Message{Raw: append([]byte(nil), b...)}
	if res.Decode() != nil {
		return nil
	}
	fixed := r.s.fixAnswer(req.msg, res, time.Now())
	if fixed == nil {
		return nil
	}
	var code stun.ErrorCodeAttribute
	_ = code.GetFrom(fixed)
	r.s.log.Debug("turn: answered an error", "client", to, "method", req.msg.Type.Method, "code", int(code.Code))
	return fixed.Raw
}

// fixAnswer returns what the server should have answered to req instead
// of res, an error response pion built, or nil if res is right.
func (s *Server) fixAnswer(req, res *stun.Message, now time.Time) *stun.Message {
	if res.Type.Method != req.Type.Method {
		return nil
	}
	var code stun.ErrorCodeAttribute
	hasCode := code.GetFrom(res) == nil
	key, err := s.requestKey(req, now)
	switch {
	case err != nil && hasCode && code.Code == stun.CodeBadRequest:
		// pion refused the credentials: say so, with a nonce to try
		// other ones with (the request's, which pion checked already).
		setters := []stun.Setter{stun.CodeUnauthorized, stun.NewRealm(s.cfg.Realm)}
		var nonce stun.Nonce
		if nonce.GetFrom(req) == nil {
			setters = append(setters, nonce)
		}
		return s.errorAnswer(req, setters...)
	case err != nil:
		return nil
	case req.Type.Method != stun.MethodCreatePermission && req.Type.Method != stun.MethodChannelBind:
		return nil
	case (!hasCode || code.Code == stun.CodeUnauthorized) && s.refusesPeer(req):
		return s.errorAnswer(req, stun.CodeForbidden, stun.MessageIntegrity(key))
	case !hasCode:
		// pion's answer to a CreatePermission whose XOR-PEER-ADDRESS it
		// could not parse.
		return s.errorAnswer(req, stun.CodeBadRequest, stun.MessageIntegrity(key))
	}
	return nil
}

// requestKey returns the long-term credential key of an authenticated
// request, or an error if the server refuses its credentials: the checks
// of authenticate, then the MESSAGE-INTEGRITY check pion makes.
func (s *Server) requestKey(req *stun.Message, now time.Time) ([]byte, error) {
	var username stun.Username
	var realm stun.Realm
	if err := username.GetFrom(req); err != nil {
		return nil, err
	}
	if err := realm.GetFrom(req); err != nil {
		return nil, err
	}
	if err := s.checkUsername(username.String(), realm.String(), now); err != nil {
		return nil, err
	}
	key := pionturn.GenerateAuthKey(username.String(), realm.String(), sign(s.cfg.Secret, username.String()))
	if err := stun.MessageIntegrity(key).Check(req); err != nil {
		return nil, err
	}
	return key, nil
}

// refusesPeer reports whether the relay policy refuses a peer of req.
func (s *Server) refusesPeer(req *stun.Message) bool {
	refused := false
	_ = req.ForEach(stun.AttrXORPeerAddress, func(m *stun.Message) error {
		var peer stun.XORMappedAddress
		if err := peer.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
			return err
		}
		ip, _ := netip.AddrFromSlice(peer.IP)
		if s.policy.check(ip) != "" {
			refused = true
		}
		return nil
	})
	return refused
}

// errorAnswer builds an error response to req with attrs.
func (s *Server) errorAnswer(req *stun.Message, attrs ...stun.Setter) *stun.Message {
	setters := append([]stun.Setter{&stun.Message{TransactionID: req.TransactionID},
		stun.NewType(req.Type.Method, stun.ClassErrorResponse)}, attrs...)
	m, err := stun.Build(setters...)
	if err != nil {
		s.log.Warn("turn: cannot build an error response", "method", req.Type.Method, "err", err)
		return nil
	}
	return m
}

// stunType returns the class and method of a STUN message in b; ok is
// false when b is not one (ChannelData, garbage).
func stunType(b []byte) (stun.MessageClass, stun.Method, bool) {
	if !stun.IsMessage(b) {
		return 0, 0, false
	}
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(b[0:2]))
	return t.Class, t.Method, true
}

// addrKey names a client address; "" for none.
func addrKey(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// frameScanner finds the STUN messages in a TURN-over-TCP byte stream
// (RFC 8656: STUN messages and ChannelData messages, the latter padded
// to a multiple of four), as pion's STUNConn frames it, and hands each
// STUN message of fewer than maxRequest bytes to observe (a requestSlot's,
// which keeps the requests). It reads nothing itself: it looks at the
// bytes pion reads.
type frameScanner struct {
	observe func(msg []byte)
	head    []byte // the frame being read, while it may be a request to keep
	skip    int    // bytes of the current frame still to pass over
	lost    bool   // the stream is not TURN: pion closes the connection
}

// scan looks at the next bytes of the stream.
func (f *frameScanner) scan(b []byte) {
	for len(b) > 0 && !f.lost {
		if f.skip > 0 {
			n := min(f.skip, len(b))
			f.skip, b = f.skip-n, b[n:]
			continue
		}
		// Up to the four bytes that give the frame's kind and length.
		if len(f.head) < 4 {
			n := min(4-len(f.head), len(b))
			f.head, b = append(f.head, b[:n]...), b[n:]
			if len(f.head) < 4 {
				return
			}
		}
		size, isSTUN := frameSize(f.head)
		switch {
		case size < 0:
			f.lost = true
		case !isSTUN || size >= maxRequest:
			f.skip, f.head = size-len(f.head), f.head[:0]
		case len(f.head) < size:
			n := min(size-len(f.head), len(b))
			f.head, b = append(f.head, b[:n]...), b[n:]
		}
		if isSTUN && size > 0 && size < maxRequest && len(f.head) == size {
			f.observe(f.head)
			f.head = f.head[:0]
		}
	}
}

// frameSize returns the size of the frame that starts with head (at least
// four bytes): a STUN message (first two bits 00) or ChannelData (01),
// or -1 for neither.
func frameSize(head []byte) (size int, isSTUN bool) {
	length := int(binary.BigEndian.Uint16(head[2:4]))
	switch head[0] >> 6 {
	case 0:
		return 20 + length, true
	case 1:
		return 4 + (length+3)&^3, false
	}
	return -1, false
}
