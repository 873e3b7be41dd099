package api

import (
	"net/http"

	"github.com/lanyardhq/lanyard/internal/authz"
)

// table is the native API's route table. Every route names its policy; the router refuses to
// start with a route that has none, and routes_test.go walks this table to keep it so.
func (h *Handler) table() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/healthz", Root: true, Policy: authz.Public, Handle: h.healthz},
		{Method: http.MethodGet, Path: "/readyz", Root: true, Policy: authz.Public, Handle: h.readyz},

		{Method: http.MethodGet, Path: "/me", Policy: authz.Authenticated, Handle: h.me},

		{Method: http.MethodPost, Path: "/users", Policy: authz.Admin, Message: "User created", Handle: h.createUser},
		{Method: http.MethodGet, Path: "/users", Policy: authz.Admin, Handle: h.listUsers},
		{Method: http.MethodGet, Path: "/users/{id}", Policy: authz.UserParam{Param: "id"}, Handle: h.getUser},
		{Method: http.MethodPatch, Path: "/users/{id}", Policy: authz.UserParam{Param: "id"}, Message: "User updated", Handle: h.patchUser},
		{Method: http.MethodDelete, Path: "/users/{id}", Policy: authz.Admin, Handle: h.deleteUser},

		{Method: http.MethodPost, Path: "/keys", Policy: authz.Delegated{Decider: "KeyOwner"}, Message: "Key created", Handle: h.createKey},
		{Method: http.MethodGet, Path: "/keys", Policy: authz.Delegated{Decider: "KeyListOwner"}, Handle: h.listKeys},
		{Method: http.MethodDelete, Path: "/keys", Policy: authz.Delegated{Decider: "KeyListOwner"}, Handle: h.deleteKeys},
		{Method: http.MethodGet, Path: "/keys/{id}", Policy: authz.KeyParam{Param: "id"}, Handle: h.getKey},
		{Method: http.MethodPatch, Path: "/keys/{id}", Policy: authz.KeyParam{Param: "id"}, Message: "Key updated", Handle: h.patchKey},
		{Method: http.MethodDelete, Path: "/keys/{id}", Policy: authz.KeyParam{Param: "id"}, Handle: h.deleteKey},
		{Method: http.MethodPost, Path: "/keys/{id}/reissue", Policy: authz.KeyParam{Param: "id"}, Message: "Key reissued", Handle: h.reissueKey},
	}
}
