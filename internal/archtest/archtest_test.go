package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/confabhq/confab"

// goList runs go list in the module and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// rule forbids a package (and its non-test dependencies) some imports.
type rule struct {
	pkg        string
	stdlibOnly bool     // only the standard library and the package's own module path
	forbidden  []string // import path prefixes
}

var rules = []rule{
	{pkg: module + "/domain", stdlibOnly: true},
	{pkg: module + "/commands", forbidden: []string{"github.com/jackc/pgx", "github.com/pion", "net/http", "github.com/nats-io", "github.com/ThreeDotsLabs/watermill-nats"}},
	{pkg: module + "/projections", forbidden: []string{"github.com/jackc/pgx", "github.com/pion", "net/http", "github.com/nats-io", "github.com/ThreeDotsLabs/watermill-nats"}},
}

// dep is one dependency as go list reports it.
type dep struct {
	path     string
	standard bool
}

// violations returns the dependencies r forbids.
func (r rule) violations(deps []dep) []string {
	var bad []string
	for _, d := range deps {
		if d.path == r.pkg {
			continue
		}
		if r.stdlibOnly && !d.standard && !strings.HasPrefix(d.path, r.pkg+"/") {
			bad = append(bad, d.path)
			continue
		}
		for _, f := range r.forbidden {
			if d.path == f || strings.HasPrefix(d.path, f+"/") {
				bad = append(bad, d.path)
			}
		}
	}
	return bad
}

func TestImports(t *testing.T) {
	for _, r := range rules {
		var deps []dep
		for _, l := range goList(t, "-deps", "-f", "{{.ImportPath}} {{.Standard}}", r.pkg) {
			path, std, _ := strings.Cut(l, " ")
			deps = append(deps, dep{path, std == "true"})
		}
		if bad := r.violations(deps); len(bad) > 0 {
			t.Errorf("%s must not import %v", r.pkg, bad)
		}
	}
}

// TestRulesCatchViolations shows that the rules fail on the imports they
// forbid.
func TestRulesCatchViolations(t *testing.T) {
	domain, commands := rules[0], rules[1]
	tests := []struct {
		r    rule
		deps []dep
		bad  int
	}{
		{domain, []dep{{"fmt", true}, {"time", true}}, 0},
		{domain, []dep{{"fmt", true}, {"github.com/google/uuid", false}}, 1},
		{domain, []dep{{module + "/eventstore", false}}, 1},
		{commands, []dep{{module + "/domain", false}, {"context", true}}, 0},
		{commands, []dep{{"net/http", true}, {"github.com/jackc/pgx/v5", false}, {"github.com/pion/webrtc/v4", false}}, 3},
		{commands, []dep{{"net/http/httptest", true}, {"net/httputil", true}}, 1},
	}
	for _, tt := range tests {
		if got := tt.r.violations(tt.deps); len(got) != tt.bad {
			t.Errorf("%s with %v: violations %v, want %d", tt.r.pkg, tt.deps, got, tt.bad)
		}
	}
}

// TestPackageDocs checks that every package has a doc comment in doc.go.
func TestPackageDocs(t *testing.T) {
	for _, l := range goList(t, "-f", "{{.Dir}}\t{{.ImportPath}}\t{{.Doc}}", "./...") {
		parts := strings.SplitN(l, "\t", 3)
		if len(parts) < 3 || parts[2] == "" {
			t.Errorf("%s has no package doc comment", parts[1])
			continue
		}
		if _, err := os.Stat(filepath.Join(parts[0], "doc.go")); err != nil {
			t.Errorf("%s has no doc.go", parts[1])
		}
	}
}
