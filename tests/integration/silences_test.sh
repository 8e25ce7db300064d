#!/usr/bin/env bash
# Silences through both doors, on one store (docs/alerts.md): the API of `certcast serve` on
# 127.0.0.1 (POST with an admin token: 201, Location, created_by the token's name; 403 with a read
# token; 400 naming the field for bad bodies; GET in force and all; DELETE: ended_by the token's
# name, 404 once ended) and `certcast silence add/list/remove` (--by, --until / --for, one
# matcher; exit 2 with the reason for bad flags and an unknown id, 3 for a missing store). Every
# write leaves one audit record (kind silence) naming who and through what, and no secret.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

db="$work/fleet.db"
admin=$("$CERTCAST" token create --db "$db" --name oncall-admin --scope admin)
reader=$("$CERTCAST" token create --db "$db" --name dash-read --scope read)

cat >serve.toml <<TOML
db = "$db"
listen = "127.0.0.1:0"
threads = 2
TOML
start serve "$CERTCAST" serve --config serve.toml
for _ in $(seq 100); do grep -q 'serving http://' "$work/serve.log" && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
[[ -n "$base" ]] || fail "server did not start: $(cat "$work/serve.log")"

# call METHOD PATH TOKEN [curl args...]: prints the status; the body in body.json, headers in
# headers.txt.
call() {
  local method=$1 path=$2 token=$3; shift 3
  curl -sS -o body.json -D headers.txt -w '%{http_code}' -X "$method" \
    -H "Authorization: Bearer $token" "$@" "$base$path"
}
post() { call POST /v1/silences "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
# json EXPR: evaluates EXPR over the last body (b).
json() { python3 -c 'import json,sys; b=json.load(open("body.json")); print(eval(sys.argv[1]))' "$1"; }

# ---- the API ---------------------------------------------------------------------------------------
code=$(post "$admin" '{"matcher":"cause","value":"domain:example.com","duration":"4h","comment":"provider maintenance"}')
[[ $code == 201 ]] || fail "POST: $code $(cat body.json)"
api_id=$(json 'b["id"]')
[[ $api_id =~ ^sil-[0-9a-f]{16}$ ]] || fail "id: $api_id"
grep -qi "^Location: /v1/silences/$api_id"$'\r'"\?$" headers.txt || fail "Location: $(cat headers.txt)"
python3 - <<'PY' || fail "POST body: $(cat body.json)"
import datetime, json
b = json.load(open("body.json"))
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
assert (b["matcher"], b["value"], b["comment"]) == ("cause", "domain:example.com", "provider maintenance"), b
assert b["created_by"] == "oncall-admin" and b["in_force"] is True and b["ended"] is None, b
assert t(b["until"]) - t(b["created"]) == datetime.timedelta(hours=4), b
PY

code=$(post "$reader" '{"matcher":"host","value":"web1","duration":"1h"}')
[[ $code == 403 ]] || fail "POST with a read token: $code $(cat body.json)"

expect_400() {  # BODY WANT_MESSAGE
  local code; code=$(post "$admin" "$1")
  [[ $code == 400 ]] || fail "POST $1: $code $(cat body.json), want 400"
  [[ $(json 'b["error"]["message"]') == "$2" ]] || fail "POST $1: message '$(json 'b["error"]["message"]')', want '$2'"
}
expect_400 '{"matcher":"cause","value":"x","duration":"1h","by":"eve"}' \
  'unknown field "by" (expected matcher, value, until or duration, comment)'
expect_400 '{"matcher":"cause","value":"x","duration":"1h","until":"2099-01-01T00:00:00Z"}' \
  'give one of until and duration'
expect_400 '{"matcher":"zone","value":"x","duration":"1h"}' \
  'matcher: unknown "zone" (known: lineage, host, cause, label)'
expect_400 '{"matcher":"label","value":"team","duration":"1h"}' \
  'value: a label silence is "name=value", got "team"'
expect_400 '{"matcher":"host","value":"web1"}' 'until or duration: missing'
code=$(post "$admin" '{"matcher":"host","value":"web1","until":"2001-01-01T00:00:00Z"}')
[[ $code == 400 && $(json 'b["error"]["message"]') == "until: 2001-01-01T00:00:00Z is not after the silence's start "* ]] ||
  fail "until in the past: $code $(cat body.json)"
code=$(post "$admin" '{"matcher":"host","value":"web1","duration":"91d"}')
[[ $code == 400 && $(json 'b["error"]["message"]') == "until: at most 90 days after the start ("* ]] ||
  fail "91 days: $code $(cat body.json)"

# ---- the CLI, on the same store while the server runs ----------------------------------------------
cli_id=$("$CERTCAST" silence add --db "$db" --by alice --label client=lego --for 2h \
  --comment 'lego upgrade' 2>add.err) || fail "silence add: $(cat add.err)"
[[ $cli_id =~ ^sil-[0-9a-f]{16}$ ]] || fail "silence add printed '$cli_id'"
grep -q "certcast: silence $cli_id on label client=lego until .* (by alice)" add.err || fail "add: $(cat add.err)"

code=$(call GET /v1/silences "$reader")
[[ $code == 200 ]] || fail "GET: $code"
[[ $(json '",".join(sorted(s["id"] + "/" + s["created_by"] for s in b["silences"]))') == \
   "$(printf '%s\n' "$api_id/oncall-admin" "$cli_id/alice" | sort | paste -sd,)" ]] ||
  fail "GET in force: $(cat body.json)"

# ---- ending: the API's by DELETE, the CLI's by remove ----------------------------------------------
code=$(call DELETE "/v1/silences/$api_id" "$admin")
[[ $code == 200 && $(json 'b["ended_by"], b["in_force"], b["ended"] is not None') == "('oncall-admin', False, True)" ]] ||
  fail "DELETE: $code $(cat body.json)"
code=$(call DELETE "/v1/silences/$api_id" "$admin")
[[ $code == 404 ]] || fail "DELETE twice: $code $(cat body.json)"
code=$(call DELETE "/v1/silences/$cli_id" "$reader")
[[ $code == 403 ]] || fail "DELETE with a read token: $code"
code=$(call GET /v1/silences "$reader")
[[ $(json '[s["id"] for s in b["silences"]]') == "['$cli_id']" ]] || fail "in force after DELETE: $(cat body.json)"
code=$(call GET '/v1/silences?state=all' "$reader")
[[ $(json 'len(b["silences"])') == 2 ]] || fail "state=all: $(cat body.json)"
code=$(call GET '/v1/silences?state=ended' "$reader")
[[ $code == 400 && $(json 'b["error"]["message"]') == 'state: "ended" is not in_force or all' ]] ||
  fail "state=ended: $code $(cat body.json)"

"$CERTCAST" silence list --db "$db" >list.txt || fail "silence list"
[[ $(wc -l <list.txt) == 2 ]] || fail "list: $(cat list.txt)"
grep -q $'^'"$cli_id"$'\tlabel\tclient=lego\talice\t.*\t-\t-\tyes\tlego upgrade$' list.txt || fail "list row: $(cat list.txt)"
"$CERTCAST" silence list --db "$db" --all >all.txt || fail "silence list --all"
grep -q $'^'"$api_id"$'\tcause\tdomain:example.com\toncall-admin\t.*\toncall-admin\tno\tprovider maintenance$' all.txt ||
  fail "list --all: $(cat all.txt)"

"$CERTCAST" silence remove --db "$db" --by bob "$cli_id" 2>remove.err || fail "remove: $(cat remove.err)"
grep -q "certcast: silence $cli_id ended at .* (by bob)" remove.err || fail "remove: $(cat remove.err)"
code=$(call GET "/v1/silences?state=all" "$reader")
[[ $(json '[(s["ended_by"], s["in_force"]) for s in b["silences"] if s["id"] == "'"$cli_id"'"]') == "[('bob', False)]" ]] ||
  fail "removed silence: $(cat body.json)"

# ---- CLI errors: exit code and reason -------------------------------------------------------------
expect_cli() {  # WANT_EXIT WANT_STDERR ARGS...
  local want_exit=$1 want_err=$2; shift 2
  local rc=0; "$CERTCAST" silence "$@" >out.txt 2>err.txt || rc=$?
  [[ $rc == "$want_exit" ]] || fail "silence $*: exit $rc, want $want_exit ($(cat err.txt))"
  grep -qF -- "$want_err" err.txt || fail "silence $*: stderr '$(cat err.txt)' lacks '$want_err'"
  [[ ! -s out.txt ]] || fail "silence $*: printed on stdout: $(cat out.txt)"
}
expect_cli 2 "no silence \"$cli_id\" in force" remove --db "$db" --by bob "$cli_id"
expect_cli 2 'give one matcher: --lineage, --host, --cause or --label' add --db "$db" --by a --for 1h
expect_cli 2 '--lineage excludes --host' add --db "$db" --by a --for 1h --lineage x --host y
expect_cli 2 'give one of --until and --for' add --db "$db" --by a --host y
expect_cli 2 '--until excludes --for' add --db "$db" --by a --host y --for 1h --until 2099-01-01T00:00:00Z
expect_cli 2 'until: at most 90 days after the start' add --db "$db" --by a --host y --for 91d
expect_cli 2 'value: a label silence is "name=value", got "lego"' add --db "$db" --by a --label lego --for 1h
expect_cli 2 '--by is required' add --db "$db" --host y --for 1h
expect_cli 3 "$work/none.db" add --db "$work/none.db" --by a --host y --for 1h

# ---- the audit log: four writes, who and through what, no secret ----------------------------------
python3 - "$db" "$api_id" "$cli_id" <<'PY' || fail "audit"
import json, sqlite3, sys
db, api_id, cli_id = sys.argv[1:]
rows = [json.loads(r[0]) for r in sqlite3.connect(db).execute(
    "select record from audit where kind = 'silence' order by rowid")]
got = [(r.get("token") or r.get("by"), r["via"], r["silence"]["id"]) for r in rows]
want = [("oncall-admin", "POST /v1/silences", api_id), ("alice", "certcast silence add", cli_id),
        ("oncall-admin", "DELETE /v1/silences/{id}", api_id),
        ("bob", "certcast silence remove", cli_id)]
assert got == want, got
assert rows[2]["silence"]["ended_by"] == "oncall-admin" and rows[3]["silence"]["ended_by"] == "bob", rows
PY
for secret in "$admin" "$reader"; do
  python3 - "$db" "${secret:20}" <<'PY' || fail "a token secret is in the audit log"
import sqlite3, sys
assert not any(sys.argv[2] in r[0] for r in sqlite3.connect(sys.argv[1]).execute("select record from audit")), "secret"
PY
done
echo "silences: API and CLI set, list and end them on one store; errors named; every write audited"
