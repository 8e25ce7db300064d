#!/usr/bin/env bash
# Several `certcast serve` on one PostgreSQL store (issue #18), against a real PostgreSQL this
# script starts (tests/integration/pg_lib.sh):
#  - `ingest`, `token create` and `events` take a postgresql:// URI as --db; a token made on the
#    shared store authenticates on every server (same --token-key file);
#  - both servers take ingest and API traffic; exactly one plans (one logs "planning: this server
#    leads"), and plan records in the audit log never come closer than the plan interval;
#  - kill -9 of the planning server: the other leads within two plan intervals and goes on
#    planning; no plan is recorded twice or half (plan and decision records consistent), and
#    `certcast audit --verify` finds the chain intact;
#  - `certcast migrate` copies a SQLite store into a new schema and refuses a non-empty target.
# Usage: pg_fleet_test.sh CERTCAST SOURCE_DIR
set -euo pipefail
CERTCAST=$1
SRC=$2
source "$SRC/tests/integration/pg_lib.sh"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do [[ -f $log ]] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_start "$work"
db="$PG_URI"

"$CERTCAST" simulate --lineages 150 --days 60 --start 2026-09-01T00:00:00Z --seed 7 \
  --out "$work/fleet.jsonl" --quiet
"$CERTCAST" ingest --db "$db" "$work/fleet.jsonl" 2>"$work/ingest.log" || fail "ingest into PostgreSQL"
lines=$(grep -c . "$work/fleet.jsonl")
stored=$(pg_psql -c "SELECT count(*) FROM events")
[[ $stored -eq $lines ]] || fail "ingest: $stored events stored, want $lines"
[[ $(pg_psql -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass") -ge 2 ]] \
  || fail "events are not partitioned by month"

# Without --token-key a PostgreSQL store has no key file to default to: a usage error naming it.
if "$CERTCAST" token create --db "$db" --name x --scope read >"$work/out.txt" 2>"$work/err.txt"; then
  fail "token create without --token-key succeeded"
fi
grep -q -- "--token-key FILE is required with a PostgreSQL store" "$work/err.txt" \
  || fail "token create without --token-key: $(cat "$work/err.txt")"
key="$work/token.key"
read_token=$("$CERTCAST" token create --db "$db" --token-key "$key" --name reader --scope read)
ingest_token=$("$CERTCAST" token create --db "$db" --token-key "$key" --name sender --scope ingest)

interval=1
start_server() {  # start_server NAME PORT
  "$CERTCAST" serve --db "$db" --token-key "$key" --listen "127.0.0.1:$2" --threads 2 \
    --plan-interval "${interval}s" --ingest-debounce 1s >"$work/$1.log" 2>&1 &
  pids+=($!)
  eval "pid_$1=$!"
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.1; done
  fail "server $1 did not come up"
}
port_a=$(free_port)
port_b=$(free_port)
start_server a "$port_a"
start_server b "$port_b"

# Exactly one leads.
leads() { grep -c '"planning: this server leads"' "$work/$1.log" || true; }
[[ $(( $(leads a) + $(leads b) )) -eq 1 ]] || fail "$(leads a) + $(leads b) servers lead, want 1"
if [[ $(leads a) == 1 ]]; then
  leader=a leader_pid=$pid_a other=b
else
  leader=b leader_pid=$pid_b other=a
fi

# Either server takes ingest and reads.
for port in "$port_a" "$port_b"; do
  code=$(printf '%s\n' "{\"ts\":\"2026-11-01T00:00:0${port: -1}Z\",\"type\":\"dns\",\"name\":\"p$port.example.com\",\"rtype\":\"A\",\"rcode\":\"NOERROR\",\"values\":[\"203.0.113.1\"]}" |
    curl -s -o "$work/post.json" -w '%{http_code}' -H "Authorization: Bearer $ingest_token" \
      -H 'Content-Type: application/x-ndjson' --data-binary @- "http://127.0.0.1:$port/v1/events")
  [[ $code == 200 ]] || fail "POST /v1/events on :$port: $code $(cat "$work/post.json")"
  code=$(curl -s -o "$work/lineages.json" -w '%{http_code}' -H "Authorization: Bearer $read_token" \
    "http://127.0.0.1:$port/v1/lineages?limit=1000")
  [[ $code == 200 ]] || fail "GET /v1/lineages on :$port: $code"
done
[[ $(pg_psql -c "SELECT count(*) FROM events") -eq $((lines + 2)) ]] || fail "posted events not stored"

# Let the leader plan a few times, then kill it at an arbitrary point of its cycle.
plans_before_kill=0
for _ in $(seq 100); do
  plans_before_kill=$(pg_psql -c "SELECT count(*) FROM audit WHERE kind = 'plan'")
  [[ $plans_before_kill -ge 3 ]] && break
  sleep 0.1
done
[[ $plans_before_kill -ge 3 ]] || fail "the leader recorded $plans_before_kill plans"
kill -KILL "$leader_pid"
killed_at=$(date +%s.%N)
took_over=""
for _ in $(seq 100); do
  if [[ $(leads "$other") == 1 ]]; then
    took_over=$(date +%s.%N)
    break
  fi
  sleep 0.05
done
[[ -n $took_over ]] || fail "no server leads 5 s after the leader was killed"
python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); sys.exit(0 if d <= 2*$interval + 0.5 else 1)" \
  "$killed_at" "$took_over" || fail "leadership moved after more than two plan intervals"
plans_at_takeover=$(pg_psql -c "SELECT count(*) FROM audit WHERE kind = 'plan'")
for _ in $(seq 100); do
  [[ $(pg_psql -c "SELECT count(*) FROM audit WHERE kind = 'plan'") -ge $((plans_at_takeover + 2)) ]] && break
  sleep 0.1
done
[[ $(pg_psql -c "SELECT count(*) FROM audit WHERE kind = 'plan'") -ge $((plans_at_takeover + 2)) ]] \
  || fail "the new leader does not plan"

# One planner at a time: consecutive plan records are at least most of an interval apart, except
# across the takeover (the new leader plans at its next cycle, whenever that falls).
close=$(pg_psql -c "SELECT count(*) FROM (SELECT at - lag(at) OVER (ORDER BY seq) AS gap FROM audit \
  WHERE kind = 'plan') g WHERE gap < $((interval * 800000))")
[[ $close -le 1 ]] || fail "$close plan records closer than the plan interval: two planners"
# Every plan record follows its own decisions: a plan is committed whole or not at all.
pg_psql -c "SELECT kind, record FROM audit ORDER BY seq" >"$work/audit.txt"
python3 - "$work/audit.txt" <<'EOF' || fail "decisions and plan records disagree"
import json, sys
pending = 0
for line in open(sys.argv[1]):
    kind, _, record = line.rstrip("\n").partition("|")
    if kind == "decision":
        pending += 1
    elif kind == "plan":
        want = json.loads(record)["actions"]
        if want != pending:
            sys.exit(f"plan record says {want} actions after {pending} decisions")
        pending = 0
sys.exit(1 if pending else 0)
EOF
"$CERTCAST" audit --db "$db" --verify >"$work/verify.txt" 2>&1 || fail "audit --verify: $(cat "$work/verify.txt")"

# migrate: a SQLite store into a fresh schema, verified; a second run is refused.
"$CERTCAST" ingest --db "$work/host.db" "$work/fleet.jsonl" 2>/dev/null
"$CERTCAST" token create --db "$work/host.db" --name local --scope read >/dev/null
"$CERTCAST" plan --db "$work/host.db" --at 2026-11-01T00:00:00Z >/dev/null 2>"$work/plan.log" || fail "plan on SQLite"
pg_psql -c "CREATE SCHEMA moved"
target="$db?options=-csearch_path%3Dmoved"
"$CERTCAST" migrate --from "$work/host.db" --to "$target" >"$work/migrate.txt" 2>"$work/migrate.log" \
  || fail "migrate: $(cat "$work/migrate.log")"
grep -q "^events: $lines copied, 0 already there" "$work/migrate.txt" || fail "migrate: $(cat "$work/migrate.txt")"
grep -q "every hash equal to the source's" "$work/migrate.txt" || fail "migrate: $(cat "$work/migrate.txt")"
[[ $(pg_psql -c "SELECT count(*) FROM moved.events") -eq $lines ]] || fail "migrate: events"
[[ $(pg_psql -c "SELECT count(*) FROM moved.tokens") -eq 1 ]] || fail "migrate: tokens"
[[ $(pg_psql -c "SELECT count(*) FROM moved.audit WHERE kind = 'plan'") -eq 1 ]] || fail "migrate: audit"
"$CERTCAST" audit --db "$target" --verify >"$work/verify2.txt" 2>&1 || fail "migrated audit: $(cat "$work/verify2.txt")"
if "$CERTCAST" migrate --from "$work/host.db" --to "$target" >/dev/null 2>"$work/again.log"; then
  fail "migrate into a non-empty store succeeded"
fi
grep -q "the target store is not empty ($lines events" "$work/again.log" || fail "migrate again: $(cat "$work/again.log")"
echo "pg_fleet: ok (leader $leader killed, takeover in $(python3 -c "print(round($took_over-$killed_at,2))") s)"
