package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/server"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// The export format is JSON lines: a header line {"lanyard_export": 1}, then one line per
// record, an object with one member that names its kind (meta, user, resource, key, secret,
// revoked, scoped_token, grant, usage, event) and holds its fields, in the order store.Store.Export yields them. Times are
// RFC 3339 UTC to the second; secret hashes are SHA-256 in hex; passwords are their argon2id
// PHC strings. No secret is in it, but the instance key is (the audit trail's fingerprints need
// it) and so are the password hashes: keep an export as you keep a backup of the database.
const exportVersion = 1

type exportHeader struct {
	Version int `json:"lanyard_export"`
}

// exportLine is one record; exactly one member is set.
type exportLine struct {
	Meta     *metaLine     `json:"meta,omitempty"`
	User     *userLine     `json:"user,omitempty"`
	Resource *resourceLine `json:"resource,omitempty"`
	Key      *keyLine      `json:"key,omitempty"`
	Secret   *secretLine   `json:"secret,omitempty"`
	Revoked  *revokedLine  `json:"revoked,omitempty"`
	Scoped   *scopedLine   `json:"scoped_token,omitempty"`
	Grant    *grantLine    `json:"grant,omitempty"`
	Usage    *usageLine    `json:"usage,omitempty"`
	Event    *eventLine    `json:"event,omitempty"`
}

type metaLine struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type userLine struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"`
	Admin        bool      `json:"admin"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

type resourceLine struct {
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Parent    string    `json:"parent"`
	Plan      string    `json:"plan"`
	CreatedAt time.Time `json:"created_at"`
}

type keyLine struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Format       string         `json:"format"`
	Prefix       string         `json:"prefix"`
	Owner        string         `json:"owner"`
	Resource     string         `json:"resource"`
	Role         string         `json:"role"`
	Plan         string         `json:"plan"`
	Metadata     map[string]any `json:"metadata"`
	AllowedCIDRs []string       `json:"allowed_cidrs"`
	Credits      *store.Credits `json:"credits"`
	ExpiresAt    *time.Time     `json:"expires_at"`
	LastUsedAt   *time.Time     `json:"last_used_at"`
	CreatedAt    time.Time      `json:"created_at"`
	CreatedBy    string         `json:"created_by"`
}

type secretLine struct {
	Hash      string     `json:"hash"`
	Kind      string     `json:"kind"`
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
}

// revokedLine is the hash of a secret deleted while it still worked.
type revokedLine struct {
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

type scopedLine struct {
	ID         string    `json:"id"`
	Hash       string    `json:"hash"`
	Type       string    `json:"type"`
	Resource   string    `json:"resource"`
	Credential string    `json:"credential"`
	Parent     string    `json:"parent"`
	ExpiresAt  time.Time `json:"expires_at"`
	CreatedAt  time.Time `json:"created_at"`
}

type grantLine struct {
	Resource  string    `json:"resource"`
	Principal string    `json:"principal"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// usageLine is one key's requests and refusals in one UTC hour.
type usageLine struct {
	KeyID    string    `json:"key_id"`
	Hour     time.Time `json:"hour"`
	Requests int64     `json:"requests"`
	Refusals int64     `json:"refusals"`
}

type eventLine struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Credential string    `json:"credential"`
	Action     string    `json:"action"`
	Target     string    `json:"target"`
	Resource   string    `json:"resource"`
	Result     string    `json:"result"`
	IP         string    `json:"ip"`
	Count      int       `json:"count"`
	Detail     string    `json:"detail"`
	Ancestry   []string  `json:"ancestry"`
}

// toLine is a record as a line.
func toLine(r store.Record) exportLine {
	switch {
	case r.Meta != nil:
		return exportLine{Meta: &metaLine{Name: r.Meta.Name, Value: r.Meta.Value}}
	case r.User != nil:
		u := r.User
		return exportLine{User: &userLine{ID: u.ID, Email: u.Email, Name: u.Name, PasswordHash: u.PasswordHash,
			Admin: u.Admin, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}}
	case r.Resource != nil:
		x := r.Resource
		return exportLine{Resource: &resourceLine{Type: x.Type, ID: x.ID, Name: x.Name, Parent: x.Parent, Plan: x.Plan, CreatedAt: x.CreatedAt}}
	case r.Key != nil:
		k := r.Key
		return exportLine{Key: &keyLine{ID: k.ID, Name: k.Name, Format: k.Format, Prefix: k.Prefix, Owner: k.Owner,
			Resource: k.Resource, Role: k.Role, Plan: k.Plan, Metadata: k.Metadata, AllowedCIDRs: k.AllowedCIDRs,
			Credits: k.Credits, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy}}
	case r.Secret != nil:
		s := r.Secret
		return exportLine{Secret: &secretLine{Hash: hex.EncodeToString(s.Hash[:]), Kind: s.Kind, ID: s.ID, UserID: s.UserID,
			ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt}}
	case r.Revoked != nil:
		return exportLine{Revoked: &revokedLine{Hash: hex.EncodeToString(r.Revoked.Hash[:]), At: r.Revoked.At}}
	case r.Scoped != nil:
		s := r.Scoped
		return exportLine{Scoped: &scopedLine{ID: s.ID, Hash: hex.EncodeToString(s.Hash[:]), Type: s.Type, Resource: s.Resource,
			Credential: s.Credential, Parent: s.Parent, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt}}
	case r.Grant != nil:
		g := r.Grant
		return exportLine{Grant: &grantLine{Resource: g.Resource, Principal: g.Principal, Role: g.Role, CreatedAt: g.CreatedAt}}
	case r.Usage != nil:
		u := r.Usage
		return exportLine{Usage: &usageLine{KeyID: u.KeyID, Hour: u.Hour, Requests: u.Requests, Refusals: u.Refusals}}
	case r.Event != nil:
		e := r.Event
		return exportLine{Event: &eventLine{ID: e.ID, At: e.At, Actor: e.Actor, Credential: e.Credential, Action: e.Action,
			Target: e.Target, Resource: e.Resource, Result: e.Result, IP: e.IP, Count: e.Count, Detail: e.Detail, Ancestry: r.Ancestry}}
	}
	return exportLine{}
}

// record is a line as a record; an error when it sets no member or more than one.
func (l exportLine) record() (store.Record, error) {
	var r store.Record
	n := 0
	if m := l.Meta; m != nil {
		n++
		r.Meta = &store.Meta{Name: m.Name, Value: m.Value}
	}
	if u := l.User; u != nil {
		n++
		r.User = &store.User{ID: u.ID, Email: u.Email, Name: u.Name, PasswordHash: u.PasswordHash, Admin: u.Admin,
			CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	}
	if x := l.Resource; x != nil {
		n++
		r.Resource = &store.Resource{Type: x.Type, ID: x.ID, Name: x.Name, Parent: x.Parent, Plan: x.Plan, CreatedAt: x.CreatedAt}
	}
	if k := l.Key; k != nil {
		n++
		r.Key = &store.Key{ID: k.ID, Name: k.Name, Format: k.Format, Prefix: k.Prefix, Owner: k.Owner, Resource: k.Resource,
			Role: k.Role, Plan: k.Plan, Metadata: k.Metadata, AllowedCIDRs: k.AllowedCIDRs, Credits: k.Credits,
			ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy}
	}
	if s := l.Secret; s != nil {
		n++
		h, err := hashHex(s.Hash)
		if err != nil {
			return store.Record{}, fmt.Errorf("secret %s: %w", s.ID, err)
		}
		r.Secret = &store.Secret{Hash: h, Kind: s.Kind, ID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt}
	}
	if v := l.Revoked; v != nil {
		n++
		h, err := hashHex(v.Hash)
		if err != nil {
			return store.Record{}, fmt.Errorf("revoked: %w", err)
		}
		r.Revoked = &store.RevokedHash{Hash: h, At: v.At}
	}
	if s := l.Scoped; s != nil {
		n++
		h, err := hashHex(s.Hash)
		if err != nil {
			return store.Record{}, fmt.Errorf("scoped token %s: %w", s.ID, err)
		}
		r.Scoped = &store.ScopedToken{ID: s.ID, Hash: h, Type: s.Type, Resource: s.Resource, Credential: s.Credential,
			Parent: s.Parent, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt}
	}
	if g := l.Grant; g != nil {
		n++
		r.Grant = &store.Grant{Resource: g.Resource, Principal: g.Principal, Role: g.Role, CreatedAt: g.CreatedAt}
	}
	if u := l.Usage; u != nil {
		n++
		r.Usage = &store.UsageHour{KeyID: u.KeyID, Hour: u.Hour, Requests: u.Requests, Refusals: u.Refusals}
	}
	if e := l.Event; e != nil {
		n++
		r.Event = &store.Event{ID: e.ID, At: e.At, Actor: e.Actor, Credential: e.Credential, Action: e.Action, Target: e.Target,
			Resource: e.Resource, Result: e.Result, IP: e.IP, Count: e.Count, Detail: e.Detail}
		r.Ancestry = e.Ancestry
	}
	if n != 1 {
		return store.Record{}, errors.New("a line must hold exactly one of meta, user, resource, key, secret, revoked, scoped_token, grant, usage, event")
	}
	return r, nil
}

// hashHex reads a SHA-256 hash written in hex.
func hashHex(s string) (store.Hash, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(store.Hash{}) {
		return store.Hash{}, errors.New("the hash is not 64 hex digits")
	}
	return store.Hash(b), nil
}

// openExisting opens the store the config names, refusing a SQLite data directory that holds no
// store: reading (or filling) a typo is never what was meant.
func openExisting(cmd *cobra.Command, cfg *config.Config) (store.Store, error) {
	if cfg.Server.Store == "" {
		if _, err := os.Stat(filepath.Join(cfg.Server.Data, sqlite.FileName)); err != nil {
			return nil, fmt.Errorf("no lanyard store in %s: check --data", cfg.Server.Data)
		}
	}
	return server.OpenStore(cmd.Context(), cfg)
}

func newExportCmd(e env) *cobra.Command {
	var (
		f      serverFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the whole store as JSON lines (hashes only, never a secret)",
		Long: "export reads the store directly (the same --store/--data, config and env as serve), from one " +
			"snapshot while servers go on, and writes every record as JSON lines on stdout (or --output, " +
			"made with mode 0600): users, resources, keys, the hashes of secrets (live, revoked and scoped), " +
			"grants and the audit trail, " +
			"with their ids and times. `lanyard import` writes them into an empty store of either kind: the " +
			"way from SQLite to PostgreSQL and back. The export holds no secret, but it holds password " +
			"hashes and the instance key that fingerprints the audit trail: keep it as you keep a backup " +
			"of the database.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load(cmd.Flags(), e.getenv)
			if err != nil {
				return err
			}
			out := e.stdout
			var file *os.File
			if output != "" {
				if file, err = os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
					return err
				}
				defer file.Close()
				out = file
			}
			st, err := openExisting(cmd, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			w := bufio.NewWriterSize(out, 64<<10)
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(exportHeader{Version: exportVersion}); err != nil {
				return err
			}
			n := 0
			if err := st.Export(cmd.Context(), func(r store.Record) error {
				n++
				return enc.Encode(toLine(r))
			}); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return err
				}
			}
			fmt.Fprintf(e.stderr, "lanyard: exported %d records\n", n)
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&output, "output", "", "write to this file (mode 0600) instead of stdout")
	return cmd
}

func newImportCmd(e env) *cobra.Command {
	var (
		f     serverFlags
		input string
	)
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Write an export into an empty store",
		Long: "import reads what `lanyard export` wrote, from stdin (or --input), and writes every record as it " +
			"is — ids, times, hashes, the audit trail with its event ids — into the store that --store/--data, " +
			"the config and env name, creating it when it does not exist. The store must hold no user, " +
			"resource, key, token, revoked hash, grant or event: a new one, or one that `lanyard migrate` made. It is one " +
			"transaction: on any error nothing is written. Stop the servers of the old store first, so " +
			"that nothing changes after the export.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load(cmd.Flags(), e.getenv)
			if err != nil {
				return err
			}
			in := e.stdin
			if input != "" {
				file, err := os.Open(input)
				if err != nil {
					return err
				}
				defer file.Close()
				in = file
			}
			dec := json.NewDecoder(bufio.NewReaderSize(in, 64<<10))
			dec.DisallowUnknownFields()
			var h exportHeader
			if err := dec.Decode(&h); err != nil || h.Version != exportVersion {
				return fmt.Errorf("the input is not a lanyard export (version %d): it starts with {\"lanyard_export\": %d}", exportVersion, exportVersion)
			}
			st, err := server.OpenStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			n := 0
			if err := st.Import(cmd.Context(), readLines(dec, &n)); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("%w (import writes only into an empty store)", err)
				}
				return err
			}
			fmt.Fprintf(e.stderr, "lanyard: imported %d records\n", n)
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&input, "input", "", "read from this file instead of stdin")
	return cmd
}

// readLines yields the records of the lines dec reads, counting them in n; a line that does
// not decode is an error naming its number (the header is line 1).
func readLines(dec *json.Decoder, n *int) iter.Seq2[store.Record, error] {
	return func(yield func(store.Record, error) bool) {
		for {
			var l exportLine
			err := dec.Decode(&l)
			if err == io.EOF {
				return
			}
			var r store.Record
			if err == nil {
				r, err = l.record()
			}
			if err != nil {
				yield(store.Record{}, fmt.Errorf("line %d of the export: %w", *n+2, err))
				return
			}
			*n++
			if !yield(r, nil) {
				return
			}
		}
	}
}
