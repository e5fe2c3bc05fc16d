package main

import (
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/internal/metrics"
	"github.com/confabhq/confab/internal/password"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v3"
)

// authFlags bound what sign-up and sign-in may cost: password hashes at
// once, and sign-ups per address.
func authFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "hash-concurrency", Usage: "password hashes (argon2id, 19 MiB each) that may run at once; 0: one per CPU (GOMAXPROCS)", Sources: cli.EnvVars("CONFAB_HASH_CONCURRENCY")},
		&cli.IntFlag{Name: "hash-queue", Usage: "password hashes that may wait (up to 1 s) for a free slot; past that, sign-up and sign-in answer 503 unavailable; 0: 4 × --hash-concurrency", Sources: cli.EnvVars("CONFAB_HASH_QUEUE")},
		&cli.Float64Flag{Name: "signup-rate", Value: commands.DefaultSignUpsPerHour, Usage: "sign-ups an hour one client address may make, sustained (after --signup-burst); negative: unlimited", Sources: cli.EnvVars("CONFAB_SIGNUP_RATE")},
		&cli.IntFlag{Name: "signup-burst", Value: commands.DefaultSignUpBurst, Usage: "sign-ups one client address may make at once", Sources: cli.EnvVars("CONFAB_SIGNUP_BURST")},
	}
}

// authConfig sets the handlers' config from the auth flags.
func authConfig(c *cli.Command, cfg commands.Config) commands.Config {
	cfg.HashConcurrency = int(c.Int("hash-concurrency"))
	cfg.HashQueue = int(c.Int("hash-queue"))
	cfg.SignUpsPerHour = c.Float64("signup-rate")
	cfg.SignUpBurst = int(c.Int("signup-burst"))
	return cfg
}

// watchHashing exports the hashing limiter's counters.
func watchHashing(m *metrics.Metrics, l *password.Limiter) error {
	stat := func(f func(password.Stats) float64) func() float64 { return func() float64 { return f(l.Stats()) } }
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "confab_password_hash_slots", Help: "Password hashes that may run at once (--hash-concurrency)."},
			stat(func(s password.Stats) float64 { return float64(s.Concurrency) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "confab_password_hashes_running", Help: "Password hashes (sign-up) and checks (sign-in) running now."},
			stat(func(s password.Stats) float64 { return float64(s.Active) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "confab_password_hashes_running_max", Help: "The most password hashes and checks that ever ran at once."},
			stat(func(s password.Stats) float64 { return float64(s.MaxActive) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "confab_password_hashes_queued", Help: "Password hashes and checks waiting for a slot now."},
			stat(func(s password.Stats) float64 { return float64(s.Queued) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "confab_password_hashes_refused_total", Help: "Password hashes and checks refused because every slot was busy and the queue full (answered 503 unavailable)."},
			stat(func(s password.Stats) float64 { return float64(s.Refused) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "confab_password_hashes_total", Help: "Passwords hashed for new accounts."},
			stat(func(s password.Stats) float64 { return float64(s.Hashes) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "confab_password_verifications_total", Help: "Passwords checked at sign-in (unknown usernames against a dummy hash included)."},
			stat(func(s password.Stats) float64 { return float64(s.Verifies) })),
	} {
		if err := m.Registry().Register(c); err != nil {
			return err
		}
	}
	return nil
}
