// Package config turns a YAML file, the environment and command-line flags into one validated
// Config, and holds lanyard's built-in default. It is the only code in lanyard that reads YAML or
// environment variables: cmd/lanyard parses its flags and passes the ones that were set in as
// Overrides, and passes os.Getenv in as a function; nothing here reads the process environment
// itself.
//
// # Layers
//
// Load builds a Config in four layers, each overriding the one before:
//
//  1. Default: the built-in default of CONTRACT §7 (schema organization > project, the roles
//     observer, member and admin, the sources Bearer and Basic, no exchange, no plans, no
//     upstream).
//  2. The YAML file, when a path is given.
//  3. The environment: LANYARD_ADDR, LANYARD_DATA, LANYARD_STORE, LANYARD_REDIS,
//     LANYARD_UPSTREAM, LANYARD_TLS_CERT, LANYARD_TLS_KEY, LANYARD_LOG_FORMAT, LANYARD_NODE_ID. A
//     variable that is unset or empty leaves the value as it is.
//  4. Flags: every non-nil field of Overrides, even an empty string (so --redis "" turns off a
//     Redis the file configured).
//
// The result is validated as a whole (Validate), so a value may be completed by a later layer:
// a file may name tls_cert and leave tls_key to LANYARD_TLS_KEY.
//
// # How a file overlays the default
//
// A file names top-level sections. What a section it does not name holds is the default's.
// What a named section holds depends on its shape:
//
//   - Sections that are lists or maps of named things — schema, sources, exchange, plans — are
//     replaced whole: naming sources: [{type: header, name: x-api-key}] leaves that one source,
//     not the default two plus it; naming schema: replaces organization > project.
//   - roles is the exception: the roles a file names are added to the built-in observer, member
//     and admin. Redefining one of those three with other permissions is an error.
//   - Sections that are records of settings — server, api, tokens, keys, passwords, login,
//     cache, rate_limit, gateway, console — keep the default value of every field they do not
//     name: passwords: {memory_kib: 65536} changes only the memory and keeps the default
//     iterations and parallelism. Within such a section a list or map field (server.trusted_proxies,
//     gateway.routes) is again replaced whole.
//   - A new entry of a map or list (an exchange type, a plan, a route) starts from its own
//     defaults where it has any (an exchange ttl of 1h, a route cost of 1, a plan bucket of
//     resource), then takes the fields it names.
//
// An explicit null (an empty value, ~ or null) says "nothing": a record section or a nested
// record given null keeps its defaults; a list or map given null becomes empty (so schema: ~ is
// an error, as an empty schema is); a scalar given null becomes its zero value.
//
// An empty document, or one that holds only comments, is the default. A key that names no field
// (at the top level or anywhere below it) is an error, as are a key given twice, a second YAML
// document in the same file, YAML merge keys (<<), and tags other than YAML's own (!env,
// !!binary). Anchors and aliases are allowed.
//
// # Values
//
// Durations are Go duration strings ("24h", "90s", "1h30m") or whole seconds (90). Booleans are
// true or false; integers are YAML integers. Names of resource types, roles and plans are lower
// case: ^[a-z][a-z0-9_]{0,63}$ (plans and roles may also use '-').
//
// Paths are net/http patterns whose wildcards are written in braces. YAML does not allow braces
// in an unquoted value inside a flow mapping, so quote a path there —
// {path: "/Events/{id}/authorize"} — or write the mapping in block style, where
// path: /Events/{id}/authorize needs no quotes.
//
// # Errors
//
// Every error is one sentence that starts with "config: " and names the field it is about,
// with the line of the file when the problem is in the file's shape:
//
//	config: line 4: server: unknown field "adress"
//	config: schema: type "project" names unknown parent "org"
//
// Errors never repeat the value of server.store or server.redis, which may hold passwords.
package config
