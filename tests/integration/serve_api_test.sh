#!/usr/bin/env bash
# certcast serve and certcast token, driven as a fleet's tools would over HTTP on 127.0.0.1:
# every route of the OpenAPI document answers 401 without a token, with a malformed or unknown
# one and with a revoked one, and 403 with a token that lacks its scopes (x-certcast-scopes);
# POST /v1/events answers 200, 422 (valid lines stored all the same), 403 for a host-bound token
# sending another host's event (nothing stored), gzip, 413 on a large body and on a gzip bomb, with
# the stored counts checked in the store; /healthz goes 503 while the store is gone; the access
# log names tokens and holds no secret; the document passes a real OpenAPI 3.1 validator (npm
# @seriousme/openapi-schema-validator); SIGTERM lets a slow upload finish and exits 0.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

db="$work/fleet.db"
token() { "$CERTCAST" token create --db "$db" "$@"; }
# Tokens with one scope each (for the 403 checks), a host-bound agent and ingest token, and one
# that is revoked before the server starts.
declare -A secret
for scope in ingest read plan act admin; do secret[$scope]=$(token --name "only-$scope" --scope "$scope"); done
secret[agent]=$(token --name web1-agent --scope agent --host web1)
bound_ingest=$(token --name web1-ingest --scope ingest --host web1)
revoked=$(token --name old --scope ingest,read,plan,act,admin)
"$CERTCAST" token revoke --db "$db" old 2>/dev/null
[[ $(stat -c %a "$db.token-key") == 600 ]] || fail "token key is not 0600"
[[ ${#secret[read]} == 84 && ${secret[read]} == cc_* ]] || fail "secret format: ${secret[read]}"

# ---- token CLI errors ---------------------------------------------------------------------------
expect_cli() {  # WANT_EXIT WANT_STDERR CMD...
  local want_exit=$1 want_err=$2; shift 2
  local rc=0; "$@" >out.txt 2>err.txt || rc=$?
  [[ $rc == "$want_exit" ]] || fail "$*: exit $rc, want $want_exit ($(cat err.txt))"
  grep -qF -- "$want_err" err.txt || fail "$*: stderr '$(cat err.txt)' lacks '$want_err'"
  [[ ! -s out.txt ]] || fail "$*: printed on stdout: $(cat out.txt)"
}
expect_cli 2 'unknown scope "write" (known: ingest, read, plan, act, admin, agent)' \
  "$CERTCAST" token create --db "$db" --name w --scope read,write
expect_cli 2 'a token named "only-read" exists; revoke it first or choose another name' \
  "$CERTCAST" token create --db "$db" --name only-read --scope read
expect_cli 2 'scope agent needs --host' "$CERTCAST" token create --db "$db" --name a --scope agent
expect_cli 2 'no token named "nobody" in force' "$CERTCAST" token revoke --db "$db" nobody
"$CERTCAST" token list --db "$db" >list.txt
grep -q $'^web1-agent\tagent\tweb1\t' list.txt || fail "token list: $(cat list.txt)"
grep -q $'^old\tingest,read,plan,act,admin\t-\t.*\t-\t20' list.txt || fail "revoked not listed: $(cat list.txt)"
for s in "${secret[@]}" "$revoked"; do grep -qF "${s:20}" list.txt && fail "token list shows a secret"; done

# ---- the server -----------------------------------------------------------------------------------
cat >serve.toml <<TOML
db = "$db"
listen = "127.0.0.1:0"
max_body_bytes = 262144
threads = 4
TOML
start serve "$CERTCAST" serve --config serve.toml
server_pid=${pids[-1]}
for _ in $(seq 100); do grep -q 'serving http://' "$work/serve.log" && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
[[ -n "$base" ]] || fail "server did not start: $(cat "$work/serve.log")"

# call METHOD PATH [curl args...]: prints "STATUS BODY"
call() {
  local method=$1 path=$2; shift 2
  curl -sS -o body.json -w '%{http_code}' -X "$method" "$@" "$base$path" >code.txt || true
  echo "$(cat code.txt) $(cat body.json)"
}
expect_status() {  # WANT "STATUS BODY" what
  [[ "${2%% *}" == "$1" ]] || fail "$3: got ${2:0:300}, want $1"
}
error_code() { python3 -c 'import json,sys; print(json.load(open("body.json"))["error"]["code"])'; }
auth() { echo "Authorization: Bearer $1"; }

r=$(call GET /healthz); expect_status 200 "$r" healthz
# The OpenAPI document, validated by a real OpenAPI 3.1 validator.
r=$(call GET /v1/openapi.json -H "$(auth "${secret[read]}")"); expect_status 200 "$r" openapi
cp body.json openapi.json
npm_dir="${CERTCAST_NPM_CACHE:-$HOME/.cache/certcast-npm}/openapi-schema-validator-2.11.0"
if [[ ! -x "$npm_dir/node_modules/.bin/validate-api" ]]; then
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --silent \
    @seriousme/openapi-schema-validator@2.11.0 >/dev/null || fail "npm install of the validator"
fi
node "$npm_dir/node_modules/.bin/validate-api" openapi.json >validate.txt ||
  fail "OpenAPI document invalid: $(cat validate.txt)"

# ---- every route: 401 and 403 -----------------------------------------------------------------------
python3 - >routes.txt <<'PY'
import json
doc = json.load(open("openapi.json"))
for path, item in doc["paths"].items():
    for method, op in item.items():
        scopes = op["x-certcast-scopes"]
        concrete = "/".join("x" if s.startswith("{") else s for s in path.split("/"))
        print(method.upper(), concrete, ",".join(scopes) or "-")
PY
routes=0
while read -r method path scopes; do
  if [[ "$scopes" == - ]]; then
    [[ "$path" != /v1/* ]] || fail "$method $path: public route under /v1/"
    continue
  fi
  routes=$((routes + 1))
  body=(); [[ $method == GET ]] || body=(-H 'Content-Type: application/json' -d '{}')
  for header in "" "Authorization: Bearer nope" "Authorization: Basic b2xkOnB3" \
                "$(auth "cc_0123456789abcdef_$(printf '%064d' 0)")" "$(auth "$revoked")"; do
    r=$(call "$method" "$path" ${header:+-H "$header"} "${body[@]}")
    expect_status 401 "$r" "$method $path with '${header:0:30}'"
    [[ $(error_code) == unauthenticated ]] || fail "$method $path: error code $(error_code)"
  done
  # A token with a scope outside the route's (agent is host-bound: use it only if it must).
  wrong=""
  for scope in read ingest plan act admin; do
    [[ ",$scopes," == *",$scope,"* ]] || { wrong=$scope; break; }
  done
  # A route every scope may call (GET /v1/token: who am I) has no wrong token.
  if [[ -n $wrong ]]; then
    r=$(call "$method" "$path" -H "$(auth "${secret[$wrong]}")" "${body[@]}")
    expect_status 403 "$r" "$method $path with a $wrong token"
    [[ $(error_code) == forbidden ]] || fail "$method $path: 403 error code $(error_code)"
  fi
done <routes.txt
((routes >= 2)) || fail "only $routes routes under /v1/ in the document"

r=$(call GET /v1/nothing-here -H "$(auth "${secret[read]}")"); expect_status 404 "$r" "unknown route"
[[ $(error_code) == not_found ]] || fail "404 code"
r=$(call DELETE /v1/events -H "$(auth "${secret[ingest]}")"); expect_status 405 "$r" "wrong method"
curl -sS -o /dev/null -D headers.txt -X DELETE "$base/v1/events"
grep -qi '^Allow: POST' headers.txt || fail "405 without Allow: $(cat headers.txt)"

# ---- POST /v1/events ------------------------------------------------------------------------------
count() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from events").fetchone()[0])' "$db"; }
json_field() { python3 -c 'import json,sys; v=json.load(open("body.json"))[sys.argv[1]]; print(json.dumps(v) if isinstance(v,list) else v)' "$1"; }
ev() {  # HOST DAY: one clock event line
  printf '{"ts":"2026-11-%02dT00:00:00Z","type":"clock","host":"%s","offset_ms":%d}\n' "$2" "$1" "$2"
}
post() {  # TOKEN FILE [curl args]
  local t=$1 f=$2; shift 2
  call POST /v1/events -H "$(auth "$t")" -H 'Content-Type: application/x-ndjson' --data-binary "@$f" "$@"
}
{ ev web1 1; ev web2 2; ev web3 3; } >good.jsonl
r=$(post "${secret[ingest]}" good.jsonl); expect_status 200 "$r" "valid body"
[[ $(json_field accepted) == 3 && $(json_field stored) == 3 && $(json_field duplicates) == 0 &&
   $(json_field rejected) == "[]" ]] || fail "valid body answer: $r"
[[ $(count) == 3 ]] || fail "stored $(count), want 3"
r=$(post "${secret[ingest]}" good.jsonl); expect_status 200 "$r" "same body again"
[[ $(json_field duplicates) == 3 && $(json_field stored) == 0 ]] || fail "duplicates: $r"

{ ev web1 4; echo '{broken'; ev web1 5; echo '{"ts":"2026-11-06T00:00:00Z","type":"weather"}'; } >mixed.jsonl
r=$(post "${secret[ingest]}" mixed.jsonl); expect_status 422 "$r" "body with bad lines"
[[ $(json_field accepted) == 2 && $(json_field rejected_total) == 2 ]] || fail "422 answer: $r"
python3 -c 'import json; r=json.load(open("body.json"))["rejected"]; assert [x["line"] for x in r]==[2,4], r; assert all(x["error"] for x in r)' ||
  fail "rejected lines: $r"
[[ $(count) == 5 ]] || fail "valid lines of the 422 body not stored: $(count)"

# Host binding: an agent (or ingest --host) token may send only its host's events.
{ ev web1 7; ev web2 8; } >other_host.jsonl
for t in "${secret[agent]}" "$bound_ingest"; do
  r=$(post "$t" other_host.jsonl); expect_status 403 "$r" "bound token, other host"
  grep -qF 'may only send events of host \"web1\"; the body has an event of host \"web2\"' body.json ||
    fail "host 403 message: $r"
done
[[ $(count) == 5 ]] || fail "a refused body stored something: $(count)"
{ ev web1 9; echo '{"ts":"2026-11-09T00:00:00Z","type":"domain","name":"example.com"}'; } >own_host.jsonl
r=$(post "${secret[agent]}" own_host.jsonl); expect_status 200 "$r" "agent, own host"
[[ $(count) == 7 ]] || fail "agent's own-host events not stored: $(count)"

# gzip.
for day in $(seq 10 28); do ev web4 "$day"; done | gzip -c >batch.jsonl.gz
r=$(post "${secret[ingest]}" batch.jsonl.gz -H 'Content-Encoding: gzip'); expect_status 200 "$r" gzip
[[ $(json_field stored) == 19 && $(count) == 26 ]] || fail "gzip body: $r, count $(count)"
r=$(post "${secret[ingest]}" good.jsonl -H 'Content-Encoding: zstd'); expect_status 415 "$r" "unknown encoding"

# 413: a body over max_body_bytes (256 KiB), plain and as a gzip bomb (40 MiB of newlines in
# ~40 KiB). Nothing of either is stored.
python3 -c 'import sys; sys.stdout.write(open("good.jsonl").read() * 4000)' >big.jsonl
r=$(post "${secret[ingest]}" big.jsonl); expect_status 413 "$r" "large body"
[[ $(error_code) == payload_too_large ]] || fail "413 code"
{ ev web5 1; head -c 41943040 /dev/zero | tr '\0' '\n'; } | gzip -9 -c >bomb.gz
(($(stat -c %s bomb.gz) < 262144)) || fail "bomb not small"
r=$(post "${secret[ingest]}" bomb.gz -H 'Content-Encoding: gzip'); expect_status 413 "$r" "gzip bomb"
[[ $(count) == 26 ]] || fail "413 stored something: $(count)"

# Revocation takes effect at the next request.
r=$(call GET /v1/openapi.json -H "$(auth "${secret[read]}")"); expect_status 200 "$r" "before revoke"
"$CERTCAST" token revoke --db "$db" only-read 2>/dev/null
r=$(call GET /v1/openapi.json -H "$(auth "${secret[read]}")"); expect_status 401 "$r" "after revoke"

# /healthz follows the store.
mv "$db" "$db.away"
r=$(call GET /healthz); expect_status 503 "$r" "healthz without the store"
mv "$db.away" "$db"
r=$(call GET /healthz); expect_status 200 "$r" "healthz with the store back"

# Audit: the writes name their token, never the secret.
python3 - "$db" <<'PY' || fail "audit records of ingest"
import json, sqlite3, sys
rows = [json.loads(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(
    "select record from audit where kind = 'ingest' order by seq")]
assert [r["token"] for r in rows] == ["only-ingest", "only-ingest", "web1-agent", "only-ingest"], rows
PY

# ---- shutdown: a slow upload in flight finishes, then exit 0 ---------------------------------------
for day in $(seq 1 28); do for h in $(seq 1 40); do ev "slow$h" "$day"; done; done >slow.jsonl
curl -sS -o slow_answer.json -w '%{http_code}' --limit-rate 20k -H "$(auth "${secret[ingest]}")" \
  --data-binary @slow.jsonl "$base/v1/events" >slow_code.txt &
slow_pid=$!
sleep 1
kill -TERM "$server_pid"
wait "$slow_pid" || fail "slow upload failed after SIGTERM"
[[ $(cat slow_code.txt) == 200 ]] || fail "slow upload: $(cat slow_code.txt) $(cat slow_answer.json)"
rc=0; wait "$server_pid" || rc=$?
[[ $rc == 0 ]] || fail "serve exited $rc after SIGTERM"
pids=("${pids[@]/$server_pid}")
[[ $(count) == $((26 + 28 * 40)) ]] || fail "slow upload not stored: $(count)"

# ---- access log ------------------------------------------------------------------------------------
log="$work/serve.log"
grep -q '"path":"/v1/events".*"status":422.*"token":"only-ingest"' "$log" || fail "access log: $(tail -3 "$log")"
python3 - "$log" <<'PY' || fail "access log lines"
import json, sys
# The planner's log lines (fleet_service.h: {"ts","level","msg",...}) share stderr; not requests.
lines = [l for l in (json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")) if "msg" not in l]
# The gzip bomb's 413 leaves compressed bytes unread; the answer says Connection: close, but
# httplib 0.11.4 reads what was already sent as one more request (400/414, no method) first.
lines = [l for l in lines if l["method"] or l["status"] not in (400, 414)]
assert len(lines) > 25, len(lines)
for l in lines:
    assert set(l) >= {"ts", "method", "path", "status", "bytes", "duration_ms", "remote"}, l
PY
for s in "${secret[@]}" "$bound_ingest" "$revoked"; do
  grep -qF "${s:20}" "$log" && fail "a secret is in the server's log"
done
echo "PASS: serve_api ($routes routes under /v1/)"
