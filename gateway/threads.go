package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/projections"
)

// Threads: a reply in a thread is posted like any message, with
// thread_root (POST messages, the send frame); these endpoints read a
// thread, list a room's threads and move the caller's read marker in a
// thread. All are for members only, like the room's other endpoints.

// threadJSON is what a root shows of its thread.
type threadJSON struct {
	ReplyCount   int       `json:"reply_count"`
	LastReplySeq uint64    `json:"last_reply_seq"`
	LastReplyAt  time.Time `json:"last_reply_at"`
}

func toThreadJSON(t *projections.ThreadSummary) *threadJSON {
	if t == nil {
		return nil
	}
	return &threadJSON{ReplyCount: t.Replies, LastReplySeq: t.LastReplySeq, LastReplyAt: t.LastReplyAt}
}

// pathRoot returns the {root} of the path: a thread's root seq.
func pathRoot(r *http.Request, op string) (uint64, error) {
	root, err := strconv.ParseUint(r.PathValue("root"), 10, 64)
	if err != nil || root == 0 {
		return 0, domain.Errorf(domain.KindNotFound, op, "no such thread")
	}
	return root, nil
}

// listThreadMessages returns a thread's root and its replies, oldest
// first: those after ?after=SEQ (default 0), at most ?limit=N (default
// 50, at most 100).
func (g *Gateway) listThreadMessages(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	const op = "list thread"
	root, err := pathRoot(r, op)
	if err != nil {
		return err
	}
	_, limit, err := pageParams(r, op)
	if err != nil {
		return err
	}
	var after uint64
	if s := r.URL.Query().Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			return domain.Errorf(domain.KindInvalid, op, "after must be a sequence number")
		}
	}
	head, err := g.store.Head(r.Context())
	if err == nil {
		err = g.waitFor(r.Context(), commands.Result{Position: head})
	}
	if err != nil {
		return err
	}
	msgs, err := g.read.ThreadMessages(r.Context(), rc.room, root, after, limit)
	if err != nil {
		return err
	}
	rootMsg, err := g.read.MessageBySeq(r.Context(), rc.room, root)
	if err != nil {
		return err
	}
	out := make([]messageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = toMessageJSON(rc.room, m)
	}
	return respond(w, http.StatusOK, map[string]any{"root": toMessageJSON(rc.room, rootMsg), "messages": out})
}

// threadSummaryJSON is a thread in a room's list of threads.
type threadSummaryJSON struct {
	Root          messageJSON `json:"root"`
	ReadSeq       uint64      `json:"read_seq"`
	Unread        int         `json:"unread"`
	Participating bool        `json:"participating"`
}

// listThreads returns the room's threads, most recently replied first,
// with the caller's unread count in each: those whose last reply is
// before ?before=SEQ, at most ?limit=N (default 50, at most 100).
func (g *Gateway) listThreads(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	before, limit, err := pageParams(r, "list threads")
	if err != nil {
		return err
	}
	threads, err := g.read.Threads(r.Context(), rc.UserID, rc.room, before, limit)
	if err != nil {
		return err
	}
	out := make([]threadSummaryJSON, len(threads))
	for i, t := range threads {
		out[i] = threadSummaryJSON{Root: toMessageJSON(rc.room, t.Root), ReadSeq: t.ReadSeq, Unread: t.Unread, Participating: t.Participating}
	}
	return respond(w, http.StatusOK, map[string][]threadSummaryJSON{"threads": out})
}

// markThreadRead moves the caller's read marker in a thread to {seq}.
func (g *Gateway) markThreadRead(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	root, err := pathRoot(r, "mark thread read")
	if err != nil {
		return err
	}
	var in struct {
		Seq uint64 `json:"seq"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	res, err := g.cmds.MarkThreadRead.Handle(r.Context(), commands.MarkThreadRead{User: rc.UserID, Room: rc.room, Root: root, Seq: in.Seq})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	return noContent(w)
}
