package turn

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// TestFrameScannerFindsRequests feeds a TURN-over-TCP stream to the
// scanner in pieces of every size and checks that it finds every STUN
// message, whatever the piece boundaries, and that the slot keeps only
// the authenticated requests.
func TestFrameScannerFindsRequests(t *testing.T) {
	user, pass := Credentials(testSecret, "alice", time.Now().Add(time.Hour))
	request := func(method stun.Method) *stun.Message {
		return stun.MustBuild(stun.TransactionID, stun.NewType(method, stun.ClassRequest),
			stun.NewUsername(user), stun.NewRealm(DefaultRealm), stun.NewNonce("n"),
			stun.NewLongTermIntegrity(user, DefaultRealm, pass), stun.Fingerprint)
	}
	bind := request(stun.MethodChannelBind)
	perm := request(stun.MethodCreatePermission)
	binding := stun.MustBuild(stun.TransactionID, stun.BindingRequest)    // not kept: not authenticated
	channelData := []byte{0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0} // 5 bytes, padded to 8
	var stream []byte
	for _, b := range [][]byte{channelData, bind.Raw, channelData, channelData, perm.Raw, binding.Raw} {
		stream = append(stream, b...)
	}
	want := [][]byte{bind.Raw, perm.Raw, binding.Raw}
	for piece := 1; piece <= len(stream); piece++ {
		var got [][]byte
		scan := frameScanner{observe: func(msg []byte) { got = append(got, append([]byte(nil), msg...)) }}
		for rest := stream; len(rest) > 0; {
			n := min(piece, len(rest))
			scan.scan(rest[:n])
			rest = rest[n:]
		}
		if len(got) != len(want) || scan.lost {
			t.Fatalf("pieces of %d bytes: %d STUN messages (lost %v), want %d", piece, len(got), scan.lost, len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("pieces of %d bytes: message %d is %x, want %x", piece, i, got[i], want[i])
			}
		}
	}

	// The slot keeps the authenticated requests only.
	slot := &requestSlot{}
	slot.observe(nil, bind.Raw)
	if r := slot.last.Load(); r == nil || r.id != bind.TransactionID {
		t.Error("the slot did not keep an authenticated ChannelBind")
	}
	slot.observe(nil, binding.Raw)
	if slot.last.Load() != nil {
		t.Error("a Binding request did not clear the slot")
	}

	scan := frameScanner{observe: func([]byte) {}}
	scan.scan([]byte{0xc0, 0, 0, 0}) // neither STUN nor ChannelData
	if !scan.lost {
		t.Error("the scanner followed a stream that is not TURN")
	}
}

// TestFixAnswer checks which of pion's error answers the server corrects.
func TestFixAnswer(t *testing.T) {
	srv := startServer(t, Config{}) // loopback and private peers refused
	hour := time.Now().Add(time.Hour)
	user, pass := Credentials(testSecret, "alice", hour)
	otherUser, otherPass := Credentials("other-secret", "alice", hour)
	peer := func(ip string) stun.Setter {
		return peerAddress{&net.UDPAddr{IP: net.ParseIP(ip), Port: 9}}
	}
	req := func(method stun.Method, user, pass string, attrs ...stun.Setter) *stun.Message {
		setters := append([]stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}, attrs...)
		setters = append(setters, stun.NewUsername(user), stun.NewRealm(DefaultRealm), stun.NewNonce("nonce"),
			stun.NewLongTermIntegrity(user, DefaultRealm, pass))
		return stun.MustBuild(setters...)
	}
	answer := func(r *stun.Message, attrs ...stun.Setter) *stun.Message {
		return stun.MustBuild(append([]stun.Setter{&stun.Message{TransactionID: r.TransactionID},
			stun.NewType(r.Type.Method, stun.ClassErrorResponse)}, attrs...)...)
	}
	for _, tc := range []struct {
		name string
		req  *stun.Message
		res  func(*stun.Message) *stun.Message
		want stun.ErrorCode // 0: left as it is
	}{
		{"bad credentials", req(stun.MethodAllocate, otherUser, otherPass),
			func(r *stun.Message) *stun.Message { return answer(r, stun.CodeBadRequest) }, stun.CodeUnauthorized},
		{"malformed request, good credentials", req(stun.MethodAllocate, user, pass),
			func(r *stun.Message) *stun.Message { return answer(r, stun.CodeBadRequest) }, 0},
		{"quota", req(stun.MethodAllocate, otherUser, otherPass),
			func(r *stun.Message) *stun.Message { return answer(r, stun.CodeAllocQuotaReached) }, 0},
		{"refused peer, ChannelBind", req(stun.MethodChannelBind, user, pass, peer("10.0.0.1")),
			func(r *stun.Message) *stun.Message { return answer(r, stun.CodeUnauthorized) }, stun.CodeForbidden},
		{"refused peer, CreatePermission", req(stun.MethodCreatePermission, user, pass, peer("192.0.2.1"), peer("127.0.0.1")),
			func(r *stun.Message) *stun.Message { return answer(r) }, stun.CodeForbidden},
		{"unparsable peer, CreatePermission", req(stun.MethodCreatePermission, user, pass),
			func(r *stun.Message) *stun.Message { return answer(r) }, stun.CodeBadRequest},
		{"public peer, ChannelBind in use", req(stun.MethodChannelBind, user, pass, peer("192.0.2.1")),
			func(r *stun.Message) *stun.Message { return answer(r, stun.CodeBadRequest) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := append([]byte(nil), tc.req.Raw...)
			fixed := srv.fixAnswer(tc.req, tc.res(tc.req), time.Now())
			if !bytes.Equal(raw, tc.req.Raw) {
				t.Fatal("fixAnswer changed the request")
			}
			if tc.want == 0 {
				if fixed != nil {
					t.Fatalf("fixAnswer = %v, want pion's answer kept", fixed)
				}
				return
			}
			var code stun.ErrorCodeAttribute
			if fixed == nil || code.GetFrom(fixed) != nil || code.Code != tc.want || fixed.TransactionID != tc.req.TransactionID {
				t.Fatalf("fixAnswer = %v, want %d to the same transaction", fixed, tc.want)
			}
		})
	}
}
