package main

import (
	"fmt"

	"github.com/confabhq/confab/domain"
	"github.com/urfave/cli/v3"
)

// sessionFlags bound sessions on the server (domain.SessionPolicy).
func sessionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "session-idle-timeout", Value: domain.DefaultSessionIdleTimeout,
			Usage: "a session not used for this long expires", Sources: cli.EnvVars("CONFAB_SESSION_IDLE_TIMEOUT")},
		&cli.DurationFlag{Name: "session-max-age", Value: domain.DefaultSessionMaxAge,
			Usage: "a session expires this long after sign-in, used or not (also the cookie's Max-Age)", Sources: cli.EnvVars("CONFAB_SESSION_MAX_AGE")},
		&cli.IntFlag{Name: "max-sessions-per-user", Value: domain.DefaultMaxSessionsPerUser,
			Usage: "a sign-in past this many sessions of a user ends their oldest", Sources: cli.EnvVars("CONFAB_MAX_SESSIONS_PER_USER")},
	}
}

// sessionPolicy reads the session flags; each must be positive.
func sessionPolicy(c *cli.Command) (domain.SessionPolicy, error) {
	p := domain.SessionPolicy{IdleTimeout: c.Duration("session-idle-timeout"), MaxAge: c.Duration("session-max-age"), MaxPerUser: int(c.Int("max-sessions-per-user"))}
	if p.IdleTimeout <= 0 || p.MaxAge <= 0 || p.MaxPerUser <= 0 {
		return p, fmt.Errorf("--session-idle-timeout (%v), --session-max-age (%v) and --max-sessions-per-user (%d) must be positive",
			p.IdleTimeout, p.MaxAge, p.MaxPerUser)
	}
	return p, nil
}
