package turn

import (
	"fmt"
	"net"
	"sync"

	pionturn "github.com/pion/turn/v4"
)

// pion/turn v4.1.4's Server.Close only closes the listeners it was given
// and returns: the read loops, the allocations they own, and the
// connections accepted on a TCP listener outlive it (a TCP connection stays
// open, goroutine and all, until the client hangs up). The wrappers in this
// file give the Server a handle on all of them, so that Close can close
// what pion leaves open and wait for pion's goroutines to finish.
//
// They rely on how pion v4.1.4 uses the sockets it is handed (server.go):
//   - the UDP read loop and the TCP accept loop return on the first error of
//     ReadFrom or Accept, then close their allocations;
//   - each accepted TCP connection gets a goroutine that reads until an
//     error, deletes its allocation, and closes the connection; nothing else
//     closes it;
//   - each allocation's relay goroutine reads its relay socket until an
//     error, then deletes the allocation.

// loopPacketConn is the UDP listener as handed to pion; its first read error
// marks the end of pion's read loop. It corrects pion's error codes
// (codes.go): pion's one read loop answers each datagram before reading
// the next.
type loopPacketConn struct {
	net.PacketConn
	s    *Server
	once sync.Once
	slot requestSlot
}

func (c *loopPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err != nil {
		c.once.Do(func() { c.s.loops.Add(-1) })
		return n, addr, err
	}
	c.slot.observe(addr, p[:n])
	return n, addr, nil
}

func (c *loopPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if fixed := c.slot.fix(addr, p); fixed != nil {
		if _, err := c.PacketConn.WriteTo(fixed, addr); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// loopListener is the TCP listener as handed to pion. Its first Accept error
// marks the end of pion's accept loop; every accepted connection is
// tracked until pion closes it.
type loopListener struct {
	net.Listener
	s    *Server
	once sync.Once
}

func (l *loopListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil {
		var tracked *trackedConn
		if tracked, err = l.s.trackConn(conn); err == nil {
			return tracked, nil
		}
	}
	l.once.Do(func() { l.s.loops.Add(-1) })
	return nil, err
}

// trackedConn is an accepted TCP connection. pion calls Close once, when
// the connection's goroutine is done; Server.Close ends that goroutine by
// closing the underlying connection, which makes its read fail. It
// corrects pion's error codes (codes.go): pion answers each message of the
// connection before it reads the next.
type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
	slot requestSlot
	scan frameScanner // pion reads the stream, not messages
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan.scan(p[:n])
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	if fixed := c.slot.fix(nil, p); fixed != nil {
		if _, err := c.Conn.Write(fixed); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.s.loops.Add(-1)
	})
	return err
}

// trackConn registers a newly accepted connection, or closes it if the
// server is closing.
func (s *Server) trackConn(conn net.Conn) (*trackedConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close()
		return nil, net.ErrClosed
	}
	c := &trackedConn{Conn: conn, s: s}
	c.slot.s = s
	c.scan.observe = func(msg []byte) { c.slot.observe(nil, msg) }
	s.conns[c] = struct{}{}
	s.loops.Add(1)
	return c, nil
}

var _ pionturn.RelayAddressGenerator = relayGenerator{}

// relayGenerator wraps one of pion's relay address generators and tracks
// the relay sockets it opens.
type relayGenerator struct {
	pionturn.RelayAddressGenerator
	s *Server
}

func (g relayGenerator) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGenerator.AllocatePacketConn(network, requestedPort)
	if err != nil {
		return nil, nil, fmt.Errorf("turn: open relay socket: %w", err)
	}
	relay, err := g.s.trackRelay(conn)
	if err != nil {
		return nil, nil, err
	}
	return relay, addr, nil
}

// relayConn is a relay socket. Close is idempotent and returns the first
// result, because both an allocation and Server.Close may close it, and
// pion logs an error when closing an allocation's socket fails.
type relayConn struct {
	net.PacketConn
	s    *Server
	once sync.Once
	err  error
}

func (c *relayConn) Close() error {
	c.once.Do(func() {
		c.err = c.PacketConn.Close()
		c.s.mu.Lock()
		delete(c.s.relays, c)
		c.s.mu.Unlock()
	})
	return c.err
}

// trackRelay registers a newly opened relay socket, or closes it if the
// server is closing.
func (s *Server) trackRelay(conn net.PacketConn) (*relayConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close()
		return nil, fmt.Errorf("turn: open relay socket: %w", net.ErrClosed)
	}
	c := &relayConn{PacketConn: conn, s: s}
	s.relays[c] = struct{}{}
	return c, nil
}
