package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"golang.org/x/sync/errgroup"
)

// state is a prepared population: users with their session tokens and the
// rooms they were put in. Saved with --state, it lets later runs against
// the same server data skip sign-up (argon2id makes it slow) and joins.
type state struct {
	Prefix   string      `json:"prefix"`   // usernames are <prefix>-<index>
	Password string      `json:"password"` // every user's
	Users    []stateUser `json:"users"`
	Sets     []roomSet   `json:"room_sets"` // rooms, one set per layout used
}

// roomSet is the rooms of one layout.
type roomSet struct {
	Layout layout      `json:"layout"`
	Rooms  []stateRoom `json:"rooms"`
}

// roomSet returns rooms with the members layout l wants: those made for
// l, or the first l.Rooms rooms of another set whose members are the same
// (50 rooms of 100 over 5,000 users are the first 50 rooms of 100 rooms of
// 100 over 10,000). It returns nil if there are none.
func (st *state) roomSet(l layout) []stateRoom {
	for _, s := range st.Sets {
		if s.Layout == l {
			return s.Rooms
		}
	}
sets:
	for _, s := range st.Sets {
		if len(s.Rooms) < l.Rooms {
			continue
		}
		for r := range l.Rooms {
			if !slices.Equal(s.Rooms[r].Members, l.members(r)) {
				continue sets
			}
		}
		return s.Rooms[:l.Rooms]
	}
	return nil
}

type stateUser struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	Token string `json:"token"`
}

// layout is the shape of a population's rooms.
type layout struct {
	Users          int `json:"users"`
	Rooms          int `json:"rooms"`
	MembersPerRoom int `json:"members_per_room"`
}

type stateRoom struct {
	ID         string `json:"id"`
	InviteCode string `json:"invite_code"`
	Members    []int  `json:"members"` // user indexes; the first is the owner
}

// members returns the users of room r: rooms are filled round-robin, room
// r taking the m users from index r*m on (mod n), so every user is in
// ceil or floor of rooms*m/n rooms.
func (l layout) members(r int) []int {
	ms := make([]int, l.MembersPerRoom)
	for j := range ms {
		ms[j] = (r*l.MembersPerRoom + j) % l.Users
	}
	return ms
}

func loadState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &st, nil
}

func (st *state) save(path string) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// setupReport tells what the setup phase did.
type setupReport struct {
	Users         int     `json:"users"`
	Rooms         int     `json:"rooms"`
	Memberships   int     `json:"memberships"`
	ReusedUsers   int     `json:"reused_users"`
	SignedUp      int     `json:"signed_up"`
	SignupsPerSec float64 `json:"signups_per_sec,omitempty"`
	ReusedRooms   bool    `json:"reused_rooms"`
	Joins         int     `json:"joins"`
	JoinsPerSec   float64 `json:"joins_per_sec,omitempty"`
	Seconds       float64 `json:"seconds"`
}

// restClient returns an API client for a user, sharing one HTTP transport.
func (b *bench) restClient(token string) *apitest.Client {
	c := apitest.New(b.cfg.Server)
	c.HTTP = b.http
	c.Token = token
	return c
}

func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Timeout: 60 * time.Second, Transport: t}
}

// setup signs up the users and fills the rooms, reusing what the state
// file has.
func (b *bench) setup(ctx context.Context) (*state, setupReport, error) {
	start := time.Now()
	cfg := b.cfg
	want := layout{Users: cfg.Users, Rooms: cfg.Rooms, MembersPerRoom: cfg.MembersPerRoom}
	var rep setupReport
	st, err := loadState(cfg.State)
	if err != nil {
		return nil, rep, err
	}
	if st == nil {
		st = &state{Prefix: "cb" + randomString(6), Password: "confab-bench " + randomString(12)}
	} else if len(st.Users) > 0 {
		// The tokens must still be good on this server (a state file
		// belongs to the server's data, not to its address).
		var me struct{ User apitest.User }
		if err := b.restClient(st.Users[0].Token).Do(ctx, "GET", "/api/v1/me", nil, &me); err != nil {
			return nil, rep, fmt.Errorf("state file %s does not fit this server (GET /me: %w); delete it to start afresh", cfg.State, err)
		}
	}
	rep.ReusedUsers = min(len(st.Users), cfg.Users)
	if err := b.signUp(ctx, st, cfg.Users); err != nil {
		st.save(cfg.State)
		return nil, rep, err
	}
	rep.SignedUp = cfg.Users - rep.ReusedUsers
	if rep.SignedUp > 0 {
		rep.SignupsPerSec = float64(rep.SignedUp) / time.Since(start).Seconds()
	}
	if err := st.save(cfg.State); err != nil {
		return nil, rep, err
	}
	if st.roomSet(want) != nil || want.Rooms == 0 {
		rep.ReusedRooms = want.Rooms > 0
	} else {
		js := time.Now()
		if err := b.fillRooms(ctx, st, want); err != nil {
			return nil, rep, err
		}
		rep.Joins = want.Rooms * (want.MembersPerRoom - 1)
		rep.JoinsPerSec = float64(rep.Joins) / time.Since(js).Seconds()
		if err := st.save(cfg.State); err != nil {
			return nil, rep, err
		}
	}
	rep.Users, rep.Rooms, rep.Memberships = cfg.Users, cfg.Rooms, cfg.Rooms*cfg.MembersPerRoom
	rep.Seconds = time.Since(start).Seconds()
	return st, rep, nil
}

// signUp adds users to st until it has n, in parallel. A username that is
// taken (left by a run whose state was not saved) is signed in instead.
func (b *bench) signUp(ctx context.Context, st *state, n int) error {
	have := len(st.Users)
	if have >= n {
		return nil
	}
	users := make([]stateUser, n-have)
	var done atomic.Int64
	stop := b.progress("setup: signed up", &done, int64(len(users)))
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.SignupConcurrency)
	for i := range users {
		name := fmt.Sprintf("%s-%d", st.Prefix, have+i)
		g.Go(func() error {
			var out struct {
				User  apitest.User
				Token string
			}
			body := map[string]string{"username": name, "password": st.Password}
			c := b.restClient("")
			err := c.Do(gctx, "POST", "/api/v1/auth/signup", body, &out)
			var ae *apitest.Error
			if errors.As(err, &ae) && ae.Code == "conflict" {
				err = c.Do(gctx, "POST", "/api/v1/auth/signin", body, &out)
			}
			if err != nil {
				return fmt.Errorf("sign up %s: %w", name, err)
			}
			users[i] = stateUser{Name: name, ID: out.User.ID, Token: out.Token}
			done.Add(1)
			return nil
		})
	}
	err := g.Wait()
	// Keep the users that made it, in order, so a rerun continues.
	for _, u := range users {
		if u.Token == "" {
			break
		}
		st.Users = append(st.Users, u)
	}
	return err
}

// fillRooms creates want.Rooms rooms and has their members join.
func (b *bench) fillRooms(ctx context.Context, st *state, want layout) error {
	if want.Rooms > 0 {
		b.log.Info("setup: creating rooms", "rooms", want.Rooms, "members_per_room", want.MembersPerRoom)
	}
	rooms := make([]stateRoom, want.Rooms)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.SetupConcurrency)
	for r := range rooms {
		g.Go(func() error {
			ms := want.members(r)
			room, err := b.restClient(st.Users[ms[0]].Token).CreateRoom(gctx, fmt.Sprintf("bench %d", r))
			if err != nil {
				return fmt.Errorf("create room %d: %w", r, err)
			}
			rooms[r] = stateRoom{ID: room.ID, InviteCode: room.InviteCode, Members: ms}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var done atomic.Int64
	total := int64(want.Rooms * (want.MembersPerRoom - 1))
	stop := b.progress("setup: joined", &done, total)
	defer stop()
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.SetupConcurrency)
	// Join round-robin over rooms so that no room's writer is a hot spot.
	for j := 1; j < want.MembersPerRoom; j++ {
		for r := range rooms {
			u := rooms[r].Members[j]
			g.Go(func() error {
				if _, err := b.restClient(st.Users[u].Token).Join(gctx, rooms[r].InviteCode); err != nil {
					return fmt.Errorf("user %d joins room %d: %w", u, r, err)
				}
				done.Add(1)
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	st.Sets = append(st.Sets, roomSet{Layout: want, Rooms: rooms})
	return nil
}

// progress logs done/total every few seconds until stop is called.
func (b *bench) progress(what string, done *atomic.Int64, total int64) (stop func()) {
	start := time.Now()
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				n := done.Load()
				b.log.Info(what, "done", n, "of", total, "per_sec", fmt.Sprintf("%.0f", float64(n)/time.Since(start).Seconds()))
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

func randomString(n int) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
