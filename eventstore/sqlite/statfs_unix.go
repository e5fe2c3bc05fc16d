//go:build linux || darwin || freebsd

package sqlite

import "golang.org/x/sys/unix"

// statfs returns the space available to unprivileged users on the
// filesystem holding dir, and its size, in bytes.
func statfs(dir string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize)
	return uint64(st.Bavail) * bs, uint64(st.Blocks) * bs, nil
}
