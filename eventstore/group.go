package eventstore

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// AppendRequest is one Append waiting in a GroupCommitter.
type AppendRequest struct {
	Stream   string
	Expected ExpectedRevision
	Events   []EventData

	// Set by the commit function.
	Result AppendResult
	Err    error

	ctx  context.Context
	done chan struct{}
}

// CommitFunc stores a batch of appends in one transaction and one flush to
// disk. It sets Result or Err on each request: a request that fails its own
// checks (wrong revision, ...) must leave storage untouched and not fail
// the others. An error returned by CommitFunc fails every request in the
// batch that has no Err yet, and must mean nothing of the batch was stored.
type CommitFunc func(ctx context.Context, batch []*AppendRequest) error

// GroupCommitter turns concurrent Appends into batches so that they share a
// transaction and an fsync: each of its writers takes the requests waiting
// at that moment (up to MaxBatch) and commits them together. It is the
// write path of the sqlite and postgres adapters.
//
// With several writers, the streams are shared out among them by a hash
// of their names: the appends to one stream always go to the same writer,
// so two writers never commit to the same stream at once (and never wait
// for each other's stream locks), and appends to a busy stream share its
// writer's transactions instead of queueing for the stream one
// transaction after another.
type GroupCommitter struct {
	commit   CommitFunc
	maxBatch int
	queues   []chan *AppendRequest // one per writer
	seed     maphash.Seed

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
	wg     sync.WaitGroup
}

// NewGroupCommitter starts writers goroutines that commit batches of up to
// maxBatch requests with commit.
func NewGroupCommitter(commit CommitFunc, writers, maxBatch int) *GroupCommitter {
	if writers < 1 {
		writers = 1
	}
	if maxBatch < 1 {
		maxBatch = 1
	}
	g := &GroupCommitter{
		commit:   commit,
		maxBatch: maxBatch,
		queues:   make([]chan *AppendRequest, writers),
		seed:     maphash.MakeSeed(),
	}
	g.wg.Add(writers)
	for i := range g.queues {
		g.queues[i] = make(chan *AppendRequest, maxBatch)
		go g.run(g.queues[i])
	}
	return g
}

// Append validates an append, queues it and waits for its batch to commit.
func (g *GroupCommitter) Append(ctx context.Context, stream string, expected ExpectedRevision, events []EventData) (AppendResult, error) {
	if err := ValidateAppend(stream, expected, events); err != nil {
		return AppendResult{}, err
	}
	req := &AppendRequest{Stream: stream, Expected: expected, Events: events, ctx: ctx, done: make(chan struct{})}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return AppendResult{}, ErrClosed
	}
	q := g.queues[0]
	if len(g.queues) > 1 {
		q = g.queues[maphash.String(g.seed, stream)%uint64(len(g.queues))]
	}
	select {
	case q <- req:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return AppendResult{}, ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the writer
	// skips requests whose context is done before committing them, and
	// a request being committed finishes quickly.
	<-req.done
	return req.Result, req.Err
}

// Close stops accepting appends, commits the ones already queued and waits
// for the writers to finish.
func (g *GroupCommitter) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		for _, q := range g.queues {
			close(q)
		}
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// Gathering: how long a writer may wait for a batch to fill, as a fraction
// of its last commit's duration, and at most.
const (
	gatherFraction = 4 // a quarter
	maxGather      = 2 * time.Millisecond
)

// run is a writer: it takes the requests waiting in its queue, commits
// them, and again.
//
// Left at that, appenders that each wait for their append before making
// the next split into two cohorts that take turns: while one batch
// commits, the appenders of the previous one queue the next, and every
// batch holds half of them. So a writer aims for a batch as large as the
// last one plus what queued meanwhile (every appender that was waiting),
// and waits for it a little: at most a quarter of its last commit's
// duration, and not at all after being idle. Batches then double, and the
// cost of a transaction and of an fsync is shared by twice as many
// appends. (PostgreSQL's commit_delay does the same for its WAL flushes.)
func (g *GroupCommitter) run(requests <-chan *AppendRequest) {
	defer g.wg.Done()
	batch := make([]*AppendRequest, 0, g.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		target int           // batch size to wait for
		wait   time.Duration // how long to wait for it
	)
	for {
		idle := time.Now()
		req, ok := <-requests
		if !ok {
			return
		}
		if time.Since(idle) > wait {
			target = 0 // the appenders are not waiting on each other
		}
		batch = append(batch[:0], req)
		open := true
	fill:
		for len(batch) < g.maxBatch {
			select {
			case r, ok := <-requests:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if open && len(batch) < target {
			timer.Reset(wait)
		gather:
			for len(batch) < target {
				select {
				case r, ok := <-requests:
					if !ok {
						break gather
					}
					batch = append(batch, r)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		start := time.Now()
		g.commitBatch(batch)
		wait = min(time.Since(start)/gatherFraction, maxGather)
		target = min(g.maxBatch, len(batch)+len(requests))
	}
}

func (g *GroupCommitter) commitBatch(batch []*AppendRequest) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.Err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The batch is committed on its own context: callers that give up
	// while it runs get an outcome anyway, and a commit is never cut off
	// half way by one caller's deadline.
	if err := g.commit(context.Background(), live); err != nil {
		for _, r := range live {
			if r.Err == nil {
				r.Err = err
				r.Result = AppendResult{}
			}
		}
	}
	for _, r := range live {
		close(r.done)
	}
}
