package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/gorilla/websocket"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// (and its key) into dir, and returns the files and a pool trusting it.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, pool *x509.CertPool, serial *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "confab test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, serial
}

// TestServeTLS serves HTTPS from certificate files and uses it as a
// client would: REST over HTTP/2, a WebSocket over wss://, Secure cookies.
func TestServeTLS(t *testing.T) {
	ctx := testCtx(t)
	certFile, keyFile, pool, _ := selfSigned(t, t.TempDir(), "server")
	addr, stop := startServe(t, "--data", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	defer stop()
	base := "https://" + addr
	// Separate configs: the HTTP/2 transport adds "h2" to its config's
	// protocols, which a WebSocket handshake must not offer.
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}

	// Sign-up over HTTPS sets a Secure cookie, without --secure-cookies.
	resp, err := httpClient.Post(base+"/api/v1/auth/signup", "application/json", strings.NewReader(`{"username":"alice","password":"correct horse"}`))
	if err != nil {
		t.Fatalf("sign-up over HTTPS: %v", err)
	}
	var signed struct {
		User  apitest.User `json:"user"`
		Token string       `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&signed)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || signed.Token == "" {
		t.Fatalf("sign-up: %s %v", resp.Status, err)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("REST over %s, want HTTP/2", resp.Proto)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("Strict-Transport-Security %q over HTTPS, want max-age=...", h)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "confab_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly {
		t.Errorf("session cookie %v: want Secure and HttpOnly when serving HTTPS", cookie)
	}

	alice := apitest.New(base)
	alice.HTTP, alice.Token, alice.User = httpClient, signed.Token, signed.User
	room, err := alice.CreateRoom(ctx, "tls")
	if err != nil {
		t.Fatal(err)
	}

	// The WebSocket over wss://: ready, subscribe, send, the event back.
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := dialer.DialContext(ctx, "wss://"+addr+"/api/v1/ws", http.Header{"Authorization": {"Bearer " + signed.Token}})
	if err != nil {
		t.Fatalf("wss:// dial: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	next := func() apitest.Frame {
		t.Helper()
		var f apitest.Frame
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("reading a frame over wss://: %v", err)
		}
		return f
	}
	if f := next(); f.Type() != "ready" {
		t.Fatalf("first frame %v, want ready", f)
	}
	conn.WriteJSON(map[string]any{"type": "subscribe", "id": "s", "room_id": room.ID, "after_seq": 0})
	conn.WriteJSON(map[string]any{"type": "send", "id": "m", "room_id": room.ID, "client_msg_id": "1", "text": "over TLS"})
	var gotAck, gotEvent bool
	for !gotAck || !gotEvent {
		f := next()
		switch {
		case f.Type() == "ack" && f.Str("id") == "m":
			gotAck = true
		case f.Type() == "event" && f.Data().Str("text") == "over TLS":
			gotEvent = true
		case f.Type() == "error":
			t.Fatalf("error frame %v", f)
		}
	}

	// Plain HTTP on the HTTPS port is refused; so is a client that does
	// not trust the certificate.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP on the HTTPS listener answered 200")
		}
	}
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/healthz"); err == nil {
		t.Error("a client that does not trust the certificate connected")
	}
}

// TestCertFilesReload replaces the certificate files under a running
// certFiles: the new certificate is served; a broken one is not, the old
// one stays.
func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _, serial1 := selfSigned(t, dir, "a")
	logs := &lockedBuffer{}
	f, err := newCertFiles(certFile, keyFile, 0, slogTo(logs))
	if err != nil {
		t.Fatal(err)
	}
	servedSerial := func() *big.Int {
		t.Helper()
		c, err := f.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber
	}
	if got := servedSerial(); got.Cmp(serial1) != 0 {
		t.Fatalf("serving serial %v, want %v", got, serial1)
	}
	// Renewed: new files over the old ones.
	newCert, newKey, _, serial2 := selfSigned(t, dir, "b")
	later := time.Now().Add(time.Minute)
	for _, mv := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(mv[1], later, later)
	}
	if got := servedSerial(); got.Cmp(serial2) != 0 {
		t.Fatalf("after renewal serving serial %v, want the new %v", got, serial2)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("no log of the reload: %s", logs)
	}
	// Half-written: the served certificate stays.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	later = later.Add(time.Minute)
	os.Chtimes(certFile, later, later)
	if got := servedSerial(); got.Cmp(serial2) != 0 {
		t.Fatalf("after a broken write serving serial %v, want still %v", got, serial2)
	}
	if !strings.Contains(logs.String(), "keeping the loaded one") {
		t.Errorf("no warning about the broken file: %s", logs)
	}
	if _, err := newCertFiles(filepath.Join(dir, "missing.crt"), keyFile, 0, slogTo(logs)); err == nil {
		t.Error("newCertFiles accepted a missing file")
	}
}

func TestServeTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _, _ := selfSigned(t, dir, "x")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", certFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-key", keyFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--acme-domain", "chat.example.com"}, "exclude each other"},
		{[]string{"--tls-cert", keyFile, "--tls-key", certFile}, "tls: load"},
		{[]string{"--tls-cert", filepath.Join(dir, "nope.crt"), "--tls-key", keyFile}, "no such file"},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, "--trusted-proxies"},
	}
	for _, tt := range tests {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard}
		args := append([]string{"confab", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tt.args...)
		err := m.Run(context.Background(), args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v: err %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}

// TestServeACME checks the ACME wiring without a CA on the network: the
// server asks the configured directory for a certificate of an allowed
// domain only, keeps its account in --data, answers HTTP-01 challenge
// paths and redirects the rest of HTTP to HTTPS.
func TestServeACME(t *testing.T) {
	var asked atomic.Int64
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "no CA here", http.StatusNotFound)
	}))
	defer ca.Close()
	data := t.TempDir()
	srv := startServeLogged(t, "--data", data, "--acme-domain", "chat.confab.test", "--acme-email", "ops@confab.test",
		"--acme-directory", ca.URL+"/directory", "--acme-http-addr", "127.0.0.1:0")
	defer srv.stop()
	httpAddr := srv.logAttr(t, "ACME HTTP challenges listening", "addr")

	handshake := func(name string) error {
		d := &net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", srv.addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
		}
		return err
	}
	// A name outside --acme-domain: refused, and the CA is not asked.
	if err := handshake("other.confab.test"); err == nil {
		t.Error("TLS handshake for a domain outside --acme-domain succeeded")
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the CA was asked %d times for a domain outside --acme-domain", n)
	}
	// The allowed name: the server goes to the CA (which fails here).
	if err := handshake("chat.confab.test"); err == nil {
		t.Error("TLS handshake succeeded without a certificate from the CA")
	}
	if asked.Load() == 0 {
		t.Error("the server did not ask the --acme-directory for a certificate")
	}
	if _, err := os.Stat(filepath.Join(data, "acme", "acme_account+key")); err != nil {
		t.Errorf("the ACME account key is not kept in --data/acme: %v", err)
	}

	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(host, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+httpAddr+path, nil)
		req.Host = host
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get("chat.confab.test", "/rooms?x=1"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://chat.confab.test/rooms?x=1" {
		t.Errorf("HTTP GET: %s to %q, want 302 to https://chat.confab.test/rooms?x=1", resp.Status, resp.Header.Get("Location"))
	}
	if resp := get("chat.confab.test", "/.well-known/acme-challenge/unknown-token"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown HTTP-01 token: %s, want 404", resp.Status)
	}
	if resp := get("other.confab.test", "/.well-known/acme-challenge/unknown-token"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an HTTP-01 challenge for another domain: %s, want 403", resp.Status)
	}
}

// loggedServer is an in-process server whose JSON logs the test reads.
type loggedServer struct {
	addr string
	logs *lockedBuffer
	stop func() error
}

// startServeLogged is startServe, logging JSON into a buffer as well.
func startServeLogged(t *testing.T, args ...string) *loggedServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{t: t}
	ready := make(chan net.Addr, 1)
	m := &Main{Stdout: io.Discard, Stderr: logs, Ready: func(a net.Addr) { ready <- a }}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"confab", "serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...))
	}()
	select {
	case a := <-ready:
		var once sync.Once
		var err error
		return &loggedServer{addr: a.String(), logs: logs, stop: func() error {
			once.Do(func() { cancel(); err = <-done })
			return err
		}}
	case err := <-done:
		cancel()
		t.Fatalf("serve ended before listening: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start listening")
	}
	return nil
}

// logAttr returns attribute key of the first log line with message msg.
func (s *loggedServer) logAttr(t *testing.T, msg, key string) string {
	t.Helper()
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			if v, ok := rec[key].(string); ok {
				return v
			}
		}
	}
	t.Fatalf("no log line %q with %s:\n%s", msg, key, s.logs)
	return ""
}

// lockedBuffer collects output from several goroutines, passing it on to
// the test's log if t is set.
type lockedBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.t != nil {
		b.t.Log(strings.TrimSpace(string(p)))
	}
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// slogTo returns a text logger writing to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
