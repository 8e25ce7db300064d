#!/usr/bin/env bash
# The fleet routes and /metrics of `certcast serve` on a simulated fleet with a trained model,
# scraped by a real Prometheus (Debian's) and queried through its HTTP API:
#  - GET /v1/lineages: risks from the model, highest first, filters, paging, bad parameters 400;
#  - GET /v1/lineages/{cert}: state, endpoints, decisions; 404 for an unknown cert; its events
#    (whole history from the subject index) newest first, paged by cursor, bounded by days=;
#  - GET /v1/forecasts, POST /v1/plan (dry: the audit log does not grow), GET /v1/decisions,
#    /v1/actions, /v1/audit (paged by cursor), /v1/audit/verify, /v1/models;
#  - every one of those routes: 401 without a token, with an unknown and with a revoked one; 403
#    with a token that lacks the scope;
#  - /metrics: `promtool check metrics` clean; Prometheus's stored values equal the API's;
#  - events posted through the API reach the fleet view after the debounce.
# Servers on 127.0.0.1, free ports, stopped by PID.
set -euo pipefail
CERTCAST="$1"; ROOT="$2"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do [[ -f $log ]] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done
  exit 1
}
command -v prometheus >/dev/null || fail "prometheus is not installed (scripts/setup.sh TEST_PKGS)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# json FILE EXPR: a Python expression over the parsed JSON `j`.
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# A small fleet whose history ends before today, and a model trained on it (stored in the store).
"$CERTCAST" simulate --lineages 80 --days 120 --start 2026-07-01T00:00:00Z --seed 5 \
  --out "$work/fleet.jsonl" --quiet
"$CERTCAST" ingest --db "$work/fleet.db" "$work/fleet.jsonl" 2>/dev/null
"$CERTCAST" train --db "$work/fleet.db" --model "$work/risk.model" --threads 1 >/dev/null 2>&1 \
  || fail "train"

token() { "$CERTCAST" token create --db "$work/fleet.db" --name "$1" --scope "$2"; }
read_token=$(token reader read)
plan_token=$(token planner plan)
ingest_token=$(token sender ingest)
revoked_token=$(token gone read)
"$CERTCAST" token revoke --db "$work/fleet.db" gone >/dev/null

port=$(free_port)
base="http://127.0.0.1:$port"
# No --model: the server takes the newest model stored by `train`.
"$CERTCAST" serve --db "$work/fleet.db" --listen "127.0.0.1:$port" --threads 4 \
  --ingest-debounce 1s >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$base/healthz" >/dev/null || fail "server did not come up"

get() {  # get TOKEN PATH OUT: prints the HTTP status
  curl -s -o "$3" -w '%{http_code}' -H "Authorization: Bearer $1" "$base$2"
}

# --- lineages: every lineage, risks from the model, highest first
[[ $(get "$read_token" "/v1/lineages?limit=1000" "$work/all.json") == 200 ]] || fail "lineages: $(cat "$work/all.json")"
n=$(json "$work/all.json" 'len(j["lineages"])')
[[ $n -eq 80 ]] || fail "lineages: $n, want 80"
json "$work/all.json" 'all(x["risk"] is not None and 0 <= x["risk"] <= 1 for x in j["lineages"])' | grep -qx True \
  || fail "lineages: a risk is null or out of [0, 1] with a model"
json "$work/all.json" 'all(a["risk"] >= b["risk"] for a, b in zip(j["lineages"], j["lineages"][1:]))' | grep -qx True \
  || fail "lineages: not sorted by risk, highest first"
json "$work/all.json" 'all(x["reason"] and x["cert"] and x["not_after"] for x in j["lineages"])' | grep -qx True \
  || fail "lineages: an entry without cert, reason or not_after"
top=$(json "$work/all.json" 'j["lineages"][0]["cert"]')
top_risk=$(json "$work/all.json" 'j["lineages"][0]["risk"]')
top_host=$(json "$work/all.json" 'j["lineages"][0]["host"]')

# Paging: two pages of 50 and 30 are the whole list in the same order.
get "$read_token" "/v1/lineages?limit=50" "$work/p1.json" >/dev/null
cursor=$(json "$work/p1.json" 'j["next_cursor"]')
[[ $cursor == 50 ]] || fail "paging: next_cursor $cursor, want 50"
get "$read_token" "/v1/lineages?limit=50&cursor=$cursor" "$work/p2.json" >/dev/null
[[ $(json "$work/p2.json" 'j["next_cursor"]') == None ]] || fail "paging: a third page"
python3 - "$work/all.json" "$work/p1.json" "$work/p2.json" <<'EOF' || fail "paging: pages differ from the whole list"
import json, sys
a, p1, p2 = (json.load(open(f)) for f in sys.argv[1:])
assert [x["cert"] for x in a["lineages"]] == [x["cert"] for x in p1["lineages"] + p2["lineages"]]
EOF
# Filters.
get "$read_token" "/v1/lineages?host=$top_host&limit=1000" "$work/host.json" >/dev/null
json "$work/host.json" "all(x['host'] == '$top_host' for x in j['lineages']) and len(j['lineages']) >= 1" | grep -qx True \
  || fail "host filter"
get "$read_token" "/v1/lineages?min_risk=$top_risk" "$work/min.json" >/dev/null
json "$work/min.json" "j['lineages'][0]['cert'] == '$top' and all(x['risk'] >= $top_risk for x in j['lineages'])" | grep -qx True \
  || fail "min_risk filter"
# Bad parameters: 400 with the parameter named.
[[ $(get "$read_token" "/v1/lineages?limit=0" "$work/bad.json") == 400 ]] || fail "limit=0 not 400"
grep -q 'limit: expected an integer in \[1, 1000\]' "$work/bad.json" || fail "limit error: $(cat "$work/bad.json")"
[[ $(get "$read_token" "/v1/lineages?colour=red" "$work/bad.json") == 400 ]] || fail "unknown parameter not 400"

# --- one lineage
[[ $(get "$read_token" "/v1/lineages/$top" "$work/one.json") == 200 ]] || fail "lineage: $(cat "$work/one.json")"
json "$work/one.json" "j['cert'] == '$top' and j['risk'] == $top_risk and 'recent_events' in j and len(j['endpoints']) > 0 and 'decisions' in j" \
  | grep -qx True || fail "lineage detail: $(head -c 600 "$work/one.json")"
[[ $(get "$read_token" "/v1/lineages/no-such-cert" "$work/none.json") == 404 ]] || fail "unknown cert not 404"
# Its events from the subject index (schema 6): the whole history, not a window before the view
# (this fleet's history ends weeks before today), newest first, a page at a time: pages of 97
# joined are the pages of 500 joined; with days=, only events of those days before the view's instant.
python3 - "$base" "$read_token" "$top" <<'EOF' || fail "lineage events paging"
import datetime, json, sys, urllib.error, urllib.request
base, token, cert = sys.argv[1:]
def get(query):
    request = urllib.request.Request(f"{base}/v1/lineages/{cert}?{query}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
parse = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
ts = lambda e: parse(e["ts"])
def pages(size):
    events, cursor, count = [], None, 0
    while True:
        status, page = get(f"events={size}" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200 and len(page["recent_events"]) <= size and page["events_since"] is None, status
        events += page["recent_events"]
        count += 1
        cursor = page["events_next"]
        if cursor is None:
            return events, count, page["at"]
events, _, at = pages(500)
at = parse(at)
# Every event is the lineage's: those that name a cert name this one (probes of its endpoint may not).
assert len(events) > 97 and all(e.get("cert", cert) == cert for e in events), [e.get("cert") for e in events][:5]
assert all(ts(a) >= ts(b) for a, b in zip(events, events[1:])), "not newest first"
assert ts(events[0]) < at - datetime.timedelta(days=3), (events[0]["ts"], at)
paged, count, _ = pages(97)
assert paged == events and count == (len(events) + 96) // 97, (len(paged), len(events), count)
days = (at - ts(events[0])).days + 2  # the newest events fall inside, not all of them
status, recent = get(f"days={days}&events=500")
assert status == 200 and len(recent["recent_events"]) < 500, len(recent["recent_events"])
since = at - datetime.timedelta(days=days)
assert status == 200 and parse(recent["events_since"]) == since, (recent["events_since"], since)
assert recent["recent_events"] == [e for e in events if ts(e) >= since] and recent["events_next"] is None
assert 0 < len(recent["recent_events"]) < len(events), (len(recent["recent_events"]), len(events))
status, bad = get("cursor=12.x")
assert status == 400 and bad["error"]["message"] == 'cursor: "12.x" is not an events cursor (give events_next of the previous page as it is)', bad
status, bad = get("events=501")
assert status == 400 and bad["error"]["message"].startswith("events: expected an integer in [1, 500]"), bad
EOF

# --- forecasts, decisions, actions, audit, models
[[ $(get "$read_token" "/v1/forecasts?limit=5" "$work/fc.json") == 200 ]] || fail "forecasts: $(cat "$work/fc.json")"
json "$work/fc.json" "len(j['forecasts']) == 5 and j['forecasts'][0]['cert'] == '$top' and j['horizon_seconds'] > 0" | grep -qx True \
  || fail "forecasts: $(head -c 400 "$work/fc.json")"
[[ $(get "$read_token" "/v1/models" "$work/models.json") == 200 ]] || fail "models"
json "$work/models.json" "len(j['models']) == 1 and j['models'][0]['name'] == 'forecaster' and 'blob' not in j['models'][0]" | grep -qx True \
  || fail "models: $(head -c 400 "$work/models.json")"
[[ $(get "$read_token" "/v1/decisions?limit=1000" "$work/dec.json") == 200 ]] || fail "decisions"
[[ $(get "$read_token" "/v1/actions" "$work/act.json") == 200 ]] || fail "actions"
json "$work/act.json" 'len(j["actions"]) == 0' | grep -qx True || fail "actions without --act: $(head -c 300 "$work/act.json")"
[[ $(get "$read_token" "/v1/audit?limit=2" "$work/audit1.json") == 200 ]] || fail "audit"
[[ $(get "$read_token" "/v1/audit/verify" "$work/verify.json") == 200 ]] || fail "audit verify"
records=$(json "$work/verify.json" 'j["records"]')
json "$work/verify.json" 'j["ok"]' | grep -qx True || fail "audit chain broken: $(cat "$work/verify.json")"
[[ $records -ge 1 ]] || fail "the server's plan left no audit record"
# Audit paging: every record once, in seq order.
python3 - "$base" "$read_token" "$records" <<'EOF' || fail "audit paging"
import json, sys, urllib.request
base, token, records = sys.argv[1], sys.argv[2], int(sys.argv[3])
seqs, cursor = [], None
while True:
    url = f"{base}/v1/audit?limit=3" + (f"&cursor={cursor}" if cursor else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})))
    seqs += [r["seq"] for r in page["records"]]
    cursor = page["next_cursor"]
    if cursor is None:
        break
assert seqs == list(range(1, records + 1)), (seqs[:10], records)
EOF

# --- POST /v1/plan: a dry plan; nothing is added to the audit log.
code=$(curl -s -o "$work/plan.json" -w '%{http_code}' --data '' -H "Authorization: Bearer $plan_token" "$base/v1/plan")
[[ $code == 200 ]] || fail "plan: $code $(cat "$work/plan.json")"
json "$work/plan.json" 'j["dry"] is True and j["lineages"] == 80' | grep -qx True || fail "plan: $(head -c 300 "$work/plan.json")"
get "$read_token" "/v1/audit/verify" "$work/verify2.json" >/dev/null
[[ $(json "$work/verify2.json" 'j["records"]') == "$records" ]] || fail "a dry plan wrote audit records"

# --- 401 and 403 on every fleet route
routes=("GET /v1/lineages" "GET /v1/lineages/$top" "GET /v1/forecasts" "POST /v1/plan"
        "GET /v1/decisions" "GET /v1/actions" "GET /v1/audit" "GET /v1/audit/verify" "GET /v1/models")
for route in "${routes[@]}"; do
  method=${route%% *}; path=${route#* }
  body=()
  [[ $method == POST ]] && body=(--data '')  # an empty body with Content-Length: 0
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "${body[@]}" "$base$path")
  [[ $code == 401 ]] || fail "$route without a token: $code, want 401"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "${body[@]}" -H "Authorization: Bearer cc_nope_nope" "$base$path")
  [[ $code == 401 ]] || fail "$route with an unknown token: $code, want 401"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "${body[@]}" -H "Authorization: Bearer $revoked_token" "$base$path")
  [[ $code == 401 ]] || fail "$route with a revoked token: $code, want 401"
  wrong=$ingest_token
  [[ $path == /v1/plan ]] && wrong=$read_token
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "${body[@]}" -H "Authorization: Bearer $wrong" "$base$path")
  [[ $code == 403 ]] || fail "$route with a token lacking the scope: $code, want 403"
done

# --- /metrics: no token needed, promtool clean, values equal the API's
curl -sf "$base/metrics" >"$work/metrics.txt" || fail "/metrics"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.log" 2>&1 || fail "promtool: $(cat "$work/promtool.log")"
[[ ! -s "$work/promtool.log" ]] || fail "promtool has remarks: $(cat "$work/promtool.log")"
grep -q "^certcast_certificate_renewal_failure_risk{cert=\"$top\"" "$work/metrics.txt" || fail "no risk series for $top"

prom_port=$(free_port)
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: certcast
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF
prometheus --config.file="$work/prometheus.yml" --web.listen-address="127.0.0.1:$prom_port" \
  --storage.tsdb.path="$work/tsdb" >"$work/prometheus.log" 2>&1 &
pids+=($!)
query() {  # query PROMQL OUT
  curl -s -G -o "$2" --data-urlencode "query=$1" "http://127.0.0.1:$prom_port/api/v1/query"
}
for _ in $(seq 300); do
  query "certcast_lineages" "$work/q.json" 2>/dev/null || true
  [[ -s $work/q.json ]] && json "$work/q.json" 'len(j["data"]["result"])' 2>/dev/null | grep -qx 1 && break
  sleep 0.1
done
json "$work/q.json" 'j["data"]["result"][0]["value"][1]' | grep -qx 80 || fail "prometheus: certcast_lineages $(cat "$work/q.json")"
query "certcast_certificate_renewal_failure_risk{cert=\"$top\"}" "$work/q.json"
python3 - "$work/q.json" "$top_risk" <<'EOF' || fail "prometheus risk of $top differs from the API's $top_risk: $(cat "$work/q.json")"
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
assert len(r) == 1 and abs(float(r[0]["value"][1]) - float(sys.argv[2])) < 1e-12, r
EOF
# Expiry of every lineage as Prometheus stored it equals the API's not_after.
query "certcast_certificate_expiration_timestamp_seconds" "$work/q.json"
python3 - "$work/q.json" "$work/all.json" <<'EOF' || fail "prometheus expiry differs from the API's"
import datetime, json, sys
prom = {s["metric"]["cert"]: float(s["value"][1]) for s in json.load(open(sys.argv[1]))["data"]["result"]}
api = {x["cert"]: datetime.datetime.strptime(x["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
       for x in json.load(open(sys.argv[2]))["lineages"]}
assert len(prom) == 80 and prom == api, (len(prom), [c for c in api if prom.get(c) != api[c]][:5])
EOF

# --- events posted through the API reach the view: a new lineage appears after the debounce.
now=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '{"ts":"%s","type":"config","cert":"late-arrival","host":"web-new","names":["late.example.com"],"client":"lego","ca":"https://acme.example/dir","challenge":"http-01","ari":false}\n' "$now" >"$work/new.jsonl"
code=$(curl -s -o "$work/post.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $ingest_token" \
  -H 'Content-Type: application/x-ndjson' --data-binary @"$work/new.jsonl" "$base/v1/events")
[[ $code == 200 ]] || fail "post events: $code $(cat "$work/post.json")"
for _ in $(seq 100); do
  [[ $(get "$read_token" "/v1/lineages/late-arrival" "$work/late.json") == 200 ]] && break
  sleep 0.1
done
json "$work/late.json" 'j["client"] == "lego" and j["host"] == "web-new" and [e["type"] for e in j["recent_events"]] == ["config"]' | grep -qx True \
  || fail "posted lineage not in the view: $(cat "$work/late.json")"
# To a file first: `grep -q` stops reading at the match and curl's SIGPIPE would fail the pipeline.
curl -sf "$base/metrics" >"$work/metrics2.txt" || fail "/metrics after the post"
grep -qx 'certcast_ingest_events_total{result="stored"} 1' "$work/metrics2.txt" \
  || fail "ingest counter: $(grep ingest_events "$work/metrics2.txt")"
echo "serve fleet: ok"
