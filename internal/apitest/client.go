package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client calls the REST API as one signed-in user.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	User  User
	HTTP  *http.Client
}

// User is a user as the API shows it.
type User struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	DisplayName string     `json:"display_name"`
	AvatarURL   string     `json:"avatar_url"`
	Deleted     bool       `json:"deleted"`
	Status      string     `json:"status"`
	LastSeen    *time.Time `json:"last_seen"`
}

// Room is a room as the API shows it.
type Room struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	OwnerID    string `json:"owner_id"`
	InviteCode string `json:"invite_code"`
	Role       string `json:"role"`
	LastSeq    uint64 `json:"last_seq"`
	ReadSeq    uint64 `json:"read_seq"`
	Unread     int    `json:"unread"`
	DMPeer     *User  `json:"dm_peer"`
	// Mentions, Notify and MembersCanPin: pins and notification levels.
	Mentions      int    `json:"mentions"`
	Notify        string `json:"notify"`
	MembersCanPin bool   `json:"members_can_pin"`
}

// Message is a message as the API shows it.
type Message struct {
	RoomID      string   `json:"room_id"`
	Seq         uint64   `json:"seq"`
	SenderID    string   `json:"sender_id"`
	SenderName  string   `json:"sender_name"`
	ClientMsgID string   `json:"client_msg_id"`
	Text        string   `json:"text"`
	ReplyTo     uint64   `json:"reply_to"`
	ThreadRoot  uint64   `json:"thread_root"`
	Thread      *Thread  `json:"thread"`
	Mentions    []string `json:"mentions"`
	Reactions   []struct {
		Emoji string   `json:"emoji"`
		Users []string `json:"users"`
	} `json:"reactions"`
	Attachments []Attachment `json:"attachments"`
	EditedAt    *time.Time   `json:"edited_at"`
	Deleted     bool         `json:"deleted"`
}

// Attachment is an attachment as the API shows it.
type Attachment struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Size         int64  `json:"size"`
	ContentType  string `json:"content_type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Digest       string `json:"digest"`
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
}

// Member is a room member as the API shows it.
type Member struct {
	User User   `json:"user"`
	Role string `json:"role"`
}

// Error is an API error response.
type Error struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// New returns a client of the server at base that is not signed in.
func New(base string) *Client {
	return &Client{Base: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Do sends a request with a JSON body (unless nil) and decodes a JSON
// answer into out (unless nil). A non-2xx answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error Error }
		json.Unmarshal(data, &e)
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// SignUp signs a new user up and returns their client.
func SignUp(ctx context.Context, base, username, password string) (*Client, error) {
	c := New(base)
	var out struct {
		User  User
		Token string
	}
	if err := c.Do(ctx, "POST", "/api/v1/auth/signup", map[string]string{"username": username, "password": password}, &out); err != nil {
		return nil, err
	}
	c.Token, c.User = out.Token, out.User
	return c, nil
}

// SignIn signs a user in and returns their client.
func SignIn(ctx context.Context, base, username, password string) (*Client, error) {
	c := New(base)
	var out struct {
		User  User
		Token string
	}
	if err := c.Do(ctx, "POST", "/api/v1/auth/signin", map[string]string{"username": username, "password": password}, &out); err != nil {
		return nil, err
	}
	c.Token, c.User = out.Token, out.User
	return c, nil
}

// CreateRoom creates a room.
func (c *Client) CreateRoom(ctx context.Context, name string) (Room, error) {
	var out struct{ Room Room }
	err := c.Do(ctx, "POST", "/api/v1/rooms", map[string]string{"name": name}, &out)
	return out.Room, err
}

// Join joins a room by invite code.
func (c *Client) Join(ctx context.Context, code string) (Room, error) {
	var out struct{ Room Room }
	err := c.Do(ctx, "POST", "/api/v1/rooms/join", map[string]string{"invite_code": code}, &out)
	return out.Room, err
}

// Rooms lists the caller's rooms.
func (c *Client) Rooms(ctx context.Context) ([]Room, error) {
	var out struct{ Rooms []Room }
	err := c.Do(ctx, "GET", "/api/v1/rooms", nil, &out)
	return out.Rooms, err
}

// Messages pages a room's history, newest first.
func (c *Client) Messages(ctx context.Context, room string, before uint64, limit int) ([]Message, error) {
	var out struct{ Messages []Message }
	err := c.Do(ctx, "GET", fmt.Sprintf("/api/v1/rooms/%s/messages?before=%d&limit=%d", room, before, limit), nil, &out)
	return out.Messages, err
}

// Post posts a message over REST.
func (c *Client) Post(ctx context.Context, room, clientMsgID, text string) (Message, error) {
	var out struct{ Message Message }
	err := c.Do(ctx, "POST", "/api/v1/rooms/"+room+"/messages", map[string]any{"client_msg_id": clientMsgID, "text": text}, &out)
	return out.Message, err
}

// Members lists a room's members with presence.
func (c *Client) Members(ctx context.Context, room string) ([]Member, error) {
	var out struct{ Members []Member }
	err := c.Do(ctx, "GET", "/api/v1/rooms/"+room+"/members", nil, &out)
	return out.Members, err
}

// DM opens the DM room with another user.
func (c *Client) DM(ctx context.Context, userID string) (Room, error) {
	var out struct{ Room Room }
	err := c.Do(ctx, "POST", "/api/v1/dms", map[string]string{"user_id": userID}, &out)
	return out.Room, err
}

// GetUser reads a user with presence.
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	var out struct{ User User }
	err := c.Do(ctx, "GET", "/api/v1/users/"+id, nil, &out)
	return out.User, err
}
