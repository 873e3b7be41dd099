package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// ensureBootstrap makes sure the store has its bootstrap admin token. A store that never had one
// gets the value of LANYARD_BOOTSTRAP_TOKEN when set, otherwise a fresh token printed once to
// stderr. On a store bootstrapped before, a generated token is never printed or changed again,
// but LANYARD_BOOTSTRAP_TOKEN, when set, replaces a bootstrap token that differs from it
// (logged and audited, neither token shown). Only hashes are stored. Run calls it once the
// listener is bound, so that a start that cannot serve consumes no generated token.
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
	case created && generated:
		return printBootstrap(o, log, tok)
	case created:
		log.Info("bootstrap admin token set from " + BootstrapEnv)
		return nil
	case generated:
		return nil
	}
	return adoptBootstrapEnv(ctx, st, t, log)
}

// adoptBootstrapEnv makes t, the value of LANYARD_BOOTSTRAP_TOKEN, the bootstrap token of a
// store that was bootstrapped before, in place of another one. A store whose bootstrap token was
// revoked keeps none: a revoked token (perhaps leaked) must not come back because the variable
// still holds it; `lanyard bootstrap reset` is the way back, and the variable then replaces the
// token reset made at the next start.
func adoptBootstrapEnv(ctx context.Context, st store.Store, t store.Token, log *slog.Logger) error {
	ev := store.Event{At: t.CreatedAt, Actor: "lanyard", Action: "bootstrap.replace", Target: "bootstrap",
		Result: "success", Count: 1, Detail: "set from " + BootstrapEnv}
	rev, err := st.ReplaceBootstrap(ctx, t, ev)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%s holds the value of another lanyard credential; choose another", BootstrapEnv)
	case err != nil:
		return fmt.Errorf("replacing the bootstrap token with %s: %w", BootstrapEnv, err)
	case !rev.Empty():
		log.Warn("replaced the bootstrap admin token with the value of " + BootstrapEnv + "; the previous one no longer works")
		return nil
	}
	res, err := st.Resolve(ctx, t.Hash)
	switch {
	case err == nil && res.Secret.Kind == store.KindBootstrap:
		return nil // the variable holds the bootstrap token already
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("reading the bootstrap token: %w", err)
	}
	log.Warn(BootstrapEnv + " is not used: this store's bootstrap token was revoked, and a revoked bootstrap token is not brought back; `lanyard bootstrap reset` makes a new one")
	return nil
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
// reachable, never over the API. With ErrResetNotLogged it returns the new token too.
func ResetBootstrap(ctx context.Context, st store.Store, cfg *config.Config, now time.Time) (string, error) {
	tok, err := credential.Generate(cfg.Tokens.BootstrapPrefix)
	if err != nil {
		return "", err
	}
	now = now.UTC().Truncate(time.Second)
	t := store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: credential.Hash(tok), CreatedAt: now}
	ev := store.Event{At: now, Actor: "lanyard", Action: "bootstrap.reset", Target: "bootstrap", Result: "success", Count: 1}
	rev, err := st.ResetBootstrap(ctx, t, ev)
	if err != nil {
		return "", fmt.Errorf("resetting the bootstrap token: %w", err)
	}
	// Running nodes forget the rescinded token through the revocation log, as they do what
	// another node revokes, rather than at the end of their staleness bound.
	if !rev.Empty() {
		if _, err := st.AppendRevocation(ctx, store.Revocation{At: now, Node: ResetNode, Revoked: rev}); err != nil {
			// The new token is stored: it is returned with the error, to be printed all the same.
			return tok, fmt.Errorf("%w: %w", ErrResetNotLogged, err)
		}
	}
	return tok, nil
}

// ErrResetNotLogged says ResetBootstrap stored the new token but could not tell running nodes:
// they keep accepting the old one until their cache.staleness bound.
var ErrResetNotLogged = errors.New("the bootstrap token is reset, but running nodes may accept the old one for up to cache.staleness")

// ResetNode is the node name `lanyard bootstrap reset` writes its entry of the revocation log
// under.
const ResetNode = "bootstrap-reset"
