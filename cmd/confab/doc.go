// Command confab is the confab server and its admin tool, in one binary.
//
//	confab serve        run the server (embedded store in ./data by default)
//
// Every flag can also be set with a CONFAB_* environment variable; see
// confab serve --help. main only wires signals to a context and runs Main,
// which the end-to-end tests run too.
package main
