// Package password hashes and verifies passwords with argon2id, in the PHC
// string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash) that other
// tools read too.
package password
