package main

import (
	"sort"
	"strconv"
	"sync"
)

// seqTracker checks the deliveries of one room to one receiver: after the
// subscription's after_seq (base), every seq of the room must arrive once,
// in increasing order. It keeps O(1) state plus the seqs it skipped, so it
// is cheap for long runs. It is not safe for concurrent use; the client
// that owns it guards it.
type seqTracker struct {
	base       uint64              // deliveries are expected from base+1
	next       uint64              // the seq after the highest one seen
	missing    map[uint64]struct{} // seqs below next that have not arrived
	deliveries uint64              // events delivered, of any kind
	dups       uint64              // a seq that had already arrived, or one at or below base
	outOfOrder uint64              // a missing seq that arrived after a higher one
}

func newSeqTracker(base uint64) *seqTracker {
	return &seqTracker{base: base, next: base + 1}
}

// observe records the delivery of seq.
func (t *seqTracker) observe(seq uint64) {
	t.deliveries++
	switch {
	case seq == t.next:
		t.next++
	case seq > t.next:
		if t.missing == nil {
			t.missing = map[uint64]struct{}{}
		}
		for s := t.next; s < seq; s++ {
			t.missing[s] = struct{}{}
		}
		t.next = seq + 1
	case seq <= t.base:
		t.dups++
	default:
		if _, ok := t.missing[seq]; ok {
			delete(t.missing, seq)
			t.outOfOrder++
		} else {
			t.dups++
		}
	}
}

// last returns the highest seq seen (or base): where a resumed
// subscription continues (its after_seq).
func (t *seqTracker) last() uint64 { return t.next - 1 }

// complete reports whether every seq up to head has arrived.
func (t *seqTracker) complete(head uint64) bool {
	return t.next > head && len(t.missing) == 0
}

// lostUpTo returns the seqs in (base, head] that have not arrived, sorted.
func (t *seqTracker) lostUpTo(head uint64) []uint64 {
	var lost []uint64
	for s := range t.missing {
		if s <= head {
			lost = append(lost, s)
		}
	}
	for s := t.next; s <= head; s++ {
		lost = append(lost, s)
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i] < lost[j] })
	return lost
}

// rebase starts a new window after head: what was missing has been
// reported, and deliveries at or below head from now on count as
// duplicates.
func (t *seqTracker) rebase(head uint64) {
	t.base = max(t.last(), head)
	t.next = t.base + 1
	t.missing = nil
	t.deliveries, t.dups, t.outOfOrder = 0, 0, 0
}

// roomLedger is what the generator knows about one room's messages: the
// seqs the server acknowledged to senders, and the seq at which one
// designated receiver (the checker) saw each client_msg_id posted. It is
// safe for concurrent use.
type roomLedger struct {
	mu       sync.Mutex
	acked    map[uint64]string // seq -> client_msg_id of the acknowledged send
	posted   map[string]uint64 // client_msg_id -> seq it was delivered at (the checker's view)
	maxAcked uint64
	// conflicts counts acks that gave one seq to two different messages,
	// or one client_msg_id two different seqs (a retry that was posted twice).
	conflicts uint64
	// dupMessages counts client_msg_ids delivered at two different seqs.
	dupMessages uint64
}

func newRoomLedger() *roomLedger {
	return &roomLedger{acked: map[uint64]string{}, posted: map[string]uint64{}}
}

// ack records that the send of clientMsgID was acknowledged with seq.
func (l *roomLedger) ack(seq uint64, clientMsgID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.acked[seq]; ok && prev != clientMsgID {
		l.conflicts++
	}
	l.acked[seq] = clientMsgID
	if at, ok := l.posted[clientMsgID]; ok && at != seq {
		l.conflicts++
	}
	l.maxAcked = max(l.maxAcked, seq)
}

// post records that the checker saw clientMsgID delivered at seq.
func (l *roomLedger) post(seq uint64, clientMsgID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.posted[clientMsgID]; ok {
		if at != seq {
			l.dupMessages++
		}
		return
	}
	l.posted[clientMsgID] = seq
}

func (l *roomLedger) isAcked(seq uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.acked[seq]
	return ok
}

func (l *roomLedger) ackedCount() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.acked))
}

func (l *roomLedger) head() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxAcked
}

// reset forgets the window's messages (after a step was checked).
func (l *roomLedger) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = map[uint64]string{}
	l.posted = map[string]uint64{}
	l.conflicts, l.dupMessages = 0, 0
}

// verdict is the result of checking deliveries against the rooms' heads.
type verdict struct {
	Receivers    int      `json:"receivers"`          // (connection, room) pairs checked
	Deliveries   uint64   `json:"deliveries"`         // room events delivered in the window, of any kind
	Lost         uint64   `json:"lost"`               // (receiver, seq) pairs never delivered
	LostAcked    uint64   `json:"lost_acked"`         // of them, seqs whose send was acknowledged
	LostMessages uint64   `json:"lost_messages"`      // distinct (room, seq) missing at one receiver at least
	Duplicates   uint64   `json:"duplicates"`         // deliveries of a seq the receiver already had
	DupMessages  uint64   `json:"duplicate_messages"` // one client_msg_id posted at two seqs
	Conflicts    uint64   `json:"ack_conflicts"`      // acks inconsistent with each other or with deliveries
	OutOfOrder   uint64   `json:"out_of_order"`       // seqs that arrived after a higher one
	Examples     []string `json:"examples,omitempty"` // a few of the problems, for people
}

// clean reports whether nothing was lost, duplicated or inconsistent.
func (v *verdict) clean() bool {
	return v.Lost == 0 && v.Duplicates == 0 && v.DupMessages == 0 && v.Conflicts == 0 && v.OutOfOrder == 0
}

// checker accumulates a verdict over receivers.
type checker struct {
	v       verdict
	missing map[*roomLedger]map[uint64]struct{}
}

func newChecker() *checker { return &checker{missing: map[*roomLedger]map[uint64]struct{}{}} }

// add checks one receiver's tracker of a room whose head is head. name
// identifies the receiver in examples.
func (c *checker) add(name string, t *seqTracker, l *roomLedger, head uint64) {
	c.v.Receivers++
	c.v.Deliveries += t.deliveries
	c.v.Duplicates += t.dups
	c.v.OutOfOrder += t.outOfOrder
	lost := t.lostUpTo(head)
	if len(lost) == 0 {
		if t.dups > 0 && len(c.v.Examples) < 10 {
			c.v.Examples = append(c.v.Examples, name+": duplicate deliveries")
		}
		return
	}
	c.v.Lost += uint64(len(lost))
	m := c.missing[l]
	if m == nil {
		m = map[uint64]struct{}{}
		c.missing[l] = m
	}
	for _, s := range lost {
		if l.isAcked(s) {
			c.v.LostAcked++
		}
		m[s] = struct{}{}
	}
	if len(c.v.Examples) < 10 {
		c.v.Examples = append(c.v.Examples, name+": missing "+seqList(lost))
	}
}

// addLedger adds a room's message-level findings.
func (c *checker) addLedger(l *roomLedger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.v.DupMessages += l.dupMessages
	c.v.Conflicts += l.conflicts
}

func (c *checker) verdict() verdict {
	v := c.v
	for _, m := range c.missing {
		v.LostMessages += uint64(len(m))
	}
	return v
}

// seqList formats sorted seqs compactly: "3, 7-9".
func seqList(seqs []uint64) string {
	var b []byte
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		if len(b) > 80 {
			b = append(b, "..."...)
			break
		}
		b = strconv.AppendUint(b, seqs[i], 10)
		if j > i {
			b = append(b, '-')
			b = strconv.AppendUint(b, seqs[j], 10)
		}
		i = j + 1
	}
	return string(b)
}
