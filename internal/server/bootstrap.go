package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// ensureBootstrap creates the bootstrap admin token on a store that never had one: the value of
// LANYARD_BOOTSTRAP_TOKEN when set, otherwise a fresh token printed once to stderr. Only its
// hash is stored; a store that was bootstrapped before is left alone, so a second start never
// prints or changes it.
func ensureBootstrap(ctx context.Context, st store.Store, cfg *config.Config, o Options, log *slog.Logger) error {
	tok := o.Getenv(BootstrapEnv)
	generated := tok == ""
	if generated {
		var err error
		if tok, err = credential.Generate(cfg.Tokens.BootstrapPrefix); err != nil {
			return err
		}
	}
	now := o.Now().UTC().Truncate(time.Second)
	t := store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: credential.Hash(tok), CreatedAt: now}
	ev := store.Event{At: now, Actor: "lanyard", Action: "bootstrap.create", Target: "bootstrap", Result: "success", Count: 1}
	created, err := st.InitBootstrap(ctx, t, ev)
	if err != nil {
		return fmt.Errorf("creating the bootstrap token: %w", err)
	}
	switch {
	case !created:
		return nil
	case !generated:
		log.Info("bootstrap admin token set from " + BootstrapEnv)
		return nil
	}
	return printBootstrap(o, log, tok)
}

// printBootstrap writes a generated bootstrap token to stderr, on a line of its own after a log
// line saying what it is (a JSON object with the field bootstrap_token when the logs are JSON),
// never through the access log.
func printBootstrap(o Options, log *slog.Logger, tok string) error {
	const msg = "created the bootstrap admin token; it is shown only this once, so keep it safe"
	if o.LogJSON {
		line, err := json.Marshal(map[string]string{
			"time":            o.Now().UTC().Format(time.RFC3339),
			"level":           "WARN",
			"msg":             msg,
			"bootstrap_token": tok,
		})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Stderr, "%s\n", line)
		return err
	}
	log.Warn(msg + "; it follows on the next line")
	_, err := fmt.Fprintf(o.Stderr, "%s\n", tok)
	return err
}

// ResetBootstrap rescinds every bootstrap token and stores a new one, returned for printing:
// the recovery when the bootstrap token leaked or was revoked. It runs where the store is
// reachable, never over the API.
func ResetBootstrap(ctx context.Context, st store.Store, cfg *config.Config, now time.Time) (string, error) {
	tok, err := credential.Generate(cfg.Tokens.BootstrapPrefix)
	if err != nil {
		return "", err
	}
	now = now.UTC().Truncate(time.Second)
	t := store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: credential.Hash(tok), CreatedAt: now}
	ev := store.Event{At: now, Actor: "lanyard", Action: "bootstrap.reset", Target: "bootstrap", Result: "success", Count: 1}
	if _, err := st.ResetBootstrap(ctx, t, ev); err != nil {
		return "", fmt.Errorf("resetting the bootstrap token: %w", err)
	}
	return tok, nil
}
