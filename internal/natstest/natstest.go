package natstest

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded NATS server with JetStream.
type Server struct {
	opts *server.Options
	srv  *server.Server
}

// Start starts a NATS server with JetStream on 127.0.0.1 and a random
// port, storing in a temporary directory, and returns its client URL. It
// shuts down when the test ends.
func Start(tb testing.TB) string {
	tb.Helper()
	return New(tb).URL()
}

// New is Start, returning the server.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{opts: &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	if err := s.start(); err != nil {
		tb.Fatal(err)
	}
	// Keep the port, so that a restarted server has the same URL.
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	tb.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start() error {
	srv, err := server.NewServer(s.opts)
	if err != nil {
		return err
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return errors.New("natstest: the NATS server did not get ready")
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return errors.New("natstest: JetStream is not enabled")
	}
	s.srv = srv
	return nil
}

// URL returns the client URL, nats://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// Restart stops the server and starts it again with the same port and
// JetStream data.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Shutdown()
	if err := s.start(); err != nil {
		tb.Fatal(err)
	}
}

// Resume starts a server stopped by Shutdown again, with the same port
// and JetStream data, so that a test can keep NATS away for a while.
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.start(); err != nil {
		tb.Fatal(err)
	}
}
