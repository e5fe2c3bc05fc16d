//go:build !linux

package gateway

import "syscall"

// setNotSentLowat does nothing here: the kernel's send buffer alone
// bounds what waits for a client, and a client that stops reading may not
// get its close frame.
func setNotSentLowat(syscall.RawConn, int) bool { return false }
