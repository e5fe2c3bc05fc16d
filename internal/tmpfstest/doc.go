// Package tmpfstest gives tests a small filesystem of their own to fill:
// a tmpfs mounted on a temporary directory (which needs root, or
// CAP_SYS_ADMIN), unmounted when the test ends. Where mounting is
// impossible the test is skipped, unless CI=true, where it fails.
package tmpfstest
