package eventstore

import (
	"context"
	"sync"
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
type GroupCommitter struct {
	commit   CommitFunc
	maxBatch int
	requests chan *AppendRequest

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
		requests: make(chan *AppendRequest, maxBatch*writers),
	}
	g.wg.Add(writers)
	for range writers {
		go g.run()
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
	select {
	case g.requests <- req:
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
		close(g.requests)
	}
	g.mu.Unlock()
	g.wg.Wait()
}

func (g *GroupCommitter) run() {
	defer g.wg.Done()
	batch := make([]*AppendRequest, 0, g.maxBatch)
	for req := range g.requests {
		batch = append(batch[:0], req)
	fill:
		for len(batch) < g.maxBatch {
			select {
			case r, ok := <-g.requests:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.commitBatch(batch)
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
