package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/server"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// serverFlags are the flags serve and bootstrap reset share (CONTRACT §1).
type serverFlags struct {
	config, addr, data, store, redis, upstream, tlsCert, tlsKey, logFormat, nodeID string
}

func (f *serverFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML config file (env LANYARD_CONFIG; default: the built-in config)")
	fs.StringVar(&f.addr, "addr", "", "listen address HOST:PORT (env LANYARD_ADDR; default 127.0.0.1:8080)")
	fs.StringVar(&f.data, "data", "", "data directory of the embedded SQLite store (env LANYARD_DATA; default ./lanyard-data)")
	fs.StringVar(&f.store, "store", "", "store URL (env LANYARD_STORE; default: SQLite in --data)")
	fs.StringVar(&f.redis, "redis", "", "Redis URL shared between nodes (env LANYARD_REDIS)")
	fs.StringVar(&f.upstream, "upstream", "", "upstream API to proxy to (env LANYARD_UPSTREAM)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (env LANYARD_TLS_CERT)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key file (env LANYARD_TLS_KEY)")
	fs.StringVar(&f.logFormat, "log-format", "", "log format text|json (env LANYARD_LOG_FORMAT; default text)")
	fs.StringVar(&f.nodeID, "node-id", "", "this node's id among the nodes of one store (env LANYARD_NODE_ID; default HOSTNAME:PORT)")
}

// load builds the validated config: built-in default, file, env, then the flags that were set.
func (f *serverFlags) load(fs *pflag.FlagSet, getenv func(string) string) (*config.Config, error) {
	set := func(name string, v *string) *string {
		if fs.Changed(name) {
			return v
		}
		return nil
	}
	path := f.config
	if !fs.Changed("config") {
		path = getenv("LANYARD_CONFIG")
	}
	return config.Load(path, getenv, config.Overrides{
		Addr:      set("addr", &f.addr),
		Data:      set("data", &f.data),
		Store:     set("store", &f.store),
		Redis:     set("redis", &f.redis),
		Upstream:  set("upstream", &f.upstream),
		TLSCert:   set("tls-cert", &f.tlsCert),
		TLSKey:    set("tls-key", &f.tlsKey),
		LogFormat: set("log-format", &f.logFormat),
		NodeID:    set("node-id", &f.nodeID),
	})
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func newServeCmd(e env) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the lanyard service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Until the config is read, the log format is what the flag or env say, so that
			// with json even a refusal to start is a JSON line.
			early := f.logFormat
			if !cmd.Flags().Changed("log-format") {
				early = e.getenv("LANYARD_LOG_FORMAT")
			}
			fail := func(err error) error {
				newLogger(e.stderr, early).Error("lanyard cannot start", "error", err.Error())
				return &quietError{err}
			}
			// A LANYARD_BOOTSTRAP_TOKEN that no request could present (too short or long, a
			// space, a character that is not printable ASCII) is refused before anything else,
			// the store included; Run refuses one shaped like a token it would not accept.
			if err := server.CheckBootstrapEnv(e.getenv); err != nil {
				return fail(err)
			}
			cfg, err := f.load(cmd.Flags(), e.getenv)
			if err != nil {
				return fail(err)
			}
			log := newLogger(e.stderr, cfg.Server.LogFormat)
			redis.SetLogger(redisLog{log: log})
			err = server.Run(cmd.Context(), server.Options{
				Config:  cfg,
				Logger:  log,
				LogJSON: cfg.Server.LogFormat == "json",
				Stderr:  e.stderr,
				Getenv:  e.getenv,
			})
			if err != nil {
				log.Error("lanyard stopped with an error", "error", err.Error())
				return &quietError{err}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func newBootstrapCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Manage the bootstrap admin token",
	}
	var f serverFlags
	reset := &cobra.Command{
		Use:   "reset",
		Short: "Rescind the bootstrap admin token and print a new one on stdout",
		Long: "reset opens the store directly (the same --data/--store, config and env as serve), " +
			"rescinds every bootstrap token and prints only the new one on stdout: the recovery when " +
			"the bootstrap token leaked or was revoked. Running servers refuse the old token within " +
			"the cache's staleness bound. A serve started with LANYARD_BOOTSTRAP_TOKEN set puts the " +
			"variable's value in place of the new token.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load(cmd.Flags(), e.getenv)
			if err != nil {
				return err
			}
			if cfg.Server.Store == "" {
				// Resetting is a recovery: a directory without a store is a typo, not a new
				// instance to create.
				if _, err := os.Stat(filepath.Join(cfg.Server.Data, sqlite.FileName)); err != nil {
					return fmt.Errorf("no lanyard store in %s: check --data", cfg.Server.Data)
				}
			}
			st, err := server.OpenStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			tok, err := server.ResetBootstrap(cmd.Context(), st, cfg, time.Now())
			if errors.Is(err, server.ErrResetNotLogged) {
				fmt.Fprintln(e.stderr, "lanyard: "+err.Error())
			} else if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(e.stdout, tok); err != nil {
				return err
			}
			if e.getenv(server.BootstrapEnv) != "" {
				fmt.Fprintln(e.stderr, "lanyard: "+server.BootstrapEnv+" is set: a `lanyard serve` started with it "+
					"replaces this token with the variable's value; unset it (or give it a new value) before the next start")
			}
			return nil
		},
	}
	f.register(reset.Flags())
	cmd.AddCommand(reset)
	return cmd
}
