// Package password hashes and verifies passwords with argon2id, in the PHC
// string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash) that other
// tools read too.
//
// A Limiter bounds how many hashes run at once (each holds its argon2
// memory, 19 MiB by default, while it runs): a buffered channel of slots
// and a bounded queue of waiters, with atomic counters for metrics.
// IsCommon checks a password against an embedded list of the 10,000 most
// common ones (common.txt.gz; its source and licence are in common.go and
// common.LICENSE.txt).
package password
