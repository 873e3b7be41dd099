package api

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/lanyardhq/lanyard/internal/authz"
)

// operation documents one route for the OpenAPI description.
type operation struct {
	summary string
	// query lists the query parameters the route reads; ints bounds those that are whole
	// numbers, from [0] to [1].
	query []string
	ints  map[string][2]int
	// request names the request body's schema ("" for none).
	request string
	// status is the success status and response the schema of its body ("" for none).
	status   int
	response string
	// badRequest names the schema of a 400 that is not the contract's error body (RFC 6749's,
	// for token exchange).
	badRequest string
}

// operations documents every route of the table, keyed by "METHOD path" as the table writes
// them. openapi_test.go keeps the two in step: a route without an entry, or an entry without a
// route, fails the tests.
var operations = map[string]operation{
	"GET /healthz":      {summary: "The process runs.", status: 200, response: "Status"},
	"GET /readyz":       {summary: "The store (and Redis, when configured) answer.", status: 200, response: "Status"},
	"GET /metrics":      {summary: "Prometheus metrics (admins).", status: 200},
	"GET /openapi.json": {summary: "This description of the native API.", status: 200},
	"GET /me":           {summary: "Who the caller is: principal, credential, admin power.", status: 200, response: "Me"},

	"POST /users":              {summary: "Create a user (admins).", request: "UserCreate", status: 201, response: "User"},
	"GET /users":               {summary: "List users (admins).", query: []string{"limit", "cursor"}, status: 200, response: "UserList"},
	"GET /users/{id}":          {summary: "Get a user (oneself with `me`, or any as an admin).", status: 200, response: "User"},
	"PATCH /users/{id}":        {summary: "Change a user's name or password.", request: "UserPatch", status: 200, response: "User"},
	"DELETE /users/{id}":       {summary: "Delete a user and every credential and grant it owns (admins).", status: 204},
	"POST /users/{id}/admin":   {summary: "Make a user an admin; returns a new admin token.", status: 200, response: "Token"},
	"DELETE /users/{id}/admin": {summary: "Demote an admin and rescind all their admin tokens.", status: 204},
	"GET /nodes":               {summary: "The nodes serving this store seen in the last 10 s, this one included (admins).", status: 200, response: "NodeList"},

	"POST /auth/login":             {summary: "Exchange email and password for a personal access token.", request: "Login", status: 200, response: "AccessToken"},
	"DELETE /tokens/personal":      {summary: "Revoke the personal access token used for the call.", status: 204},
	"DELETE /tokens/personal/all":  {summary: "Revoke every personal access token of the caller.", status: 204},
	"POST /tokens/revoke":          {summary: "Revoke a leaked token; no credential needed (RFC 7009 style).", request: "Revoke", status: 200},
	"GET /tokens/business":         {summary: "List the business keys of the resources the caller manages.", query: []string{"resource", "limit", "cursor"}, status: 200, response: "KeyList"},
	"DELETE /tokens/business":      {summary: "Revoke those business keys.", query: []string{"resource"}, status: 204},
	"DELETE /tokens/business/{id}": {summary: "Revoke one business key.", status: 204},

	"POST /keys":              {summary: "Create a key; its token or secret is in this answer only.", request: "KeyCreate", status: 201, response: "IssuedKey"},
	"GET /keys":               {summary: "List keys (metadata and prefixes, never secrets).", query: []string{"owner", "resource", "limit", "cursor"}, status: 200, response: "KeyList"},
	"DELETE /keys":            {summary: "Revoke every key of an owner or a resource.", query: []string{"owner", "resource"}, status: 204},
	"GET /keys/{id}":          {summary: "Get a key.", status: 200, response: "Key"},
	"PATCH /keys/{id}":        {summary: "Change a key's name, metadata, expiry, plan, credits or networks.", request: "KeyPatch", status: 200, response: "Key"},
	"DELETE /keys/{id}":       {summary: "Revoke a key at once.", status: 204},
	"POST /keys/{id}/reissue": {summary: "Give a key a new token or secret, the old one ending now or after a grace.", request: "Reissue", status: 200, response: "IssuedKey"},
	"GET /keys/{id}/usage": {summary: "A key's requests and refusals per UTC hour, oldest first, the current hour last " +
		"(?hours=, default and at most 168). Each node adds its counts every cache.last_used_flush, so the latest lag by up to that much.",
		query: []string{"hours"}, ints: map[string][2]int{"hours": {1, maxUsageHours}}, status: 200, response: "KeyUsage"},

	"POST /resources":                                  {summary: "Create a resource under a parent the caller manages (roots: admins).", request: "ResourceCreate", status: 201, response: "Resource"},
	"GET /resources":                                   {summary: "List the resources the caller may read.", query: []string{"type", "parent", "limit", "cursor"}, status: 200, response: "ResourceList"},
	"GET /resources/{type}/{id}":                       {summary: "Get a resource.", status: 200, response: "Resource"},
	"PATCH /resources/{type}/{id}":                     {summary: "Rename, re-plan or move a resource.", request: "ResourcePatch", status: 200, response: "Resource"},
	"DELETE /resources/{type}/{id}":                    {summary: "Delete a resource with its descendants, grants and keys.", status: 204},
	"GET /resources/{type}/{id}/grants":                {summary: "List the grants on a resource (managers).", query: []string{"limit", "cursor"}, status: 200, response: "GrantList"},
	"PUT /resources/{type}/{id}/grants/{principal}":    {summary: "Give a principal (user:<id> or email:<address>) a role on a resource.", request: "GrantPut", status: 200, response: "Grant"},
	"DELETE /resources/{type}/{id}/grants/{principal}": {summary: "Remove a grant.", status: 204},
	"POST /check":                                      {summary: "May this principal do this on that resource, and why.", request: "Check", status: 200, response: "CheckAnswer"},
	"GET /audit":                                       {summary: "The audit trail: a resource's for its managers, all for admins.", query: []string{"resource", "actor", "action", "target", "limit", "cursor"}, status: 200, response: "EventList"},

	"GET /limits":        {summary: "The caller's plan, every window of it and its credits, spending nothing.", query: []string{"resource"}, status: 200, response: "Limits"},
	"POST /verify":       {summary: "Is this credential valid, and may it do this? Always 200 for a well-formed request.", request: "Verify", status: 200, response: "VerifyAnswer"},
	"GET /authz":         {summary: "Forward auth (nginx auth_request, Traefik forwardAuth): the original request in X-Forwarded-Method/-Uri or X-Original-Method/-URI, decided by the gateway routes.", status: 200},
	"* /authz/{path...}": {summary: "Forward auth for Envoy's ext_authz: the original method and path follow the prefix.", status: 200},

	"POST /tokens/exchange": {summary: "RFC 8693 token exchange: a credential (and a parent scoped token) for a scoped token.", request: "TokenExchange", status: 200, response: "TokenExchangeAnswer", badRequest: "OAuthError"},
	"DELETE /tokens/scoped": {summary: "Revoke the scoped token in its header, with every token below it (its holder).", status: 204},
}

// anyMethods are the methods the OpenAPI description lists for a route that answers every one.
var anyMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// objectSchemas are the bodies' shapes, loose where the handlers validate further.
func objectSchemas() map[string]any {
	str := map[string]any{"type": "string"}
	nstr := map[string]any{"type": []string{"string", "null"}}
	ntime := map[string]any{"type": []string{"string", "null"}, "format": "date-time"}
	tm := map[string]any{"type": "string", "format": "date-time"}
	integer := map[string]any{"type": "integer"}
	boolean := map[string]any{"type": "boolean"}
	obj := func(required []string, props map[string]any) map[string]any {
		o := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			o["required"] = required
		}
		return o
	}
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	list := func(field, item string) map[string]any {
		return obj([]string{field, "next_cursor"}, map[string]any{
			field:         map[string]any{"type": "array", "items": ref(item)},
			"next_cursor": nstr,
		})
	}
	key := map[string]any{
		"id": str, "name": str, "prefix": str, "owner": nstr, "resource": nstr, "role": nstr,
		"format": map[string]any{"enum": []string{"token", "key_secret"}}, "plan": nstr,
		"metadata": map[string]any{"type": []string{"object", "null"}}, "allowed_cidrs": map[string]any{"type": []string{"array", "null"}, "items": str},
		"credits": map[string]any{"type": []string{"object", "null"}}, "expires_at": ntime, "last_used_at": ntime, "created_at": tm,
	}
	issued := map[string]any{"token": nstr, "key": nstr, "secret": nstr}
	for k, v := range key {
		issued[k] = v
	}
	return map[string]any{
		"Error":  obj([]string{"error"}, map[string]any{"error": obj([]string{"code", "message"}, map[string]any{"code": str, "message": str})}),
		"Status": obj(nil, map[string]any{"status": str}),
		"Me": obj([]string{"principal", "credential", "admin"}, map[string]any{
			"principal": nstr, "credential": obj([]string{"type", "id"}, map[string]any{"type": str, "id": str}), "admin": boolean,
		}),
		"User":       obj([]string{"id", "email", "name", "admin", "created_at"}, map[string]any{"id": str, "email": str, "name": nstr, "admin": boolean, "created_at": tm, "updated_at": tm}),
		"UserList":   list("users", "User"),
		"UserCreate": obj([]string{"email"}, map[string]any{"id": str, "email": str, "name": nstr, "password": str}),
		"UserPatch":  obj(nil, map[string]any{"name": nstr, "password": str, "current_password": str}),
		"Token":      obj([]string{"token"}, map[string]any{"token": str}),
		"Login":      obj([]string{"email", "password"}, map[string]any{"email": str, "password": str}),
		"AccessToken": obj([]string{"access_token", "token_type", "expires_in"}, map[string]any{
			"access_token": str, "token_type": map[string]any{"const": "Bearer"}, "expires_in": integer,
		}),
		"Revoke":    obj([]string{"token"}, map[string]any{"token": str, "token_type_hint": str}),
		"Key":       obj([]string{"id", "name", "prefix", "format", "created_at"}, key),
		"IssuedKey": obj([]string{"id", "name", "prefix", "format", "created_at"}, issued),
		// A revoking call's answer at the staleness bound (?wait=propagated): the nodes that
		// had not confirmed, added to the answer's own fields when it has any.
		"Lagging":          obj([]string{"lagging"}, map[string]any{"lagging": map[string]any{"type": "array", "items": str}}),
		"IssuedKeyLagging": map[string]any{"allOf": []any{ref("IssuedKey"), ref("Lagging")}},
		"Node":             obj([]string{"id", "started_at", "last_seen_at"}, map[string]any{"id": str, "started_at": tm, "last_seen_at": tm}),
		"NodeList":         obj([]string{"nodes"}, map[string]any{"nodes": map[string]any{"type": "array", "items": ref("Node")}}),
		"KeyList":          list("keys", "Key"),
		"KeyUsage": obj([]string{"key_id", "hours"}, map[string]any{"key_id": str, "hours": map[string]any{
			"type": "array", "minItems": 1, "maxItems": maxUsageHours, "items": obj([]string{"hour", "requests", "refusals"}, map[string]any{
				"hour": tm, "requests": map[string]any{"type": "integer", "minimum": 0}, "refusals": map[string]any{"type": "integer", "minimum": 0},
			}),
		}}),
		"KeyCreate": obj([]string{"name"}, map[string]any{
			"name": str, "id": str, "owner": str, "resource": str, "role": str,
			"format": map[string]any{"enum": []string{"token", "key_secret"}}, "expires_in": integer, "plan": str,
			"metadata": map[string]any{"type": "object"}, "allowed_cidrs": map[string]any{"type": "array", "items": str},
			"credits": map[string]any{"type": "object"},
		}),
		"KeyPatch": obj(nil, map[string]any{
			"name": str, "metadata": map[string]any{"type": []string{"object", "null"}}, "expires_at": ntime, "plan": nstr,
			"credits": map[string]any{"type": []string{"object", "null"}}, "allowed_cidrs": map[string]any{"type": []string{"array", "null"}, "items": str},
		}),
		"Reissue":        obj(nil, map[string]any{"grace_seconds": integer}),
		"Resource":       obj([]string{"type", "id", "created_at"}, map[string]any{"type": str, "id": str, "name": nstr, "parent": nstr, "plan": nstr, "created_at": tm}),
		"ResourceList":   list("resources", "Resource"),
		"ResourceCreate": obj([]string{"type"}, map[string]any{"type": str, "id": str, "name": nstr, "parent": str, "plan": str}),
		"ResourcePatch":  obj(nil, map[string]any{"name": nstr, "plan": nstr, "parent": nstr}),
		"Grant":          obj([]string{"resource", "principal", "role"}, map[string]any{"resource": str, "principal": str, "role": str, "created_at": tm}),
		"GrantList":      list("grants", "Grant"),
		"GrantPut":       obj([]string{"role"}, map[string]any{"role": str}),
		"Check": obj([]string{"permission", "resource"}, map[string]any{
			"principal": str, "permission": map[string]any{"enum": []string{"read", "write", "manage"}}, "resource": str, "explain": boolean,
		}),
		"CheckAnswer": obj([]string{"allowed"}, map[string]any{"allowed": boolean, "because": map[string]any{"type": "object"}}),
		"Event": obj([]string{"id", "at", "actor", "credential", "action", "target", "result", "ip"}, map[string]any{
			"id": str, "at": tm, "actor": nstr, "credential": nstr, "action": str, "target": nstr,
			"resource": nstr, "result": str, "ip": nstr, "count": integer, "detail": nstr,
		}),
		"EventList": list("events", "Event"),
		"Limits": obj([]string{"plan", "windows", "credits"}, map[string]any{
			"plan": nstr, "windows": map[string]any{"type": "array", "items": obj([]string{"limit", "window", "remaining", "reset"},
				map[string]any{"limit": integer, "window": integer, "remaining": integer, "reset": integer})},
			"credits": map[string]any{"type": []string{"object", "null"}},
		}),
		"ScopedToken":         obj([]string{"token", "expires_in", "resource"}, map[string]any{"token": str, "expires_in": integer, "resource": str}),
		"TokenExchange":       obj([]string{"grant_type", "subject_token", "resource"}, map[string]any{"grant_type": str, "subject_token": str, "subject_token_type": str, "actor_token": str, "actor_token_type": str, "resource": str}),
		"OAuthError":          obj([]string{"error", "error_description"}, map[string]any{"error": str, "error_description": str}),
		"TokenExchangeAnswer": obj([]string{"access_token", "issued_token_type", "token_type", "expires_in"}, map[string]any{"access_token": str, "issued_token_type": str, "token_type": str, "expires_in": integer}),
		"Verify": obj(nil, map[string]any{
			"token": str, "headers": map[string]any{"type": "object", "additionalProperties": str}, "resource": str,
			"permission": map[string]any{"enum": []string{"read", "write", "manage"}}, "client_ip": str, "dry_run": boolean, "explain": boolean,
		}),
		"VerifyAnswer": obj([]string{"valid", "code", "principal", "key_id", "resource", "role", "ratelimit"}, map[string]any{
			"valid": boolean, "code": nstr, "principal": nstr, "key_id": nstr, "resource": nstr, "role": nstr,
			"ratelimit": map[string]any{"type": []string{"object", "null"}}, "because": map[string]any{"type": "object"},
		}),
	}
}

var pathParam = regexp.MustCompile(`\{([a-z]+)(?:\.\.\.)?\}`)

// openAPI builds the OpenAPI 3.1 description of the native API from the route table, so it
// cannot drift from what the server registers.
func (h *Handler) openAPI() map[string]any {
	paths := map[string]any{}
	for _, route := range h.routes {
		op, ok := operations[route.Method+" "+route.Path]
		if route.Doc != nil {
			op, ok = *route.Doc, true
		}
		if !ok {
			continue // openapi_test.go fails for such a route
		}
		methods := []string{route.Method}
		if route.Method == AnyMethod {
			methods = anyMethods
		}
		for _, m := range methods {
			rt := route
			rt.Method = m
			h.describe(paths, rt, op)
		}
	}
	return h.openAPIDocument(paths)
}

// describe adds one operation, the route rt documented by op, to paths.
func (h *Handler) describe(paths map[string]any, rt Route, op operation) {
	full := strings.ReplaceAll(rt.FullPath(h.prefix), "...}", "}")
	item, _ := paths[full].(map[string]any)
	if item == nil {
		item = map[string]any{}
		paths[full] = item
	}
	o := map[string]any{
		"operationId":      operationID(rt.Method, rt.Path),
		"summary":          op.summary,
		"x-lanyard-policy": rt.Policy.String(),
	}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range op.query {
		schema := map[string]any{"type": "string"}
		if b, ok := op.ints[q]; ok {
			schema = map[string]any{"type": "integer", "minimum": b[0], "maximum": b[1]}
		}
		params = append(params, map[string]any{"name": q, "in": "query", "schema": schema})
	}
	if rt.Revokes {
		params = append(params, map[string]any{"name": "wait", "in": "query", "schema": map[string]any{"type": "string", "enum": []string{"propagated"}},
			"description": "propagated: answer once every node of this store seen in the last 10 s refuses what the call revoked, " +
				"or at the staleness bound with the nodes that do not yet (CONTRACT §11.33)."})
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.request != "" {
		o["requestBody"] = map[string]any{"content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/" + op.request},
		}}}
	}
	success := map[string]any{"description": http.StatusText(op.status)}
	if op.response != "" {
		success["content"] = map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/" + op.response},
		}}
	}
	errBody := map[string]any{"description": "The contract's error body.", "content": map[string]any{"application/json": map[string]any{
		"schema": map[string]any{"$ref": "#/components/schemas/Error"},
	}}}
	responses := map[string]any{strconv.Itoa(op.status): success, "4XX": errBody, "5XX": errBody}
	if lagging := rt.LaggingStatus; rt.Revokes && (lagging == 0 || lagging != op.status) {
		if lagging == 0 {
			lagging = http.StatusAccepted
		}
		schema := "Lagging"
		if op.response != "" {
			schema = op.response + "Lagging"
		}
		responses[strconv.Itoa(lagging)] = map[string]any{
			"description": "With ?wait=propagated, when the staleness bound passed before every node confirmed: the change is made, and lagging names the nodes that had not confirmed.",
			"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + schema}}},
		}
	}
	if op.badRequest != "" {
		responses["400"] = map[string]any{"description": "An RFC 6749 §5.2 error.", "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/" + op.badRequest},
		}}}
	}
	o["responses"] = responses
	if !rt.Policy.NeedsCredential() {
		o["security"] = []any{}
	} else if rt.Policy == authz.Admin {
		o["description"] = "Needs an admin token or the bootstrap token."
	}
	item[strings.ToLower(rt.Method)] = o
}

func (h *Handler) openAPIDocument(paths map[string]any) map[string]any {
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "lanyard native API", "version": "v1"},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": objectSchemas(),
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"basic":  map[string]any{"type": "http", "scheme": "basic"},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"basic": []any{}}},
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(path, "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.NewReplacer(".", "_", "-", "_").Replace(seg)
		if seg == "" {
			continue
		}
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

// serveOpenAPI answers the description as a plain document, never in the envelope: tools read
// it as OpenAPI.
func (h *Handler) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	h.writeRaw(w, http.StatusOK, h.openAPI())
	return nil
}
