package api

import (
	"net/http"

	"github.com/lanyardhq/lanyard/internal/authn"
)

type meCredential struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type meAnswer struct {
	Principal  *string      `json:"principal"`
	Credential meCredential `json:"credential"`
	Admin      bool         `json:"admin"`
}

// me tells callers who they are: the principal they act as, the credential they used and
// whether that credential carries admin power.
func (h *Handler) me(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	h.writeJSON(w, http.StatusOK, meAnswer{
		Principal:  nullable(id.Principal()),
		Credential: meCredential{Type: id.Type, ID: id.ID},
		Admin:      id.Admin(),
	}, "")
	return nil
}

// nullable turns "" into JSON null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
