package apitest

import (
	"context"
	"fmt"
	"time"
)

// Thread is what a root shows of its thread.
type Thread struct {
	ReplyCount   int       `json:"reply_count"`
	LastReplySeq uint64    `json:"last_reply_seq"`
	LastReplyAt  time.Time `json:"last_reply_at"`
}

// ThreadSummary is a thread in a room's list of threads.
type ThreadSummary struct {
	Root          Message `json:"root"`
	ReadSeq       uint64  `json:"read_seq"`
	Unread        int     `json:"unread"`
	Participating bool    `json:"participating"`
}

// Reply posts a reply in the thread of root.
func (c *Client) Reply(ctx context.Context, room string, root uint64, clientMsgID, text string) (Message, error) {
	var out struct{ Message Message }
	err := c.Do(ctx, "POST", "/api/v1/rooms/"+room+"/messages", map[string]any{"client_msg_id": clientMsgID, "text": text, "thread_root": root}, &out)
	return out.Message, err
}

// ThreadMessages reads a thread: its root and its replies after after.
func (c *Client) ThreadMessages(ctx context.Context, room string, root, after uint64) (Message, []Message, error) {
	var out struct {
		Root     Message
		Messages []Message
	}
	err := c.Do(ctx, "GET", fmt.Sprintf("/api/v1/rooms/%s/threads/%d/messages?after=%d", room, root, after), nil, &out)
	return out.Root, out.Messages, err
}

// Threads lists a room's threads.
func (c *Client) Threads(ctx context.Context, room string) ([]ThreadSummary, error) {
	var out struct{ Threads []ThreadSummary }
	err := c.Do(ctx, "GET", "/api/v1/rooms/"+room+"/threads", nil, &out)
	return out.Threads, err
}

// MarkThreadRead moves the caller's read marker in a thread.
func (c *Client) MarkThreadRead(ctx context.Context, room string, root, seq uint64) error {
	return c.Do(ctx, "POST", fmt.Sprintf("/api/v1/rooms/%s/threads/%d/read", room, root), map[string]uint64{"seq": seq}, nil)
}
