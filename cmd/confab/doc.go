// Command confab is the confab server and its admin tool, in one binary.
//
//	confab serve                      run the server (embedded store in ./data by default)
//	confab projections status         the read models' checkpoint, lag and row counts
//	confab projections rebuild --all  rebuild them in shadow tables while serving, then swap
//	confab events tail [--follow]     print events as they are appended
//	confab events replay --room ID    a room's timeline as it was at a moment
//	confab events export / import     move a history between stores (JSON lines)
//	confab users list                 the accounts (admin_users.go); reset-password,
//	                                  disable, enable, delete --yes: events, through commands
//	confab healthcheck                exit 0 if the local server is ready (container health checks)
//
// serve (serve.go) opens a node (store and read models, commands, bus,
// calls, gateway, metrics, listeners), runs its workers and servers until
// the context ends or one fails, then shuts it down. --store picks the
// event store: sqlite (read models in the same file), postgres (the same
// database), or eventstoredb (read models in read-models.db in --data).
//
// Every flag can also be set with a CONFAB_* environment variable; see
// confab <command> --help. main only wires signals to a context and runs
// Main, which the end-to-end tests run too.
package main
