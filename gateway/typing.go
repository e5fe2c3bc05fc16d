package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// ephemeralTopic carries frames that are not stored (typing) between nodes.
const ephemeralTopic = "confab.ephemeral"

type typingMessage struct {
	RoomID   domain.RoomID `json:"room_id"`
	UserID   domain.UserID `json:"user_id"`
	Username string        `json:"username"`
}

// typing tells the room's other subscribers that c's user is typing, at
// most once per TypingInterval per room and connection.
func (g *Gateway) typing(ctx context.Context, c *conn, f Frame) error {
	room, err := parseRoomID(f.RoomID)
	if err != nil {
		return err
	}
	member, _, err := g.cmds.Aggregates.IsMember(ctx, room, c.user)
	if err != nil {
		return err
	}
	if !member {
		return domain.Errorf(domain.KindNotFound, "typing", "no such room, or you are not a member")
	}
	c.mu.Lock()
	if c.typedAt == nil {
		c.typedAt = map[domain.RoomID]time.Time{}
	}
	now := time.Now()
	if now.Sub(c.typedAt[room]) < g.limits.TypingInterval {
		c.mu.Unlock()
		return nil // coalesced
	}
	c.typedAt[room] = now
	c.mu.Unlock()
	payload, err := json.Marshal(typingMessage{RoomID: room, UserID: c.user, Username: c.username})
	if err != nil {
		return err
	}
	return g.pub.Publish(ephemeralTopic, message.NewMessage(uuid.NewString(), payload))
}

// followEphemeral delivers typing frames from every node to this node's
// subscribers, until ctx ends or the subscription does.
func (g *Gateway) followEphemeral(ctx context.Context) error {
	msgs, err := g.sub.Subscribe(ctx, ephemeralTopic)
	if err != nil {
		return eventstore.AsTransient(fmt.Errorf("typing: subscribe: %w", err))
	}
	g.loops.Loop(loopTyping).Healthy()
	for msg := range msgs {
		var t typingMessage
		if json.Unmarshal(msg.Payload, &t) == nil {
			g.hub.toRoom(t.RoomID, t.UserID, map[string]any{"type": "typing", "room_id": t.RoomID, "user_id": t.UserID, "username": t.Username})
		}
		msg.Ack()
	}
	if ctx.Err() == nil {
		return eventstore.AsTransient(errors.New("typing: subscription closed"))
	}
	return ctx.Err()
}
