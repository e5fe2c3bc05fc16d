//go:build !(linux || darwin || freebsd)

package sqlite

// statfs cannot read the free space on this system (Windows, NetBSD,
// OpenBSD, ...): the store's free-space check is off there, and a full
// disk is noticed when SQLite fails to commit (the append still gets
// eventstore.ErrUnavailable). docs/operations.md says so.
func statfs(string) (free, size uint64, err error) { return 0, 0, errNoStatfs }
