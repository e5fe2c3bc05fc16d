// Package blobtest is the conformance suite every blobstore adapter
// passes (Run), like eventstore/storetest for event stores: round trips
// of every size, dedup, seeks across chunks, the size limit, conditional
// deletes, listing, concurrent puts, durability over a reopen and bad
// input. It starts no goroutines that outlive a check.
package blobtest
