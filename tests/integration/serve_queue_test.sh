#!/usr/bin/env bash
# The action queue of `certcast serve`, driven over HTTP on 127.0.0.1 as agents and operators
# would (docs/api.md "Actions carried out by agents"):
#  - the server's plan queues a renewal for a host that has an agent (a live agent token bound to
#    it) and keeps the one for a host without an agent;
#  - an agent leases only its own host's actions, once per lease; a report is idempotent (the
#    same report twice is one outcome), a report naming a stale lease is refused with 409 and the
#    lease in force, a report for another host's action is 404;
#  - an operator (act scope) lists the queue, cancels a queued action (the agent then never gets
#    it) and cannot cancel a leased one;
#  - every change is in the audit log naming the token, the chain verifies;
#  - a revoked agent token cannot lease (401).
# Servers on 127.0.0.1, free port, stopped by PID.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

db="$work/fleet.db"
token() { "$CERTCAST" token create --db "$db" "$@"; }
agent1=$(token --name web1-agent --scope agent --host web1)
agent2=$(token --name web2-agent --scope agent --host web2)
operator=$(token --name alice --scope act)
reader=$(token --name reader --scope read)

# Three lineages three days from expiry (the safety net renews them): shop and cms on web1 (an
# agent), blog on web9 (no agent).
now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
lineage() {  # CERT HOST
  printf '{"ts":"%s","type":"config","cert":"%s","host":"%s","names":["%s.example.com"],"client":"certbot","ca":"https://acme-v02.api.letsencrypt.org/directory","challenge":"http-01","ari":false}\n' \
    "$(iso $((now - 86400 * 85)))" "$1" "$2" "$1"
  printf '{"ts":"%s","type":"issued","cert":"%s","serial":"0a%s","not_before":"%s","not_after":"%s","ca":"https://acme-v02.api.letsencrypt.org/directory"}\n' \
    "$(iso $((now - 86400 * 85)))" "$1" "${#1}" "$(iso $((now - 86400 * 85)))" "$(iso $((now + 86400 * 3)))"
}
{ lineage shop web1; lineage cms web1; lineage blog web9; } >events.jsonl
"$CERTCAST" ingest --db "$db" events.jsonl 2>/dev/null || fail "ingest"

port=$(free_port)
base="http://127.0.0.1:$port"
start serve "$CERTCAST" serve --db "$db" --listen "127.0.0.1:$port" --threads 4
for _ in $(seq 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$base/healthz" >/dev/null || fail "server did not come up: $(cat serve.log)"

call() {  # METHOD PATH TOKEN [curl args]: prints the status; the body is in body.json
  local method=$1 path=$2 secret=$3; shift 3
  curl -sS -o body.json -w '%{http_code}' -X "$method" -H "Authorization: Bearer $secret" "$@" "$base$path"
}
post() { call POST "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
json() { python3 -c 'import json,sys; j=json.load(open("body.json")); print(eval(sys.argv[1]))' "$1"; }
expect_status() {  # WANT GOT WHAT
  [[ "$2" == "$1" ]] || fail "$3: HTTP $2, want $1: $(head -c 400 body.json)"
}

# ---- the plan queued web1's renewals, not web9's ----------------------------------------------------
expect_status 200 "$(call GET '/v1/queue?state=queued' "$operator")" "list queue"
[[ $(json 'sorted(a["cert"]+"@"+a["host"]+":"+a["action"] for a in j["actions"])') == "['cms@web1:renew', 'shop@web1:renew']" ]] ||
  fail "queue: $(cat body.json)"
[[ $(json 'all(a["decision_seq"] > 0 and a["parameters"]["lineage"]["cert"] == a["cert"] for a in j["actions"])') == True ]] ||
  fail "queued actions lack their decision or lineage: $(cat body.json)"
shop=$(json '[a["id"] for a in j["actions"] if a["cert"]=="shop"][0]')
cms=$(json '[a["id"] for a in j["actions"] if a["cert"]=="cms"][0]')
expect_status 200 "$(call GET /v1/decisions "$reader")" "decisions"
[[ $(json 'sorted(d["record"]["cert"] for d in j["decisions"] if d["record"]["action"] == "renew")') == "['blog', 'cms', 'shop']" ]] ||
  fail "decisions: $(cat body.json)"
grep -q '"msg":"action queued for an agent"' serve.log || fail "no log line for the queued actions"

# ---- the operator cancels cms; reads are open to read tokens, writes are not ----------------------------
expect_status 200 "$(call GET /v1/queue "$reader")" "read token lists"
expect_status 403 "$(post "/v1/queue/$cms/cancel" "$reader" '')" "read token cancels"
expect_status 200 "$(post "/v1/queue/$cms/cancel" "$operator" '')" "cancel"
[[ $(json 'j["state"], j["repeated"]') == "('cancelled', False)" ]] || fail "cancel: $(cat body.json)"
expect_status 200 "$(post "/v1/queue/$cms/cancel" "$operator" '')" "cancel again"
[[ $(json 'j["repeated"]') == True ]] || fail "second cancel not repeated: $(cat body.json)"
expect_status 409 "$(post "/v1/queue/$shop/approve" "$operator" '')" "approve what needs no approval"
[[ $(json 'j["error"]["message"]') == "action $shop does not need approval" ]] || fail "approve: $(cat body.json)"
expect_status 400 "$(call GET '/v1/queue?state=running' "$operator")" "bad state"
[[ $(json 'j["error"]["message"]') == 'state: "running" is not queued, leased, done, failed, cancelled or expired' ]] ||
  fail "bad state message: $(cat body.json)"

# ---- leases: only the token's host, once ------------------------------------------------------------------
expect_status 200 "$(post /v1/agent/actions/lease "$agent2" '{}')" "web2 leases"
[[ $(json 'len(j["actions"])') == 0 ]] || fail "web2 got web1's actions: $(cat body.json)"
expect_status 400 "$(post /v1/agent/actions/lease "$agent1" '{"max":0}')" "max 0"
expect_status 400 "$(post /v1/agent/actions/lease "$agent1" '{"host":"web2"}')" "host in the body"
[[ $(json 'j["error"]["message"]') == 'body: unknown field "host" (expected max)' ]] || fail "host field: $(cat body.json)"
expect_status 200 "$(post /v1/agent/actions/lease "$agent1" '{"max":5}')" "web1 leases"
[[ $(json '[(a["id"], a["lease"]["id"], a["lease"]["holder"]) for a in j["actions"]]') == "[($shop, '$shop.1', 'web1-agent')]" ]] ||
  fail "web1 lease: $(cat body.json)"
expect_status 200 "$(post /v1/agent/actions/lease "$agent1" '{}')" "web1 leases again"
[[ $(json 'len(j["actions"])') == 0 ]] || fail "a running lease was handed out again: $(cat body.json)"
expect_status 409 "$(post "/v1/queue/$shop/cancel" "$operator" '')" "cancel a leased action"
[[ $(json 'j["error"]["message"]') == "action $shop is leased by \"web1-agent\" (lease $shop.1) and may be running; it cannot be cancelled" ]] ||
  fail "cancel leased: $(cat body.json)"

# ---- reports: stale lease, another host, idempotent -------------------------------------------------------
report='{"lease_id":"LEASE","result":"success","detail":"certbot renewed shop"}'
expect_status 409 "$(post "/v1/agent/actions/$shop/outcome" "$agent1" "${report/LEASE/$shop.0}")" "stale lease"
[[ $(json 'j["error"]["message"]') == "stale lease: action $shop is leased under lease $shop.1; the report names lease \"$shop.0\" (lease the action again)" ]] ||
  fail "stale lease message: $(cat body.json)"
expect_status 404 "$(post "/v1/agent/actions/$shop/outcome" "$agent2" "${report/LEASE/$shop.1}")" "another host's action"
expect_status 400 "$(post "/v1/agent/actions/$shop/outcome" "$agent1" '{"lease_id":"x","result":"maybe"}')" "bad result"
expect_status 200 "$(post "/v1/agent/actions/$shop/outcome" "$agent1" "${report/LEASE/$shop.1}")" "report"
[[ $(json 'j["state"], j["repeated"], j["outcome"]["result"]') == "('done', False, 'success')" ]] || fail "report: $(cat body.json)"
expect_status 200 "$(post "/v1/agent/actions/$shop/outcome" "$agent1" "${report/LEASE/$shop.1}")" "same report again"
[[ $(json 'j["repeated"]') == True ]] || fail "second report not repeated: $(cat body.json)"
expect_status 409 "$(post "/v1/agent/actions/$shop/outcome" "$agent1" '{"lease_id":"'$shop'.1","result":"failure"}')" "a different report"

# ---- the audit log names the agent and the operator, once per change -----------------------------------------
expect_status 200 "$(call GET '/v1/audit?limit=1000' "$reader")" "audit"
python3 - "$shop" "$cms" <<'PY' || fail "audit: $(cat body.json)"
import json, sys
shop, cms = int(sys.argv[1]), int(sys.argv[2])
seen = [(r["kind"], r["record"].get("id"), r["record"].get("by")) for r in json.load(open("body.json"))["records"]
        if r["kind"].startswith("action_")]
want = [("action_queued", cms, "planner"), ("action_queued", shop, "planner"),
        ("action_cancelled", cms, "alice"), ("action_leased", shop, "web1-agent"),
        ("action_outcome", shop, "web1-agent")]
assert sorted(seen, key=str) == sorted(want, key=str), seen
PY
expect_status 200 "$(call GET /v1/audit/verify "$reader")" "verify"
[[ $(json 'j["ok"]') == True ]] || fail "audit chain: $(cat body.json)"

# ---- a revoked agent token cannot lease ---------------------------------------------------------------------
"$CERTCAST" token revoke --db "$db" web1-agent 2>/dev/null
expect_status 401 "$(post /v1/agent/actions/lease "$agent1" '{}')" "revoked token leases"
grep -qF "${agent1:20}" serve.log && fail "a secret is in the server's log"
echo "serve_queue: ok"
