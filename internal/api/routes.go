package api

import (
	"net/http"

	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
)

// keyBodyLimit bounds a key's create and patch bodies: 16 KiB of metadata and the rest.
const keyBodyLimit = 32 << 10

// table is the native API's route table. Every route names its policy; the router refuses to
// start with a route that has none, and routes_test.go walks this table to keep it so.
func (h *Handler) table() []Route {
	return append(h.coreRoutes(), h.exchangeRoutes()...)
}

func (h *Handler) coreRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/healthz", Root: true, Policy: authz.Public, Handle: h.healthz},
		{Method: http.MethodGet, Path: "/readyz", Root: true, Policy: authz.Public, Handle: h.readyz},
		{Method: http.MethodGet, Path: "/metrics", Root: true, Policy: authz.Admin, Handle: h.serveMetrics},

		{Method: http.MethodGet, Path: "/openapi.json", Policy: authz.Public, Handle: h.serveOpenAPI},
		{Method: http.MethodGet, Path: "/me", Policy: authz.Authenticated, Handle: h.me},
		{Method: http.MethodGet, Path: "/limits", Policy: authz.Authenticated, Handle: h.getLimits},

		{Method: http.MethodPost, Path: "/users", Policy: authz.Admin, Quota: h.quotas.writes, Message: "User created", Handle: h.createUser},
		{Method: http.MethodGet, Path: "/users", Policy: authz.Admin, Handle: h.listUsers},
		{Method: http.MethodGet, Path: "/users/{id}", Policy: authz.UserParam{Param: "id"}, Handle: h.getUser},
		{Method: http.MethodPatch, Path: "/users/{id}", Policy: authz.UserParam{Param: "id", Change: true}, Message: "User updated", Handle: h.patchUser},
		{Method: http.MethodDelete, Path: "/users/{id}", Policy: authz.Admin, Revokes: true, Handle: h.deleteUser},

		{Method: http.MethodPost, Path: "/keys", Policy: authz.Deferred{Decider: "NewKey"}, Quota: h.quotas.writes, MaxBody: keyBodyLimit, Message: "Key created", Handle: h.createKey},
		{Method: http.MethodGet, Path: "/keys", Policy: authz.Deferred{Decider: "SelectKeys"}, Handle: h.listKeys},
		{Method: http.MethodDelete, Path: "/keys", Policy: authz.Deferred{Decider: "SelectKeys"}, Revokes: true, Handle: h.deleteKeys},
		{Method: http.MethodGet, Path: "/keys/{id}", Policy: authz.KeyParam{Param: "id"}, Handle: h.getKey},
		{Method: http.MethodPatch, Path: "/keys/{id}", Policy: authz.KeyParam{Param: "id"}, MaxBody: keyBodyLimit, Message: "Key updated", Handle: h.patchKey},
		{Method: http.MethodDelete, Path: "/keys/{id}", Policy: authz.KeyParam{Param: "id"}, Revokes: true, Handle: h.deleteKey},
		{Method: http.MethodPost, Path: "/keys/{id}/reissue", Policy: authz.KeyParam{Param: "id"}, Message: "Key reissued", Revokes: true, Handle: h.reissueKey},
		{Method: http.MethodGet, Path: "/keys/{id}/usage", Policy: authz.KeyParam{Param: "id"}, Handle: h.keyUsage},

		{Method: http.MethodPost, Path: "/users/{id}/admin", Policy: authz.Admin, Message: "User promoted", Handle: h.promote},
		{Method: http.MethodDelete, Path: "/users/{id}/admin", Policy: authz.Admin, Revokes: true, Handle: h.demote},
		{Method: http.MethodGet, Path: "/nodes", Policy: authz.Admin, Handle: h.listNodes},

		{Method: http.MethodPost, Path: "/resources", Policy: authz.Deferred{Decider: "NewResource"}, Quota: h.quotas.writes, Message: "Resource created", Handle: h.createResource},
		{Method: http.MethodGet, Path: "/resources", Policy: authz.Deferred{Decider: "ReadableRoots"}, Handle: h.listResources},
		{Method: http.MethodGet, Path: "/resources/{type}/{id}", Policy: authz.ResourceParam{Perm: config.PermRead}, Handle: h.getResource},
		{Method: http.MethodPatch, Path: "/resources/{type}/{id}", Policy: authz.ResourceParam{Perm: config.PermManage}, Message: "Resource updated", Handle: h.patchResource},
		{Method: http.MethodDelete, Path: "/resources/{type}/{id}", Policy: authz.ResourceParam{Perm: config.PermManage}, Revokes: true, Handle: h.deleteResource},
		{Method: http.MethodGet, Path: "/resources/{type}/{id}/grants", Policy: authz.ResourceParam{Perm: config.PermManage}, Handle: h.listGrants},
		{Method: http.MethodPut, Path: "/resources/{type}/{id}/grants/{principal}", Policy: authz.ResourceParam{Perm: config.PermManage}, Quota: h.quotas.writes, Message: "Grant saved", Handle: h.putGrant},
		{Method: http.MethodDelete, Path: "/resources/{type}/{id}/grants/{principal}", Policy: authz.ResourceParam{Perm: config.PermManage}, Revokes: true, Handle: h.deleteGrant},
		{Method: http.MethodPost, Path: "/check", Policy: authz.Deferred{Decider: "CheckAbout"}, Handle: h.check},

		{Method: http.MethodGet, Path: "/audit", Policy: authz.Deferred{Decider: "SelectEvents"}, Handle: h.listAudit},

		{Method: http.MethodGet, Path: "/tokens/business", Policy: authz.Deferred{Decider: "SelectBusinessKeys"}, Handle: h.listBusinessKeys},
		{Method: http.MethodDelete, Path: "/tokens/business", Policy: authz.Deferred{Decider: "SelectBusinessKeys"}, Revokes: true, Handle: h.deleteBusinessKeys},
		{Method: http.MethodDelete, Path: "/tokens/business/{id}", Policy: authz.KeyParam{Param: "id"}, Revokes: true, Handle: h.deleteBusinessKey},

		{Method: http.MethodPost, Path: "/auth/login", Policy: authz.Public, Quota: h.quotas.login, Message: "Successfully authenticated", Handle: h.login},
		{Method: http.MethodDelete, Path: "/tokens/personal", Policy: authz.Authenticated, Revokes: true, Handle: h.revokePersonal},
		{Method: http.MethodDelete, Path: "/tokens/personal/all", Policy: authz.Authenticated, Revokes: true, Handle: h.revokeAllPersonal},
		{Method: http.MethodPost, Path: "/verify", Policy: h.verifyPolicy, Message: "Verified", Handle: h.verify},
		{Method: http.MethodGet, Path: "/authz", Policy: authz.Public, Handle: h.forwardAuth},
		{Method: AnyMethod, Path: "/authz/{path...}", Policy: authz.Public, Handle: h.forwardAuth},
		{Method: http.MethodPost, Path: "/tokens/exchange", Policy: authz.Public, Quota: h.quotas.revoke, MaxBody: 64 << 10, Handle: h.tokenExchange},
		{Method: http.MethodDelete, Path: "/tokens/scoped", Policy: authz.Authenticated, Revokes: true, Handle: h.revokeScoped},
		{Method: http.MethodPost, Path: "/tokens/revoke", Policy: authz.Public, Quota: h.quotas.revoke, MaxBody: 64 << 10, Message: "Revocation request received", Revokes: true, LaggingStatus: http.StatusOK, Handle: h.revokeLeaked},
	}
}
