package turn

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// coturnTool finds one of coturn's turnutils programs. scripts/test-deps
// installs them; in CI their absence is a failure, not a skip.
func coturnTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (install coturn: scripts/test-deps): %v", name, err)
		}
		t.Skipf("%s not found (install coturn: scripts/test-deps)", name)
	}
	return path
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago,
// for a program that cannot be told to pick its own.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestCoturnClient relays through the server with coturn's
// turnutils_uclient, an independent TURN implementation, to coturn's
// turnutils_peer, an echo peer, and checks that every message came back;
// and that without AllowPeers the same run gets nothing through.
func TestCoturnClient(t *testing.T) {
	const messages, clients = 20, 2
	for _, tc := range []struct {
		name      string
		transport string
		allow     []netip.Prefix
	}{
		{"udp", "udp", loopbackAllowed},
		{"tcp", "tcp", loopbackAllowed},
		{"refused peer", "udp", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// uclient spends most of its run waiting: run the cases side
			// by side (each has its own server and peer).
			t.Parallel()
			srv := startServer(t, Config{AllowPeers: tc.allow})
			out, report, err := runUclient(t, srv.Server, tc.transport, messages, clients)
			if tc.allow == nil {
				// uclient gives up (exit 255) when its ChannelBind is
				// refused; if it ever ran on, nothing may have come back.
				if err == nil && parseUclient(t, out, report).received != 0 {
					t.Fatalf("messages came back through a relay to a loopback peer without AllowPeers:\n%s", report)
				}
				// pion logs these when it opens a path to a peer.
				if srv.logHas("Adding permission for") || srv.logHas("Binding channel") {
					t.Fatalf("the server opened a path to a loopback peer without AllowPeers:\n%s", report)
				}
				if !srv.logHas("refused relay to peer", "peer=127.0.0.1") {
					t.Errorf("the server did not refuse the relay to 127.0.0.1:\n%s", report)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s", report)
			}
			got := parseUclient(t, out, report)
			if got.sent != messages*clients || got.received != got.sent || got.lost != 0 || got.dropped != 0 || got.lossPercent != "0.000000" {
				t.Fatalf("sent %d (want %d), received %d, lost %d (%s%%), send dropped %d; want no loss:\n%s",
					got.sent, messages*clients, got.received, got.lost, got.lossPercent, got.dropped, report)
			}
			// The messages really took our relays: one allocation per
			// client, plus the RTCP allocations uclient makes by default.
			if n := strings.Count(srv.log.String(), "Listening on relay address"); n < clients {
				t.Errorf("%d relay allocations for %d clients:\n%s", n, clients, report)
			}
		})
	}
}

// TestCoturnClientErrorCodes checks the error codes coturn's client gets:
// 401 Unauthorized for credentials signed with another secret or expired
// (RFC 8489 section 9.2.4, as coturn answers), and 403 Forbidden for a
// peer the relay policy refuses (RFC 8656, on receiving CreatePermission
// and ChannelBind).
//
// A 401 carries REALM and NONCE, as the RFC wants, so uclient takes it for
// a challenge and tries again, with the same credentials, until it gives
// up ("Cannot complete Allocation"); it prints the code of other errors
// and stops at once ("error 400 ()" before the server corrected pion's
// answers). So for credentials the test wants uclient to give up on its
// own without printing any error code, and the server to have answered
// 401.
func TestCoturnClientErrorCodes(t *testing.T) {
	const gaveUp = "Cannot complete Allocation"
	for _, tc := range []struct {
		name, transport, secret string
		expiry                  time.Duration // of uclient's credentials; 0: uclient mints them
		want, wantLog           string        // in uclient's output, in the server's log
	}{
		{"other secret/udp", "udp", "other-secret", 0, gaveUp, "code=401"},
		{"other secret/tcp", "tcp", "other-secret", 0, gaveUp, "code=401"},
		{"expired/udp", "udp", testSecret, -time.Hour, gaveUp, "code=401"},
		{"refused peer/udp", "udp", testSecret, 0, "channel bind: error 403 (Forbidden)", "code=403"},
		{"refused peer/tcp", "tcp", testSecret, 0, "channel bind: error 403 (Forbidden)", "code=403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Config{}) // loopback peers refused
			out, report, err := runUclientAs(t, srv.Server, tc.transport, tc.secret, tc.expiry, 5, 1)
			if err == nil {
				t.Errorf("turnutils_uclient succeeded, want it refused:\n%s", report)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("turnutils_uclient's output has no %q:\n%s", tc.want, report)
			}
			if tc.want == gaveUp && strings.Contains(string(out), "error 4") {
				t.Errorf("turnutils_uclient got an error code other than 401:\n%s", report)
			}
			if !srv.logHas("answered an error", tc.wantLog) {
				t.Errorf("the server did not answer %s:\n%s", tc.wantLog, report)
			}
		})
	}
}

// runUclient runs turnutils_uclient against srv over transport, relaying to
// a turnutils_peer on loopback. It returns uclient's output and exit error,
// and a report of both programs' output for failure messages.
func runUclient(t *testing.T, srv *Server, transport string, messages, clients int) (out []byte, report string, err error) {
	return runUclientAs(t, srv, transport, testSecret, 0, messages, clients)
}

// runUclientAs is runUclient with credentials signed with secret. With
// expiry 0 uclient mints them itself (-W, the TURN REST API); otherwise it
// is given a pair that expires after expiry from now (negative: expired).
func runUclientAs(t *testing.T, srv *Server, transport, secret string, expiry time.Duration, messages, clients int) (out []byte, report string, err error) {
	t.Helper()
	uclient := coturnTool(t, "turnutils_uclient")
	peerBin := coturnTool(t, "turnutils_peer")

	peerPort, peerOut := startUDPPeer(t, peerBin)

	var server net.Addr = srv.UDPAddr()
	args := []string{"-W", secret, "-u", "uclient"} // TURN REST API credentials
	if expiry != 0 {
		user, pass := Credentials(secret, "uclient", time.Now().Add(expiry))
		args = []string{"-u", user, "-w", pass}
	}
	args = append(args,
		"-e", "127.0.0.1", "-r", strconv.Itoa(peerPort), // the peer
		"-n", strconv.Itoa(messages), "-m", strconv.Itoa(clients),
		"-z", "5", // ms between messages, to keep the run short
		"-X", // ask for an IPv4 relay, the only kind pion has
		"-v",
	)
	if transport == "tcp" {
		args = append(args, "-t")
		server = srv.TCPAddr()
	}
	host, port, err := net.SplitHostPort(server.String())
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "-p", port, host)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err = exec.CommandContext(ctx, uclient, args...).CombinedOutput()
	report = fmt.Sprintf("turnutils_uclient %s (exit: %v):\n%s\nturnutils_peer output:\n%s",
		strings.Join(args, " "), err, out, peerOut.String())
	if err != nil && ctx.Err() != nil {
		t.Fatalf("turnutils_uclient did not finish in time: %s", report)
	}
	return out, report, err
}

// startUDPPeer starts a turnutils_peer, an echo peer, on a free loopback
// port and waits until it echoes. The port is free when chosen but may be
// taken before the peer binds it (other tests run beside): then it tries
// another one.
func startUDPPeer(t *testing.T, peerBin string) (int, *logBuffer) {
	t.Helper()
	var last string
	for range 5 {
		port := freeUDPPort(t)
		out := &logBuffer{}
		peer := exec.Command(peerBin, "-L", "127.0.0.1", "-p", strconv.Itoa(port))
		peer.Stdout, peer.Stderr = out, out
		if err := peer.Start(); err != nil {
			t.Fatalf("start turnutils_peer: %v", err)
		}
		t.Cleanup(func() {
			peer.Process.Kill()
			peer.Wait()
		})
		if echoes(port, 10*time.Second, func() bool { return strings.Contains(out.String(), "Address already in use") }) {
			return port, out
		}
		last = fmt.Sprintf("turnutils_peer on port %d never echoed; its output:\n%s", port, out.String())
		peer.Process.Kill()
	}
	t.Fatal(last)
	return 0, nil
}

// echoes reports whether something on loopback port echoes a datagram
// within d, giving up early once failed says so.
func echoes(port int, d time.Duration, failed func() bool) bool {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return false
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	buf := make([]byte, 64)
	for deadline := time.Now().Add(d); time.Now().Before(deadline) && !failed(); {
		c.WriteTo([]byte("ping"), to)
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := c.ReadFrom(buf); err == nil && bytes.Equal(buf[:n], []byte("ping")) {
			return true
		}
	}
	return false
}

// The summary turnutils_uclient prints at the end of a run, e.g.
//
//	start_mclient: tot_send_msgs=40, tot_recv_msgs=40
//	Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
var (
	uclientTotals = regexp.MustCompile(`start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)`)
	uclientLoss   = regexp.MustCompile(`Total lost packets (\d+) \(([0-9.]+)%\), total send dropped (\d+)`)
)

// uclientResult is turnutils_uclient's summary.
type uclientResult struct {
	sent, received, lost, dropped int
	lossPercent                   string
}

func parseUclient(t *testing.T, out []byte, report string) uclientResult {
	t.Helper()
	totals := uclientTotals.FindSubmatch(out)
	loss := uclientLoss.FindSubmatch(out)
	if totals == nil || loss == nil {
		t.Fatalf("no summary in the output of %s", report)
	}
	atoi := func(b []byte) int {
		n, err := strconv.Atoi(string(b))
		if err != nil {
			t.Fatalf("parse %q: %v\n%s", b, err, report)
		}
		return n
	}
	return uclientResult{
		sent: atoi(totals[1]), received: atoi(totals[2]),
		lost: atoi(loss[1]), lossPercent: string(loss[2]), dropped: atoi(loss[3]),
	}
}
