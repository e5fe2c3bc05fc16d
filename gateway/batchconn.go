package gateway

import (
	"bufio"
	"net"
	"net/http"
	"sync"
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
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	batching bool
	buf      *[]byte   // pending bytes, from batchBufs while batching
	deadline time.Time // for the next send of buf
	err      error     // the first failed send: the socket is broken
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

func (b *batchConn) sendLocked(p []byte) error {
	b.Conn.SetWriteDeadline(b.deadline)
	if _, err := b.Conn.Write(p); err != nil {
		b.err = err
		return err
	}
	return nil
}

// Write implements net.Conn.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if !b.batching {
		return b.Conn.Write(p)
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
	if b.batching {
		b.deadline = t
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
	h.bc = &batchConn{Conn: nc}
	if brw.Reader.Buffered() > 0 {
		// The upgrader refuses a client that sent data before the
		// handshake completed: let it see that data.
		return h.bc, brw, nil
	}
	h.br = bufio.NewReaderSize(h.bc, readBufferSize)
	return h.bc, bufio.NewReadWriter(h.br, brw.Writer), nil
}
