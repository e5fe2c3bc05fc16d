package gateway

import (
	"runtime"
	"sync"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/gorilla/websocket"
)

// fanChunk is how many subscriptions of a room one fan-out task offers
// its events to: a big room is split into tasks of this many, which run
// on several cores.
const fanChunk = 256

// fanInline is the number of offers (subscriptions × events) below
// which a fan-out runs on the follower's goroutine alone: starting
// helpers costs more than they save.
const fanInline = 1024

// fanEvent is a room event ready to be offered: its frame encoded once.
type fanEvent struct {
	room  domain.RoomID
	seq   uint64
	frame *websocket.PreparedMessage
	at    time.Time // when it was recorded
}

// fanTask offers a run of one room's events, in order, to some of its
// subscriptions.
type fanTask struct {
	events []fanEvent
	subs   []*subscription
}

// fanOut offers events (in order per room) to the subscriptions of their
// rooms, and starts the writers of the connections that were idle. The
// subscriptions of each room are split into tasks of fanChunk, run by up
// to GOMAXPROCS goroutines (the caller's among them); each task offers
// all of its room's events to each of its subscriptions in turn, so that
// a subscription gets them in order, and fanOut returns once every task
// is done, so that the next batch cannot overtake this one. h.mu is read-
// locked throughout, as in a serial dispatch: subscribe and unsubscribe
// wait for it. It returns how many subscriptions each room had.
func (h *hub) fanOut(events []fanEvent) map[domain.RoomID]int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	tasks, offers, subs := h.fanTasks(events)
	workers := min(runtime.GOMAXPROCS(0), len(tasks))
	if offers < h.inline || workers < 2 {
		for _, t := range tasks {
			t.run()
		}
		return subs
	}
	var next sync.Mutex // hands the tasks out
	i := 0
	work := func() {
		for {
			next.Lock()
			if i == len(tasks) {
				next.Unlock()
				return
			}
			t := tasks[i]
			i++
			next.Unlock()
			t.run()
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return subs
}

// fanTasks splits the fan-out of events into tasks; h.mu is read-locked.
func (h *hub) fanTasks(events []fanEvent) (tasks []fanTask, offers int, subs map[domain.RoomID]int) {
	subs = map[domain.RoomID]int{}
	// The events of each room, in order; rooms in order of first event.
	var rooms []domain.RoomID
	byRoom := map[domain.RoomID][]fanEvent{}
	for _, e := range events {
		if _, ok := byRoom[e.room]; !ok {
			rooms = append(rooms, e.room)
		}
		byRoom[e.room] = append(byRoom[e.room], e)
	}
	for _, room := range rooms {
		set := h.rooms[room]
		subs[room] = len(set)
		if len(set) == 0 {
			continue
		}
		list := make([]*subscription, 0, len(set))
		for s := range set {
			list = append(list, s)
		}
		evs := byRoom[room]
		offers += len(list) * len(evs)
		for lo := 0; lo < len(list); lo += h.chunk {
			tasks = append(tasks, fanTask{events: evs, subs: list[lo:min(lo+h.chunk, len(list))]})
		}
	}
	return tasks, offers, subs
}

// run offers the task's events to its subscriptions, then starts the
// writers of the connections that were idle: each then writes all of its
// share with one syscall.
func (t fanTask) run() {
	var starts []*conn
	for _, s := range t.subs {
		for _, e := range t.events {
			if s.offer(e.seq, e.frame) {
				starts = append(starts, s.c)
			}
		}
	}
	for _, c := range starts {
		go c.writeLoop()
	}
}
