package turn

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

var loopbackAllowed = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// TestRelay relays datagrams between a pion client and a UDP peer, over
// both client transports.
func TestRelay(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			srv := startServer(t, Config{AllowPeers: loopbackAllowed})
			peer := startEchoPeer(t)
			user, pass := Credentials(testSecret, "alice", time.Now().Add(time.Hour))
			client := dialTURN(t, srv.Server, network, user, pass)

			relay := client.allocate(t)
			if got := srv.Allocations(); got != 1 {
				t.Fatalf("Allocations() = %d after one Allocate, want 1", got)
			}
			relayAddr := relay.LocalAddr().(*net.UDPAddr)
			if !relayAddr.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("relay address %s, want RelayIP 127.0.0.1 (the UDP listener's IP)", relayAddr)
			}

			// Enough messages that the client switches from Send
			// indications to ChannelData once its channel is bound.
			roundTrip(t, relay, peer.addr(), 20)
			if !peer.sawSource(relayAddr.String()) {
				t.Errorf("the peer never heard from the relay address %s: sources %v", relayAddr, peer.sourceList())
			}
			// The client binds a channel on its own goroutine while it goes on
			// with Send indications: the bind may finish after the last echo.
			waitFor(t, "a channel bound (else only Send indications were exercised)", func() bool {
				return srv.logHas("Binding channel")
			})

			if err := relay.Close(); err != nil {
				t.Fatalf("closing the relay: %v", err)
			}
			waitFor(t, "the allocation to be released", func() bool { return srv.Allocations() == 0 })
		})
	}
}

// TestRefusedCredentials checks that only unexpired usernames signed with
// the server's secret get an allocation, and that refusals say why.
func TestRefusedCredentials(t *testing.T) {
	srv := startServer(t, Config{AllowPeers: loopbackAllowed})
	hour := time.Now().Add(time.Hour)
	future := strconv.FormatInt(hour.Unix(), 10)
	// signed pairs a malformed username with its correct HMAC, so that only
	// its form can be the reason for refusing it.
	signed := func(username string) [2]string { return [2]string{username, sign(testSecret, username)} }
	pair := func(username, password string) [2]string { return [2]string{username, password} }
	cases := []struct {
		name  string
		creds [2]string
		inLog string // the reason the server must log
	}{
		{"expired", pair(Credentials(testSecret, "alice", time.Now().Add(-time.Second))), errExpired.Error()},
		{"wrong password", pair(mustUser(Credentials(testSecret, "alice", hour)), "d3Jvbmc="), "message integrity check failed"},
		{"other secret", pair(Credentials("other-secret", "alice", hour)), "message integrity check failed"},
		{"no expiry", signed("alice"), errMalformedUsername.Error()},
		{"no user id", signed(future + ":"), errMalformedUsername.Error()},
		{"expiry not a number", signed("soon:alice"), errMalformedUsername.Error()},
		{"signed expiry", signed("+" + future + ":alice"), errMalformedUsername.Error()},
		{"empty", signed(":"), errMalformedUsername.Error()},
	}
	for _, tc := range cases {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				user, pass := tc.creds[0], tc.creds[1]
				client := dialTURN(t, srv.Server, network, user, pass)
				relay, err := client.Allocate()
				if err == nil {
					relay.Close()
					t.Fatalf("Allocate as %q succeeded, want it refused", user)
				}
				// 401, with a realm and nonce to try other credentials
				// with (RFC 8489 section 9.2.4), not pion's 400.
				var terr *stun.TurnError
				if !errors.As(err, &terr) || terr.ErrorCodeAttr.Code != stun.CodeUnauthorized {
					t.Errorf("Allocate error = %v, want a 401 error response", err)
				}
				res := authenticatedRequest(t, client, user, pass, stun.MethodAllocate,
					stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}})
				var code stun.ErrorCodeAttribute
				var nonce stun.Nonce
				var realm stun.Realm
				if code.GetFrom(res) != nil || code.Code != stun.CodeUnauthorized || nonce.GetFrom(res) != nil ||
					realm.GetFrom(res) != nil || realm.String() != DefaultRealm || res.Contains(stun.AttrMessageIntegrity) {
					t.Errorf("answer %s %v: want 401 with REALM %q and a NONCE, without MESSAGE-INTEGRITY", res.Type, res, DefaultRealm)
				}
				if got := srv.Allocations(); got != 0 {
					t.Errorf("Allocations() = %d after a refused Allocate", got)
				}
				if !srv.logHas("level=DEBUG", "refused credentials", "username="+strconv.Quote(user), tc.inLog) &&
					!srv.logHas("level=DEBUG", "refused credentials", "username="+user+" ", tc.inLog) {
					t.Errorf("no debug log of the refusal of %q with reason %q", user, tc.inLog)
				}
			})
		}
	}
}

func mustUser(username, _ string) string { return username }

// TestRelayPolicy checks that by default the server opens no path to
// loopback, private or link-local peers, by CreatePermission, ChannelBind or
// a bare Send indication, while a public peer is allowed.
func TestRelayPolicy(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			srv := startServer(t, Config{}) // no AllowPeers
			peer := startEchoPeer(t)
			user, pass := Credentials(testSecret, "mallory", time.Now().Add(time.Hour))
			client := dialTURN(t, srv.Server, network, user, pass)
			relay := client.allocate(t)

			denied := []*net.UDPAddr{
				peer.addr(),
				{IP: net.IPv4(10, 0, 0, 1), Port: 9},
				{IP: net.IPv4(169, 254, 1, 1), Port: 9},
			}
			for _, addr := range denied {
				if err := client.CreatePermission(addr); err == nil {
					t.Errorf("CreatePermission(%s) succeeded, want it refused", addr)
				}
				if code := authenticatedCode(t, client, user, pass, stun.MethodCreatePermission, peerAddress{addr}); code != stun.CodeForbidden {
					t.Errorf("CreatePermission(%s) answered %v, want 403", addr, code)
				}
				if _, err := relay.WriteTo([]byte("hello"), addr); err == nil {
					t.Errorf("WriteTo(%s) through the relay succeeded, want it refused", addr)
				}
				if code := channelBind(t, client, user, pass, addr, 0x4000); code != stun.CodeForbidden {
					t.Errorf("ChannelBind(%s) answered %v, want 403", addr, code)
				}
				if !srv.logHas("level=DEBUG", "refused relay to peer", "peer="+addr.IP.String()) {
					t.Errorf("no debug log of the refused relay to %s", addr.IP)
				}
			}

			// The refusals are the policy's, not a broken permission path:
			// a public peer (TEST-NET-1; nothing is sent to it) is allowed.
			public := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9}
			if err := client.CreatePermission(public); err != nil {
				t.Errorf("CreatePermission(%s): %v", public, err)
			}
			if code := channelBind(t, client, user, pass, public, 0x4001); code != 0 {
				t.Errorf("ChannelBind(%s) answered %v, want success", public, code)
			}

			// A Send indication is not checked by the permission handler:
			// without a permission the server must drop it. Send one raw,
			// then a Binding request: the server handles a client's
			// messages in order, so once the Binding response is back the
			// indication has been handled and, had it been relayed, would
			// already sit in the peer's socket, ahead of a marker the test
			// sends straight to the peer now.
			sendIndication(t, client, peer.addr(), []byte("smuggled"))
			if _, err := client.SendBindingRequestTo(client.TURNServerAddr()); err != nil {
				t.Fatalf("Binding request: %v", err)
			}
			direct, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer direct.Close()
			if _, err := direct.WriteTo([]byte("marker"), peer.addr()); err != nil {
				t.Fatal(err)
			}
			select {
			case first := <-peer.first:
				if !bytes.Equal(first, []byte("marker")) {
					t.Errorf("the peer received %q through the relay", first)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the peer received nothing, not even the marker")
			}
		})
	}
}

// channelBind sends a ChannelBind request for peer on client's allocation
// and returns the error code of the answer, 0 for success.
func channelBind(t *testing.T, c *turnClient, user, pass string, peer *net.UDPAddr, channel uint16) stun.ErrorCode {
	t.Helper()
	return authenticatedCode(t, c, user, pass, stun.MethodChannelBind,
		peerAddress{peer},
		stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{byte(channel >> 8), byte(channel), 0, 0}},
	)
}

// authenticatedCode sends an authenticated request and returns the error
// code of the answer, 0 for success. An error answer must carry an
// ERROR-CODE, and MESSAGE-INTEGRITY that checks with the credentials.
func authenticatedCode(t *testing.T, c *turnClient, user, pass string, method stun.Method, attrs ...stun.Setter) stun.ErrorCode {
	t.Helper()
	res := authenticatedRequest(t, c, user, pass, method, attrs...)
	if res.Type.Class == stun.ClassSuccessResponse {
		return 0
	}
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(res); err != nil {
		t.Fatalf("%s answer %s has no ERROR-CODE: %v", method, res.Type, err)
	}
	if code.Code == stun.CodeForbidden {
		if err := stun.NewLongTermIntegrity(user, DefaultRealm, pass).Check(res); err != nil {
			t.Errorf("%s answer %d: MESSAGE-INTEGRITY: %v", method, code.Code, err)
		}
	}
	return code.Code
}

// authenticatedRequest does what pion's client does internally: send the
// request bare to learn the nonce and realm, then again with credentials.
func authenticatedRequest(t *testing.T, c *turnClient, user, pass string, method stun.Method, attrs ...stun.Setter) *stun.Message {
	t.Helper()
	request := func(extra ...stun.Setter) *stun.Message {
		setters := append([]stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}, attrs...)
		msg, err := stun.Build(append(setters, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.PerformTransaction(msg, c.TURNServerAddr(), false)
		if err != nil {
			t.Fatalf("%s request: %v", method, err)
		}
		return res.Msg
	}
	challenge := request()
	var nonce stun.Nonce
	var realm stun.Realm
	if err := nonce.GetFrom(challenge); err != nil {
		t.Fatalf("%s challenge %s has no NONCE: %v", method, challenge.Type, err)
	}
	if err := realm.GetFrom(challenge); err != nil {
		t.Fatalf("%s challenge has no REALM: %v", method, err)
	}
	return request(stun.NewUsername(user), realm, nonce,
		stun.NewLongTermIntegrity(user, realm.String(), pass), stun.Fingerprint)
}

// sendIndication sends a raw Send indication for peer: unlike the pion
// client's relay, it does not ask for a permission first.
func sendIndication(t *testing.T, c *turnClient, peer *net.UDPAddr, data []byte) {
	t.Helper()
	msg, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		peerAddress{peer}, stun.RawAttribute{Type: stun.AttrData, Value: data}, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo(msg.Raw, c.TURNServerAddr()); err != nil {
		t.Fatalf("Send indication: %v", err)
	}
}

// peerAddress is the XOR-PEER-ADDRESS attribute.
type peerAddress struct{ addr *net.UDPAddr }

func (p peerAddress) AddTo(m *stun.Message) error {
	return stun.XORMappedAddress{IP: p.addr.IP, Port: p.addr.Port}.AddToAs(m, stun.AttrXORPeerAddress)
}

// TestAllowPeersIsNarrow checks that AllowPeers opens only its ranges.
func TestAllowPeersIsNarrow(t *testing.T) {
	srv := startServer(t, Config{AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	user, pass := Credentials(testSecret, "alice", time.Now().Add(time.Hour))
	client := dialTURN(t, srv.Server, "udp", user, pass)
	client.allocate(t)
	if err := client.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); err != nil {
		t.Errorf("CreatePermission(127.0.0.1) with AllowPeers 127.0.0.1/32: %v", err)
	}
	if err := client.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9}); err == nil {
		t.Errorf("CreatePermission(127.0.0.2) succeeded with AllowPeers 127.0.0.1/32")
	}
}

// TestCloseFreesEverything closes a server under live allocations on both
// transports and checks that no goroutine, connection or allocation
// survives it.
func TestCloseFreesEverything(t *testing.T) {
	baseline := runtime.NumGoroutine()

	logs := &logBuffer{}
	srv, err := Start(Config{
		Secret:     testSecret,
		ListenUDP:  "127.0.0.1:0",
		ListenTCP:  "127.0.0.1:0",
		AllowPeers: loopbackAllowed,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: levelTrace})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	ts := testServer{Server: srv, log: logs}
	peer := startEchoPeer(t)
	user, pass := Credentials(testSecret, "alice", time.Now().Add(time.Hour))

	// Clients are closed by hand below, not in Cleanup, so that the
	// goroutine count can be checked within the test.
	var closers []func()
	for _, network := range []string{"udp", "tcp"} {
		c := dialTURN(t, ts.Server, network, user, pass)
		relay, err := c.Allocate()
		if err != nil {
			t.Fatalf("Allocate over %s: %v", network, err)
		}
		roundTrip(t, relay, peer.addr(), 3)
		closers = append(closers, func() { relay.Close(); c.Close(); c.conn.Close() })
	}
	// A TCP client that never authenticates: pion alone would keep its
	// connection, and the goroutine reading it, after Close.
	idle, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := bindingRequest(idle); err != nil {
		t.Fatalf("Binding request over TCP: %v", err)
	}
	if got := srv.Allocations(); got != 2 {
		t.Fatalf("Allocations() = %d, want 2", got)
	}

	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := srv.Allocations(); got != 0 {
		t.Errorf("Allocations() = %d after Close", got)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// The server hung up on the idle TCP client.
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("idle TCP connection after Close: read %d bytes, %v; want EOF", n, err)
	}
	// The listeners are gone.
	if c, err := net.Dial("tcp", srv.TCPAddr().String()); err == nil {
		c.Close()
		t.Errorf("TCP listener still accepts after Close")
	}

	for _, c := range closers {
		c()
	}
	peer.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after Close, %d before Start:\n%s", runtime.NumGoroutine(), baseline, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bindingRequest sends a STUN Binding request over a TCP connection and
// reads the answer.
func bindingRequest(conn net.Conn) (*stun.Message, error) {
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if _, err := conn.Write(req.Raw); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	res := &stun.Message{Raw: make([]byte, 20)}
	if _, err := io.ReadFull(conn, res.Raw); err != nil {
		return nil, err
	}
	length := int(res.Raw[2])<<8 | int(res.Raw[3])
	res.Raw = append(res.Raw, make([]byte, length)...)
	if _, err := io.ReadFull(conn, res.Raw[20:]); err != nil {
		return nil, err
	}
	return res, res.Decode()
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestSTUN answers a Binding request with the client's address.
func TestSTUN(t *testing.T) {
	srv := startServer(t, Config{})
	client := dialTURN(t, srv.Server, "udp", "", "")
	mapped, err := client.SendBindingRequest()
	if err != nil {
		t.Fatalf("Binding request: %v", err)
	}
	if mapped.String() != client.conn.LocalAddr().String() {
		t.Errorf("mapped address %s, want the client's %s", mapped, client.conn.LocalAddr())
	}
}

func TestICEServers(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	t.Run("both transports", func(t *testing.T) {
		srv := startServer(t, Config{CredentialTTL: time.Hour})
		udpPort := srv.UDPAddr().(*net.UDPAddr).Port
		tcpPort := srv.TCPAddr().(*net.TCPAddr).Port
		got := srv.ICEServers("alice", now)
		if len(got) != 2 {
			t.Fatalf("ICEServers = %+v, want a STUN and a TURN entry", got)
		}
		if want := []string{"stun:127.0.0.1:" + strconv.Itoa(udpPort)}; !equal(got[0].URLs, want) || got[0].Username != "" {
			t.Errorf("STUN entry %+v, want URLs %v and no credentials", got[0], want)
		}
		want := []string{
			"turn:127.0.0.1:" + strconv.Itoa(udpPort) + "?transport=udp",
			"turn:127.0.0.1:" + strconv.Itoa(tcpPort) + "?transport=tcp",
		}
		if !equal(got[1].URLs, want) {
			t.Errorf("TURN URLs %v, want %v", got[1].URLs, want)
		}
		wantUser, wantPass := Credentials(testSecret, "alice", now.Add(time.Hour))
		if got[1].Username != "1700003600:alice" || got[1].Username != wantUser || got[1].Credential != wantPass {
			t.Errorf("TURN credentials %q/%q, want %q/%q", got[1].Username, got[1].Credential, wantUser, wantPass)
		}
	})
	t.Run("tcp only, IPv6 public host", func(t *testing.T) {
		srv := startServer(t, Config{ListenTCP: "127.0.0.1:0", PublicHost: "2001:db8::1"})
		tcpPort := srv.TCPAddr().(*net.TCPAddr).Port
		got := srv.ICEServers("bob", now)
		want := []string{"turn:[2001:db8::1]:" + strconv.Itoa(tcpPort) + "?transport=tcp"}
		if len(got) != 1 || !equal(got[0].URLs, want) {
			t.Errorf("ICEServers = %+v, want one TURN entry with URLs %v", got, want)
		}
		if exp := now.Add(DefaultCredentialTTL).Unix(); got[0].Username != strconv.FormatInt(exp, 10)+":bob" {
			t.Errorf("username %q, want the default TTL's expiry %d", got[0].Username, exp)
		}
	})
	t.Run("credentials are accepted", func(t *testing.T) {
		srv := startServer(t, Config{})
		ice := srv.ICEServers("carol", time.Now())
		turnEntry := ice[len(ice)-1]
		client := dialTURN(t, srv.Server, "udp", turnEntry.Username, turnEntry.Credential)
		client.allocate(t)
	})
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestStartConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // in the error
	}{
		{"no secret", Config{ListenUDP: "127.0.0.1:0"}, "Secret is required"},
		{"no listener", Config{Secret: "s"}, "ListenUDP or ListenTCP is required"},
		{"no relay IP", Config{Secret: "s", ListenUDP: ":0"}, "RelayIP is required"},
		{"IPv6 relay IP", Config{Secret: "s", ListenUDP: "127.0.0.1:0", RelayIP: mustAddr("2001:db8::1")}, "not a usable IPv4 address"},
		{"IPv6 relay bind", Config{Secret: "s", ListenUDP: "127.0.0.1:0", RelayBind: "::"}, "RelayBind"},
		{"port range", Config{Secret: "s", ListenUDP: "127.0.0.1:0", MinPort: 50000, MaxPort: 40000}, "MinPort"},
		{"bad listen address", Config{Secret: "s", ListenUDP: "127.0.0.1:notaport"}, "turn: listen udp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := Start(tc.cfg)
			if err == nil {
				srv.Close()
				t.Fatalf("Start succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "turn: ") {
				t.Errorf("Start error %q, want it to start with \"turn: \" and contain %q", err, tc.want)
			}
		})
	}
}

// TestRelayPortRange checks that relays come from MinPort..MaxPort and
// carry the configured RelayIP.
func TestRelayPortRange(t *testing.T) {
	// Find a free range: the port of a just-closed socket and the next ones.
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lo := uint16(probe.LocalAddr().(*net.UDPAddr).Port)
	probe.Close()
	srv := startServer(t, Config{
		ListenUDP: "127.0.0.1:0", RelayIP: mustAddr("127.0.0.1"), RelayBind: "127.0.0.1",
		MinPort: lo, MaxPort: lo + 3, AllowPeers: loopbackAllowed,
	})
	peer := startEchoPeer(t)
	user, pass := Credentials(testSecret, "alice", time.Now().Add(time.Hour))
	client := dialTURN(t, srv.Server, "udp", user, pass)
	relay, err := client.Allocate()
	if err != nil {
		// Another process may have taken the whole range meanwhile; say so.
		t.Fatalf("Allocate with relay ports %d-%d: %v", lo, lo+3, err)
	}
	defer relay.Close()
	addr := relay.LocalAddr().(*net.UDPAddr)
	if addr.Port < int(lo) || addr.Port > int(lo)+3 || !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("relay address %s, want 127.0.0.1:%d-%d", addr, lo, lo+3)
	}
	roundTrip(t, relay, peer.addr(), 3)
}
