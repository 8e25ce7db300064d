#!/usr/bin/env bash
# How long the server's plan takes after telemetry arrives over HTTP (issue 16): a store of
# LINEAGES lineages (bench/gen_lineages.py, default 100,000: a config, an issued certificate and a
# November TLS probe each), served with `--ingest-debounce 1h` (no preview plan of its own during
# the run); after the server's first plan (at start-up, a fold of the whole store), ROUNDS times
# (default 2): N TLS probes (default 10,000, of random lineages, timed one second before the
# server's latest plan began, as a collector's probe that is posted late) POSTed to /v1/events,
# then a dry plan on request
# (POST /v1/plan), timed by curl. The server's log says whether a plan refolded the whole store
# ("plan state rebuilt from every stored event") and why; the script prints it beside each time.
# CERTCAST_BEFORE=BINARY runs the same with that binary too, first, in the same run (a binary
# older than this script does not log its dry plans' rebuilds: the times tell).
# Usage: BUILD=build [CERTCAST_BEFORE=FILE] nice bench/serve_plan_after_ingest.sh [N] [LINEAGES]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTCAST=${CERTCAST:-$ROOT/${BUILD:-build}/certcast}
N=${1:-10000}
LINEAGES=${2:-100000}
ROUNDS=${ROUNDS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/serve-plan-bench.XXXXXX")
server=""
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "machine: $(nproc) cores; $(git -C "$ROOT" rev-parse --short HEAD); uptime: $(uptime)"
python3 "$ROOT/bench/gen_lineages.py" "$LINEAGES" "$work/lineages.jsonl"

run() {  # run LABEL BINARY LOGS_PREVIEW_REBUILDS (0: a binary older than this script, whose dry plans
  # do not log a rebuild, so its log tells nothing either way)
  local label=$1 bin=$2 logs_rebuilds=$3
  rm -f "$work/fleet.db"*
  "$bin" ingest --db "$work/fleet.db" "$work/lineages.jsonl" 2>/dev/null
  local ingest_token plan_token port start up
  ingest_token=$("$bin" token create --db "$work/fleet.db" --name bench-ingest --scope ingest)
  plan_token=$("$bin" token create --db "$work/fleet.db" --name bench-plan --scope plan)
  port=$(free_port)
  start=$(date +%s.%N)
  "$bin" serve --db "$work/fleet.db" --listen "127.0.0.1:$port" --ingest-debounce 1h >"$work/serve.log" 2>&1 &
  server=$!
  # /healthz answers once the first plan is published.
  for _ in $(seq 60000); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  up=$(echo "$(date +%s.%N) - $start" | bc -l)
  printf '%s: %d lineages, server up with its first plan in %.1f s; uptime: %s\n' "$label" "$LINEAGES" "$up" "$(uptime)"
  local last_plan=$start  # when the server's latest plan began (its first: at start-up)
  for round in $(seq "$ROUNDS"); do
    # N probes timed one second before the latest plan began, delivered after it (a collector's
    # probe posted late): newer than every event that plan folded, older than the plan.
    python3 - "$N" "$LINEAGES" "$round" "$last_plan" >"$work/posted.jsonl" <<'EOF'
import datetime, random, sys
n, lineages, round_, last_plan = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rng = random.Random(round_)
at = datetime.datetime.fromtimestamp(last_plan - 1, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
for _ in range(n):
    i = rng.randrange(lineages)
    print('{"ts":"%s","type":"tls_probe","endpoint":"web%d:443","sni":"www.site%d.example.com","cert":"site%d",'
          '"outcome":"ok","serial":"%x","not_after":"2027-01-%02dT00:00:00Z"}' % (at, i % 3000, i, i, i, 1 + i % 28))
EOF
    code=$(curl -s -o "$work/post.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $ingest_token" \
      -H 'Content-Type: application/x-ndjson' --data-binary "@$work/posted.jsonl" "http://127.0.0.1:$port/v1/events")
    [[ $code == 200 ]] || { echo "POST /v1/events: $code $(cat "$work/post.json")" >&2; exit 1; }
    local before seconds rebuilt
    before=$(grep -c 'plan state rebuilt' "$work/serve.log" || true)
    last_plan=$(date +%s.%N)
    seconds=$(curl -s -o "$work/plan.json" -w '%{time_total}' -X POST --data-binary '' -H "Authorization: Bearer $plan_token" \
      "http://127.0.0.1:$port/v1/plan")
    grep -q '"dry":true' "$work/plan.json" || { echo "POST /v1/plan: $(head -c 300 "$work/plan.json")" >&2; exit 1; }
    rebuilt=$(grep 'plan state rebuilt' "$work/serve.log" | tail -n +"$((before + 1))" |
      python3 -c 'import json,sys; print("; ".join("rebuilt: %s (%s events)" % (j.get("why"), j.get("events")) for j in map(json.loads, sys.stdin)) or "incremental")')
    ((logs_rebuilds)) || rebuilt="this binary does not log its previews' rebuilds"
    printf '  plan %d, after %d events posted: %.2f s (%s); uptime: %s\n' "$((round + 1))" "$N" "$seconds" "$rebuilt" "$(uptime)"
  done
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

[[ -n ${CERTCAST_BEFORE:-} ]] && run before "$CERTCAST_BEFORE" 0
run "$CERTCAST" "$CERTCAST" 1
