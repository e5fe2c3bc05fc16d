package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/projections"
	"github.com/google/uuid"
	"github.com/urfave/cli/v3"
)

// confab users: the operators' account actions. Each appends events
// through the commands package, as the server's requests do; nothing
// edits the read models, which the command brings up to date before it
// reads them and after it appends (so that it works whether or not a
// server runs on the store).

func (m *Main) usersCommand() *cli.Command {
	user := "USER (a username or a user ID)"
	return &cli.Command{
		Name:  "users",
		Usage: "list accounts; reset a password, disable, enable or delete an account",
		Flags: storeFlags(),
		Commands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "list the accounts: id, username, display name, status, created",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON lines instead of a table"}},
				Action: m.usersList,
			},
			{
				Name:      "reset-password",
				Usage:     "set a new password (generated and printed, or read from stdin) and end every session of the account",
				ArgsUsage: user,
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "stdin", Usage: "read the new password from the first line of stdin instead of generating one"}},
				Action:    m.usersResetPassword,
			},
			{
				Name:      "disable",
				Usage:     "bar the account from signing in and end its sessions",
				ArgsUsage: user,
				Action:    m.usersSetEnabled(false),
			},
			{
				Name:      "enable",
				Usage:     "let a disabled account sign in again",
				ArgsUsage: user,
				Action:    m.usersSetEnabled(true),
			},
			{
				Name:      "delete",
				Usage:     "delete the account: its sessions and group memberships end, the read models drop its username, display name and avatar",
				ArgsUsage: user,
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "confirm the deletion (it cannot be undone)"}},
				Action:    m.usersDelete,
			},
		},
	}
}

// usersAdmin is an admin command's store, read models and commands.
type usersAdmin struct {
	*admin
	read *projections.Projections
	cmds *commands.Handlers
}

// openUsers opens the store and its read models, brought up to date.
func (m *Main) openUsers(ctx context.Context, c *cli.Command) (*usersAdmin, error) {
	a, err := m.openAdmin(ctx, c, false)
	if err != nil {
		return nil, err
	}
	p, err := a.projections(ctx)
	if err == nil {
		err = p.CatchUp(ctx, a.store)
	}
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("bring the read models up to date: %w", err)
	}
	cmds, err := commands.New(commands.Config{Store: a.store, Invites: p})
	if err != nil {
		a.Close()
		return nil, err
	}
	return &usersAdmin{admin: a, read: p, cmds: cmds}, nil
}

// finish brings the read models up to what the command appended.
func (u *usersAdmin) finish(ctx context.Context) error {
	if err := u.read.CatchUp(ctx, u.store); err != nil {
		return fmt.Errorf("bring the read models up to date: %w", err)
	}
	return nil
}

// oneUser returns the user the command's one argument names: a user ID,
// or a username in any case. It must exist in the read models.
func (u *usersAdmin) oneUser(ctx context.Context, c *cli.Command) (projections.User, error) {
	if c.NArg() != 1 {
		return projections.User{}, fmt.Errorf("users %s takes one USER (a username or user ID), got %q", c.Name, c.Args().Slice())
	}
	arg := c.Args().First()
	id := domain.UserIDFor(arg)
	if parsed, err := uuid.Parse(arg); err == nil {
		id = domain.UserID(parsed.String())
	}
	usr, err := u.read.User(ctx, id)
	if domain.KindOf(err) == domain.KindNotFound {
		return projections.User{}, fmt.Errorf("no user %q", arg)
	}
	return usr, err
}

// withUser opens the store and read models, finds the command's one
// USER and runs do with them, brings the read models up to what do
// appended, and then prints what do said it did.
func (m *Main) withUser(ctx context.Context, c *cli.Command, do func(u *usersAdmin, usr projections.User) (string, error)) error {
	u, err := m.openUsers(ctx, c)
	if err != nil {
		return err
	}
	defer u.Close()
	usr, err := u.oneUser(ctx, c)
	if err != nil {
		return err
	}
	done, err := do(u, usr)
	if err != nil {
		return err
	}
	if err := u.finish(ctx); err != nil {
		return err
	}
	fmt.Fprint(m.Stdout, done)
	return nil
}

func (m *Main) usersList(ctx context.Context, c *cli.Command) error {
	if c.NArg() > 0 {
		return fmt.Errorf("users list takes no arguments, got %q", c.Args().Slice())
	}
	u, err := m.openUsers(ctx, c)
	if err != nil {
		return err
	}
	defer u.Close()
	users, err := u.read.ListUsers(ctx)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(m.Stdout)
		for _, x := range users {
			if err := enc.Encode(map[string]any{"id": x.ID, "username": x.Username, "display_name": x.DisplayName, "status": x.Status,
				"created_at": time.UnixMicro(x.CreatedAt).UTC()}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tDISPLAY NAME\tSTATUS\tCREATED")
	for _, x := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, orDash(x.Username), orDash(cleanCell(x.DisplayName)), x.Status,
			time.UnixMicro(x.CreatedAt).UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cleanCell keeps a user's text from moving a terminal's cursor: tabs
// and the like are refused in display names already, but a table is no
// place to trust that.
func cleanCell(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || domain.IsBidiControl(r) {
			return '?'
		}
		return r
	}, s)
}

// generatePassword returns a random password of 20 characters from an
// alphabet without look-alikes (about 115 bits).
func (m *Main) usersResetPassword(ctx context.Context, c *cli.Command) error {
	return m.withUser(ctx, c, func(u *usersAdmin, usr projections.User) (string, error) {
		// A generated password is crypto/rand's Text: 26 characters of
		// base32, 130 bits.
		pw, generated := rand.Text(), !c.Bool("stdin")
		if !generated {
			line, err := bufio.NewReader(m.stdin()).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return "", fmt.Errorf("read the password from stdin: %w", err)
			}
			pw = strings.TrimRight(line, "\r\n")
		}
		res, err := u.cmds.ResetPassword.Handle(ctx, commands.ResetPassword{UserID: usr.ID, Password: pw})
		if err != nil {
			return "", err
		}
		done := fmt.Sprintf("password of %s reset; %s ended\n", usr.Username, count(max(0, len(res.Events)-1), "session", "sessions"))
		if generated {
			done = fmt.Sprintf("new password of %s: %s\n", usr.Username, pw) + done
		}
		return done, nil
	})
}

func (m *Main) usersSetEnabled(enabled bool) cli.ActionFunc {
	return func(ctx context.Context, c *cli.Command) error {
		return m.withUser(ctx, c, func(u *usersAdmin, usr projections.User) (string, error) {
			res, err := u.cmds.SetUserEnabled.Handle(ctx, commands.SetUserEnabled{UserID: usr.ID, Enabled: enabled})
			switch {
			case err != nil:
				return "", err
			case len(res.Events) == 0 && enabled:
				return usr.Username + " is enabled already\n", nil
			case len(res.Events) == 0:
				return usr.Username + " is disabled already\n", nil
			case enabled:
				return usr.Username + " enabled\n", nil
			default:
				return fmt.Sprintf("%s disabled; %s ended\n", usr.Username, count(len(res.Events)-1, "session", "sessions")), nil
			}
		})
	}
}

func (m *Main) usersDelete(ctx context.Context, c *cli.Command) error {
	if !c.Bool("yes") {
		return errors.New("users delete cannot be undone: add --yes to confirm")
	}
	return m.withUser(ctx, c, func(u *usersAdmin, usr projections.User) (string, error) {
		res, err := u.cmds.DeleteUser.Handle(ctx, commands.DeleteUser{UserID: usr.ID})
		if err != nil {
			return "", err
		}
		var sessions, rooms int
		for _, e := range res.Events {
			switch e.(type) {
			case domain.SessionEnded:
				sessions++
			case domain.MemberLeft:
				rooms++
			}
		}
		name := usr.Username
		if name == "" {
			name = string(usr.ID)
		}
		return fmt.Sprintf("%s deleted; %s ended, %s left\n", name, count(sessions, "session", "sessions"), count(rooms, "room", "rooms")), nil
	})
}

// stdin is what the commands read: Main.Stdin, else the process's.
func (m *Main) stdin() io.Reader {
	if m.Stdin != nil {
		return m.Stdin
	}
	return os.Stdin
}
