package sqlite

import "syscall"

// statfs returns the space available to unprivileged users on the
// filesystem holding dir, and its size, in bytes.
func statfs(dir string) (free, size uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize)
	return st.Bavail * bs, st.Blocks * bs, nil
}
