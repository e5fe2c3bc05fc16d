//go:build !linux

package sqlite

// statfs is not implemented here: the free-space check is off, and a full
// disk is noticed when SQLite fails.
func statfs(string) (free, size uint64, err error) { return 0, 0, errNoStatfs }
