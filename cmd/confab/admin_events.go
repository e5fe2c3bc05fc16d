package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/urfave/cli/v3"
)

func (m *Main) eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "read, replay, export and import the event log",
		Flags: storeFlags(),
		Commands: []*cli.Command{
			{
				Name:  "tail",
				Usage: "print events as JSON lines (position, stream, revision, type, data, recorded_at), and with --follow as they are appended",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "stream", Usage: "only the events of this stream (for example room-<id>)"},
					&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing events as they are appended, until interrupted"},
					&cli.IntFlag{Name: "lines", Aliases: []string{"n"}, Value: 10, Usage: "print the last N events first (without --stream this reads the whole log)"},
					&cli.BoolFlag{Name: "all", Usage: "print every event from the start"},
					&cli.StringFlag{Name: "after", Usage: "print the events after this position (as printed: COMMIT/PREPARE)"},
				},
				Action: m.eventsTail,
			},
			{
				Name:  "replay",
				Usage: "print a room's timeline as it was at a moment (or play it back at a speed), deleted messages as they were then",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "room", Usage: "the room's ID", Required: true},
					&cli.StringFlag{Name: "until", Usage: "the moment: RFC 3339 (2025-06-01T09:30:00Z), or a date or date and time in UTC (2025-06-01, 2025-06-01T09:30); default now"},
					&cli.FloatFlag{Name: "speed", Usage: "play the events back as they happened at N times real speed, sleeping the scaled gaps; 0 prints the timeline at --until"},
					&cli.DurationFlag{Name: "max-gap", Value: 5 * time.Second, Usage: "with --speed, the longest sleep between two events"},
				},
				Action: m.eventsReplay,
			},
			{
				Name:  "export",
				Usage: "write every event, with its IDs, as JSON lines (events export > file.jsonl)",
				Flags: []cli.Flag{
					&cli.DurationFlag{Name: "progress-interval", Value: progressInterval, Usage: "how often to print progress when stderr is not a terminal"},
				},
				Action: m.eventsExport,
			},
			{
				Name:  "import",
				Usage: "append the events of an export to this store, checking the whole file first (events import < file.jsonl); run it again to continue an interrupted import",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Value: "-", Usage: "the export to read; - for standard input"},
					&cli.IntFlag{Name: "workers", Value: 8, Usage: "streams appended at once (each stream's events stay in order)"},
					&cli.BoolFlag{Name: "dry-run", Usage: "check the file and the store, append nothing"},
					&cli.BoolFlag{Name: "force", Usage: "import into a store that holds other events"},
					&cli.DurationFlag{Name: "progress-interval", Value: progressInterval, Usage: "how often to print progress when stderr is not a terminal"},
				},
				Action: m.eventsImport,
			},
			blobsExportCommand(m),
			blobsImportCommand(m),
		},
	}
}

// eventLine is an event as tail prints it and export writes it, one JSON
// object a line. Data and metadata are inline JSON when they are compact
// JSON (the bytes come back exactly), else base64.
type eventLine struct {
	Position       string          `json:"position,omitempty"`
	ID             string          `json:"id"`
	Stream         string          `json:"stream"`
	Revision       uint64          `json:"revision"`
	Type           string          `json:"type"`
	Data           json.RawMessage `json:"data,omitempty"`
	DataBase64     []byte          `json:"data_base64,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	MetadataBase64 []byte          `json:"metadata_base64,omitempty"`
	RecordedAt     time.Time       `json:"recorded_at"`
}

// exportFormat names the export's format in its end line.
const exportFormat = "confab-events/1"

// exportEnd is the last line of an export: without it, import takes the
// file as truncated.
type exportEnd struct {
	Format     string    `json:"format"`
	Events     int64     `json:"events"`
	Streams    int       `json:"streams"`
	Head       string    `json:"head"`
	ExportedAt time.Time `json:"exported_at"`
}

func toLine(e *eventstore.RecordedEvent) eventLine {
	l := eventLine{
		Position: e.Position.String(), ID: e.ID.String(), Stream: e.Stream, Revision: e.Revision,
		Type: e.Type, RecordedAt: e.RecordedAt,
	}
	l.Data, l.DataBase64 = rawOrBase64(e.Data)
	l.Metadata, l.MetadataBase64 = rawOrBase64(e.Metadata)
	return l
}

// rawOrBase64 returns b as inline JSON if it is compact JSON (so that it
// is written back byte for byte), else for base64.
func rawOrBase64(b []byte) (json.RawMessage, []byte) {
	if len(b) == 0 {
		return nil, nil
	}
	if json.Valid(b) {
		var buf bytes.Buffer
		if json.Compact(&buf, b) == nil && bytes.Equal(buf.Bytes(), b) {
			return json.RawMessage(b), nil
		}
	}
	return nil, b
}

// newLineEncoder writes JSON lines without escaping <, > and &, so that
// inline data stays as stored.
func newLineEncoder(w *bufio.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// parsePosition reads a position as printed ("COMMIT/PREPARE"), or a
// single number for both parts.
func parsePosition(s string) (eventstore.Position, error) {
	c, p, ok := strings.Cut(s, "/")
	if !ok {
		p = c
	}
	commit, err1 := strconv.ParseUint(c, 10, 64)
	prepare, err2 := strconv.ParseUint(p, 10, 64)
	if err1 != nil || err2 != nil {
		return eventstore.Start, fmt.Errorf("position %q: want COMMIT/PREPARE, as events tail prints it", s)
	}
	return eventstore.Position{Commit: commit, Prepare: prepare}, nil
}

func (m *Main) eventsTail(ctx context.Context, c *cli.Command) error {
	if c.NArg() > 0 {
		return fmt.Errorf("events tail takes no arguments, got %q", c.Args().Slice())
	}
	stream := c.String("stream")
	if stream != "" {
		if err := eventstore.ValidateStream(stream); err != nil {
			return fmt.Errorf("--stream: %w", err)
		}
	}
	n := c.Int("lines")
	if n < 0 {
		return fmt.Errorf("--lines %d: want 0 or more", n)
	}
	a, err := m.openAdmin(ctx, c, false)
	if err != nil {
		return err
	}
	defer a.Close()

	w := bufio.NewWriter(m.Stdout)
	defer w.Flush()
	enc := newLineEncoder(w)
	print := func(events []eventstore.RecordedEvent) error {
		for i := range events {
			if stream != "" && events[i].Stream != stream {
				continue
			}
			if err := enc.Encode(toLine(&events[i])); err != nil {
				return err
			}
		}
		return w.Flush()
	}

	after := eventstore.Start
	switch {
	case c.String("after") != "":
		if after, err = parsePosition(c.String("after")); err != nil {
			return fmt.Errorf("--after: %w", err)
		}
		if err := m.printFrom(ctx, a.store, after, print, &after); err != nil {
			return err
		}
	case c.Bool("all"):
		if err := m.printFrom(ctx, a.store, after, print, &after); err != nil {
			return err
		}
	case stream != "":
		// The head first: what comes after it is followed, what comes
		// before is the last n.
		if after, err = a.store.Head(ctx); err != nil {
			return err
		}
		if n > 0 {
			events, err := a.store.ReadStream(ctx, stream, eventstore.End, eventstore.Backwards, int(n))
			if err != nil {
				return err
			}
			events = slices.DeleteFunc(events, func(e eventstore.RecordedEvent) bool { return e.Position.After(after) })
			slices.Reverse(events)
			if err := print(events); err != nil {
				return err
			}
		}
	default:
		// The last n events of the log: the store reads forward only.
		var ring []eventstore.RecordedEvent
		for {
			events, err := a.store.ReadAll(ctx, after, 1000)
			if err != nil {
				return err
			}
			if len(events) == 0 {
				break
			}
			after = events[len(events)-1].Position
			if n > 0 {
				ring = append(ring, events...)
				if len(ring) > int(n) {
					ring = append(ring[:0], ring[len(ring)-int(n):]...)
				}
			}
		}
		if err := print(ring); err != nil {
			return err
		}
	}
	if !c.Bool("follow") {
		return nil
	}
	var filter eventstore.Filter
	if stream != "" {
		filter.StreamPrefixes = []string{stream}
	}
	err = a.store.Subscribe(ctx, after, filter, func(_ context.Context, events []eventstore.RecordedEvent) error {
		return print(events)
	})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // interrupted: tail -f ends so
	}
	return err
}

// printFrom prints every event after from, and leaves in last the last
// one's position.
func (m *Main) printFrom(ctx context.Context, store eventstore.Store, from eventstore.Position, print func([]eventstore.RecordedEvent) error, last *eventstore.Position) error {
	*last = from
	for {
		events, err := store.ReadAll(ctx, *last, 1000)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		if err := print(events); err != nil {
			return err
		}
		*last = events[len(events)-1].Position
	}
}

func (m *Main) eventsExport(ctx context.Context, c *cli.Command) error {
	if c.NArg() > 0 {
		return fmt.Errorf("events export takes no arguments (it writes to standard output), got %q", c.Args().Slice())
	}
	a, err := m.openAdmin(ctx, c, false)
	if err != nil {
		return err
	}
	defer a.Close()
	head, err := a.store.Head(ctx)
	if err != nil {
		return err
	}
	prog := newProgress(m.Stderr, "export", c.Duration("progress-interval"))
	w := bufio.NewWriterSize(m.Stdout, 1<<20)
	enc := newLineEncoder(w)
	streams := map[string]struct{}{}
	var n int64
	for after := eventstore.Start; after.Compare(head) < 0; {
		events, err := a.store.ReadAll(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("export: read after %v: %w", after, err)
		}
		if len(events) == 0 {
			break
		}
		for i := range events {
			e := &events[i]
			if e.Position.After(head) {
				break
			}
			line := toLine(e)
			if err := enc.Encode(line); err != nil {
				return fmt.Errorf("export: write: %w", err)
			}
			streams[e.Stream] = struct{}{}
			n++
		}
		after = events[len(events)-1].Position
		left := int64(0)
		if head.Prepare > after.Prepare {
			left = int64(head.Prepare - after.Prepare)
		}
		prog.update(n, n+left)
	}
	end := struct {
		End exportEnd `json:"end"`
	}{exportEnd{Format: exportFormat, Events: n, Streams: len(streams), Head: head.String(), ExportedAt: time.Now().UTC()}}
	if err := enc.Encode(end); err != nil {
		return fmt.Errorf("export: write: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("export: write: %w", err)
	}
	prog.finish()
	fmt.Fprintf(m.Stderr, "export: %s of %s, up to %s\n", count(n, "event", "events"), count(len(streams), "stream", "streams"), head)
	return nil
}

// eventID parses an event ID.
func eventID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("id %q is not a UUID", s)
	}
	if id == uuid.Nil {
		return uuid.Nil, errors.New("id is the nil UUID")
	}
	return id, nil
}
