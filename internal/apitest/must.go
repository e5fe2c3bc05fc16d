package apitest

import (
	"context"
	"testing"
)

// MustSignUp signs a new user up, ending the test if that fails.
func MustSignUp(tb testing.TB, ctx context.Context, base, username, password string) *Client {
	tb.Helper()
	c, err := SignUp(ctx, base, username, password)
	if err != nil {
		tb.Fatalf("sign up %s: %v", username, err)
	}
	return c
}

// MustCreateRoom creates a group room owned by c and has each of joiners
// join it by its invite code, ending the test if any of that fails.
func (c *Client) MustCreateRoom(tb testing.TB, ctx context.Context, name string, joiners ...*Client) Room {
	tb.Helper()
	room, err := c.CreateRoom(ctx, name)
	if err != nil {
		tb.Fatalf("create room %s: %v", name, err)
	}
	for _, j := range joiners {
		if _, err := j.Join(ctx, room.InviteCode); err != nil {
			tb.Fatalf("%s joins %s: %v", j.User.Username, name, err)
		}
	}
	return room
}

// MustDial opens c's WebSocket, closed when the test ends, ending the test
// if it cannot be opened.
func (c *Client) MustDial(tb testing.TB, ctx context.Context) *WS {
	tb.Helper()
	ws, err := c.Dial(ctx)
	if err != nil {
		tb.Fatalf("dial %s: %v", c.User.Username, err)
	}
	tb.Cleanup(func() { ws.Close() })
	return ws
}
