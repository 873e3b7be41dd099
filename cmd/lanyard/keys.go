package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newKeysCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys on a running server"}
	cmd.AddCommand(newKeysCreateCmd(e), newKeysListCmd(e), newKeysGetCmd(e), newKeysRevokeCmd(e), newKeysReissueCmd(e))
	addClientFlags(cmd)
	return cmd
}

func newKeysCreateCmd(e env) *cobra.Command {
	var (
		name, id, owner, resource, role, format, plan, metadata string
		expiresIn                                               int64
		cidrs                                                   []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a key; its token or secret is printed this once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			body := map[string]any{"name": name}
			fs := cmd.Flags()
			for flag, v := range map[string]string{"id": id, "owner": owner, "resource": resource, "role": role, "format": format, "plan": plan} {
				if fs.Changed(flag) {
					body[flag] = v
				}
			}
			if fs.Changed("expires-in") {
				body["expires_in"] = expiresIn
			}
			if fs.Changed("allowed-cidr") {
				body["allowed_cidrs"] = cidrs
			}
			if fs.Changed("metadata") {
				var m map[string]any
				if err := json.Unmarshal([]byte(metadata), &m); err != nil {
					return errors.New("--metadata must be a JSON object")
				}
				body["metadata"] = m
			}
			return c.do(cmd.Context(), http.MethodPost, "/keys", nil, body)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "what the key is for (required)")
	f.StringVar(&id, "id", "", "the key's id (default: generated)")
	f.StringVar(&owner, "owner", "", `owning user, "user:<id>" (default: the caller)`)
	f.StringVar(&resource, "resource", "", `resource "type/id" the key is confined to`)
	f.StringVar(&role, "role", "", "role the key is capped to")
	f.StringVar(&format, "format", "", "token or key_secret (default: the server's default)")
	f.StringVar(&plan, "plan", "", "rate-limit plan")
	f.StringVar(&metadata, "metadata", "", "JSON object of metadata")
	f.Int64Var(&expiresIn, "expires-in", 0, "lifetime in seconds")
	f.StringSliceVar(&cidrs, "allowed-cidr", nil, "client network the key works from (repeatable)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newKeysListCmd(e env) *cobra.Command {
	var owner, resource, cursor string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys (metadata and prefixes, never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			q := url.Values{}
			addQuery(q, "owner", owner)
			addQuery(q, "resource", resource)
			addQuery(q, "cursor", cursor)
			if cmd.Flags().Changed("limit") {
				q.Set("limit", strconv.Itoa(limit))
			}
			return c.do(cmd.Context(), http.MethodGet, "/keys", q, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&owner, "owner", "", `only keys of "user:<id>"`)
	f.StringVar(&resource, "resource", "", `only keys of resource "type/id"`)
	f.StringVar(&cursor, "cursor", "", "next_cursor of the previous page")
	f.IntVar(&limit, "limit", 0, "page size (1–1000)")
	return cmd
}

func newKeysGetCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY_ID",
		Short: "Show one key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			return c.do(cmd.Context(), http.MethodGet, "/keys/"+url.PathEscape(args[0]), nil, nil)
		},
	}
}

func newKeysRevokeCmd(e env) *cobra.Command {
	var owner, resource string
	cmd := &cobra.Command{
		Use:   "revoke [KEY_ID] [--owner user:<id> | --resource type/id]",
		Short: "Revoke a key at once, or every key of an owner or resource",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			switch {
			case len(args) == 1 && owner == "" && resource == "":
				return c.do(cmd.Context(), http.MethodDelete, "/keys/"+url.PathEscape(args[0]), nil, nil)
			case len(args) == 0 && (owner != "" || resource != ""):
				q := url.Values{}
				addQuery(q, "owner", owner)
				addQuery(q, "resource", resource)
				return c.do(cmd.Context(), http.MethodDelete, "/keys", q, nil)
			}
			return errors.New("name one key id, or --owner or --resource")
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", `revoke every key of "user:<id>"`)
	cmd.Flags().StringVar(&resource, "resource", "", `revoke every key of resource "type/id"`)
	return cmd
}

func newKeysReissueCmd(e env) *cobra.Command {
	var grace int64
	cmd := &cobra.Command{
		Use:   "reissue KEY_ID",
		Short: "Give a key a new token or secret; the old one stops working (after --grace-seconds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			body := map[string]any{}
			if cmd.Flags().Changed("grace-seconds") {
				body["grace_seconds"] = grace
			}
			return c.do(cmd.Context(), http.MethodPost, "/keys/"+url.PathEscape(args[0])+"/reissue", nil, body)
		},
	}
	cmd.Flags().Int64Var(&grace, "grace-seconds", 0, "keep the old secret working this many seconds (0–86400)")
	return cmd
}

func addQuery(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// readPassword reads a password from stdin: the first line, without its line ending.
func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", err
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", errors.New("--password-stdin: no password on stdin")
	}
	return pw, nil
}
