package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/confabhq/confab"

// goList runs go list in the module and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(string(runGoList(t, args...)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func runGoList(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return out
}

// pkg is one package as go list -json reports it.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string // direct, non-test
	Deps       []string // transitive, non-test
}

// loadPackages returns the module's packages and every package they
// depend on, by import path.
func loadPackages(t *testing.T) map[string]pkg {
	t.Helper()
	out := runGoList(t, "-deps", "-json=ImportPath,Standard,Imports,Deps", "./...")
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// inModule reports whether path is a package of this module.
func inModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// under reports whether path is prefix or a package below it.
func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// rule is one line of the README's "Project structure" table (may import):
// what a package may import from this module, and what it must not
// depend on from outside.
type rule struct {
	name string
	pkgs []string // the packages the rule is about, relative to the module
	// stdlibOnly: no dependency outside the standard library, not even
	// transitively.
	stdlibOnly bool
	// allowed are the module's packages (relative) these may import
	// directly; nil means none.
	allowed []string
	// forbidden are import path prefixes these must not depend on, even
	// transitively.
	forbidden []string
}

// The technologies that only the edges may touch.
var (
	pgx      = "github.com/jackc/pgx"
	pion     = "github.com/pion"
	netHTTP  = "net/http"
	nats     = "github.com/nats-io"
	wmNATS   = "github.com/ThreeDotsLabs/watermill-nats"
	esdb     = "github.com/EventStore"
	sqliteDr = "modernc.org/sqlite"
	drivers  = []string{pgx, esdb, sqliteDr}
)

// rules are the README's import rules. Every package of the module is
// the subject of exactly one rule (TestEveryPackageHasARule).
var rules = []rule{
	{name: "domain imports the standard library only", pkgs: []string{"domain"}, stdlibOnly: true},
	{name: "commands imports domain and eventstore (and its leaf helpers), not pgx, pion, net/http or NATS",
		pkgs: []string{"commands"}, allowed: []string{"domain", "eventstore", "internal/password", "internal/throttle"},
		forbidden: []string{pgx, pion, netHTTP, nats, wmNATS}},
	{name: "projections imports domain, eventstore, bus and internal/supervise, not pgx, pion, net/http or NATS",
		pkgs: []string{"projections"}, allowed: []string{"domain", "eventstore", "bus", "internal/supervise"},
		forbidden: []string{pgx, pion, netHTTP, nats, wmNATS}},
	{name: "eventstore (the contract) never imports up: nothing of confab, no database driver",
		pkgs: []string{"eventstore"}, forbidden: append([]string{pion, netHTTP, nats, wmNATS}, drivers...)},
	{name: "eventstore/storetest imports eventstore only", pkgs: []string{"eventstore/storetest"}, allowed: []string{"eventstore"}},
	{name: "eventstore adapters are leaves: eventstore (and internal/supervise) + their driver, never up, not each other",
		pkgs: []string{"eventstore/sqlite", "eventstore/postgres", "eventstore/eventstoredb"}, allowed: []string{"eventstore", "internal/supervise"},
		forbidden: []string{pion, nats, wmNATS}},
	{name: "bus never imports up: eventstore and internal/supervise, no NATS (that is bus/nats)",
		pkgs: []string{"bus"}, allowed: []string{"eventstore", "internal/supervise"},
		forbidden: append([]string{pion, netHTTP, nats, wmNATS}, drivers...)},
	{name: "bus/nats imports bus and eventstore only", pkgs: []string{"bus/nats"}, allowed: []string{"bus", "eventstore"},
		forbidden: append([]string{pion}, drivers...)},
	{name: "blobstore (the contract) imports nothing of confab, no database driver",
		pkgs: []string{"blobstore"}, allowed: []string{}, forbidden: append([]string{pion, netHTTP, nats, wmNATS}, drivers...)},
	{name: "blobstore/blobtest imports blobstore only", pkgs: []string{"blobstore/blobtest"}, allowed: []string{"blobstore"}},
	{name: "blobstore adapters are leaves: blobstore + their driver, never up, not each other",
		pkgs: []string{"blobstore/file", "blobstore/postgres"}, allowed: []string{"blobstore"}, forbidden: []string{pion, nats, wmNATS}},
	{name: "imaging imports nothing of confab, no net/http", pkgs: []string{"imaging"}, allowed: []string{},
		forbidden: append([]string{pion, netHTTP, nats, wmNATS}, drivers...)},
	{name: "gateway imports commands, projections, bus, eventstore, blobstore, imaging, domain, media, internal/supervise and internal/throttle (not the adapters, bus/nats or cmd)",
		pkgs:      []string{"gateway"},
		allowed:   []string{"commands", "projections", "bus", "eventstore", "blobstore", "imaging", "domain", "media", "internal/supervise", "internal/throttle"},
		forbidden: append([]string{nats, wmNATS}, drivers...)},
	{name: "media imports nothing of confab", pkgs: []string{"media"}, forbidden: append([]string{nats, wmNATS}, drivers...)},
	{name: "media/turn imports nothing of confab", pkgs: []string{"media/turn"}, forbidden: append([]string{nats, wmNATS}, drivers...)},
	{name: "web imports nothing of confab", pkgs: []string{"web"}},
	{name: "cmd/confab may import everything", pkgs: []string{"cmd/confab"}, allowed: []string{"*"}},
	{name: "cmd/confab-bench imports internal/apitest and internal/rtctest only", pkgs: []string{"cmd/confab-bench"},
		allowed: []string{"internal/apitest", "internal/rtctest"}},
	{name: "internal/supervise imports eventstore only", pkgs: []string{"internal/supervise"}, allowed: []string{"eventstore"}},
	{name: "internal/metrics imports internal/supervise only", pkgs: []string{"internal/metrics"}, allowed: []string{"internal/supervise"}},
	{name: "internal/rtctest imports internal/apitest only", pkgs: []string{"internal/rtctest"}, allowed: []string{"internal/apitest"}},
	{name: "internal leaves import nothing of confab",
		pkgs: []string{"internal/password", "internal/throttle", "internal/apitest", "internal/pgtest", "internal/natstest", "internal/tmpfstest", "internal/archtest"}},
}

// testHelpers are packages made for tests: no non-test code imports them
// (cmd/confab-bench, the load generator, uses apitest and rtctest).
var testHelpers = []string{"internal/pgtest", "internal/natstest", "internal/tmpfstest", "eventstore/storetest"}

// violations returns what p breaks of r, one line each, naming the rule.
func (r rule) violations(p pkg, pkgs map[string]pkg) []string {
	var bad []string
	for _, imp := range p.Imports {
		if !inModule(imp) {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
		if !slices.Contains(r.allowed, rel) && !slices.Contains(r.allowed, "*") {
			bad = append(bad, r.fail(p, "imports "+imp))
		}
	}
	for _, d := range p.Deps {
		if r.stdlibOnly && !pkgs[d].Standard && !inModule(d) {
			bad = append(bad, r.fail(p, "depends on "+d+" (not the standard library)"))
			continue
		}
		for _, f := range r.forbidden {
			if under(d, f) {
				bad = append(bad, r.fail(p, "depends on "+d))
			}
		}
	}
	return bad
}

func (r rule) fail(p pkg, what string) string {
	return p.ImportPath + " " + what + `: breaks the rule "` + r.name + `" (README, Project structure)`
}

// ruleFor returns the rule whose subject is path, if any.
func ruleFor(path string) (rule, bool) {
	for _, r := range rules {
		for _, p := range r.pkgs {
			if path == module+"/"+p {
				return r, true
			}
		}
	}
	return rule{}, false
}

func TestImports(t *testing.T) {
	pkgs := loadPackages(t)
	for _, p := range pkgs {
		if !inModule(p.ImportPath) {
			continue
		}
		r, ok := ruleFor(p.ImportPath)
		if !ok {
			continue // TestEveryPackageHasARule reports it
		}
		for _, v := range r.violations(p, pkgs) {
			t.Error(v)
		}
	}
}

// TestTestHelpersOnlyInTests checks that no package's non-test code
// imports a test helper.
func TestTestHelpersOnlyInTests(t *testing.T) {
	for _, p := range loadPackages(t) {
		for _, imp := range p.Imports {
			for _, h := range testHelpers {
				if imp == module+"/"+h {
					t.Errorf("%s imports %s: breaks the rule \"test helpers are for tests only\"", p.ImportPath, imp)
				}
			}
		}
	}
}

// TestEveryPackageHasARule makes a new package state its import rule here
// (and in the README's table).
func TestEveryPackageHasARule(t *testing.T) {
	for _, path := range goList(t, "./...") {
		if _, ok := ruleFor(path); !ok {
			t.Errorf("%s has no import rule: add it to the README's \"Project structure\" table and to rules in internal/archtest", path)
		}
	}
	seen := map[string]bool{}
	for _, r := range rules {
		for _, p := range r.pkgs {
			if seen[p] {
				t.Errorf("%s is the subject of two rules", p)
			}
			seen[p] = true
		}
	}
}

// TestRulesCatchViolations shows that the rules fail on the imports they
// forbid, on made-up packages.
func TestRulesCatchViolations(t *testing.T) {
	rulePkg := func(rel string) rule {
		r, ok := ruleFor(module + "/" + rel)
		if !ok {
			t.Fatalf("no rule for %s", rel)
		}
		return r
	}
	std := map[string]pkg{"fmt": {ImportPath: "fmt", Standard: true}, "time": {ImportPath: "time", Standard: true},
		"net/http": {ImportPath: "net/http", Standard: true}, "net/http/httptest": {ImportPath: "net/http/httptest", Standard: true},
		"net/httputil": {ImportPath: "net/httputil", Standard: true}}
	m := func(rel string) string { return module + "/" + rel }
	tests := []struct {
		rel     string
		imports []string
		deps    []string
		bad     int
	}{
		{"domain", nil, []string{"fmt", "time"}, 0},
		{"domain", nil, []string{"fmt", "github.com/google/uuid"}, 1},
		{"domain", []string{m("eventstore")}, []string{m("eventstore")}, 1},
		{"commands", []string{m("domain"), "context"}, []string{m("domain")}, 0},
		{"commands", nil, []string{"net/http", "github.com/jackc/pgx/v5", "github.com/pion/webrtc/v4"}, 3},
		{"commands", nil, []string{"net/http/httptest", "net/httputil"}, 1},
		{"commands", []string{m("projections")}, nil, 1},
		{"media", []string{m("domain")}, nil, 1},
		{"media", []string{"github.com/pion/webrtc/v4"}, []string{"github.com/pion/webrtc/v4"}, 0},
		{"bus", []string{m("projections"), m("eventstore")}, []string{"github.com/nats-io/nats.go"}, 2},
		{"eventstore/postgres", []string{m("eventstore"), m("eventstore/sqlite")}, nil, 1},
		{"eventstore", []string{m("domain")}, []string{"github.com/jackc/pgx/v5"}, 2},
		{"gateway", []string{m("eventstore/postgres"), m("media")}, nil, 1},
		{"cmd/confab", []string{m("eventstore/postgres"), m("media")}, nil, 0},
	}
	for _, tt := range tests {
		r := rulePkg(tt.rel)
		p := pkg{ImportPath: m(tt.rel), Imports: tt.imports, Deps: tt.deps}
		got := r.violations(p, std)
		if len(got) != tt.bad {
			t.Errorf("%s importing %v, depending on %v: violations %q, want %d", tt.rel, tt.imports, tt.deps, got, tt.bad)
		}
		for _, v := range got {
			if !strings.Contains(v, r.name) {
				t.Errorf("violation %q does not name its rule", v)
			}
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
