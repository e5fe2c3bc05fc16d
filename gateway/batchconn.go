package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// batchConn is the socket under a WebSocket. While its connection's writer
// batches (from begin to end), what gorilla/websocket writes collects in a
// buffer, sent with one syscall when the buffer fills or at end; otherwise
// writes go straight to the socket. gorilla writes each frame with its own
// Write call, so without it every delivered frame costs a syscall.
//
// Gorilla serializes its writes (frames never interleave); the mutex
// orders them with the writer's flushes, and keeps control frames the
// reader writes meanwhile (pongs) in order with the rest. A write
// deadline set while batching applies to the buffer's next send.
//
// A client that stops reading must still get its close frame (4008), and
// a close frame cannot pass a socket whose kernel buffer is full. So on
// TCP the buffer of bytes the client has not received is capped with
// TCP_NOTSENT_LOWAT (notSentLowat), far below what the kernel would
// take; writes wait at the cap. When a write times out (or is
// interrupted) part way, the unsent rest of the frame it cut is kept in
// tail, and writeClose lifts the cap and sends that rest and a close
// frame in the room left free.
type batchConn struct {
	net.Conn
	rc     syscall.RawConn // the TCP socket; nil if not plain TCP (TLS)
	capped bool            // TCP_NOTSENT_LOWAT is set on rc

	mu       sync.Mutex
	batching bool
	buf      *[]byte   // pending bytes, from batchBufs while batching
	deadline time.Time // for the next send of buf
	err      error     // the first failed send: the socket is broken
	tail     []byte    // after a timed-out send: the rest of the frame it cut

	stopped atomic.Bool // interrupt was called: sends time out at once
}

// notSentLowat is the cap on bytes queued in the kernel that the client
// has not received (on top of what its own receive buffer holds).
const notSentLowat = 64 << 10

// newBatchConn wraps nc, capping its unsent bytes if it is TCP.
func newBatchConn(nc net.Conn) *batchConn {
	b := &batchConn{Conn: nc}
	if _, ok := nc.(*net.TCPConn); ok {
		b.rc = rawConn(nc)
		b.capped = setNotSentLowat(b.rc, notSentLowat)
	}
	return b
}

// interrupt makes the send in progress, and any later one, time out at
// once, so that a writer stuck on a client that stopped reading returns.
// It takes no lock (the writer holds b.mu while it waits). Only on a
// capped TCP socket, whose timed-out send can be finished by writeClose.
func (b *batchConn) interrupt() {
	if !b.capped {
		return
	}
	b.stopped.Store(true)
	b.Conn.SetWriteDeadline(time.Unix(1, 0))
}

// resumable reports whether the socket failed with a timed-out send that
// writeClose can finish.
func (b *batchConn) resumable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.resumableLocked()
}

func (b *batchConn) resumableLocked() bool {
	var ne net.Error
	return b.capped && b.err != nil && errors.As(b.err, &ne) && ne.Timeout()
}

// writeClose sends the rest of a frame a timed-out send cut (if any) and
// then frame, a close frame, with the cap lifted, by deadline. What is
// batched is dropped if drop is set, else sent first.
func (b *batchConn) writeClose(frame []byte, drop bool, deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil && !b.resumableLocked() {
		return b.err
	}
	if b.capped {
		setNotSentLowat(b.rc, 0)
	}
	p := b.tail
	if !drop && b.buf != nil {
		p = append(p, *b.buf...)
	}
	p = append(p, frame...)
	b.batching, b.tail = false, nil
	b.releaseLocked()
	b.stopped.Store(false)
	b.Conn.SetWriteDeadline(deadline)
	_, err := b.Conn.Write(p)
	if err != nil {
		b.err = err
		return err
	}
	b.err = net.ErrClosed // nothing may follow the close frame
	return nil
}

// batchBytes is how much a batch buffers before it is sent.
const batchBytes = 32 << 10

// batchBufs holds the buffers of batches, shared by all connections: an
// idle connection holds none.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, batchBytes); return &b }}

// begin starts buffering writes.
func (b *batchConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// end sends what is buffered and stops buffering.
func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.batching = false
	b.releaseLocked()
	return err
}

// abort stops buffering and drops what is buffered.
func (b *batchConn) abort() {
	b.mu.Lock()
	b.batching = false
	b.releaseLocked()
	b.mu.Unlock()
}

func (b *batchConn) releaseLocked() {
	if b.buf != nil {
		*b.buf = (*b.buf)[:0]
		batchBufs.Put(b.buf)
		b.buf = nil
	}
}

func (b *batchConn) flushLocked() error {
	if b.err != nil {
		return b.err
	}
	if b.buf == nil || len(*b.buf) == 0 {
		return nil
	}
	p := *b.buf
	*b.buf = p[:0]
	return b.sendLocked(p)
}

// sendLocked writes p, whole frames, to the socket by b.deadline. If it
// fails part way, the rest of the frame it cut goes to tail.
func (b *batchConn) sendLocked(p []byte) error {
	return b.writeLocked(p, b.deadline)
}

func (b *batchConn) writeLocked(p []byte, deadline time.Time) error {
	b.Conn.SetWriteDeadline(deadline)
	if b.stopped.Load() {
		b.Conn.SetWriteDeadline(time.Unix(1, 0))
	}
	n, err := b.Conn.Write(p)
	if err != nil {
		b.err = err
		if end := frameEnd(p, n); end > n {
			b.tail = append([]byte(nil), p[n:end]...)
		}
		return err
	}
	return nil
}

// frameEnd returns the end of the frame that holds byte n of p, a run of
// whole WebSocket frames from the server (unmasked); n if n is at a
// frame's start or p cannot be parsed.
func frameEnd(p []byte, n int) int {
	at := 0
	for at < n {
		if len(p)-at < 2 {
			return n
		}
		size, hdr := int(p[at+1]&0x7f), 2
		switch size {
		case 126:
			if len(p)-at < 4 {
				return n
			}
			size, hdr = int(binary.BigEndian.Uint16(p[at+2:])), 4
		case 127:
			if len(p)-at < 10 {
				return n
			}
			size, hdr = int(binary.BigEndian.Uint64(p[at+2:])), 10
		}
		if size < 0 || at+hdr+size > len(p) {
			return n
		}
		at += hdr + size
	}
	return at
}

// Write implements net.Conn.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if !b.batching {
		// A direct write (a control frame): a frame of its own, with the
		// deadline its writer set.
		if err := b.writeLocked(p, b.deadline); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if b.buf != nil && len(*b.buf)+len(p) > batchBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= batchBytes {
		if err := b.sendLocked(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if b.buf == nil {
		b.buf = batchBufs.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// SetWriteDeadline implements net.Conn.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadline = t
	if b.batching {
		return nil
	}
	return b.Conn.SetWriteDeadline(t)
}

// SetDeadline implements net.Conn.
func (b *batchConn) SetDeadline(t time.Time) error {
	if err := b.SetWriteDeadline(t); err != nil {
		return err
	}
	return b.Conn.SetReadDeadline(t)
}

// readBufferSize is the size of a WebSocket's read buffer.
const readBufferSize = 1024

// batchHijacker lets the WebSocket upgrader hijack the connection as a
// batchConn: the upgrader has no hook for wrapping the socket it writes to.
// It also hands the upgrader the buffered reader to read the WebSocket
// through (the upgrader takes the hijacked one when its ReadBufferSize is
// 0), so that the reader can tell whether frames are left in it.
type batchHijacker struct {
	http.ResponseWriter
	bc *batchConn
	br *bufio.Reader
}

// Hijack implements http.Hijacker.
func (h *batchHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The HTTP server's read deadline (ReadTimeout) is for the request;
	// the WebSocket sets deadlines of its own. gorilla clears them too.
	nc.SetDeadline(time.Time{})
	h.bc = newBatchConn(nc)
	if brw.Reader.Buffered() > 0 {
		// The upgrader refuses a client that sent data before the
		// handshake completed: let it see that data.
		return h.bc, brw, nil
	}
	h.br = bufio.NewReaderSize(h.bc, readBufferSize)
	return h.bc, bufio.NewReadWriter(h.br, brw.Writer), nil
}
