package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
	"github.com/urfave/cli/v3"
)

// lagLimit bounds how many events status counts behind a checkpoint.
const lagLimit = 1_000_000

func (m *Main) projectionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "projections",
		Usage: "inspect and rebuild the read models",
		Flags: storeFlags(),
		Commands: []*cli.Command{
			{
				Name:  "status",
				Usage: "show each projection's checkpoint, lag behind the store's head, and row counts",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "print JSON instead of tables"},
				},
				Action: m.projectionsStatus,
			},
			{
				Name:      "rebuild",
				Usage:     "rebuild a projection from the start of the log into shadow tables, then swap them in, while the server runs",
				ArgsUsage: "NAME|--all",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "rebuild every projection"},
					&cli.BoolFlag{Name: "verify", Usage: "compare the rebuilt rows with the live ones first; swap only if they are equal"},
					&cli.BoolFlag{Name: "restart", Usage: "discard what an interrupted rebuild left instead of resuming it"},
					&cli.BoolFlag{Name: "confirm", Usage: "once caught up, ask on the terminal before swapping"},
					&cli.IntFlag{Name: "batch", Value: 1000, Usage: "events read and applied per transaction"},
					&cli.DurationFlag{Name: "progress-interval", Value: progressInterval, Usage: "how often to print progress when stderr is not a terminal"},
				},
				Action: m.projectionsRebuild,
			},
		},
	}
}

// statusJSON is the JSON form of projections status.
type statusJSON struct {
	Store string `json:"store"`
	Head  string `json:"head"`
	// PositionFormat says what the two numbers of a position
	// ("733/619") are in this store.
	PositionFormat string           `json:"position_format"`
	Projections    []projectionJSON `json:"projections"`
}

type projectionJSON struct {
	Name       string           `json:"name"`
	Checkpoint string           `json:"checkpoint"`
	Lag        int64            `json:"lag"`
	LagAtLeast bool             `json:"lag_at_least,omitempty"` // counting stopped at lag
	State      string           `json:"state"`
	Tables     map[string]int64 `json:"tables"`
	Shadow     *shadowJSON      `json:"shadow,omitempty"`
}

type shadowJSON struct {
	Position  string    `json:"position"`
	Events    int64     `json:"events"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (m *Main) projectionsStatus(ctx context.Context, c *cli.Command) error {
	if c.NArg() > 0 {
		return fmt.Errorf("projections status takes no arguments, got %q", c.Args().Slice())
	}
	a, err := m.openAdmin(ctx, c, false)
	if err != nil {
		return err
	}
	defer a.Close()
	p, err := a.projections(ctx)
	if err != nil {
		return err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return err
	}
	head, err := a.store.Head(ctx)
	if err != nil {
		return fmt.Errorf("read the store's head: %w", err)
	}
	lag, complete, err := projections.Behind(ctx, a.store, st.Checkpoint, lagLimit)
	if err != nil {
		return err
	}
	state := "live"
	switch {
	case st.Paused:
		state = "paused" // an in-place rebuild, or a --verify comparing
	case st.Shadow != nil:
		state = "live, shadow rebuild under way or interrupted"
	}
	out := statusJSON{Store: a.where, Head: head.String(), PositionFormat: a.positionFormat()}
	pj := projectionJSON{Name: st.Name, Checkpoint: st.Checkpoint.String(), Lag: lag, LagAtLeast: !complete, State: state, Tables: map[string]int64{}}
	for _, t := range st.Tables {
		pj.Tables[t.Table] = t.Rows
	}
	if s := st.Shadow; s != nil {
		pj.Shadow = &shadowJSON{Position: s.Position.String(), Events: s.Events, StartedAt: s.StartedAt, UpdatedAt: s.UpdatedAt}
	}
	out.Projections = append(out.Projections, pj)
	if c.Bool("json") {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}

	w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "store\t%s\n", a.where)
	fmt.Fprintf(w, "head\t%s\n\n", a.position(head))
	fmt.Fprintln(w, "PROJECTION\tCHECKPOINT\tLAG\tSTATE")
	lagText := fmt.Sprint(lag)
	if !complete {
		lagText = fmt.Sprintf(">=%d", lag)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\n\n", st.Name, a.position(st.Checkpoint), lagText, state)
	fmt.Fprintln(w, "TABLE\tROWS")
	for _, t := range st.Tables {
		fmt.Fprintf(w, "%s\t%d\n", t.Table, t.Rows)
	}
	if s := st.Shadow; s != nil {
		fmt.Fprintf(w, "\nshadow rebuild of %s: at %s, %s applied, started %s, last progress %s ago\n",
			st.Name, a.position(s.Position), count(s.Events, "event", "events"), s.StartedAt.Format(time.RFC3339), time.Since(s.UpdatedAt).Round(time.Second))
		fmt.Fprintf(w, "(if no rebuild runs, `confab projections rebuild %s` resumes it)\n", st.Name)
	}
	return w.Flush()
}

func (m *Main) projectionsRebuild(ctx context.Context, c *cli.Command) error {
	names, err := rebuildNames(c)
	if err != nil {
		return err
	}
	if c.Int("batch") < 1 || c.Int("batch") > eventstore.MaxAppendEvents*10 {
		return fmt.Errorf("--batch %d: want 1 to %d", c.Int("batch"), eventstore.MaxAppendEvents*10)
	}
	a, err := m.openAdmin(ctx, c, false)
	if err != nil {
		return err
	}
	defer a.Close()
	p, err := a.projections(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := m.rebuild(ctx, c, a, p, name); err != nil {
			return err
		}
	}
	return nil
}

// rebuildNames returns the projections a rebuild names: one NAME, or
// --all.
func rebuildNames(c *cli.Command) ([]string, error) {
	args := c.Args().Slice()
	switch {
	case c.Bool("all") && len(args) > 0:
		return nil, fmt.Errorf("name a projection or pass --all, not both")
	case c.Bool("all"):
		return projections.Names(), nil
	case len(args) == 0:
		return nil, fmt.Errorf("name a projection to rebuild (%s) or pass --all", strings.Join(projections.Names(), ", "))
	case len(args) > 1:
		return nil, fmt.Errorf("rebuild one projection at a time, or pass --all; got %q", args)
	}
	if err := projections.CheckName(args[0]); err != nil {
		return nil, err
	}
	return args, nil
}

func (m *Main) rebuild(ctx context.Context, c *cli.Command, a *admin, p *projections.Projections, name string) error {
	prog := newProgress(m.Stderr, "rebuild "+name, c.Duration("progress-interval"))
	phase := ""
	opts := projections.ShadowOptions{
		Batch:   int(c.Int("batch")),
		Restart: c.Bool("restart"),
		Verify:  c.Bool("verify"),
		Progress: func(pr projections.ShadowProgress) {
			if pr.Phase != phase {
				phase = pr.Phase
				switch phase {
				case projections.PhaseCatchUp:
					if pr.From != eventstore.Start && pr.Read == 0 {
						prog.note("%s: resuming the interrupted rebuild at %s", name, a.position(pr.From))
					}
				case projections.PhaseVerify:
					prog.note("%s: comparing the rebuilt rows with the live ones (the live read models wait meanwhile)", name)
				}
			}
			// The remaining events are estimated from the positions' second
			// parts, which count events in the SQLite and PostgreSQL stores.
			left := int64(0)
			if pr.Head.Prepare > pr.Position.Prepare {
				left = int64(pr.Head.Prepare - pr.Position.Prepare)
			}
			prog.update(pr.Read, pr.Read+left)
		},
	}
	if c.Bool("confirm") {
		opts.BeforeSwap = func(ctx context.Context, caughtUp eventstore.Position) error {
			prog.note("%s: caught up at %s. Swap the rebuilt tables in? [y/N]", name, a.position(caughtUp))
			answer, err := readLine(ctx, os.Stdin)
			if err != nil {
				return err
			}
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				return errNotSwapped
			}
			return nil
		}
	}
	res, err := p.RebuildShadow(ctx, a.store, opts)
	prog.finish()
	if res.Discarded != "" {
		fmt.Fprintf(m.Stderr, "%s: started over: %s\n", name, res.Discarded)
	}
	if res.Verified {
		m.printDiffs(name, res.Diffs)
	}
	switch {
	case errors.Is(err, errNotSwapped):
		return fmt.Errorf("%s: not swapped; the shadow tables stay, and the next rebuild resumes from them", name)
	case errors.Is(err, projections.ErrVerifyFailed):
		return fmt.Errorf("%s: the rebuilt rows differ from the live ones; nothing swapped (rebuild again without --verify to swap them in)", name)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return fmt.Errorf("%s: interrupted; the live tables are untouched, and the next rebuild resumes where this one stopped", name)
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	}
	how := "rebuilt from the start"
	if res.Resumed {
		how = fmt.Sprintf("resumed at %s", a.position(res.From))
	}
	fmt.Fprintf(m.Stdout, "%s: %s, %s read; swapped in at %s\n", name, how, count(res.Read, "event", "events"), a.position(res.Position))
	return nil
}

var errNotSwapped = errors.New("not swapped")

// storeKind is the kind of store a names: sqlite, postgres or eventstoredb.
func (a *admin) storeKind() string {
	kind, _, _ := strings.Cut(a.where, " ")
	return kind
}

// position writes p for people, saying what its numbers are: SQLite's
// is one row ID (both parts are it); PostgreSQL's is the event's position
// and the ID of the transaction that wrote it (the order is by
// transaction first: see eventstore/postgres); EventStoreDB's are its
// commit and prepare positions.
func (a *admin) position(p eventstore.Position) string {
	switch a.storeKind() {
	case "sqlite":
		if p.Commit == p.Prepare {
			return fmt.Sprintf("position %d", p.Prepare)
		}
	case "postgres":
		return fmt.Sprintf("position %d, transaction %d", p.Prepare, p.Commit)
	}
	return fmt.Sprintf("commit %d, prepare %d", p.Commit, p.Prepare)
}

// positionFormat says what the two numbers of Position.String are.
func (a *admin) positionFormat() string {
	switch a.storeKind() {
	case "sqlite":
		return "position/position"
	case "postgres":
		return "transaction/position"
	}
	return "commit/prepare"
}

func (m *Main) printDiffs(name string, diffs []projections.TableDiff) {
	if len(diffs) == 0 {
		fmt.Fprintf(m.Stdout, "%s: verified: the rebuilt rows equal the live ones\n", name)
		return
	}
	fmt.Fprintf(m.Stdout, "%s: the rebuilt rows differ from the live ones in %s:\n", name, count(len(diffs), "table", "tables"))
	for _, d := range diffs {
		fmt.Fprintf(m.Stdout, "  %s: %d live rows, %d rebuilt; %d only live, %d only rebuilt\n", d.Table, d.LiveRows, d.RebuiltRows, d.OnlyLive, d.OnlyRebuilt)
		for _, r := range d.OnlyLiveEx {
			fmt.Fprintf(m.Stdout, "    only live:    %s\n", r)
		}
		for _, r := range d.OnlyRebuiltEx {
			fmt.Fprintf(m.Stdout, "    only rebuilt: %s\n", r)
		}
	}
}

// readLine reads a line from r, or gives up when ctx ends.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	done := make(chan struct{})
	var line string
	var err error
	go func() {
		defer close(done)
		line, err = bufio.NewReader(r).ReadString('\n')
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-done:
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return line, err
	}
}
