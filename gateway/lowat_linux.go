package gateway

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setNotSentLowat sets TCP_NOTSENT_LOWAT on rc: writes wait once n bytes
// the client has not received yet are queued in the kernel, however large
// its send buffer has grown. n 0 lifts it (the system's default: none).
// It reports whether it could.
func setNotSentLowat(rc syscall.RawConn, n int) bool {
	if rc == nil {
		return false
	}
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	}); cerr != nil {
		return false
	}
	return err == nil
}
