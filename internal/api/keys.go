package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

const (
	maxKeyLifetime  = 10 * 365 * 24 * time.Hour
	maxMetadataSize = 16 << 10
	maxCIDRs        = 100
	maxGraceSeconds = 86400
)

// keyJSON is a key as lists and gets show it: metadata and the prefix, never a secret.
type keyJSON struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Prefix       string         `json:"prefix"`
	Owner        *string        `json:"owner"`
	Resource     *string        `json:"resource"`
	Role         *string        `json:"role"`
	Format       string         `json:"format"`
	Plan         *string        `json:"plan"`
	Metadata     map[string]any `json:"metadata"`
	AllowedCIDRs []string       `json:"allowed_cidrs"`
	Credits      *creditsJSON   `json:"credits"`
	ExpiresAt    *time.Time     `json:"expires_at"`
	LastUsedAt   *time.Time     `json:"last_used_at"`
	CreatedAt    time.Time      `json:"created_at"`
}

// issuedKeyJSON is the answer of create and reissue: the key and, this once, its secret.
type issuedKeyJSON struct {
	keyJSON
	Token  *string `json:"token"`
	Key    *string `json:"key"`
	Secret *string `json:"secret"`
}

func toKeyJSON(k store.Key) keyJSON {
	out := keyJSON{
		ID:           k.ID,
		Name:         k.Name,
		Prefix:       k.Prefix,
		Resource:     nullable(k.Resource),
		Role:         nullable(k.Role),
		Format:       k.Format,
		Plan:         nullable(k.Plan),
		Metadata:     k.Metadata,
		AllowedCIDRs: k.AllowedCIDRs,
		Credits:      toCreditsJSON(k.Credits),
		ExpiresAt:    utcPtr(k.ExpiresAt),
		LastUsedAt:   utcPtr(k.LastUsedAt),
		CreatedAt:    k.CreatedAt.UTC(),
	}
	if k.Owner != "" {
		out.Owner = nullable("user:" + k.Owner)
	}
	return out
}

func issued(k store.Key, secret string) issuedKeyJSON {
	out := issuedKeyJSON{keyJSON: toKeyJSON(k)}
	if k.Format == store.FormatKeySecret {
		out.Key, out.Secret = &k.ID, &secret
	} else {
		out.Token = &secret
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type createKeyRequest struct {
	Name         *string         `json:"name"`
	ID           *string         `json:"id"`
	Owner        string          `json:"owner"`
	Resource     string          `json:"resource"`
	Role         string          `json:"role"`
	Format       string          `json:"format"`
	ExpiresIn    *int64          `json:"expires_in"`
	Plan         *string         `json:"plan"`
	Metadata     json.RawMessage `json:"metadata"`
	AllowedCIDRs []string        `json:"allowed_cidrs"`
	Credits      *creditsInput   `json:"credits"`
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	var req createKeyRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	k, err := h.keyScope(req)
	if err != nil {
		return err
	}
	if k.ID, err = chosenID(req.ID); err != nil {
		return err
	}
	k.Format, k.CreatedAt, k.CreatedBy = req.Format, h.clock(), id.Principal()
	if k.CreatedBy == "" {
		k.CreatedBy = id.Type
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		return badRequest("name is required.")
	}
	if k.Name, err = validKeyName(*req.Name); err != nil {
		return err
	}
	switch k.Format {
	case "":
		k.Format = h.defaultFormat
	case store.FormatToken, store.FormatKeySecret:
	default:
		return badRequest(`format must be "token" or "key_secret".`)
	}
	if req.ExpiresIn != nil {
		n := *req.ExpiresIn
		if n <= 0 || n > int64(maxKeyLifetime/time.Second) {
			return badRequest("expires_in must be a number of seconds from 1 to %d.", int64(maxKeyLifetime/time.Second))
		}
		at := k.CreatedAt.Add(time.Duration(n) * time.Second)
		k.ExpiresAt = &at
	}
	if k.Metadata, err = validMetadata(req.Metadata); err != nil {
		return err
	}
	if k.AllowedCIDRs, err = validCIDRs(req.AllowedCIDRs); err != nil {
		return err
	}
	if k.Credits, err = validCredits(req.Credits); err != nil {
		return err
	}
	if k.Credits != nil {
		k.Credits.SetAt = h.now().UTC() // the setting's generation (internal/ratelimit)
	}
	guard, err := h.authz.NewKey(ctx, id, &k, req.Owner, req.Plan != nil || req.Credits != nil)
	if err != nil {
		return err
	}
	if req.Plan != nil {
		// Named only now: a caller who may not set plans learns nothing of them.
		if k.Plan, err = h.validPlan(*req.Plan); err != nil {
			return err
		}
	}
	if owner := k.Owner; owner != "" && owner != id.UserID {
		// Only an admin names another owner (authz.KeyOwner); the owner must exist.
		if _, err := h.store.GetUser(ctx, owner); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("The owner was")
			}
			return err
		}
	}
	secret, sec, err := h.newSecret(k)
	if err != nil {
		return err
	}
	k.Prefix = credential.DisplayPrefix(secret)
	if err := h.store.CreateKey(ctx, k, sec, guard, h.event(r, "key.create", "key:"+k.ID, k.Resource)); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			return conflict("A key with this id already exists.")
		case errors.Is(err, authz.ErrHidden), errors.Is(err, store.ErrNotFound):
			return notFound("The resource was")
		}
		return err
	}
	noStore(w)
	h.writeJSON(w, http.StatusCreated, issued(k, secret), "Key created")
	return nil
}

// keyScope reads what a new key is asked to be: its role and the resource it is for (checked
// against the config's roles and schema). Who may create it is authz.NewKey's to decide.
func (h *Handler) keyScope(req createKeyRequest) (store.Key, error) {
	var k store.Key
	if req.Role != "" {
		if _, ok := h.authz.RolePerms(req.Role); !ok {
			return k, badRequest("role %q is not a role of this server.", req.Role)
		}
		k.Role = req.Role
	}
	if req.Resource != "" {
		ref, err := h.parseRef("resource", req.Resource)
		if err != nil {
			return k, err
		}
		k.Resource = ref
	}
	return k, nil
}

// newSecret makes a key's secret: a token for the token format, the secret half of a pair for
// key_secret. Only its hash is kept.
func (h *Handler) newSecret(k store.Key) (string, store.Secret, error) {
	prefix, kind := h.prefixes.Key, store.KindKeyToken
	if k.Format == store.FormatKeySecret {
		prefix, kind = h.prefixes.Secret, store.KindKeySecret
	}
	tok, err := credential.Generate(prefix)
	if err != nil {
		return "", store.Secret{}, err
	}
	return tok, store.Secret{Hash: credential.Hash(tok), Kind: kind, ID: k.ID, CreatedAt: h.clock()}, nil
}

func validKeyName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", badRequest("name must not be empty.")
	}
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > maxNameLen {
		return "", badRequest("name must be valid text of at most %d characters.", maxNameLen)
	}
	return n, nil
}

func (h *Handler) validPlan(plan string) (string, error) {
	if plan == "" {
		return "", nil
	}
	if h.plans == nil || !h.plans[plan] {
		return "", badRequest("plan %q is not a configured plan.", plan)
	}
	return plan, nil
}

// validMetadata checks metadata as the request wrote it — at most maxMetadataSize bytes of
// raw JSON, measured before it becomes a map (CONTRACT §11.60) — and returns it as it will read
// back from the store: numbers as float64, so a number no float64 can hold (1e400) is refused
// here rather than breaking every later read of the key. null is no metadata.
func validMetadata(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if len(raw) > maxMetadataSize || raw[0] != '{' {
		return nil, badRequest("metadata must be a JSON object of at most %d bytes.", maxMetadataSize)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, badRequest("metadata holds a number too large to store.")
	}
	return out, nil
}

// validCIDRs parses allowed_cidrs into canonical form ("10.1.2.3/8" → "10.0.0.0/8"; a bare
// address is a single-address prefix).
func validCIDRs(in []string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	if len(in) > maxCIDRs {
		return nil, badRequest("allowed_cidrs may hold at most %d entries.", maxCIDRs)
	}
	out := make([]string, 0, len(in))
	for _, c := range in {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil || a.Zone() != "" {
				return nil, badRequest("allowed_cidrs: %q is not a CIDR such as 203.0.113.0/24.", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

// creditsInput is credits as POST and PATCH set them (CONTRACT §11.31): the balance and the
// refill; refilled_at is lanyard's to keep.
type creditsInput struct {
	Remaining int64         `json:"remaining"`
	Refill    *store.Refill `json:"refill"`
}

// creditsJSON is a key's credits as the API shows them.
type creditsJSON struct {
	Remaining  int64         `json:"remaining"`
	Refill     *store.Refill `json:"refill"`
	RefilledAt *time.Time    `json:"refilled_at"`
}

func toCreditsJSON(c *store.Credits) *creditsJSON {
	if c == nil {
		return nil
	}
	return &creditsJSON{Remaining: c.Remaining, Refill: c.Refill, RefilledAt: utcPtr(c.RefilledAt)}
}

// maxCredits is the most credits hold: 2^53, what a JSON number holds exactly.
const maxCredits = 1 << 53

func validCredits(in *creditsInput) (*store.Credits, error) {
	if in == nil {
		return nil, nil
	}
	c := &store.Credits{Remaining: in.Remaining, Refill: in.Refill}
	if c.Remaining < 0 || c.Remaining > maxCredits {
		return nil, badRequest("credits.remaining must be from 0 to %d.", int64(maxCredits))
	}
	if c.Refill != nil {
		if c.Refill.Amount <= 0 || c.Refill.Amount > maxCredits {
			return nil, badRequest("credits.refill.amount must be from 1 to %d.", int64(maxCredits))
		}
		if c.Refill.Interval != "day" && c.Refill.Interval != "month" {
			return nil, badRequest(`credits.refill.interval must be "day" or "month".`)
		}
	}
	return c, nil
}

func (h *Handler) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := h.store.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The key was")
		}
		return err
	}
	h.writeJSON(w, http.StatusOK, toKeyJSON(k), "")
	return nil
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	q := r.URL.Query()
	f, err := h.keySelection(r, id, false)
	if err != nil {
		return err
	}
	page, fp, err := pageFrom(q, "owner="+q.Get("owner"), "resource="+q.Get("resource"))
	if err != nil {
		return err
	}
	return h.writeKeys(w, r, f, page, fp)
}

// writeKeys answers one page of the keys f selects: the list shape of /keys and
// /tokens/business alike.
func (h *Handler) writeKeys(w http.ResponseWriter, r *http.Request, f store.KeyFilter, page store.Page, fp string) error {
	return writePage(h, w, "keys", page, fp, func(p store.Page) ([]store.Key, error) { return h.store.ListKeys(r.Context(), f, p) },
		func(k store.Key) (time.Time, string) { return k.CreatedAt, k.ID }, toKeyJSON)
}

type patchKeyRequest struct {
	Name         optional[string]          `json:"name"`
	Metadata     optional[json.RawMessage] `json:"metadata"`
	ExpiresAt    optional[time.Time]       `json:"expires_at"`
	Plan         optional[string]          `json:"plan"`
	Credits      optional[creditsInput]    `json:"credits"`
	AllowedCIDRs optional[[]string]        `json:"allowed_cidrs"`
	// These never change; naming them is an error that says so.
	Owner    json.RawMessage `json:"owner"`
	Resource json.RawMessage `json:"resource"`
	Role     json.RawMessage `json:"role"`
	Format   json.RawMessage `json:"format"`
}

func (h *Handler) patchKey(w http.ResponseWriter, r *http.Request) error {
	var req patchKeyRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	if req.Owner != nil || req.Resource != nil || req.Role != nil || req.Format != nil {
		return badRequest("A key's owner, resource, role and format never change; create a new key instead.")
	}
	caller := authn.FromContext(r.Context())
	if req.Plan.Set || req.Credits.Set {
		if err := authz.SetsSpending(caller); err != nil {
			return err
		}
	}
	if req.AllowedCIDRs.Set || req.ExpiresAt.Set {
		if err := authz.ChangesKeyLimits(caller); err != nil {
			return err
		}
	}
	if req.ExpiresAt.Set && !req.ExpiresAt.Null {
		at := req.ExpiresAt.V.UTC()
		if at.Year() < 1 || at.After(h.now().Add(maxKeyLifetime)) {
			return badRequest("expires_at must be a time within %d years from now.", int(maxKeyLifetime/(365*24*time.Hour)))
		}
	}
	var (
		name    string
		meta    map[string]any
		plan    string
		credits *store.Credits
		cidrs   []string
		err     error
	)
	if req.Name.Set {
		if req.Name.Null {
			return badRequest("name must not be empty.")
		}
		if name, err = validKeyName(req.Name.V); err != nil {
			return err
		}
	}
	if req.Metadata.Set && !req.Metadata.Null {
		if meta, err = validMetadata(req.Metadata.V); err != nil {
			return err
		}
	}
	if req.Plan.Set && !req.Plan.Null {
		if plan, err = h.validPlan(req.Plan.V); err != nil {
			return err
		}
	}
	if req.Credits.Set && !req.Credits.Null {
		c := req.Credits.V
		if credits, err = validCredits(&c); err != nil {
			return err
		}
	}
	if req.AllowedCIDRs.Set && !req.AllowedCIDRs.Null {
		if cidrs, err = validCIDRs(req.AllowedCIDRs.V); err != nil {
			return err
		}
	}
	keyID := r.PathValue("id")
	k, err := h.store.UpdateKey(r.Context(), keyID, func(k *store.Key) error {
		if req.Name.Set {
			k.Name = name
		}
		if req.Metadata.Set {
			k.Metadata = meta
		}
		if req.ExpiresAt.Set {
			if req.ExpiresAt.Null {
				k.ExpiresAt = nil
			} else {
				at := req.ExpiresAt.V.UTC().Truncate(time.Second)
				k.ExpiresAt = &at
			}
		}
		if req.Plan.Set {
			k.Plan = plan
		}
		if req.Credits.Set {
			if credits != nil {
				// A new setting replaces the live balance: its generation grows with every
				// setting, even two in the same nanosecond (internal/ratelimit).
				c := *credits
				c.SetAt = h.now().UTC()
				if k.Credits != nil && !c.SetAt.After(k.Credits.SetAt) {
					c.SetAt = k.Credits.SetAt.Add(time.Nanosecond)
				}
				credits = &c
			}
			k.Credits = credits
		}
		if req.AllowedCIDRs.Set {
			k.AllowedCIDRs = cidrs
		}
		return nil
	}, h.event(r, "key.update", "key:"+keyID, ""))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The key was")
		}
		return err
	}
	h.writeJSON(w, http.StatusOK, toKeyJSON(k), "Key updated")
	return nil
}

func (h *Handler) deleteKey(w http.ResponseWriter, r *http.Request) error {
	keyID := r.PathValue("id")
	if _, err := h.store.DeleteKey(r.Context(), keyID, h.event(r, "key.revoke", "key:"+keyID, "")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The key was")
		}
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

// keySelection reads ?owner=user:<id> and ?resource=type/id and asks authz.SelectKeys which
// keys a list (or, with write, a bulk revoke) covers.
func (h *Handler) keySelection(r *http.Request, id *authn.Identity, write bool) (store.KeyFilter, error) {
	q := r.URL.Query()
	owner, resource := q.Get("owner"), q.Get("resource")
	if owner != "" {
		if uid, ok := strings.CutPrefix(owner, "user:"); !ok || !credential.ValidID(uid) {
			return store.KeyFilter{}, badRequest(`owner must be written "user:<id>".`)
		}
	}
	if resource != "" {
		var err error
		if resource, err = h.parseRef("resource", resource); err != nil {
			return store.KeyFilter{}, err
		}
	}
	return h.authz.SelectKeys(r.Context(), id, owner, resource, write)
}

// deleteKeys revokes every key of an owner (?owner=user:<id>) or of a resource
// (?resource=type/id and below) at once.
func (h *Handler) deleteKeys(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	q := r.URL.Query()
	if q.Get("owner") == "" && q.Get("resource") == "" {
		return badRequest("Name whose keys to revoke: ?owner=user:<id> or ?resource=type/id.")
	}
	f, err := h.keySelection(r, id, true)
	if err != nil {
		return err
	}
	if f.Owner != "" {
		if _, err := h.store.GetUser(r.Context(), f.Owner); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("The owner was")
			}
			return err
		}
	}
	if _, err := h.store.DeleteKeys(r.Context(), f, h.event(r, "key.revoke", "", "")); err != nil {
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

type reissueRequest struct {
	GraceSeconds *int64 `json:"grace_seconds"`
}

// reissueKey gives a key a new secret. The old one stops working at once or, with
// grace_seconds, after that many seconds; a new reissue ends any grace still running.
func (h *Handler) reissueKey(w http.ResponseWriter, r *http.Request) error {
	var req reissueRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	var grace time.Duration
	if req.GraceSeconds != nil {
		if *req.GraceSeconds < 0 || *req.GraceSeconds > maxGraceSeconds {
			return badRequest("grace_seconds must be from 0 to %d.", maxGraceSeconds)
		}
		grace = time.Duration(*req.GraceSeconds) * time.Second
	}
	ctx := r.Context()
	keyID := r.PathValue("id")
	if err := authz.Reissues(authn.FromContext(ctx), keyID); err != nil {
		return err
	}
	k, err := h.store.GetKey(ctx, keyID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The key was")
		}
		return err
	}
	secret, sec, err := h.newSecret(k)
	if err != nil {
		return err
	}
	sec.Prefix = credential.DisplayPrefix(secret)
	var until time.Time
	if grace > 0 {
		until = h.now().Add(grace)
	}
	k, _, err = h.store.ReissueKey(ctx, keyID, sec, until, h.event(r, "key.reissue", "key:"+keyID, k.Resource))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The key was")
		}
		return err
	}
	noStore(w)
	h.writeJSON(w, http.StatusOK, issued(k, secret), "Key reissued")
	return nil
}
