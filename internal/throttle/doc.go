// Package throttle slows down guessing: it counts failures per key (an
// account, an IP address) and, past a threshold, refuses attempts for a
// lockout that doubles with each further failure.
package throttle
