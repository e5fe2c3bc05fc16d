package projections

// SetSwapLockTimeout sets how long a PostgreSQL swap waits for the live
// tables' locks, and returns a function that restores it.
func SetSwapLockTimeout(d string) (restore func()) {
	old := swapLockTimeout
	swapLockTimeout = d
	return func() { swapLockTimeout = old }
}
