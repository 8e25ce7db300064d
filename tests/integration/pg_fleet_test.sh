#!/usr/bin/env bash
# Several `certcast serve` on one PostgreSQL store (issue #18), against a real PostgreSQL this
# script starts (tests/integration/pg_lib.sh):
#  - `ingest`, `token create` and `events` take a postgresql:// URI as --db; a token made on the
#    shared store authenticates on every server (same --token-key file);
#  - both servers take ingest and API traffic; exactly one plans (one logs "planning: this server
#    leads"), and plan records in the audit log never come closer than the plan interval;
#  - kill -9 of the planning server in the middle of a plan that queues actions for agents (its
#    commit held, by a lock this script takes, after the plan's decisions are written and before
#    its actions are): nothing of that plan is stored, the other server leads within two plan
#    intervals and queues every action once; no plan is recorded twice or half (plan and decision
#    records consistent);
#  - the killed server restarted, agents of four hosts lease through both servers at once: every
#    action is leased once and reported once (counted in the queue and in the audit log), and
#    `certcast audit --verify` finds the chain intact;
#  - `certcast migrate` copies a SQLite store (events, audit, tokens, silences, finished actions
#    with their ids and fields) into a new schema, refuses a non-empty target, and refuses a
#    source with an action still queued for an agent.
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

"$CERTCAST" simulate --lineages 60 --days 45 --start 2026-09-01T00:00:00Z --seed 7 \
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

# A server that loses power or network sends no FIN: PostgreSQL frees its leadership lock only when
# TCP keepalive finds the peer gone. certcast asks for probes after 10 s idle on every session
# (store/pg_store.cc SessionSetup); without it the server side of each connection waits Linux's
# tcp_keepalive_time (7,200 s) first. The server side of each of the two servers' connections
# must show a keepalive timer of at most 10 s. (Not shown here: a peer actually gone silent.)
pg_port=${PG_URI##*:}; pg_port=${pg_port%%/*}
client_ports=$(ss -tnpH state established "( dport = :$pg_port )" | grep '"certcast"' | awk '{print $3}' | sed 's/.*://')
[[ -n $client_ports ]] || fail "no certcast connection to PostgreSQL on :$pg_port: $(ss -tnpH state established)"
# The keepalive is a session setting certcast sends right after connecting, so a connection the
# pool opened a moment ago may not show it yet, and one it closed meanwhile shows nothing: each is
# looked at for up to 3 s, and one that is gone is skipped (a CI run failed on that race).
keepalive_ok() {  # the ss timer field; true when it is a keepalive timer of at most 10 s
  # The time left to the next probe, as ss prints it: 9.1sec, 812ms, 119min.
  [[ $1 =~ ^timer:\(keepalive,([0-9.]+)(ms|sec|min)$ ]] &&
    python3 -c "import sys; s = float(sys.argv[1]) * {'ms': 0.001, 'sec': 1, 'min': 60}[sys.argv[2]]; sys.exit(0 if s <= 10 else 1)" \
      "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
}
checked=0
for p in $client_ports; do
  timer=""
  for _ in $(seq 30); do
    line=$(ss -tnoH state established "( sport = :$pg_port and dport = :$p )")
    [[ -z $line ]] && { timer=gone; break; }
    timer=$(grep -o 'timer:(keepalive,[^,]*' <<<"$line" || true)
    keepalive_ok "$timer" && break
    sleep 0.1
  done
  [[ $timer == gone ]] && continue
  keepalive_ok "$timer" ||
    fail "PostgreSQL's side of certcast connection :$p has keepalive '${timer:-none}', want at most 10 s"
  checked=$((checked + 1))
done
[[ $checked -gt 0 ]] || fail "every certcast connection to PostgreSQL closed before its keepalive could be read"

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

# Let the leader plan a few times.
plans_before_kill=0
for _ in $(seq 100); do
  plans_before_kill=$(pg_psql -c "SELECT count(*) FROM audit WHERE kind = 'plan'")
  [[ $plans_before_kill -ge 3 ]] && break
  sleep 0.1
done
[[ $plans_before_kill -ge 3 ]] || fail "the leader recorded $plans_before_kill plans"

echo "pg_fleet: setup and first plans done at ${SECONDS} s" >&2
# Agents on four hosts; 25 lineages on each, three days from expiry, so the next plan queues a
# renewal for each (docs/api.md "Actions carried out by agents").
hosts=(h1 h2 h3 h4)
per_host=25
actions=$(( ${#hosts[@]} * per_host ))
declare -A agent
for h in "${hosts[@]}"; do
  agent[$h]=$("$CERTCAST" token create --db "$db" --token-key "$key" --name "agent-$h" --scope agent --host "$h")
done
now=$(date -u +%s)
issued=$(date -u -d "@$((now - 86400 * 85))" +%Y-%m-%dT%H:%M:%SZ)
expires=$(date -u -d "@$((now + 86400 * 3))" +%Y-%m-%dT%H:%M:%SZ)
for h in "${hosts[@]}"; do
  for i in $(seq "$per_host"); do
    printf '{"ts":"%s","type":"config","cert":"q-%s-%s","host":"%s","names":["q%s.%s.example.com"],"client":"certbot","ca":"https://acme-v02.api.letsencrypt.org/directory","challenge":"http-01","ari":false}\n' \
      "$issued" "$h" "$i" "$h" "$i" "$h"
    printf '{"ts":"%s","type":"issued","cert":"q-%s-%s","serial":"0b%02x%s","not_before":"%s","not_after":"%s","ca":"https://acme-v02.api.letsencrypt.org/directory"}\n' \
      "$issued" "$h" "$i" "$i" "${h#h}" "$issued" "$expires"
  done
done >"$work/expiring.jsonl"

# Hold the plan mid-commit: a SHARE lock on action_queue lets the plan lock rows and write its
# decisions (holding the audit chain's lock) but stops it at its first queued action.
PGAPPNAME=blocker psql -XAtq "$PG_URI" -c "BEGIN" -c "LOCK TABLE action_queue IN SHARE MODE" \
  -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
blocker_pid=$!
pids+=("$blocker_pid")
held() { pg_psql -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s USING (pid) WHERE \
  s.application_name = 'blocker' AND l.relation = 'action_queue'::regclass AND l.granted"; }
for _ in $(seq 100); do [[ $(held) == 1 ]] && break; sleep 0.05; done
[[ $(held) == 1 ]] || fail "the blocker did not lock action_queue"
"$CERTCAST" ingest --db "$db" "$work/expiring.jsonl" 2>>"$work/ingest.log" || fail "ingest of the expiring lineages"
# The leader's commit holds the chain's advisory lock (kAuditLock: 0x6363000000000002) and waits
# for action_queue.
mid_plan() { pg_psql -c "SELECT count(*) FROM pg_locks a JOIN pg_locks w ON w.pid = a.pid WHERE \
  a.locktype = 'advisory' AND a.classid = 1667432448 AND a.objid = 2 AND a.granted AND \
  w.relation = 'action_queue'::regclass AND NOT w.granted"; }
for _ in $(seq 200); do [[ $(mid_plan) == 1 ]] && break; sleep 0.05; done
[[ $(mid_plan) == 1 ]] || fail "the leader's plan never reached its queued actions"
kill -KILL "$leader_pid"
killed_at=$(date +%s.%N)
# The dead leader's backend is waiting for the blocker's lock, and keeps the planner's lock (its
# session's advisory lock) until it gets it, finds its client gone and ends. So leadership is free
# from when the blocker is gone, not from the kill: the contract's clock starts there (at the
# latest moment this script can vouch for, before asking for the blocker's end).
unblocked_at=$(date +%s.%N)
pg_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'blocker'" >/dev/null
wait "$blocker_pid" 2>/dev/null || true
took_over=""
for _ in $(seq 100); do
  if [[ $(leads "$other") == 1 ]]; then
    # When the server took the lead, on its own clock (the log line's ts), not when this loop saw
    # the line: on a loaded machine each turn of this loop (grep, sleep) can take a good part of a
    # second.
    took_over=$(grep '"planning: this server leads"' "$work/$other.log" | python3 -c '
import datetime, json, sys
print(datetime.datetime.fromisoformat(json.loads(sys.stdin.readline())["ts"].replace("Z", "+00:00")).timestamp())')
    break
  fi
  sleep 0.05
done
[[ -n $took_over ]] || fail "no server leads 5 s after the leader was killed"
# Within two plan intervals (issue #18): the other server asks for the lead at the start of each
# plan cycle, and a cycle starts one interval after the previous one ended; so the lead moves
# within one interval plus what is left of the other server's cycle under way (here a preview of
# a small fleet, well under the interval).
takeover=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$unblocked_at" "$took_over")
echo "pg_fleet: leader killed at +0, blocker ended from +$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$killed_at" "$unblocked_at") s, the other server led $takeover s after that (load $(cut -d' ' -f1 /proc/loadavg))" >&2
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2 * $interval else 1)" "$takeover" \
  || fail "leadership moved $takeover s after the leader's lock was free: more than two plan intervals ($interval s each)"
plans_at_takeover=$(pg_psql -c "SELECT count(*) FROM audit WHERE kind = 'plan'")
plans() { pg_psql -c "SELECT count(*) FROM audit WHERE kind = 'plan'"; }
queued() { pg_psql -c "SELECT count(*) FROM action_queue"; }
for _ in $(seq 100); do
  [[ $(plans) -ge $((plans_at_takeover + 2)) && $(queued) -ge $actions ]] && break
  sleep 0.1
done
[[ $(plans) -ge $((plans_at_takeover + 2)) ]] || fail "the new leader does not plan"
# Every expiring lineage queued once: the killed plan left nothing, the new leader missed nothing.
[[ $(queued) -eq $actions ]] || fail "$(queued) actions queued, want $actions"
[[ $(pg_psql -c "SELECT count(DISTINCT cert) FROM action_queue WHERE host LIKE 'h_' AND kind = 'renew'") -eq $actions ]] \
  || fail "queued actions are not one renewal per expiring lineage"
audited() { pg_psql -c "SELECT count(*) FROM audit WHERE kind = '$1'"; }
[[ $(audited action_queued) -eq $actions ]] || fail "$(audited action_queued) action_queued records, want $actions"

echo "pg_fleet: kill mid-plan and takeover done at ${SECONDS} s" >&2
# The killed server back; agents lease through both servers at once, each host's agent asking
# both (agents behind a load balancer, or one retrying against the other server).
port_c=$(free_port)
start_server c "$port_c"
port_other=$([[ $other == a ]] && echo "$port_a" || echo "$port_b")
for h in "${hosts[@]}"; do echo "$h ${agent[$h]}"; done >"$work/agents.txt"
# One python process plays the agents (a process per request is slow on a loaded machine): a
# thread per host and server leases until two answers in a row are empty, then every lease is
# reported, alternately through each server.
python3 - "$work/agents.txt" "$port_c" "$port_other" "$actions" >"$work/agents.out" 2>&1 <<'EOF' \
  || fail "agents: $(cat "$work/agents.out")"
import json, sys, threading, urllib.error, urllib.request
tokens = dict(line.split() for line in open(sys.argv[1]))
ports, want = sys.argv[2:4], int(sys.argv[4])
def post(port, path, token, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
leases, errors, lock = [], [], threading.Lock()
def lease_all(host, port):
    empty = 0
    while empty < 2:
        status, answer = post(port, "/v1/agent/actions/lease", tokens[host], {"max": 3})
        if status != 200:
            with lock: errors.append(f"lease {host} on :{port}: {status} {answer}")
            return
        empty = empty + 1 if not answer["actions"] else 0
        with lock: leases.extend((a["id"], a["lease"]["id"], host) for a in answer["actions"])
threads = [threading.Thread(target=lease_all, args=(h, p)) for h in tokens for p in ports]
for t in threads: t.start()
for t in threads: t.join()
if errors: sys.exit("\n".join(errors))
ids = [l[0] for l in leases]
twice = sorted({i for i in ids if ids.count(i) > 1})
if twice: sys.exit(f"actions leased twice: {twice}")
if len(ids) != want: sys.exit(f"{len(ids)} actions leased, want {want}")
for n, (id, lease, host) in enumerate(leases):
    status, answer = post(ports[n % 2], f"/v1/agent/actions/{id}/outcome", tokens[host],
                          {"lease_id": lease, "result": "success"})
    if status != 200 or answer["repeated"]:
        sys.exit(f"outcome of action {id} on :{ports[n % 2]}: {status} {answer}")
print(f"{len(ids)} actions leased once and reported once")
EOF
[[ $(pg_psql -c "SELECT count(*) FROM action_queue WHERE state = 'done' AND attempts = 1") -eq $actions ]] \
  || fail "actions not each leased once and done: $(pg_psql -c "SELECT state, attempts, count(*) FROM action_queue GROUP BY 1, 2")"
for kind in action_leased action_outcome; do
  [[ $(audited $kind) -eq $actions ]] || fail "$(audited $kind) $kind records, want $actions"
done

echo "pg_fleet: agents done at ${SECONDS} s" >&2
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

echo "pg_fleet: checks done at ${SECONDS} s" >&2
# migrate: a SQLite store into a fresh schema, verified; a second run is refused.
"$CERTCAST" ingest --db "$work/host.db" "$work/fleet.jsonl" 2>/dev/null
"$CERTCAST" token create --db "$work/host.db" --name local --scope read >/dev/null
"$CERTCAST" plan --db "$work/host.db" --at 2026-11-01T00:00:00Z >/dev/null 2>"$work/plan.log" || fail "plan on SQLite"
"$CERTCAST" silence add --db "$work/host.db" --by alice --for 4h --host web1 --comment maintenance \
  >/dev/null 2>"$work/silence.log" || fail "silence add: $(cat "$work/silence.log")"
# Finished actions (one of each final state, leased or not, ids with a gap) are copied as they are.
for row in "7,'web1','done',2,'{\"ok\":true}'" "8,'web2','failed',3,'{\"ok\":false}'" \
           "9,'web1','cancelled',0,'cancelled by alice'" "12,'web3','expired',1,'superseded'"; do
  sqlite3 "$work/host.db" "INSERT INTO action_queue (id, host, state, attempts, outcome, cert, kind, \
    parameters, decision_seq, needs_approval, created, expires, finished) VALUES ($row, 'shop', \
    'renew', '{}', 1, 0, 0, 1, 2)"
done
pg_psql -c "CREATE SCHEMA moved"
target="$db?options=-csearch_path%3Dmoved"
"$CERTCAST" migrate --from "$work/host.db" --to "$target" >"$work/migrate.txt" 2>"$work/migrate.log" \
  || fail "migrate: $(cat "$work/migrate.log")"
grep -q "^events: $lines copied, 0 already there" "$work/migrate.txt" || fail "migrate: $(cat "$work/migrate.txt")"
grep -q "every hash equal to the source's" "$work/migrate.txt" || fail "migrate: $(cat "$work/migrate.txt")"
[[ $(pg_psql -c "SELECT count(*) FROM moved.events") -eq $lines ]] || fail "migrate: events"
[[ $(pg_psql -c "SELECT count(*) FROM moved.tokens") -eq 1 ]] || fail "migrate: tokens"
[[ $(pg_psql -c "SELECT count(*) FROM moved.audit WHERE kind = 'plan'") -eq 1 ]] || fail "migrate: audit"
[[ $(pg_psql -c "SELECT created_by || ' ' || matcher || ' ' || value FROM moved.silences") == "alice host web1" ]] \
  || fail "migrate: silences"
grep -q "action queue: 4 finished actions copied (1 done, 1 failed, 1 cancelled, 1 expired, ids kept)" \
  "$work/migrate.txt" || fail "migrate: actions: $(cat "$work/migrate.txt")"
want=$(sqlite3 -separator ' ' "$work/host.db" "SELECT id, host, state, attempts, outcome, finished FROM action_queue ORDER BY id")
got=$(pg_psql -F ' ' -c "SELECT id, host, state, attempts, outcome, finished FROM moved.action_queue ORDER BY id")
[[ "$got" == "$want" ]] || fail "migrate: finished actions differ: source '$want', target '$got'"
"$CERTCAST" audit --db "$target" --verify >"$work/verify2.txt" 2>&1 || fail "migrated audit: $(cat "$work/verify2.txt")"
if "$CERTCAST" migrate --from "$work/host.db" --to "$target" >/dev/null 2>"$work/again.log"; then
  fail "migrate into a non-empty store succeeded"
fi
grep -q "the target store is not empty ($lines events" "$work/again.log" || fail "migrate again: $(cat "$work/again.log")"
# An action still queued for an agent is not moved, and nothing is copied while one is open.
sqlite3 "$work/host.db" "INSERT INTO action_queue (host, cert, kind, parameters, decision_seq, \
  needs_approval, state, created, expires) VALUES ('web1', 'shop', 'renew', '{}', 1, 0, 'queued', 0, 1)"
pg_psql -c "CREATE SCHEMA refused"
if "$CERTCAST" migrate --from "$work/host.db" --to "$db?options=-csearch_path%3Drefused" >/dev/null 2>"$work/open.log"; then
  fail "migrate with an action queued for an agent succeeded"
fi
grep -q "host.db: 1 actions are queued or leased for agents; nothing was copied" "$work/open.log" \
  || fail "migrate with an open action: $(cat "$work/open.log")"
[[ $(pg_psql -c "SELECT count(*) FROM refused.events") -eq 0 ]] || fail "migrate refused but copied events"
echo "pg_fleet: ok (leader $leader killed mid-plan, takeover in $takeover s, $actions actions leased and reported once; ${SECONDS} s in all)"
