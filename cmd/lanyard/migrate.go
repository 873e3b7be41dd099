package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lanyardhq/lanyard/internal/server"
)

func newMigrateCmd(e env) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's pending schema migrations without serving",
		Long: "migrate opens the store (the same --store/--data, config and env as serve), applies the " +
			"schema migrations this lanyard has and the store lacks, and exits: the step to run before " +
			"rolling a new version out to several nodes. serve applies them too when it starts; on " +
			"PostgreSQL, nodes that start at once apply each migration exactly once. A store written " +
			"by a newer lanyard is refused. It prints nothing on stdout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load(cmd.Flags(), e.getenv)
			if err != nil {
				return err
			}
			st, err := server.OpenStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			msg := "lanyard: the store's schema is up to date"
			if v, ok := st.(interface {
				SchemaVersion(context.Context) (int, error)
			}); ok {
				n, err := v.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				msg += fmt.Sprintf(" (version %d)", n)
			}
			fmt.Fprintln(e.stderr, msg)
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}
