#!/usr/bin/env bash
# `certcast agent` against a real `certcast serve` on 127.0.0.1: three agents (hosts h1, h2, h3)
# with their own tokens, spools and state directories, and the faults of issue #17 injected for
# real: the server stopped during delivery and restarted on the same port, kill -9 of an agent in
# the middle of a push, the same batch delivered twice, a revoked token, an agent whose clock is
# 10 minutes ahead (CERTCAST_TEST_CLOCK_OFFSET, a test-only seam). Each step checks against the
# store: every event collected is stored once (rows per host = events written to the host's
# spool), and batches arrive in order (the store's append log: each append's earliest event time
# grows, since each host's events are written in time order and one agent runs at a time).
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

db="$work/fleet.db"
port=$(free_port)
base="http://127.0.0.1:$port"
for h in h1 h2 h3; do
  "$CERTCAST" token create --db "$db" --name "$h" --scope agent --host "$h" >"$h.token"
  chmod 600 "$h.token"
  mkdir -m 700 "spool-$h"
done

start_server() {
  start serve "$CERTCAST" serve --db "$db" --listen "127.0.0.1:$port" --threads 4
  server_pid=${pids[-1]}
  wait_tcp "$port"
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" 2>/dev/null || true
}

# spool HOST FIRST COUNT [TS_BASE]: a spool file (as `certcast hook` writes them) with deploy
# events seq FIRST..FIRST+COUNT-1 about HOST, one second apart from TS_BASE (epoch seconds).
spool() {
  python3 - "$work/spool-$1" "$1" "$2" "$3" "${4:-1796000000}" <<'PY'
import datetime, os, sys
d, host, first, count, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
name = "%s-%d.jsonl" % (datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%S.%fZ"), first)
with open(os.path.join(d, "." + name + ".tmp"), "w") as f:
    for k in range(first, first + count):
        ts = datetime.datetime.utcfromtimestamp(base + k).strftime("%Y-%m-%dT%H:%M:%SZ")
        f.write('{"ts":"%s","type":"deploy","cert":"site-%s","host":"%s","outcome":"success","detail":"seq %d"}\n'
                % (ts, host, host, k))
os.rename(os.path.join(d, "." + name + ".tmp"), os.path.join(d, name))
PY
}
rows() { sqlite3 "$db" "SELECT count(*) FROM events WHERE json LIKE '%\"host\":\"$1\"%' AND type = 3"; }
appends() { sqlite3 "$db" "SELECT count(*) FROM event_appends"; }
# in_order SINCE: the appends after SINCE have strictly growing earliest event times.
in_order() {
  local bad
  bad=$(sqlite3 "$db" "SELECT count(*) FROM event_appends a JOIN event_appends b ON b.seq = a.seq + 1
                       WHERE a.seq > $1 AND b.min_ts <= a.min_ts")
  [[ $bad == 0 ]] || fail "$bad batches stored out of order after append $1: $(sqlite3 "$db" "SELECT * FROM event_appends WHERE seq > $1")"
}
agent() {  # HOST ARGS...: the agent of HOST, its spool, no discovery, short retries
  local h=$1; shift
  ${agent_exec:+exec} "$CERTCAST" agent --server "$base" --token-file "$h.token" --state-dir "$work/state-$h" --host "$h" \
    --spool-dir "$work/spool-$h" --discover-root "" --retry-min 100ms --retry-max 1s --timeout 5s "$@"
}
# agent_bg HOST ARGS... &: the same, exec'ed, so that $! is the agent's own PID.
agent_bg() { agent_exec=1 agent "$@"; }
outbox_lines() { cat "$work/state-$1"/outbox/*.jsonl 2>/dev/null | wc -l; }

start_server

# ---- three agents, distinct hosts; h3's clock 10 minutes ahead ---------------------------------
spool h1 1 50
spool h2 1 50
now=$(date +%s)
spool h3 1 50 $((now + 600 - 100))   # written by h3's hook, with h3's clock: up to 10 min ahead
printf '{"ts":"2026-12-01T00:00:00Z","type":"deploy","cert":"x","host":"h2","outcome":"success","detail":"stray"}\n' \
  >"spool-h1/20261201T000000.000000Z-9.jsonl"
agent h1 --once 2>h1.log || fail "h1 --once: $(cat h1.log)"
agent h2 --once 2>h2.log || fail "h2 --once: $(cat h2.log)"
CERTCAST_TEST_CLOCK_OFFSET=10m agent h3 --once 2>h3.log || fail "h3 --once: $(cat h3.log)"
for h in h1 h2 h3; do [[ $(rows $h) == 50 ]] || fail "$h: $(rows $h) rows, want 50"; done
# h3's own log lines carry its clock: 10 minutes ahead of this machine's.
h3_ts=$(grep -o '"ts":"[^"]*"' h3.log | head -1 | cut -d'"' -f4)
skew=$(( $(date -d "$h3_ts" +%s) - $(date +%s) ))
(( skew > 540 && skew < 660 )) || fail "h3's clock is off by ${skew}s, want about 600"
# The stray line about h2 in h1's spool did not block h1: it waits in h1's dead-letter file, and
# nothing of it reached the store.
grep -q '"error":"about host \\"h2\\", not this agent.s host \\"h1\\"' state-h1/dead-letter.jsonl ||
  fail "stray line not dead-lettered: $(cat state-h1/dead-letter.jsonl 2>&1)"
[[ $(rows h2) == 50 ]] || fail "the stray h2 line was stored"
[[ $(stat -c %a state-h1) == 700 && $(stat -c %a state-h1/outbox) == 700 &&
   $(stat -c %a state-h1/dead-letter.jsonl) == 600 ]] || fail "state files are not private"
# A second --once over the same spool queues nothing again and exits 0.
agent h1 --once 2>h1.log || fail "h1 second --once: $(cat h1.log)"
grep -q '"queued":"0"' h1.log || fail "h1 queued the spool again: $(cat h1.log)"

# ---- the server goes away during delivery and comes back on the same port -----------------------
mark=$(appends)
agent_bg h1 --interval 1s 2>h1-loop.log &
agent_pid=$!
pids+=("$agent_pid")
spool h1 51 20
for _ in $(seq 100); do [[ $(rows h1) == 70 ]] && break; sleep 0.1; done
[[ $(rows h1) == 70 ]] || fail "h1 loop: $(rows h1) rows, want 70"
stop_server
spool h1 71 30
spool h1 101 30
for _ in $(seq 100); do [[ $(outbox_lines h1) == 60 ]] && break; sleep 0.1; done
[[ $(outbox_lines h1) == 60 ]] || fail "server down: $(outbox_lines h1) lines wait in h1's outbox, want 60"
cat state-h1/outbox/*.jsonl >duplicate-batch.jsonl   # for the duplicated delivery below
start_server
for _ in $(seq 150); do [[ $(rows h1) == 130 ]] && break; sleep 0.1; done
[[ $(rows h1) == 130 ]] || fail "after the server came back: h1 has $(rows h1) rows, want 130"
kill -TERM "$agent_pid"
rc=0; wait "$agent_pid" || rc=$?
[[ $rc == 0 ]] || fail "h1 agent after SIGTERM: exit $rc: $(tail -3 h1-loop.log)"
[[ $(outbox_lines h1) == 0 ]] || fail "h1's outbox still holds $(outbox_lines h1) lines"
in_order "$mark"

# ---- the same batch delivered twice: stored once ------------------------------------------------
answer=$(curl -sS -H "Authorization: Bearer $(cat h1.token)" --data-binary @duplicate-batch.jsonl "$base/v1/events")
[[ $(field "$answer" duplicates) == 60 && $(field "$answer" stored) == 0 ]] ||
  fail "duplicate delivery: $answer"
[[ $(rows h1) == 130 ]] || fail "duplicate delivery changed h1's rows: $(rows h1)"

# ---- the outbox bound while the server is away: oldest dropped, the drop reported -----------------
stop_server
spool h1 131 200   # about 23 KB of lines; the bound is 8 KB
rc=0; agent h1 --once --outbox-max-bytes 8192 --batch-bytes 2048 2>h1.log || rc=$?
[[ $rc == 3 ]] || fail "h1 with the server down: exit $rc, want 3: $(cat h1.log)"
kept=$(outbox_lines h1)
(( kept > 0 && kept < 100 )) || fail "bounded outbox kept $kept lines"
start_server
agent h1 --once --outbox-max-bytes 8192 --batch-bytes 2048 2>h1.log || fail "h1 after the drop: $(cat h1.log)"
[[ $(rows h1) == $((130 + kept)) ]] || fail "after the drop: h1 has $(rows h1) rows, want $((130 + kept))"
[[ $(sqlite3 "$db" "SELECT count(*) FROM events WHERE json LIKE '%\"detail\":\"seq 330\"%'") == 1 &&
   $(sqlite3 "$db" "SELECT count(*) FROM events WHERE json LIKE '%\"detail\":\"seq 131\"%'") == 0 ]] ||
  fail "the bound did not drop the oldest lines first"
[[ $(sqlite3 "$db" "SELECT count(*) FROM events WHERE json LIKE '%\"type\":\"host\",\"host\":\"h1\",\"event\":\"telemetry_dropped\"%'") == 1 ]] ||
  fail "the drop was not reported as a host event: $(cat h1.log)"
grep -q '"msg":"outbox bound dropped events while the server was away"' h1.log || fail "drop not logged: $(cat h1.log)"
h1_rows=$(rows h1)

# ---- kill -9 of an agent in the middle of a push ------------------------------------------------
spool h2 51 40000
mark=$(appends)
agent_bg h2 --once --batch-bytes 32768 2>h2-killed.log &
agent_pid=$!
for _ in $(seq 600); do (( $(appends) >= mark + 3 )) && break; sleep 0.02; done
before_kill=$(rows h2)
kill -KILL "$agent_pid" 2>/dev/null || fail "h2 agent ended before it could be killed mid-push"
wait "$agent_pid" 2>/dev/null || true
(( before_kill > 50 && before_kill < 40050 )) || fail "kill -9 did not land mid-push: $before_kill rows"
agent h2 --once --batch-bytes 32768 2>h2.log || fail "h2 after kill -9: $(cat h2.log)"
[[ $(rows h2) == 40050 ]] || fail "after kill -9 and restart: h2 has $(rows h2) rows, want 40050"
in_order "$mark"

# ---- a revoked token stops the agent; its events wait ---------------------------------------------
"$CERTCAST" token revoke --db "$db" h3 2>/dev/null
spool h3 51 5 $((now + 600 - 100))
rc=0; CERTCAST_TEST_CLOCK_OFFSET=10m agent h3 --once 2>h3.log || rc=$?
[[ $rc == 4 ]] || fail "revoked h3: exit $rc, want 4: $(cat h3.log)"
grep -q 'refused this agent.s token (HTTP 401, unknown or revoked token): token "h3" is revoked' h3.log ||
  fail "revoked h3: $(cat h3.log)"
[[ $(outbox_lines h3) == 5 && $(rows h3) == 50 ]] ||
  fail "revoked h3: $(outbox_lines h3) lines wait (want 5), $(rows h3) rows (want 50)"
grep -qF "$(cat h3.token)" h3.log && fail "the token appears in the agent's log"
[[ $(rows h1) == "$h1_rows" ]] || fail "h1's rows changed"
# ---- the dead-letter bound: the oldest records dropped, the drop reported as an event -------------
# 100 lines about another host (h9) in h2's spool, each dead-lettered (about 300 bytes a record),
# against a bound of 8 KB; one line of h2's own so that the server answers and the drop is reported.
for k in $(seq 1 100); do
  printf '{"ts":"2026-12-02T00:%02d:%02dZ","type":"deploy","cert":"site-h9","host":"h9","outcome":"success","detail":"stray %d"}\n' \
    $((k / 60)) $((k % 60)) "$k"
done >"spool-h2/20261202T000000.000000Z-1.jsonl"
spool h2 40051 1
agent h2 --once --dead-letter-max-bytes 8192 2>h2-dead.log || fail "h2 with the dead-letter bound: $(cat h2-dead.log)"
dead_bytes=$(cat state-h2/dead-letter.jsonl state-h2/dead-letter.old.jsonl 2>/dev/null | wc -c)
(( dead_bytes > 0 && dead_bytes <= 8192 )) || fail "dead-letter files hold $dead_bytes bytes, bound 8192"
grep -qF 'stray 100\"' state-h2/dead-letter.jsonl || fail "the newest dead letter was not kept"
grep -qF 'stray 1\"' state-h2/dead-letter*.jsonl && fail "the oldest dead letter was not dropped"
grep -q '"msg":"dead-letter bound dropped its oldest records"' h2-dead.log || fail "dead-letter drop not logged: $(cat h2-dead.log)"
# The report may leave with this run's last batch or with the next run's first.
agent h2 --once --dead-letter-max-bytes 8192 2>>h2-dead.log || fail "h2 after the drop: $(cat h2-dead.log)"
[[ $(sqlite3 "$db" "SELECT count(*) FROM events WHERE json LIKE '%\"type\":\"host\",\"host\":\"h2\",\"event\":\"dead_letter_dropped\"%'") == 1 ]] ||
  fail "the dead-letter drop was not reported once as a host event: $(cat h2-dead.log)"
[[ ! -e state-h2/dead-letter.dropped ]] || fail "the reported drop is still pending: $(cat state-h2/dead-letter.dropped)"
[[ $(rows h9) == 0 ]] || fail "h9's stray lines reached the store"

echo "agent_fleet: ok ($(rows h1) + $(rows h2) + $(rows h3) rows; $kept of 200 kept by the bound; kill -9 after $before_kill rows of h2)"
