package main

import (
	"github.com/confabhq/confab/projections"
	"github.com/urfave/cli/v3"
)

// searchLanguageFlag names the PostgreSQL text search configuration of
// the search index. serve and the admin commands take it alike: the read
// models are opened with it, and opening them with another one rebuilds
// the index.
func searchLanguageFlag() cli.Flag {
	return &cli.StringFlag{Name: "search-language", Value: projections.DefaultSearchLanguage,
		Usage:   "PostgreSQL text search configuration of the search index (simple, english, french, ...; see pg_ts_config); simple works for any language; changing it rebuilds the index at start; the embedded store ignores it",
		Sources: cli.EnvVars("CONFAB_SEARCH_LANGUAGE")}
}
