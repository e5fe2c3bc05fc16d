package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// TestHelpShowsTrueDefaults: every boolean flag that is on by default says
// so in its command's --help (serve --calls among them).
func TestHelpShowsTrueDefaults(t *testing.T) {
	var out bytes.Buffer
	m := &Main{Stdout: &out, Stderr: io.Discard}
	if err := m.Run(context.Background(), []string{"confab", "serve", "--help"}); err != nil {
		t.Fatal(err)
	}
	if !helpLine(out.String(), "--calls", "(default: true; --calls=false turns it off)") {
		t.Errorf("serve --help does not show that --calls defaults to on:\n%s", out.String())
	}
	// Every command, every boolean flag on by default.
	found := 0
	var walk func(path []string, c *cli.Command)
	walk = func(path []string, c *cli.Command) {
		for _, f := range c.Flags {
			b, ok := f.(*cli.BoolFlag)
			if !ok || !b.Value {
				continue
			}
			found++
			var help bytes.Buffer
			hm := &Main{Stdout: &help, Stderr: io.Discard}
			if err := hm.Run(context.Background(), append(append([]string{"confab"}, path...), "--help")); err != nil {
				t.Fatal(err)
			}
			if !helpLine(help.String(), "--"+b.Name, "(default: true") {
				t.Errorf("confab %s --help does not show that --%s defaults to true:\n%s", strings.Join(path, " "), b.Name, help.String())
			}
		}
		for _, sub := range c.Commands {
			walk(append(append([]string{}, path...), sub.Name), sub)
		}
	}
	root := &Main{Stdout: io.Discard, Stderr: io.Discard}
	for _, c := range []*cli.Command{root.serveCommand(), root.projectionsCommand(), root.eventsCommand(), root.healthcheckCommand()} {
		walk([]string{c.Name}, c)
	}
	if found == 0 {
		t.Fatal("no boolean flag defaults to true: the test checks nothing")
	}
}

// helpLine reports whether help has a line for flag (its first word)
// containing want.
func helpLine(help, flag, want string) bool {
	for _, l := range strings.Split(help, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == flag && strings.Contains(l, want) {
			return true
		}
	}
	return false
}
