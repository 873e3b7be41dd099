// Command lanyard gives an HTTP API the credentials its customers expect: API keys, key+secret
// pairs, personal access tokens and admin tokens, with an audit trail. `lanyard serve` runs the
// service; the other subcommands talk to a running server's API (LANYARD_ADDR, LANYARD_TOKEN)
// or, like `lanyard bootstrap reset`, `migrate`, `export` and `import`, to its store directly.
//
// This package only wires: flags to config, config to internal/server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

// env is what the commands read from outside: streams and the environment.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code: 0 on success, 1 on any error (its
// message on stderr).
func run(ctx context.Context, args []string, e env) int {
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var quiet *quietError
		if !errors.As(err, &quiet) {
			fmt.Fprintln(e.stderr, "lanyard:", err)
		}
		return 1
	}
	return 0
}

// quietError is an error whose message was already printed.
type quietError struct{ err error }

func (q *quietError) Error() string { return q.err.Error() }

func newRoot(e env) *cobra.Command {
	root := &cobra.Command{
		Use:           "lanyard",
		Short:         "API keys, tokens, roles and an audit trail for any HTTP API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(e),
		newVersionCmd(e),
		newBootstrapCmd(e),
		newMigrateCmd(e),
		newExportCmd(e),
		newImportCmd(e),
		newKeysCmd(e),
		newUsersCmd(e),
	)
	return root
}

func newVersionCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print lanyard's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(e.stdout, "lanyard", version)
			return err
		},
	}
}
