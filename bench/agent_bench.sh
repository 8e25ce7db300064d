#!/usr/bin/env bash
# The agent at fleet scale, on one machine in one run (issue #17):
#  1. one `certcast serve` on a fresh store, AGENTS tokens (scope agent, one per host);
#  2. bench_agent_fleet_load: one process playing AGENTS real agents (agent::Agent: own token,
#     spool, outbox in its own state directory), ROUNDS cycles each with EVENTS new events per
#     agent per cycle (collect from the spool, fsynced outbox append, gzip POST, acknowledgement);
#     events/s accepted over the cycles' wall time, and the server's CPU (utime + stime of its
#     PID from /proc/PID/stat) over the whole load, per agent per cycle and per agent per hour
#     at the default --interval of 5m (12 cycles an hour);
#  3. the same events stored by local `certcast ingest` into a fresh store: wall and CPU seconds,
#     events/s.
# Usage: BUILD=build bench/agent_bench.sh [AGENTS] [ROUNDS] [EVENTS]   (run it with `nice`)
# Needs a build with -DCERTCAST_BENCH=ON (bench_agent_fleet_load).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/${BUILD:-build}
CERTCAST=${CERTCAST:-$BUILD_DIR/certcast}
LOAD=$BUILD_DIR/bench/bench_agent_fleet_load
AGENTS=${1:-1000}
ROUNDS=${2:-3}
EVENTS=${3:-20}
THREADS=${THREADS:-8}
work=$(mktemp -d "${TMPDIR:-/tmp}/agent-bench.XXXXXX")
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
[[ -x "$LOAD" ]] || { echo "agent_bench: $LOAD missing: build with -DCERTCAST_BENCH=ON" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of PID, in clock ticks
hz=$(getconf CLK_TCK)

db=$work/fleet.db
t0=$(date +%s.%N)
"$LOAD" --setup "$db" --root "$work" --agents "$AGENTS"
echo "tokens: $AGENTS made in $(echo "$(date +%s.%N) - $t0" | bc) s"

port=$(free_port)
"$CERTCAST" serve --db "$db" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
before=$(cpu_ticks "$server_pid")
result=$("$LOAD" --server "http://127.0.0.1:$port" --root "$work" --agents "$AGENTS" --rounds "$ROUNDS" \
  --events "$EVENTS" --threads "$THREADS" --events-out "$work/all.jsonl")
after=$(cpu_ticks "$server_pid")
echo "load: $result"
server_cpu=$(echo "scale=3; ($after - $before) / $hz" | bc)
rows=$(sqlite3 "$db" "SELECT count(*) FROM events")
echo "server: $rows events stored; CPU ${server_cpu} s over $((AGENTS * ROUNDS)) agent cycles"
echo "server CPU per agent cycle: $(echo "scale=3; $server_cpu * 1000 / ($AGENTS * $ROUNDS)" | bc) ms;" \
     "per agent per hour at 12 cycles/h: $(echo "scale=3; $server_cpu * 1000 * 12 / ($AGENTS * $ROUNDS)" | bc) ms"

# The same events, stored locally.
/usr/bin/time -f "%e %U %S" -o "$work/ingest.time" "$CERTCAST" ingest --db "$work/local.db" "$work/all.jsonl" 2>/dev/null
read -r wall user sys <"$work/ingest.time"
n=$(wc -l <"$work/all.jsonl")
echo "local ingest: $n events in ${wall} s wall, $(echo "$user + $sys" | bc) s CPU: $(echo "$n / $wall" | bc) events/s"
