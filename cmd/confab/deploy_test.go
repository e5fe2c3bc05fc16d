package main

// Tests of the deployment files (docker-compose.yml, Dockerfile,
// .dockerignore, deploy/) and of the configuration surface they rely on.
// No Docker engine runs on the build machines, so the files are parsed and
// checked against the code: the CONFAB_* variables they set must be flags'
// variables and parse as those flags, the ports they publish must be the
// ports the server listens on, the image must build the binary the way
// `go build` can.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the module's root, from cmd/confab.
const repoRoot = "../.."

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Build           any               `yaml:"build"`
	Image           string            `yaml:"image"`
	Profiles        []string          `yaml:"profiles"`
	Command         []string          `yaml:"command"`
	Environment     map[string]string `yaml:"environment"`
	Ports           []string          `yaml:"ports"`
	Volumes         []string          `yaml:"volumes"`
	DependsOn       any               `yaml:"depends_on"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	Healthcheck     *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// readFile reads a file of the repository.
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readEnvFile reads KEY=VALUE lines, as docker compose reads .env.
func readEnvFile(t *testing.T, name string) map[string]string {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, name)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", name, line)
		}
		env[k] = v
	}
	return env
}

// composeVar matches compose's interpolations: ${VAR}, ${VAR:?err},
// ${VAR?err}, ${VAR:-default}, ${VAR-default}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate replaces compose's variables with values from env; a
// variable that is required (:?) and missing is an error.
func interpolate(s string, env map[string]string) (string, error) {
	var missing []string
	out := composeVar.ReplaceAllStringFunc(s, func(m string) string {
		g := composeVar.FindStringSubmatch(m)
		v, set := env[g[1]]
		switch g[2] {
		case ":-":
			if v == "" {
				return g[3]
			}
		case "-":
			if !set {
				return g[3]
			}
		case ":?", "?":
			if !set || (g[2] == ":?" && v == "") {
				missing = append(missing, g[1])
			}
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("required variables %v are not set", missing)
	}
	return out, nil
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"A": "a", "EMPTY": ""}
	for _, tt := range []struct{ in, want string }{
		{"x${A}y", "xay"},
		{"${A:?need A}", "a"},
		{"${B:-dflt}", "dflt"},
		{"${EMPTY:-dflt}", "dflt"},
		{"${EMPTY-dflt}", ""},
	} {
		if got, err := interpolate(tt.in, env); err != nil || got != tt.want {
			t.Errorf("interpolate(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"${B:?need B}", "${EMPTY:?need it}", "${B?need B}"} {
		if _, err := interpolate(in, env); err == nil {
			t.Errorf("interpolate(%q): no error for a missing required variable", in)
		}
	}
}

// loadCompose parses docker-compose.yml with its variables taken from
// deploy/env.example, filled in as an operator would.
func loadCompose(t *testing.T) (composeFile, map[string]string) {
	t.Helper()
	return loadComposeWith(t, nil)
}

// loadComposeWith is loadCompose with more variables set.
func loadComposeWith(t *testing.T, extra map[string]string) (composeFile, map[string]string) {
	t.Helper()
	env := readEnvFile(t, "deploy/env.example")
	for k, v := range env {
		if v == "" {
			env[k] = "secret-" + strings.ToLower(k)
		}
	}
	for k, v := range extra {
		env[k] = v
	}
	text, err := interpolate(readFile(t, "docker-compose.yml"), env)
	if err != nil {
		t.Fatalf("docker-compose.yml with the variables of deploy/env.example: %v", err)
	}
	var cf composeFile
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(false)
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return cf, env
}

// flagEnv maps each CONFAB_* variable of cmd's flags to its flag.
func flagEnv(t *testing.T, cmd *cli.Command) map[string]cli.Flag {
	t.Helper()
	out := map[string]cli.Flag{}
	for _, f := range cmd.Flags {
		ev, ok := f.(interface{ GetEnvVars() []string })
		if !ok {
			continue
		}
		for _, e := range ev.GetEnvVars() {
			out[e] = f
		}
	}
	return out
}

// isHelp reports whether f is cli's own --help flag.
func isHelp(f cli.Flag) bool { return slices.Contains(f.Names(), "help") }

// TestFlagsHaveEnvironment checks that every flag of serve (and of the
// healthcheck, which reads serve's environment) can be set by a CONFAB_*
// variable named after it, has a usage text, and that `serve --help`
// shows the variable.
func TestFlagsHaveEnvironment(t *testing.T) {
	m := &Main{}
	serve := m.serveCommand()
	serveEnv := map[string]string{} // flag name -> variable
	var help bytes.Buffer
	hm := &Main{Stdout: &help, Stderr: io.Discard}
	if err := hm.Run(context.Background(), []string{"confab", "serve", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*cli.Command{serve, m.healthcheckCommand(), m.projectionsCommand(), m.eventsCommand()} {
		for _, f := range cmd.Flags {
			if isHelp(f) {
				continue
			}
			name := f.Names()[0]
			var envs []string
			if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
				envs = ev.GetEnvVars()
			}
			want := "CONFAB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			switch {
			case cmd == serve && len(envs) != 1:
				t.Errorf("serve --%s: environment variables %v, want [%s]", name, envs, want)
			case cmd == serve:
				if envs[0] != want {
					t.Errorf("serve --%s: environment variable %s, want %s", name, envs[0], want)
				}
				serveEnv[name] = envs[0]
				if !strings.Contains(help.String(), "$"+envs[0]+"]") {
					t.Errorf("serve --help does not show %s", envs[0])
				}
			case len(envs) == 0 && cmd.Name == "healthcheck":
				t.Errorf("healthcheck --%s has no environment variable", name)
			case len(envs) > 0 && !strings.HasPrefix(envs[0], "CONFAB_"):
				t.Errorf("%s --%s: environment variable %s lacks the CONFAB_ prefix", cmd.Name, name, envs[0])
			}
			if u, ok := f.(interface{ GetUsage() string }); !ok || strings.TrimSpace(u.GetUsage()) == "" {
				t.Errorf("%s --%s has no usage text", cmd.Name, name)
			}
			// A flag that other commands share with serve reads the same
			// variable, so that one environment configures them all.
			if se, ok := serveEnv[name]; ok && cmd != serve && (len(envs) != 1 || envs[0] != se) {
				t.Errorf("%s --%s reads %v, serve --%s reads %s", cmd.Name, name, envs, name, se)
			}
		}
	}
	if len(serveEnv) < 30 {
		t.Fatalf("found %d serve flags; the test does not see them", len(serveEnv))
	}
	// docs/deployment.md lists every variable.
	doc := readFile(t, "docs/deployment.md")
	for name, env := range serveEnv {
		if !strings.Contains(doc, "`"+env+"`") {
			t.Errorf("docs/deployment.md does not list %s (--%s)", env, name)
		}
	}
}

// serveConfig parses serve's flags from env alone, as the container would,
// and returns the parsed command.
func serveConfig(t *testing.T, env map[string]string) *cli.Command {
	t.Helper()
	// The test process has CONFAB_* variables of its own (TestMain sets
	// some): hide them.
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CONFAB_") {
			t.Setenv(k, v)
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard}
	cmd := m.serveCommand()
	var parsed *cli.Command
	cmd.Action = func(_ context.Context, c *cli.Command) error { parsed = c; return nil }
	root := &cli.Command{Name: "confab", Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard}
	if err := root.Run(context.Background(), []string{"confab", "serve"}); err != nil {
		t.Fatalf("serve's flags do not accept the environment %v: %v", env, err)
	}
	if parsed == nil {
		t.Fatal("serve did not run")
	}
	return parsed
}

// portRange is a published port or range: host ports to container ports.
type portRange struct {
	hostLo, hostHi, lo, hi int
	proto                  string
}

func parsePorts(t *testing.T, specs []string) []portRange {
	t.Helper()
	rng := func(s string) (int, int) {
		lo, hi, isRange := strings.Cut(s, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			t.Fatalf("port %q", s)
		}
		return a, b
	}
	var out []portRange
	for _, s := range specs {
		spec, proto, ok := strings.Cut(s, "/")
		if !ok {
			proto = "tcp"
		}
		parts := strings.Split(spec, ":")
		if len(parts) < 2 {
			t.Fatalf("port %q: publish HOST:CONTAINER", s)
		}
		hl, hh := rng(parts[len(parts)-2])
		cl, ch := rng(parts[len(parts)-1])
		out = append(out, portRange{hl, hh, cl, ch, proto})
	}
	return out
}

// published reports whether ports publish lo..hi/proto on the same host
// port numbers (the server announces its own port numbers to clients).
func published(ports []portRange, lo, hi int, proto string) bool {
	for _, p := range ports {
		if p.proto == proto && p.lo <= lo && hi <= p.hi && p.hostLo-p.lo == 0 && p.hostHi-p.hi == 0 {
			return true
		}
	}
	return false
}

func listenPort(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return n
}

// volumeAt returns the volume a service mounts at dir.
func volumeAt(s composeService, dir string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && path.Clean(parts[1]) == path.Clean(dir) {
			return parts[0]
		}
	}
	return ""
}

// dependsHealthy reports whether s waits for dep to be healthy.
func dependsHealthy(s composeService, dep string) bool {
	m, ok := s.DependsOn.(map[string]any)
	if !ok {
		return false
	}
	d, ok := m[dep].(map[string]any)
	return ok && d["condition"] == "service_healthy"
}

// commentedEnv reads the commented-out KEY=VALUE lines ("#KEY=VALUE") of
// an env file: settings it offers to uncomment.
func commentedEnv(t *testing.T, name string) map[string]string {
	t.Helper()
	env := map[string]string{}
	re := regexp.MustCompile(`^#([A-Z][A-Z0-9_]*)=(.*)$`)
	for _, line := range strings.Split(readFile(t, name), "\n") {
		if m := re.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			env[m[1]] = m[2]
		}
	}
	return env
}

// confabConfig checks that every variable of a confab node's environment
// is a serve flag's, and returns serve's flags parsed from it.
func confabConfig(t *testing.T, name string, svc composeService) *cli.Command {
	t.Helper()
	flags := flagEnv(t, (&Main{}).serveCommand())
	env := map[string]string{}
	for k, v := range svc.Environment {
		if !strings.HasPrefix(k, "CONFAB_") {
			t.Errorf("%s's environment sets %s, which confab does not read", name, k)
			continue
		}
		if _, ok := flags[k]; !ok {
			t.Errorf("%s's environment sets %s, which is no serve flag's variable", name, k)
		}
		env[k] = v
	}
	return serveConfig(t, env)
}

// caddyEnv matches the Caddyfile's environment placeholders: {$VAR} and
// {$VAR:default}.
var caddyEnv = regexp.MustCompile(`\{\$([A-Z_]+)(?::([^}]*))?\}`)

// caddyUpstreams returns the upstreams of the Caddyfile's reverse_proxy,
// its placeholders replaced from env as Caddy does (before parsing, so a
// variable may hold several).
func caddyUpstreams(t *testing.T, caddyfile string, env map[string]string) []string {
	t.Helper()
	for _, line := range strings.Split(caddyfile, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "reverse_proxy ")
		if !ok {
			continue
		}
		rest = caddyEnv.ReplaceAllStringFunc(rest, func(m string) string {
			g := caddyEnv.FindStringSubmatch(m)
			if v := env[g[1]]; v != "" {
				return v
			}
			return g[2]
		})
		var ups []string
		for _, f := range strings.Fields(rest) {
			if f == "{" {
				break
			}
			ups = append(ups, f)
		}
		return ups
	}
	t.Fatal("deploy/Caddyfile has no reverse_proxy")
	return nil
}

func TestComposeFile(t *testing.T) {
	cf, _ := loadCompose(t)
	for _, name := range []string{"confab", "postgres", "nats", "caddy"} {
		if _, ok := cf.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no %s service", name)
		}
	}
	confab, pg, nats, caddy := cf.Services["confab"], cf.Services["postgres"], cf.Services["nats"], cf.Services["caddy"]

	// confab is built from the Dockerfile at the root.
	if confab.Build != "." {
		t.Errorf("confab builds from %v, want .", confab.Build)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "Dockerfile")); err != nil {
		t.Error(err)
	}

	// Every CONFAB_* variable is a flag's, and the values parse as the
	// flags do. confab runs in every profile.
	c := confabConfig(t, "confab", confab)
	if len(confab.Profiles) > 0 {
		t.Errorf("confab runs only with the profiles %v", confab.Profiles)
	}

	// The store is the postgres service's database, the bus the nats
	// service with JetStream.
	if got := c.String("store"); got != "postgres" {
		t.Errorf("CONFAB_STORE %q, want postgres", got)
	}
	pgURL, err := url.Parse(c.String("postgres-url"))
	if err != nil {
		t.Fatalf("CONFAB_POSTGRES_URL: %v", err)
	}
	pass, _ := pgURL.User.Password()
	if pgURL.Hostname() != "postgres" || pgURL.Port() != "5432" || pgURL.User.Username() != pg.Environment["POSTGRES_USER"] ||
		pass != pg.Environment["POSTGRES_PASSWORD"] || strings.TrimPrefix(pgURL.Path, "/") != pg.Environment["POSTGRES_DB"] {
		t.Errorf("CONFAB_POSTGRES_URL %s does not name the postgres service's user, password and database %v", pgURL.Redacted(), pg.Environment)
	}
	natsURL, err := url.Parse(c.String("nats-url"))
	if err != nil || natsURL.Hostname() != "nats" || natsURL.Port() != "4222" {
		t.Errorf("CONFAB_NATS_URL %q: want nats://nats:4222 (%v)", c.String("nats-url"), err)
	}
	if !slices.Contains(nats.Command, "-js") {
		t.Errorf("nats runs %v: JetStream (-js) is off", nats.Command)
	}
	if i := slices.Index(nats.Command, "-sd"); i < 0 || i+1 >= len(nats.Command) || volumeAt(nats, nats.Command[i+1]) == "" {
		t.Errorf("nats keeps JetStream (%v) outside a volume", nats.Command)
	}
	for _, dep := range []string{"postgres", "nats"} {
		if !dependsHealthy(confab, dep) {
			t.Errorf("confab does not wait for %s to be healthy", dep)
		}
	}

	// Calls: TURN's listeners, its relay range and the SFU's media range
	// are published on the same numbers, and the public IP is set.
	ports := parsePorts(t, confab.Ports)
	for _, l := range []struct{ flag, proto string }{{"turn-udp", "udp"}, {"turn-tcp", "tcp"}} {
		p := listenPort(t, c.String(l.flag))
		if p == 0 || !published(ports, p, p, l.proto) {
			t.Errorf("--%s %s: port %d/%s is not published as itself (%v)", l.flag, c.String(l.flag), p, l.proto, confab.Ports)
		}
	}
	for _, r := range []string{"turn", "rtc"} {
		lo, hi := int(c.Uint16(r+"-port-min")), int(c.Uint16(r+"-port-max"))
		if lo == 0 || hi < lo {
			t.Errorf("--%s-port-min/max %d-%d: a container needs a fixed range to publish", r, lo, hi)
		} else if !published(ports, lo, hi, "udp") {
			t.Errorf("--%s-port-min/max %d-%d/udp is not published as itself (%v)", r, lo, hi, confab.Ports)
		}
	}
	if c.String("turn-relay-ip") == "" || len(c.StringSlice("rtc-public-ip")) == 0 || c.String("turn-secret") == "" {
		t.Errorf("calls need CONFAB_TURN_RELAY_IP, CONFAB_RTC_PUBLIC_IP and CONFAB_TURN_SECRET")
	}
	// Behind Caddy: secure cookies, the proxy trusted; the API is not
	// published past it.
	proxies, err := parsePrefixes("trusted-proxies", c.StringSlice("trusted-proxies"))
	if err != nil {
		t.Errorf("CONFAB_TRUSTED_PROXIES: %v", err)
	}
	if !c.Bool("secure-cookies") || len(proxies) == 0 {
		t.Errorf("behind Caddy, confab needs CONFAB_SECURE_COOKIES and CONFAB_TRUSTED_PROXIES")
	}
	caddyIP := netip.MustParseAddr("172.18.0.5") // an address Docker gives containers
	if !slices.ContainsFunc(proxies, func(p netip.Prefix) bool { return p.Contains(caddyIP) }) {
		t.Errorf("CONFAB_TRUSTED_PROXIES %v does not cover Docker's networks (%s)", proxies, caddyIP)
	}
	if apiPort := listenPort(t, c.String("addr")); published(ports, apiPort, apiPort, "tcp") {
		t.Errorf("confab publishes its API port %d past Caddy", apiPort)
	}

	// Data in volumes.
	for _, v := range []struct {
		svc  composeService
		name string
		dir  string
	}{{confab, "confab", c.String("data")}, {pg, "postgres", "/var/lib/postgresql/data"}} {
		vol := volumeAt(v.svc, v.dir)
		if vol == "" {
			t.Errorf("%s keeps %s outside a volume", v.name, v.dir)
		}
	}
	for name, s := range cf.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
				continue
			}
			if _, ok := cf.Volumes[src]; !ok {
				t.Errorf("%s mounts volume %s, which is not declared", name, src)
			}
		}
	}

	// Health checks: confab's probes /readyz with the binary's own
	// healthcheck command (the image has no shell, curl or wget).
	for _, name := range []string{"confab", "postgres", "nats"} {
		if hc := cf.Services[name].Healthcheck; hc == nil || len(hc.Test) < 2 {
			t.Errorf("%s has no health check", name)
		}
	}
	df := parseDockerfile(t)
	if hc := confab.Healthcheck; hc != nil && !slices.Equal(hc.Test, []string{"CMD", df.entrypoint, "healthcheck"}) {
		t.Errorf("confab's health check runs %v, want [CMD %s healthcheck]", hc.Test, df.entrypoint)
	}

	// A stop waits for the graceful shutdown.
	grace, err := time.ParseDuration(confab.StopGracePeriod)
	if err != nil || grace <= c.Duration("shutdown-timeout") {
		t.Errorf("stop_grace_period %q: want longer than --shutdown-timeout %s", confab.StopGracePeriod, c.Duration("shutdown-timeout"))
	}

	// Caddy serves HTTPS for the domain and proxies to confab's --addr.
	caddyfile := readFile(t, "deploy/Caddyfile")
	want := fmt.Sprintf("confab:%d", listenPort(t, c.String("addr")))
	if ups := caddyUpstreams(t, caddyfile, caddy.Environment); !slices.Equal(ups, []string{want}) {
		t.Errorf("deploy/Caddyfile proxies to %v, want [%s]", ups, want)
	}
	for _, m := range caddyEnv.FindAllStringSubmatch(caddyfile, -1) {
		if caddy.Environment[m[1]] == "" {
			t.Errorf("deploy/Caddyfile reads {$%s}, which the caddy service does not set", m[1])
		}
	}
	if volumeAt(caddy, "/etc/caddy/Caddyfile") != "./deploy/Caddyfile" {
		t.Errorf("caddy does not mount deploy/Caddyfile: %v", caddy.Volumes)
	}
	cports := parsePorts(t, caddy.Ports)
	if !published(cports, 80, 80, "tcp") || !published(cports, 443, 443, "tcp") {
		t.Errorf("caddy publishes %v, want 80 and 443", caddy.Ports)
	}
}

// TestComposeTwoNodes checks the two-nodes profile as deploy/env.example
// offers to turn it on: a second node with confab's settings where they
// must be shared (the store, NATS, the TURN secret, the public address)
// and its own where they must differ (ports, data volume), both behind
// Caddy, and no host port published twice.
func TestComposeTwoNodes(t *testing.T) {
	offered := commentedEnv(t, "deploy/env.example")
	if offered["COMPOSE_PROFILES"] != "two-nodes" || offered["CONFAB_UPSTREAMS"] == "" {
		t.Fatalf("deploy/env.example does not offer COMPOSE_PROFILES=two-nodes and CONFAB_UPSTREAMS (commented out): %v", offered)
	}
	cf, _ := loadComposeWith(t, offered)
	one, ok1 := cf.Services["confab"]
	two, ok2 := cf.Services["confab2"]
	if !ok1 || !ok2 {
		t.Fatalf("docker-compose.yml has no confab and confab2 services")
	}
	if !slices.Equal(two.Profiles, []string{"two-nodes"}) {
		t.Errorf("confab2 runs with the profiles %v, want [two-nodes]", two.Profiles)
	}
	c1 := confabConfig(t, "confab", one)
	c2 := confabConfig(t, "confab2", two)

	// Shared: one store, one NATS (which several nodes need), one TURN
	// secret, the same public address.
	for _, f := range []string{"store", "postgres-url", "nats-url", "turn-secret", "turn-relay-ip", "turn-public-host", "trusted-proxies", "secure-cookies"} {
		if v1, v2 := fmt.Sprint(c1.Value(f)), fmt.Sprint(c2.Value(f)); v1 != v2 {
			t.Errorf("--%s: confab %q, confab2 %q; the nodes must share it", f, v1, v2)
		}
	}
	if c2.String("nats-url") == "" || c2.String("store") != "postgres" || c2.String("turn-secret") == "" {
		t.Errorf("confab2: store %q, nats %q, TURN secret set %v: two nodes need PostgreSQL, NATS and one secret",
			c2.String("store"), c2.String("nats-url"), c2.String("turn-secret") != "")
	}
	if !slices.Equal(c1.StringSlice("rtc-public-ip"), c2.StringSlice("rtc-public-ip")) || len(c2.StringSlice("rtc-public-ip")) == 0 {
		t.Errorf("--rtc-public-ip: confab %v, confab2 %v", c1.StringSlice("rtc-public-ip"), c2.StringSlice("rtc-public-ip"))
	}
	if !dependsHealthy(two, "postgres") || !dependsHealthy(two, "nats") || two.Healthcheck == nil || two.Build != "." {
		t.Errorf("confab2 does not build, wait for postgres and nats, or check its health as confab does")
	}

	// Distinct: each node's TURN listeners, relay range and media range
	// are its own and published as themselves; its API and metrics ports
	// differ (so the pair also runs with host networking); its data has
	// its own volume.
	ports2 := parsePorts(t, two.Ports)
	for _, l := range []struct{ flag, proto string }{{"turn-udp", "udp"}, {"turn-tcp", "tcp"}} {
		p1, p2 := listenPort(t, c1.String(l.flag)), listenPort(t, c2.String(l.flag))
		if p1 == p2 || !published(ports2, p2, p2, l.proto) {
			t.Errorf("--%s: confab %d, confab2 %d/%s (published %v): want distinct, published as itself", l.flag, p1, p2, l.proto, two.Ports)
		}
	}
	for _, r := range []string{"turn", "rtc"} {
		lo1, hi1 := int(c1.Uint16(r+"-port-min")), int(c1.Uint16(r+"-port-max"))
		lo2, hi2 := int(c2.Uint16(r+"-port-min")), int(c2.Uint16(r+"-port-max"))
		if lo2 == 0 || hi2 < lo2 || (lo2 <= hi1 && lo1 <= hi2) || !published(ports2, lo2, hi2, "udp") {
			t.Errorf("--%s-port-min/max: confab %d-%d, confab2 %d-%d (published %v): want a fixed range of its own, published as itself", r, lo1, hi1, lo2, hi2, two.Ports)
		}
	}
	for _, f := range []string{"addr", "metrics-addr"} {
		if p1, p2 := listenPort(t, c1.String(f)), listenPort(t, c2.String(f)); p1 == p2 {
			t.Errorf("--%s: both nodes listen on port %d", f, p1)
		}
	}
	if p := listenPort(t, c2.String("addr")); published(ports2, p, p, "tcp") {
		t.Errorf("confab2 publishes its API port %d past Caddy", p)
	}
	v1, v2 := volumeAt(one, c1.String("data")), volumeAt(two, c2.String("data"))
	if v2 == "" || v1 == v2 {
		t.Errorf("--data: confab in volume %q, confab2 in %q; want one each", v1, v2)
	} else if _, ok := cf.Volumes[v2]; !ok {
		t.Errorf("confab2 mounts volume %s, which is not declared", v2)
	}

	// Caddy spreads users over both nodes' API ports.
	want := []string{fmt.Sprintf("confab:%d", listenPort(t, c1.String("addr"))), fmt.Sprintf("confab2:%d", listenPort(t, c2.String("addr")))}
	if ups := caddyUpstreams(t, readFile(t, "deploy/Caddyfile"), cf.Services["caddy"].Environment); !slices.Equal(ups, want) {
		t.Errorf("with the two-nodes settings Caddy proxies to %v, want %v", ups, want)
	}

	// No host port is published twice.
	seen := map[string]string{}
	for name, svc := range cf.Services {
		for _, p := range parsePorts(t, svc.Ports) {
			for port := p.hostLo; port <= p.hostHi; port++ {
				k := fmt.Sprintf("%d/%s", port, p.proto)
				if other, dup := seen[k]; dup {
					t.Errorf("host port %s is published by %s and %s", k, other, name)
				}
				seen[k] = name
			}
		}
	}
}

// TestComposeVariables checks that deploy/env.example defines every
// variable docker-compose.yml requires, and that a missing one fails.
func TestComposeVariables(t *testing.T) {
	text := readFile(t, "docker-compose.yml")
	env := readEnvFile(t, "deploy/env.example")
	for _, m := range composeVar.FindAllStringSubmatch(text, -1) {
		if _, ok := env[m[1]]; !ok && !strings.HasPrefix(m[2], "-") && !strings.HasPrefix(m[2], ":-") {
			t.Errorf("docker-compose.yml needs %s, which deploy/env.example does not define", m[1])
		}
	}
	// The secrets are left empty in the example, so that compose refuses
	// to start until they are set.
	for _, k := range []string{"POSTGRES_PASSWORD", "CONFAB_TURN_SECRET"} {
		if v, ok := env[k]; !ok || v != "" {
			t.Errorf("deploy/env.example: %s=%q, want it empty, for the operator to fill in", k, v)
		}
	}
	if _, err := interpolate(text, env); err == nil {
		t.Errorf("docker-compose.yml accepts deploy/env.example's empty secrets")
	}
}

// TestComposeConfig runs `docker compose config` when the Compose plugin
// is installed; the checks above do not need it.
func TestComposeConfig(t *testing.T) {
	if exec.Command("docker", "compose", "version").Run() != nil {
		t.Log("docker compose is not installed: the YAML checks above stand in for it")
		return
	}
	cmd := exec.Command("docker", "compose", "-f", "docker-compose.yml", "config", "-q")
	cmd.Dir = repoRoot
	cmd.Env = os.Environ()
	for k, v := range readEnvFile(t, "deploy/env.example") {
		if v == "" {
			v = "secret"
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
}

// dockerfile is what the tests read of the Dockerfile.
type dockerfile struct {
	stages     []dockerStage
	entrypoint string // the binary ENTRYPOINT runs
}

type dockerStage struct {
	from, name string
	lines      []string // instructions, continuation lines joined
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	var df dockerfile
	var cur *dockerStage
	var pending string
	for _, raw := range strings.Split(readFile(t, "Dockerfile"), "\n") {
		line := strings.TrimSpace(raw)
		if pending == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			pending += s + " "
			continue
		}
		line, pending = pending+line, ""
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			st := dockerStage{from: fields[1]}
			if len(fields) >= 4 && strings.EqualFold(fields[2], "AS") {
				st.name = fields[3]
			}
			df.stages = append(df.stages, st)
			cur = &df.stages[len(df.stages)-1]
			continue
		}
		if cur == nil {
			t.Fatalf("Dockerfile: %q before FROM", line)
		}
		cur.lines = append(cur.lines, line)
	}
	if len(df.stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a small final one", len(df.stages))
	}
	for _, l := range df.stages[len(df.stages)-1].lines {
		if rest, ok := strings.CutPrefix(l, "ENTRYPOINT "); ok {
			var args []string
			if err := yaml.Unmarshal([]byte(rest), &args); err != nil || len(args) == 0 {
				t.Fatalf("Dockerfile: ENTRYPOINT %s: want exec form [\"/path\"]", rest)
			}
			df.entrypoint = args[0]
		}
	}
	return df
}

// goVersion is go.mod's go directive's major.minor version.
func goVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return m[1]
}

func TestDockerfile(t *testing.T) {
	df := parseDockerfile(t)
	build, final := df.stages[0], df.stages[len(df.stages)-1]

	// The build stage uses go.mod's Go and builds ./cmd/confab without cgo.
	if want := "golang:" + goVersion(t); build.from != want && !strings.HasPrefix(build.from, want+"-") && !strings.HasPrefix(build.from, want+".") {
		t.Errorf("Dockerfile builds with %s, want %s (go.mod)", build.from, want)
	}
	var out string
	for _, l := range build.lines {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			if !strings.Contains(l, "CGO_ENABLED=0") || !strings.Contains(l, "./cmd/confab") {
				t.Errorf("Dockerfile: %q: want CGO_ENABLED=0 go build ... ./cmd/confab", l)
			}
			if m := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(l); m != nil {
				out = m[1]
			}
		}
	}
	if out == "" {
		t.Fatal("Dockerfile: no RUN go build -o ... in the build stage")
	}

	// The final stage is small, runs the built binary unprivileged, and
	// checks its health with it.
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && !strings.HasPrefix(final.from, "alpine") && final.from != "scratch" {
		t.Errorf("Dockerfile's final stage is %s, want a small base (distroless static, alpine, scratch)", final.from)
	}
	copied, user, health, exposed := false, "", "", ""
	for _, l := range final.lines {
		f := strings.Fields(l)
		switch strings.ToUpper(f[0]) {
		case "COPY":
			if slices.Contains(f, "--from="+build.name) && slices.Contains(f, out) && f[len(f)-1] == df.entrypoint {
				copied = true
			}
		case "USER":
			user = f[1]
		case "HEALTHCHECK":
			health = l
		case "EXPOSE":
			exposed += " " + strings.Join(f[1:], " ") + " "
		}
	}
	if !copied {
		t.Errorf("Dockerfile: the final stage does not COPY --from=%s %s to the ENTRYPOINT %s", build.name, out, df.entrypoint)
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("Dockerfile: the image runs as %q, want an unprivileged user", user)
	}
	if !strings.Contains(health, `["`+df.entrypoint+`", "healthcheck"]`) {
		t.Errorf("Dockerfile: HEALTHCHECK %q does not run %s healthcheck", health, df.entrypoint)
	}

	// The defaults it sets are flags' variables; it exposes the ports the
	// server listens on.
	flags := flagEnv(t, (&Main{}).serveCommand())
	env := map[string]string{}
	for _, l := range final.lines {
		rest, ok := strings.CutPrefix(l, "ENV ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			if _, ok := flags[k]; !ok {
				t.Errorf("Dockerfile sets %s, which is no serve flag's variable", k)
			}
			env[k] = v
		}
	}
	c := serveConfig(t, env)
	for _, p := range []string{
		strconv.Itoa(listenPort(t, c.String("addr"))),
		strconv.Itoa(listenPort(t, c.String("turn-udp"))) + "/udp",
		strconv.Itoa(listenPort(t, c.String("turn-tcp"))) + "/tcp",
	} {
		if !strings.Contains(exposed, " "+p+" ") {
			t.Errorf("Dockerfile does not EXPOSE %s (EXPOSE%s)", p, exposed)
		}
	}
	if vol := c.String("data"); !strings.Contains(strings.Join(final.lines, "\n"), "VOLUME") || !strings.Contains(strings.Join(final.lines, "\n"), vol) {
		t.Errorf("Dockerfile: --data %s is not a VOLUME", vol)
	}
}

// dockerignored reports whether a .dockerignore pattern list leaves name
// out of the build context (the subset of its syntax used here: paths,
// globs, ** prefixes, no exceptions).
func dockerignored(patterns []string, name string) bool {
	parts := strings.Split(name, "/")
	for _, p := range patterns {
		p = strings.TrimPrefix(p, "/")
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			if ok, _ := path.Match(p, prefix); ok {
				return true
			}
			if rest, ok := strings.CutPrefix(p, "**/"); ok {
				if m, _ := path.Match(rest, parts[i-1]); m {
					return true
				}
			}
		}
	}
	return false
}

// TestDockerignore checks that the build context keeps every file the
// build needs: go.mod, go.sum, the Go files of every package of the
// binary and the files they embed.
func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(readFile(t, ".dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			if strings.HasPrefix(l, "!") {
				t.Fatalf(".dockerignore: exceptions (%s) are beyond this test", l)
			}
			patterns = append(patterns, l)
		}
	}
	if !dockerignored(patterns, ".git/HEAD") {
		t.Errorf(".dockerignore does not leave out .git")
	}
	need := []string{"go.mod", "go.sum"}
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}`, "./cmd/confab")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		rel, err := filepath.Rel(abs, f[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded in the image
		}
		for _, file := range f[1:] {
			need = append(need, filepath.ToSlash(filepath.Join(rel, file)))
		}
	}
	if len(need) < 50 {
		t.Fatalf("found %d files the build needs; go list does not report them", len(need))
	}
	for _, n := range need {
		if dockerignored(patterns, n) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", n)
		}
	}
}

func TestDockerignoredMatcher(t *testing.T) {
	patterns := []string{".git", "docs", "**/testdata", "*.test", "/confab"}
	for name, want := range map[string]bool{
		".git/config":               true,
		"docs/deployment.md":        true,
		"gateway/testdata/fuzz/x":   true,
		"confab.test":               true,
		"confab":                    true,
		"cmd/confab/main.go":        false,
		"web/static/index.html":     false,
		"projections/migrations/01": false,
	} {
		if got := dockerignored(patterns, name); got != want {
			t.Errorf("dockerignored(%s) = %v, want %v", name, got, want)
		}
	}
}

// TestBuildsWithoutCgo checks what `CGO_ENABLED=0 go build ./cmd/confab`
// (the Dockerfile's build) depends on: every package loads without cgo,
// and no package outside the standard library has cgo files, so the
// static binary is the same program as a cgo build. (A full build would
// compile everything once more without the race detector: minutes.)
func TestBuildsWithoutCgo(t *testing.T) {
	list := func(cgo, format string) []string {
		cmd := exec.Command("go", "list", "-e", "-deps", "-f", format, "./cmd/confab")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return lines
	}
	if errs := list("0", `{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}{{range .DepsErrors}}{{.}}{{end}}`); len(errs) > 0 {
		t.Errorf("without cgo, packages fail to load:\n%s", strings.Join(errs, "\n"))
	}
	if cgo := list("1", `{{if not .Standard}}{{if .CgoFiles}}{{.ImportPath}} {{.CgoFiles}}{{end}}{{end}}`); len(cgo) > 0 {
		t.Errorf("packages that use cgo (CGO_ENABLED=0 would drop or stub them):\n%s", strings.Join(cgo, "\n"))
	}
	if n := len(list("0", `{{.ImportPath}}`)); n < 100 {
		t.Errorf("go list found %d packages; it does not see the build", n)
	}
}
