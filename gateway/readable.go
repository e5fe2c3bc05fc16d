//go:build linux || darwin || freebsd || netbsd || openbsd

package gateway

import (
	"errors"
	"net"
	"syscall"
)

// rawConn returns the socket of nc if a reader can wait for it to become
// readable without reading (a TCP connection), else nil.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil // TLS: its own buffers may hold data
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// waitReadable returns when rc has something to read (or its end, or an
// error, for the next read to report), or with the error of the wait: the
// read deadline passed or the socket was closed. It peeks, so that data
// that arrived before the wait is not missed, and consumes nothing.
func waitReadable(rc syscall.RawConn) error {
	var b [1]byte
	return rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return !errors.Is(err, syscall.EAGAIN)
		}
	})
}
