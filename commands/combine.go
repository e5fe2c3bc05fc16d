package commands

import (
	"context"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// maxCombined bounds the commands one combined append carries.
const maxCombined = 256

// combine runs a command like update, but does not make it wait for the
// durable appends of the aggregate's earlier commands one at a time. The
// commands that arrive while an append of the aggregate is in flight
// queue up; when it is done, the first of them leads the group: it
// decides every queued command on the same state, in arrival order, and
// appends all their events with one Append expecting that state's
// revision, so that the group shares one commit (and one fsync) instead
// of taking one each. Every command still returns only once its events
// are durable.
//
// It is for commands whose decisions do not depend on one another's
// events (posts: one decided on the state before another's message is
// just as valid after it), whose event IDs are derived from the command
// (ids), so that a command that must be run again after an append whose
// outcome is unknown is recognised by the store as a retry. A command
// that cannot join the group (its decision fails or changes nothing on
// the cached state, or one of its event IDs is already in the group) and
// every command of a group whose append fails or is refused are run again
// one by one, as update runs them, after the group; so a decision that
// needs another command's event (a reply to a message of the same group)
// is made on a state that has it. A group runs under its leader's ctx
// (the commands of one gateway share their deadline's length).
func (r *repo[S]) combine(ctx context.Context, id string, ids idFunc, decide func(s *S, rev uint64) ([]domain.Event, error)) (Result, error) {
	e := r.ref(id)
	defer r.unref(e)
	c := &combined[S]{ids: ids, decide: decide, lead: make(chan struct{}, 1), done: make(chan struct{})}
	e.qmu.Lock()
	e.queue = append(e.queue, c)
	lead := !e.leading
	e.leading = true
	e.qmu.Unlock()
	if !lead {
		select {
		case <-c.done: // another led a group with c in it
			return c.res, c.err
		case <-c.lead:
		}
	}
	// c leads the next group, which holds c: the queue keeps its order
	// and only leaders take from it.
	e.mu.Lock()
	e.qmu.Lock()
	n := min(len(e.queue), maxCombined)
	group := e.queue[:n:n]
	e.queue = e.queue[n:]
	if len(e.queue) == 0 {
		e.queue = nil
	}
	e.qmu.Unlock()
	r.runGroup(ctx, id, e, group)
	e.mu.Unlock()
	e.qmu.Lock()
	if len(e.queue) > 0 {
		e.queue[0].lead <- struct{}{}
	} else {
		e.leading = false
	}
	e.qmu.Unlock()
	<-c.done
	return c.res, c.err
}

// runGroup decides and appends a group of combined commands, e's lock
// held, and finishes each (see combine).
func (r *repo[S]) runGroup(ctx context.Context, id string, e *entry[S], group []*combined[S]) {
	var alone []*combined[S]
	if len(group) > 1 {
		alone = r.appendGroup(ctx, id, e, group)
	} else {
		alone = group
	}
	for _, c := range alone {
		c.finish(r.updateLocked(ctx, id, e, false, c.ids, c.decide))
	}
}

// decidedCommand is a combined command's decision, while its group is
// appended.
type decidedCommand[S any] struct {
	c      *combined[S]
	events []domain.Event
}

// appendGroup decides the group's commands on e's state and appends the
// events of those that joined with one Append; it finishes those and
// returns the ones to run alone.
func (r *repo[S]) appendGroup(ctx context.Context, id string, e *entry[S], group []*combined[S]) (alone []*combined[S]) {
	if !e.current {
		if err := r.catchUp(ctx, id, e); err != nil {
			e.current = false
			for _, c := range group {
				c.finish(Result{}, err)
			}
			return nil
		}
	}
	var joined []decidedCommand[S]
	var data []eventstore.EventData
	seen := map[uuid.UUID]bool{}
	for _, c := range group {
		events, err := c.decide(&e.state, e.rev)
		if err != nil || len(events) == 0 || len(data)+len(events) > eventstore.MaxAppendEvents {
			alone = append(alone, c)
			continue
		}
		d, err := encodeEvents(events, c.ids)
		if err != nil {
			c.finish(Result{}, err)
			continue
		}
		fresh := true
		for _, ev := range d {
			fresh = fresh && !seen[ev.ID]
		}
		if !fresh {
			alone = append(alone, c)
			continue
		}
		for _, ev := range d {
			seen[ev.ID] = true
		}
		joined = append(joined, decidedCommand[S]{c, events})
		data = append(data, d...)
	}
	if len(joined) < 2 {
		for _, j := range joined {
			alone = append(alone, j.c)
		}
		return alone
	}
	base := e.rev
	res, err := r.store.Append(ctx, r.stream(id), eventstore.Exact(base), data...)
	if err != nil || res.Revision != base+uint64(len(data)) {
		// Refused (another writer appended first), failed (the events
		// may be stored: their IDs make the runs alone retries), or some
		// of the IDs were stored already: run each alone.
		e.current = false
		out := make([]*combined[S], 0, len(joined)+len(alone))
		for _, j := range joined {
			out = append(out, j.c)
		}
		return append(out, alone...)
	}
	for _, j := range joined {
		for _, ev := range j.events {
			e.rev++
			r.apply(&e.state, e.rev, ev)
		}
		j.c.finish(Result{Revision: e.rev, Position: res.Position, Events: j.events}, nil)
	}
	return alone
}

// encodeEvents encodes events for an append, their IDs from ids.
func encodeEvents(events []domain.Event, ids idFunc) ([]eventstore.EventData, error) {
	if ids == nil {
		ids = randomIDs
	}
	data := make([]eventstore.EventData, len(events))
	for i, ev := range events {
		typ, payload, err := domain.Encode(ev)
		if err != nil {
			return nil, err
		}
		data[i] = eventstore.EventData{ID: ids(i, ev), Type: typ, Data: payload}
	}
	return data, nil
}
