package web_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// netnsEnv marks a test process that runs inside the network namespace
// inNetns made; its value is the name of the test to run there.
const netnsEnv = "CONFAB_TEST_NETNS"

// netnsPrologue makes the namespace's network: loopback, and a veth pair
// whose two ends carry 198.18.0.1 and 198.18.0.2 (a range reserved for
// benchmarks, RFC 2544). Chromium gathers no ICE candidates on loopback
// alone; with the veth it finds host candidates, and so does the SFU.
const netnsPrologue = `set -e
ip link add v0 type veth peer name v1
ip addr add 198.18.0.1/24 dev v0
ip addr add 198.18.0.2/24 dev v1
ip link set lo up
ip link set v0 up
ip link set v1 up
exec "$@"`

// inNetns reports whether the test runs inside a private network
// namespace. Outside one, it runs the test again in a new namespace (the
// test binary re-executed under `unshare -n`, with netnsPrologue first),
// fails t if that run fails, and returns false: the caller returns. The
// namespace, and everything in it, disappears with that process. It needs
// root (CI runs as root), util-linux's unshare and iproute2's ip; without
// them the test is skipped, or fails when CI=true.
func inNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		return true
	}
	var missing []string
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 || os.Geteuid() != 0 {
		why := "needs root to make a network namespace"
		if len(missing) > 0 {
			why = "needs " + strings.Join(missing, " and ") + " (scripts/test-deps installs them)"
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s %s", t.Name(), why)
		}
		t.Skipf("%s %s", t.Name(), why)
	}

	// A container may refuse new namespaces even to root.
	if out, err := exec.Command("unshare", "--net", "true").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot make a network namespace: %v %s", t.Name(), err, out)
		}
		t.Skipf("%s cannot make a network namespace: %v %s", t.Name(), err, out)
	}

	ctx := context.Background()
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v=true"}
	if deadline, ok := t.Deadline(); ok {
		d := time.Until(deadline) - 10*time.Second
		if d < 30*time.Second {
			d = 30 * time.Second
		}
		args = append(args, "-test.timeout="+d.String())
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d+5*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--net", "--", "sh", "-c", netnsPrologue, "sh", os.Args[0]}, args...)...)
	// The run inside uses the confab binary built for this one.
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name(), "CONFAB_TEST_BIN="+confabBin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	text := out.String()
	switch {
	case err != nil:
		t.Fatalf("the run in a network namespace failed (%v) after %v:\n%s", err, time.Since(start).Round(time.Millisecond), text)
	case !strings.Contains(text, "--- PASS: "+t.Name()):
		t.Fatalf("the run in a network namespace did not pass:\n%s", text)
	case testing.Verbose():
		t.Logf("in a network namespace (%v):\n%s", time.Since(start).Round(time.Millisecond), text)
	}
	return false
}
