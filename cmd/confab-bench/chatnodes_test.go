package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestChatNodesFlags(t *testing.T) {
	parse := func(args ...string) (config, error) {
		m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		return m.parseFlags(args)
	}
	for _, args := range [][]string{
		{"--watch", "postgres"},
		{"--watch", "postgres=x"},
		{"--watch", "=12"},
		{"--watch", "nats=0"},
		{"--watch", "nats=-3"},
	} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	cfg, err := parse("--server", "http://a:1,http://b:2", "--watch", "postgres=10,nats=20", "--watch", "x=30")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Servers, []string{"http://a:1", "http://b:2"}) ||
		!slices.Equal(cfg.Watch, watchList{{"postgres", 10}, {"nats", 20}, {"x", 30}}) {
		t.Errorf("config %+v", cfg)
	}

	// Client i connects to node i mod N, so each room of M consecutive
	// users has its members on every node.
	b, err := newBench(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"ws://a:1/api/v1/ws", "ws://b:2/api/v1/ws", "ws://a:1/api/v1/ws"} {
		if got := b.wsURLOf(i); got != want || b.nodeOf(i) != i%2 {
			t.Errorf("client %d: %s, node %d; want %s", i, got, b.nodeOf(i), want)
		}
	}
	one, err := parse("--server", "https://a:1")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := newBench(one, nil); b.wsURLOf(7) != "wss://a:1/api/v1/ws" {
		t.Errorf("one server: %s", b.wsURLOf(7))
	}
}

// TestTreeCPU reads the CPU of a real process tree: this test's process,
// with a child that burns CPU and is reaped.
func TestTreeCPU(t *testing.T) {
	before, err := treeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The child's time counts once it is reaped (cutime).
	if out, err := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	after, err := treeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("tree CPU %.2f s after a busy child, %.2f s before", after, before)
	}
	if _, err := treeCPU(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
