package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"
)

const (
	// maxImportLine bounds a line of an export: an event's data and
	// metadata (1 MiB together), base64-encoded, and the rest.
	maxImportLine = 4 << 20
	// maxImportProblems is how many problems import lists before it stops
	// checking.
	maxImportProblems = 10
	// importChunk is how many events import groups by stream at once;
	// importGroupBytes bounds the data of one append.
	importChunkEvents = 4096
	importGroupBytes  = 4 << 20
)

// importRecord is a line of an export: an event, or the end line.
type importRecord struct {
	eventLine
	End *exportEnd `json:"end"`
}

// importEvent is an event read from an export.
type importEvent struct {
	line     int
	stream   string
	revision uint64
	data     eventstore.EventData
}

// parseImportLine reads one line; end is set for the end line.
func parseImportLine(b []byte) (ev importEvent, end *exportEnd, err error) {
	var r importRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return ev, nil, fmt.Errorf("not an event as export writes it: %v", err)
	}
	if dec.More() {
		return ev, nil, errors.New("more than one JSON value")
	}
	if r.End != nil {
		if r.ID != "" || r.Stream != "" || r.Type != "" {
			return ev, nil, errors.New("an end line with event fields")
		}
		if r.End.Format != exportFormat {
			return ev, nil, fmt.Errorf("format %q, this confab reads %q", r.End.Format, exportFormat)
		}
		return ev, r.End, nil
	}
	id, err := eventID(r.ID)
	if err != nil {
		return ev, nil, err
	}
	if err := eventstore.ValidateStream(r.Stream); err != nil {
		return ev, nil, err
	}
	if r.Revision < 1 {
		return ev, nil, errors.New("revision must be 1 or more")
	}
	if r.Type == "" || len(r.Type) > eventstore.MaxEventTypeLen {
		return ev, nil, fmt.Errorf("type must be 1 to %d bytes", eventstore.MaxEventTypeLen)
	}
	if r.Data != nil && r.DataBase64 != nil || r.Metadata != nil && r.MetadataBase64 != nil {
		return ev, nil, errors.New("both data and data_base64 (or metadata and metadata_base64)")
	}
	data := []byte(r.Data)
	if r.DataBase64 != nil {
		data = r.DataBase64
	}
	meta := []byte(r.Metadata)
	if r.MetadataBase64 != nil {
		meta = r.MetadataBase64
	}
	if n := len(data) + len(meta); n > eventstore.MaxEventSize {
		return ev, nil, fmt.Errorf("%d bytes of data and metadata, the limit is %d", n, eventstore.MaxEventSize)
	}
	if domain.KnownType(r.Type) {
		if _, err := domain.Decode(r.Type, data); err != nil {
			return ev, nil, fmt.Errorf("data is not a %s: %v", r.Type, err)
		}
	}
	return importEvent{stream: r.Stream, revision: r.Revision, data: eventstore.EventData{ID: id, Type: r.Type, Data: data, Metadata: meta}}, nil, nil
}

// scanExport calls f with every event of an export, in order, and checks
// the end line; a bad line ends the scan with an error naming it.
func scanExport(r io.Reader, f func(ev *importEvent) error) (end *exportEnd, lines int, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: gather it.
			long := append([]byte(nil), b...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxImportLine {
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			if len(long) > maxImportLine {
				return end, lines, fmt.Errorf("line %d: longer than %d bytes", lines+1, maxImportLine)
			}
			b = long
		}
		if len(b) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return end, lines, fmt.Errorf("read line %d: %w", lines+1, err)
		}
		lines++
		if end != nil {
			return end, lines, fmt.Errorf("line %d: more after the end line (line %d)", lines, lines-1)
		}
		line := bytes.TrimRight(b, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			return end, lines, fmt.Errorf("line %d: empty", lines)
		}
		ev, e, perr := parseImportLine(line)
		if perr != nil {
			return end, lines, fmt.Errorf("line %d: %w", lines, perr)
		}
		if e != nil {
			end = e
			continue
		}
		ev.line = lines
		if err := f(&ev); err != nil {
			return end, lines, err
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	return end, lines, nil
}

// importCheck is what checking a whole export found.
type importCheck struct {
	events  int64
	streams map[string]uint64 // last revision of each stream
	order   []string          // streams in order of first appearance
}

// checkExport reads a whole export and checks that every line is an
// event as export writes it, that each stream's revisions run from 1 with
// no gap, that no event ID appears twice, and that the end line is there
// and counts the events. It lists up to maxImportProblems problems.
func checkExport(r io.Reader) (*importCheck, error) {
	ck := &importCheck{streams: map[string]uint64{}}
	ids := map[uuid.UUID]int{}
	var problems []string
	end, lines, err := scanExport(r, func(ev *importEvent) error {
		problem := func(format string, args ...any) error {
			problems = append(problems, fmt.Sprintf("line %d: ", ev.line)+fmt.Sprintf(format, args...))
			if len(problems) >= maxImportProblems {
				return errTooManyProblems
			}
			return nil
		}
		ck.events++
		if prev, dup := ids[ev.data.ID]; dup {
			if err := problem("event ID %s is used on line %d already", ev.data.ID, prev); err != nil {
				return err
			}
		}
		ids[ev.data.ID] = ev.line
		last, seen := ck.streams[ev.stream]
		if !seen {
			ck.order = append(ck.order, ev.stream)
		}
		switch {
		case ev.revision == last+1:
		case ev.revision <= last:
			if err := problem("revision %d of stream %s comes after revision %d: out of order or repeated", ev.revision, ev.stream, last); err != nil {
				return err
			}
		default:
			if err := problem("revision %d of stream %s follows revision %d: revisions %d to %d are missing", ev.revision, ev.stream, last, last+1, ev.revision-1); err != nil {
				return err
			}
		}
		ck.streams[ev.stream] = max(last, ev.revision)
		return nil
	})
	if err != nil && !errors.Is(err, errTooManyProblems) {
		problems = append(problems, err.Error())
	}
	if err == nil {
		switch {
		case end == nil:
			problems = append(problems, fmt.Sprintf("the file ends after line %d without export's end line: it is cut short (an interrupted export?)", lines))
		case end.Events != ck.events:
			problems = append(problems, fmt.Sprintf("line %d: the end line counts %d events, the file has %d", lines, end.Events, ck.events))
		}
	}
	if len(problems) > 0 {
		more := ""
		if errors.Is(err, errTooManyProblems) {
			more = "\n  (stopped checking here)"
		}
		return nil, fmt.Errorf("the export is not valid; nothing was imported:\n  %s%s", strings.Join(problems, "\n  "), more)
	}
	return ck, nil
}

var errTooManyProblems = errors.New("too many problems")

// openImportInput returns the export to read, as a file that can be read
// twice: standard input is copied to a temporary file first unless it is
// a regular file.
func openImportInput(name string) (f *os.File, cleanup func(), err error) {
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode().IsRegular() {
		if _, err := os.Stdin.Seek(0, io.SeekCurrent); err == nil {
			return os.Stdin, func() {}, nil
		}
	}
	tmp, err := os.CreateTemp("", "confab-import-*.jsonl")
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, os.Stdin); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("copy standard input to %s: %w", tmp.Name(), err)
	}
	if err := rewind(tmp); err != nil {
		cleanup()
		return nil, nil, err
	}
	return tmp, cleanup, nil
}

func rewind(f *os.File) error {
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// streamTip is a stream's last event in the target store.
type streamTip struct {
	revision uint64
	id       uuid.UUID
}

func (m *Main) eventsImport(ctx context.Context, c *cli.Command) error {
	if c.NArg() > 0 {
		return fmt.Errorf("events import takes no arguments (it reads --input, standard input by default), got %q", c.Args().Slice())
	}
	workers := int(c.Int("workers"))
	if workers < 1 || workers > 64 {
		return fmt.Errorf("--workers %d: want 1 to 64", workers)
	}
	in, cleanup, err := openImportInput(c.String("input"))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer cleanup()

	// 1. The whole file, before touching the store.
	ck, err := checkExport(in)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "import: the export holds %s of %s\n", count(ck.events, "event", "events"), count(len(ck.streams), "stream", "streams"))

	a, err := m.openAdmin(ctx, c, !c.Bool("dry-run"))
	if errors.Is(err, errNoStore) {
		fmt.Fprintf(m.Stdout, "import: dry run: the export is valid; %s would be appended to a new store\n", count(ck.events, "event", "events"))
		return nil
	}
	if err != nil {
		return err
	}
	defer a.Close()

	// 2. What the store holds of each stream: an import that was
	// interrupted goes on after what it appended; other history is an
	// error.
	tips, err := streamTips(ctx, a.store, ck.order, workers)
	if err != nil {
		return err
	}
	present, overlapping := int64(0), 0
	for s, tip := range tips {
		if tip.revision > ck.streams[s] {
			return fmt.Errorf("import: the store's stream %s has %d events, the export %d: the store holds other history; nothing was imported", s, tip.revision, ck.streams[s])
		}
		if tip.revision > 0 {
			present += int64(tip.revision)
			overlapping++
		}
	}
	if overlapping > 0 {
		if err := rewind(in); err != nil {
			return err
		}
		if _, _, err := scanExport(in, func(ev *importEvent) error {
			if tip := tips[ev.stream]; ev.revision == tip.revision && ev.data.ID != tip.id {
				return fmt.Errorf("import: line %d: the store's stream %s holds event %s at revision %d, the export %s: the store holds other history; nothing was imported",
					ev.line, ev.stream, tip.id, tip.revision, ev.data.ID)
			}
			return nil
		}); err != nil {
			return err
		}
	} else if !c.Bool("force") {
		head, err := a.store.Head(ctx)
		if err != nil {
			return err
		}
		if head != eventstore.Start {
			return fmt.Errorf("import: the %s store is not empty (head %s) and holds none of the export's streams; import into an empty store, or pass --force to add the events to it", a.where, head)
		}
	}
	if present > 0 {
		fmt.Fprintf(m.Stderr, "import: %s in the store already (an earlier import); going on after them\n", count(present, "event is", "events are"))
	}
	if c.Bool("dry-run") {
		fmt.Fprintf(m.Stdout, "import: dry run: the export is valid; %s would be appended\n", count(ck.events-present, "event", "events"))
		return nil
	}

	// 3. Append, each stream in order, several streams at once.
	if err := rewind(in); err != nil {
		return err
	}
	prog := newProgress(m.Stderr, "import", c.Duration("progress-interval"))
	var appended atomic.Int64
	total := ck.events - present
	g, gctx := errgroup.WithContext(ctx)
	queues := make([]chan *importGroup, workers)
	for i := range queues {
		q := make(chan *importGroup, 16)
		queues[i] = q
		g.Go(func() error {
			for grp := range q {
				if gctx.Err() != nil {
					continue // drain
				}
				if _, err := a.store.Append(gctx, grp.stream, eventstore.Exact(grp.first-1), grp.events...); err != nil {
					return fmt.Errorf("import: line %d: append to %s at revision %d: %w", grp.line, grp.stream, grp.first, err)
				}
				appended.Add(int64(len(grp.events)))
			}
			return nil
		})
	}
	seed := maphash.MakeSeed()
	send := func(grp *importGroup) error {
		q := queues[maphash.String(seed, grp.stream)%uint64(len(queues))]
		select {
		case q <- grp:
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	}
	readErr := func() error {
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		chunk := newImportChunk()
		_, _, err := scanExport(in, func(ev *importEvent) error {
			if ev.revision <= tips[ev.stream].revision {
				return nil // appended by an earlier import
			}
			if full := chunk.add(ev); full != nil {
				if err := send(full); err != nil {
					return err
				}
			}
			if chunk.events >= importChunkEvents {
				for _, grp := range chunk.groups() {
					if err := send(grp); err != nil {
						return err
					}
				}
				chunk = newImportChunk()
				prog.update(appended.Load(), total)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, grp := range chunk.groups() {
			if err := send(grp); err != nil {
				return err
			}
		}
		return nil
	}()
	err = g.Wait()
	if err == nil && readErr != nil && !errors.Is(readErr, context.Canceled) {
		err = readErr
	}
	if err == nil {
		err = ctx.Err()
	}
	prog.set(appended.Load(), total)
	prog.finish()
	if err != nil {
		return fmt.Errorf("%w\nimport: %s appended before it stopped; run the same import again to go on", err, count(appended.Load(), "event was", "events were"))
	}
	fmt.Fprintf(m.Stdout, "import: appended %s (%s there already) to the %s store\n", count(appended.Load(), "event", "events"), count(present, "was", "were"), a.where)
	fmt.Fprintln(m.Stderr, "import: the read models follow the log: rebuild them with `confab projections rebuild --all`, or start the server, which catches up from their checkpoint")
	return nil
}

// streamTips reads the last event of each stream from the store.
func streamTips(ctx context.Context, store eventstore.Store, streams []string, workers int) (map[string]streamTip, error) {
	tips := make(map[string]streamTip, len(streams))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, s := range streams {
		g.Go(func() error {
			evs, err := store.ReadStream(gctx, s, eventstore.End, eventstore.Backwards, 1)
			if err != nil {
				return fmt.Errorf("import: read stream %s of the store: %w", s, err)
			}
			var tip streamTip
			if len(evs) > 0 {
				tip = streamTip{revision: evs[0].Revision, id: evs[0].ID}
			}
			mu.Lock()
			tips[s] = tip
			mu.Unlock()
			return nil
		})
	}
	return tips, g.Wait()
}

// importGroup is consecutive events of a stream, appended at once.
type importGroup struct {
	stream string
	first  uint64 // revision of the first event
	line   int    // line of the first event
	events []eventstore.EventData
	bytes  int
}

// importChunk groups a run of the export's events by stream, keeping
// each stream's order.
type importChunk struct {
	byStream map[string]*importGroup
	order    []*importGroup
	events   int
}

func newImportChunk() *importChunk { return &importChunk{byStream: map[string]*importGroup{}} }

// add adds an event to its stream's group; if the group was full, it
// returns it, to be appended before the new one.
func (c *importChunk) add(ev *importEvent) (full *importGroup) {
	size := len(ev.data.Data) + len(ev.data.Metadata)
	grp := c.byStream[ev.stream]
	if grp != nil && (len(grp.events) >= eventstore.MaxAppendEvents || grp.bytes+size > importGroupBytes) {
		full = grp
		grp = nil
		// full leaves the chunk's order: it is sent now.
		for i, g := range c.order {
			if g == full {
				c.order = append(c.order[:i], c.order[i+1:]...)
				break
			}
		}
	}
	if grp == nil {
		grp = &importGroup{stream: ev.stream, first: ev.revision, line: ev.line}
		c.byStream[ev.stream] = grp
		c.order = append(c.order, grp)
	}
	grp.events = append(grp.events, ev.data)
	grp.bytes += size
	c.events++
	return full
}

func (c *importChunk) groups() []*importGroup { return c.order }
