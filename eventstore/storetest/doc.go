// Package storetest is the conformance suite every eventstore adapter
// passes. An adapter's test calls Run with a Harness that opens its store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Open: ..., Reopen: ...})
//	}
//
// The suite checks the whole contract of eventstore.Store: contiguous
// revisions, expected-revision checks under concurrent writers, idempotent
// appends, the global order under a stress of concurrent writers, the
// catch-up to live hand-over of subscriptions, durability across a reopen,
// and clear errors for bad input that change nothing.
//
// Every check uses stream names unique to the test, so a harness may hand
// out a store that already holds other events (an EventStoreDB server
// shared by many tests). The checks are exported one by one so that a test
// can also show that a deliberately broken adapter fails them.
package storetest
