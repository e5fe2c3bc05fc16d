// Package throttle slows down guessing and flooding. It has three tools,
// each keyed by a string (an account, an IP address, a pair of both):
//
//   - Throttle counts failures and, past a policy's free failures,
//     refuses attempts for a lockout that doubles with each further
//     failure. An attempt is reserved (Reserve) before it is checked and
//     counted until it ends (Fail, Release, Succeed), so that parallel
//     attempts cannot all pass a check made before any of them failed.
//   - Pacer never locks a key out: past its free failures, attempts take
//     turns at a growing interval and wait for their turn (at most
//     MaxWait; further turns are refused).
//   - Buckets is a token bucket per key (golang.org/x/time/rate).
//
// Each holds its records in a map under one mutex, bounded to a maximum
// number of keys: when full it drops the records it may forget, then a
// tenth of those with nothing in flight. Nothing here starts a goroutine.
package throttle
