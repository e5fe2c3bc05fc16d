// Package web embeds confab's browser client into the binary with
// go:embed, so that running it needs no Node toolchain.
package web
