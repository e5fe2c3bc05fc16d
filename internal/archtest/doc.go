// Package archtest guards the codebase's architecture with tests: package
// domain imports only the standard library; commands and projections do
// not reach for pgx, pion, net/http or NATS; every package has a doc
// comment in a doc.go.
package archtest
