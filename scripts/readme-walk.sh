#!/usr/bin/env bash
# readme-walk.sh — play the README's "A first walk" as a newcomer would, with curl and jq against
# a freshly built lanyard, and fail on the first answer that is not what the README shows.
#
# It builds ./cmd/lanyard into a temporary folder and runs it from a fresh, empty folder, so the
# store is the default ./lanyard-data created there. Two differences from the README, both for
# CI: lanyard listens on 127.0.0.1:0 (a free port, read back from its log) instead of 8080, and
# the built binary stands in for `go run ./cmd/lanyard`. The steps:
#
#   1. serve without LANYARD_BOOTSTRAP_TOKEN: it creates the store and prints a generated token,
#      which works; stop it (it exits 0)
#   2. serve again with LANYARD_BOOTSTRAP_TOKEN set, as the README does: that token now works and
#      the generated one does not (CONTRACT §11.39), and nothing is printed
#   3. /v1/me, create Ann, give her a key, use it, revoke it, a key+secret pair over Basic (header
#      and URL userinfo), reissue with a grace period
#   4. the CLI steps: users create, keys create, keys list, keys revoke
#
# Every server it starts is stopped when it ends, by pid. No token may appear in lanyard's log.
# Needs go, curl and jq (installed with apt-get when missing and root). Run from anywhere:
#
#   bash scripts/readme-walk.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'readme-walk: %s\n' "$*" >&2; }

# ---------- tools ----------
need_pkgs=()
command -v curl >/dev/null || need_pkgs+=(curl)
command -v jq >/dev/null || need_pkgs+=(jq)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { say "ERROR: needs ${need_pkgs[*]} (apt-get install ${need_pkgs[*]})"; exit 1; }
  say "installing ${need_pkgs[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 </dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2 </dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-readme-walk.XXXXXX")
server_pid=
log=
stop_server() { # stop the server this script started, by its pid, and wait for it
  local pid=$server_pid
  server_pid=
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}
cleanup() {
  local rc=$?
  stop_server || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step=setup
fail() {
  say "FAIL in step \"$step\": $*"
  if [ -n "${body_file:-}" ] && [ -s "$body_file" ]; then
    say "the last answer was HTTP ${status:-?}: $(head -c 2000 "$body_file")"
  fi
  if [ -n "$log" ] && [ -s "$log" ]; then
    say "lanyard's log (last 20 lines):"
    tail -n 20 "$log" >&2
  fi
  exit 1
}

say "building ./cmd/lanyard"
go build -o "$tmp/bin/lanyard" ./cmd/lanyard || fail "go build ./cmd/lanyard failed"
lanyard=$tmp/bin/lanyard
walk=$tmp/walk # the newcomer's folder: empty, so ./lanyard-data is new
mkdir -p "$walk"

# start_server LOG: run `lanyard serve` in the walk folder with the current environment, and set
# $server_pid and $addr once it says that it is serving
start_server() {
  log=$1
  (cd "$walk" && exec "$lanyard" serve --addr 127.0.0.1:0) </dev/null >"$log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + 30))
  addr=
  until addr=$(sed -n 's/.*msg="lanyard is serving".* addr=\([^ ]*\).*/\1/p' "$log" | head -n 1) && [ -n "$addr" ]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      wait "$server_pid" || true
      server_pid=
      fail "lanyard serve exited before it was serving"
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "lanyard serve was not serving within 30 s"
    sleep 0.2
  done
  base=http://$addr
  say "lanyard serves on $addr (pid $server_pid)"
}

body_file=$tmp/body
# call METHOD PATH [CURL ARGS…]: one request; sets $status and $body
call() {
  local method=$1 path=$2
  shift 2
  status=$(curl -sS -o "$body_file" -w '%{http_code}' --max-time 10 -X "$method" "$@" "$base$path") ||
    fail "curl $method $path failed"
  body=$(cat "$body_file")
}
expect_status() { [ "$status" = "$1" ] || fail "HTTP $status, want $1"; }
# expect JQ-FILTER WHAT: the last answer satisfies the filter
expect() {
  jq -e "$1" <<<"$body" >/dev/null 2>&1 || fail "the answer is not what the README shows: want $2 ($1)"
}
token_re='^[a-z]+_[0-9A-Za-z]{33}$'

# ---------- 1. the first start makes the store and a bootstrap token ----------
step="first start, no LANYARD_BOOTSTRAP_TOKEN"
# only the README's settings: none of lanyard's from the calling environment
unset LANYARD_BOOTSTRAP_TOKEN LANYARD_ADDR LANYARD_TOKEN LANYARD_DATA LANYARD_CONFIG LANYARD_STORE \
  LANYARD_REDIS LANYARD_UPSTREAM LANYARD_TLS_CERT LANYARD_TLS_KEY LANYARD_LOG_FORMAT
start_server "$tmp/serve-1.log"
[ -d "$walk/lanyard-data" ] || fail "no ./lanyard-data was created in the folder lanyard runs in"
generated=$(awk 'f { print; exit } /created the bootstrap admin token/ { f = 1 }' "$log")
[[ $generated =~ ^lb_[0-9A-Za-z]{33}$ ]] || fail "no generated bootstrap token (lb_…) on the line after the log line announcing it"
call GET /v1/me -H "Authorization: Bearer $generated"
expect_status 200
expect '.credential.type == "bootstrap" and .admin == true' "the generated token to be the bootstrap token"
step="stop the first server"
stop_server || fail "lanyard serve did not exit 0 on SIGTERM"
tokens_seen=("$generated")

# ---------- 2. the README's start: a bootstrap token of one's choosing ----------
step="start with LANYARD_BOOTSTRAP_TOKEN (CONTRACT §11.39)"
export LANYARD_BOOTSTRAP_TOKEN=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
[ ${#LANYARD_BOOTSTRAP_TOKEN} -ge 32 ] || fail "the README's recipe made a token of ${#LANYARD_BOOTSTRAP_TOKEN} characters"
start_server "$tmp/serve-2.log"
B="Authorization: Bearer $LANYARD_BOOTSTRAP_TOKEN"
tokens_seen+=("$LANYARD_BOOTSTRAP_TOKEN")

call GET /v1/me -H "$B"
[ "$status" = 200 ] || fail "the LANYARD_BOOTSTRAP_TOKEN given at this second start is refused (HTTP $status): per CONTRACT §11.39 it replaces the stored bootstrap token at start"
expect '. == {"principal": null, "credential": {"type": "bootstrap", "id": "bootstrap"}, "admin": true}' \
  '{"principal":null,"credential":{"type":"bootstrap","id":"bootstrap"},"admin":true}'
call GET /v1/me -H "Authorization: Bearer $generated"
[ "$status" = 401 ] || fail "the generated bootstrap token still works (HTTP $status) after LANYARD_BOOTSTRAP_TOKEN replaced it"
grep -q '^lb_' "$log" && fail "the second start printed a bootstrap token"

# ---------- 3. the walk with curl ----------
step="create a user"
call POST /v1/users -H "$B" -d '{"id": "ann", "email": "ann@example.com", "name": "Ann"}'
expect_status 201
expect '.id == "ann" and .email == "ann@example.com" and .name == "Ann" and .admin == false' 'Ann'

step="give Ann a key"
call POST /v1/keys -H "$B" -d '{"name": "ci deploys", "owner": "user:ann", "id": "ann-ci"}'
expect_status 201
expect '.id == "ann-ci" and .owner == "user:ann" and .name == "ci deploys"' 'the key ann-ci of user:ann'
KEY=$(jq -r .token <<<"$body")
[[ $KEY =~ ^lk_[0-9A-Za-z]{33}$ ]] || fail "the key's token is not lk_ and 33 base62 characters: $KEY"
tokens_seen+=("$KEY")

step="use the key"
call GET /v1/me -H "Authorization: Bearer $KEY"
expect_status 200
expect '. == {"principal": "user:ann", "credential": {"type": "key", "id": "ann-ci"}, "admin": false}' \
  '{"principal":"user:ann","credential":{"type":"key","id":"ann-ci"},"admin":false}'
call GET /v1/keys -H "Authorization: Bearer $KEY"
expect_status 200
expect '[.keys[].id] == ["ann-ci"]' "Ann's keys"
expect '[.keys[] | has("token") or has("secret")] | any | not' "no secret in the list"
grep -qF -- "$KEY" "$body_file" && fail "the key list shows the key's token"

step="revoke the key"
call DELETE /v1/keys/ann-ci -H "$B"
expect_status 204
[ -z "$body" ] || fail "DELETE answered a body: $body"
call GET /v1/me -H "Authorization: Bearer $KEY"
expect_status 401
expect '. == {"error": {"code": "invalid_token", "message": "The credential is not valid."}}' \
  '{"error":{"code":"invalid_token","message":"The credential is not valid."}}'

step="a key+secret pair over Basic"
call POST /v1/keys -H "$B" -d '{"name": "rostering", "owner": "user:ann", "format": "key_secret"}'
expect_status 201
expect '(.key | type) == "string" and (.secret | startswith("lks_"))' '"key": "<id>", "secret": "lks_…"'
pair_key=$(jq -r .key <<<"$body")
pair_secret=$(jq -r .secret <<<"$body")
[[ $pair_secret =~ $token_re ]] || fail "the secret is not a lanyard token: $pair_secret"
tokens_seen+=("$pair_secret")
call GET /v1/me -u "$pair_key:$pair_secret"
expect_status 200
expect ".principal == \"user:ann\" and .credential == {\"type\": \"key\", \"id\": \"$pair_key\"}" "the pair to act as Ann"
status=$(curl -sS -o "$body_file" -w '%{http_code}' --max-time 10 "http://$pair_key:$pair_secret@$addr/v1/me") ||
  fail "curl with URL userinfo failed"
body=$(cat "$body_file")
expect_status 200
expect '.principal == "user:ann"' "URL userinfo to arrive as Basic"

step="reissue with a grace period"
call POST /v1/keys -H "$B" -d '{"name": "deploys", "owner": "user:ann", "id": "ann-deploy"}'
expect_status 201
old=$(jq -r .token <<<"$body")
tokens_seen+=("$old")
call POST /v1/keys/ann-deploy/reissue -H "$B" -d '{"grace_seconds": 3600}'
expect_status 200
new=$(jq -r .token <<<"$body")
[[ $new =~ ^lk_[0-9A-Za-z]{33}$ ]] || fail "reissue answered no new token"
[ "$new" != "$old" ] || fail "reissue answered the old token"
tokens_seen+=("$new")
for t in "$new" "$old"; do
  call GET /v1/me -H "Authorization: Bearer $t"
  expect_status 200
  expect '.credential == {"type": "key", "id": "ann-deploy"}' "both the new and the old token to work within the grace"
done

# ---------- 4. the CLI ----------
step="the CLI: users create"
export LANYARD_ADDR=$addr LANYARD_TOKEN=$LANYARD_BOOTSTRAP_TOKEN
cli() { "$lanyard" "$@" </dev/null 2>"$tmp/cli.err" || fail "lanyard $* exited non-zero: $(cat "$tmp/cli.err")"; }
body=$(cli users create --email bob@example.com --name Bob)
expect '.email == "bob@example.com" and .name == "Bob" and (.id | type) == "string"' "Bob"
bob=$(jq -r .id <<<"$body")

step="the CLI: keys create"
body=$(cli keys create --name laptop --owner "user:$bob")
expect ".owner == \"user:$bob\" and .name == \"laptop\"" "Bob's key"
bob_key=$(jq -r .id <<<"$body")
bob_token=$(jq -r .token <<<"$body")
[[ $bob_token =~ ^lk_[0-9A-Za-z]{33}$ ]] || fail "keys create printed no token"
tokens_seen+=("$bob_token")

step="the CLI: keys list"
body=$(cli keys list --owner "user:$bob")
expect "[.keys[].id] == [\"$bob_key\"]" "Bob's one key"
grep -qF -- "$bob_token" <<<"$body" && fail "keys list printed the token"

step="the CLI: keys revoke"
body=$(cli keys revoke "$bob_key")
[ -z "$body" ] || fail "keys revoke printed: $body"
call GET /v1/me -H "Authorization: Bearer $bob_token"
expect_status 401
body=$(cli keys list --owner "user:$bob")
expect '.keys == []' "no key left for Bob"

# ---------- the logs ----------
step="lanyard's logs"
stop_server || fail "lanyard serve did not exit 0 on SIGTERM"
for t in "${tokens_seen[@]}"; do
  # the generated token is printed once, by design, in the first log
  if grep -qF -- "$t" "$tmp/serve-2.log" || { [ "$t" != "$generated" ] && grep -qF -- "$t" "$tmp/serve-1.log"; }; then
    fail "a token (${t:0:6}…) appears in lanyard's log"
  fi
done

say "ok: the README's first walk works as written"
