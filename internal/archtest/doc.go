// Package archtest guards the codebase's architecture with tests. Each
// rule of the README's "Project structure" table ("may import") is one
// entry of rules in archtest_test.go: which of the module's packages a
// package may import directly, and which technologies it must not depend
// on even transitively (domain: the standard library only; commands and
// projections: no pgx, pion, net/http or NATS; eventstore, its adapters
// and bus never import up; media imports nothing of confab; ...). A
// broken rule fails with a line naming the package, the import and the
// rule. Every package must be the subject of one rule, no non-test code
// imports a test helper (pgtest, natstest, tmpfstest, storetest), and
// every package has a doc comment in a doc.go. The import graph comes
// from `go list -deps -json`.
package archtest
