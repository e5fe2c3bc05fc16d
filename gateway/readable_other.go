//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package gateway

import (
	"errors"
	"net"
	"syscall"
)

// rawConn returns nil: connections do not park on this system, their
// readers block in reads.
func rawConn(net.Conn) syscall.RawConn { return nil }

func waitReadable(syscall.RawConn) error { return errors.New("gateway: cannot wait for a socket here") }
