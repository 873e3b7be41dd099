package main

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"
)

func newUsersCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Create and list users on a running server"}
	cmd.AddCommand(newUsersCreateCmd(e), newUsersListCmd(e), newUsersGetCmd(e), newUsersDeleteCmd(e))
	addClientFlags(cmd)
	return cmd
}

func newUsersCreateCmd(e env) *cobra.Command {
	var email, name, id string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user (admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			body := map[string]any{"email": email}
			if cmd.Flags().Changed("name") {
				body["name"] = name
			}
			if id != "" {
				body["id"] = id
			}
			if passwordStdin {
				pw, err := readPassword(e.stdin)
				if err != nil {
					return err
				}
				body["password"] = pw
			}
			return c.do(cmd.Context(), http.MethodPost, "/users", nil, body)
		},
	}
	f := cmd.Flags()
	f.StringVar(&email, "email", "", "the user's email address (required)")
	f.StringVar(&name, "name", "", "the user's name")
	f.StringVar(&id, "id", "", "the user's id (default: generated)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the user's password from stdin (without it the user cannot log in)")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

func newUsersListCmd(e env) *cobra.Command {
	var cursor string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users (admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			q := url.Values{}
			addQuery(q, "cursor", cursor)
			if cmd.Flags().Changed("limit") {
				q.Set("limit", strconv.Itoa(limit))
			}
			return c.do(cmd.Context(), http.MethodGet, "/users", q, nil)
		},
	}
	cmd.Flags().StringVar(&cursor, "cursor", "", "next_cursor of the previous page")
	cmd.Flags().IntVar(&limit, "limit", 0, "page size (1–1000)")
	return cmd
}

func newUsersGetCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "get USER_ID|me",
		Short: "Show one user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			return c.do(cmd.Context(), http.MethodGet, "/users/"+url.PathEscape(args[0]), nil, nil)
		},
	}
}

func newUsersDeleteCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "delete USER_ID",
		Short: "Delete a user and every credential it owns (admins)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			return c.do(cmd.Context(), http.MethodDelete, "/users/"+url.PathEscape(args[0]), nil, nil)
		},
	}
}
