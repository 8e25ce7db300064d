#!/usr/bin/env bash
# The fleet server against the tools a user would otherwise run, on one machine in one run:
#  1. ingest: the same N events (bench/gen_events.py, default 2,000,000) stored by local
#     `certcast ingest` into a fresh store, and posted to `certcast serve` over HTTP into another
#     fresh store (CHUNK lines per request, PARALLEL requests at a time, curl), once per
#     INGEST_DEBOUNCES value (default "5s 1h"); wall seconds and events/s of each, and the ratios;
#  2. reads: a store of LINEAGES lineages (default 100,000: a config, an issued certificate and a
#     TLS probe each; no model, so risk is null), served; `wrk` against GET /v1/lineages (first
#     page, 100 items) and GET /v1/lineages/{cert} (a random lineage per request): once at a fixed
#     rate (RATE req/s in total, default 500, through a per-request delay in a wrk Lua script:
#     wrk has no rate option and wrk2 is not in Debian) and once at maximum throughput; requests/s
#     and the p50/p99 latency wrk reports. RECENT=R adds R TLS probes per lineage in the 72 h
#     before the run (events for the detail route to read; default 0); MODES picks the routes
#     (default "list detail").
# Usage: BUILD=build [EVENTS=FILE] bench/serve_bench.sh [N] [LINEAGES]   (prints a report; run it with `nice`)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTCAST=${CERTCAST:-$ROOT/${BUILD:-build}/certcast}
N=${1:-2000000}
LINEAGES=${2:-100000}
CHUNK=${CHUNK:-10000}
PARALLEL=${PARALLEL:-2}
RATE=${RATE:-500}
DURATION=${DURATION:-30s}
work=$(mktemp -d "${TMPDIR:-/tmp}/serve-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
serve() {  # serve DB PORT LOG [FLAGS...]: starts the server, waits for /healthz
  "$CERTCAST" serve --db "$1" --listen "127.0.0.1:$2" "${@:4}" >"$3" 2>&1 &
  pids+=($!)
  for _ in $(seq 6000); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "server on $2 did not come up: $(tail -5 "$3")" >&2
  exit 1
}
stop_last() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start; $(git -C "$ROOT" rev-parse --short HEAD)"

# ---- 1. ingest
if [[ ${SKIP_INGEST:-0} != 1 ]]; then
# EVENTS: an events file bench/gen_events.py wrote before (N "$EVENTS" --seed 1), reused.
if [[ -n ${EVENTS:-} ]]; then ln -s "$EVENTS" "$work/events.jsonl"
else python3 "$ROOT/bench/gen_events.py" "$N" "$work/events.jsonl" --seed 1; fi
split -l "$CHUNK" -d -a 5 "$work/events.jsonl" "$work/chunk."
t0=$(now)
# CPU seconds beside the wall: on a shared machine the wall measures the scheduler's share as much
# as the work; user + system time of the process that does it is the work.
TIMEFORMAT='%U %S'
local_cpu=$( { time "$CERTCAST" ingest --db "$work/local.db" "$work/events.jsonl" 2>"$work/local.log"; } 2>&1 |
  awk '{printf "%.1f", $1 + $2}')
t1=$(now)
local_s=$(echo "$t1 - $t0" | bc -l)

stored_local="$("$CERTCAST" stats --db "$work/local.db" 2>/dev/null | awk '/^events:/ {print $2; exit}') stored"
printf 'ingest of %d events: local %.1f s (%.0f events/s, %s; %s CPU s); uptime: %s\n' \
  "$N" "$local_s" "$(echo "$N / $local_s" | bc -l)" "$stored_local" "$local_cpu" "$(uptime)"
# INGEST_DEBOUNCES: how soon the server re-plans after posted events, one HTTP run each (the
# server's default 5s; 1h measures the HTTP path without the fleet view's refreshes competing
# for the CPU, so the two runs split the refreshes' share from the HTTP path's).
for debounce in ${INGEST_DEBOUNCES:-5s 1h}; do
  rm -f "$work/http.db"*
  "$CERTCAST" token create --db "$work/http.db" --name bench --scope ingest >"$work/ingest.token"
  port=$(free_port)
  serve "$work/http.db" "$port" "$work/serve-ingest.log" --ingest-debounce "$debounce"
  export TOKEN=$(cat "$work/ingest.token") URL="http://127.0.0.1:$port/v1/events"
  t0=$(now)
  ls "$work"/chunk.* | xargs -P "$PARALLEL" -I{} sh -c \
    'code=$(curl -s -o /dev/null -w "%{http_code}" -X POST -H "Authorization: Bearer $TOKEN" \
       -H "Content-Type: application/x-ndjson" --data-binary @{} "$URL"); [ "$code" = 200 ] || { echo "{}: $code" >&2; exit 255; }'
  t1=$(now)
  http_s=$(echo "$t1 - $t0" | bc -l)
  # The server's user + system CPU seconds (its preview plans included), from /proc.
  server_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/${pids[-1]}/stat")
  stop_last
  stored_http="$("$CERTCAST" stats --db "$work/http.db" 2>/dev/null | awk '/^events:/ {print $2; exit}') stored"
  printf '  HTTP, --ingest-debounce %s: %.1f s (%.0f events/s, %s; %d lines per request, %d at a time; server %s CPU s): HTTP/local = %.0f %%; uptime: %s\n' \
    "$debounce" "$http_s" "$(echo "$N / $http_s" | bc -l)" "$stored_http" "$CHUNK" "$PARALLEL" "$server_cpu" \
    "$(echo "100 * $local_s / $http_s" | bc -l)" "$(uptime)"
done
rm -f "$work"/chunk.* "$work/local.db"* "$work/http.db"*
fi

[[ ${SKIP_READS:-0} == 1 ]] && exit 0

# ---- 2. reads on a LINEAGES-lineage store
recent=()
((${RECENT:-0} == 0)) || recent=(--recent "$RECENT" --now "$(date -u +%FT%TZ)")
python3 "$ROOT/bench/gen_lineages.py" "$LINEAGES" "$work/lineages.jsonl" "${recent[@]}"
"$CERTCAST" ingest --db "$work/fleet.db" "$work/lineages.jsonl" 2>/dev/null
echo "read store: $(wc -l <"$work/lineages.jsonl") events ($LINEAGES lineages, ${RECENT:-0} recent TLS probes each)"
"$CERTCAST" token create --db "$work/fleet.db" --name bench --scope read >"$work/read.token"
port=$(free_port)
t0=$(now)
serve "$work/fleet.db" "$port" "$work/serve-read.log"
t1=$(now)
printf 'read store: %d lineages; server up with its first plan in %.1f s\n' "$LINEAGES" "$(echo "$t1 - $t0" | bc -l)"

export TOKEN=$(cat "$work/read.token") LINEAGES
connections=10
for mode in ${MODES:-list detail}; do
  # Fixed rate: each of the connections waits connections/RATE s before each request, so the
  # offered load is at most RATE req/s (less by the service time).
  delay=$(echo "1000 * $connections / $RATE" | bc)
  WRK_MODE=$mode WRK_DELAY_MS=$delay wrk -t2 -c$connections -d"$DURATION" --latency -s "$ROOT/bench/lineages_wrk.lua" \
    "http://127.0.0.1:$port" >"$work/wrk-$mode-rate.txt" 2>&1
  WRK_MODE=$mode wrk -t2 -c$connections -d"$DURATION" --latency -s "$ROOT/bench/lineages_wrk.lua" \
    "http://127.0.0.1:$port" >"$work/wrk-$mode-max.txt" 2>&1
  for kind in rate max; do
    f="$work/wrk-$mode-$kind.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$f")
    p50=$(awk '$1 == "50%" {print $2}' "$f")
    p99=$(awk '$1 == "99%" {print $2}' "$f")
    errors=$(grep -E 'Non-2xx|Socket errors' "$f" | tr '\n' ' ' || true)
    label=$([[ $kind == rate ]] && echo "at <= $RATE req/s offered" || echo "max throughput")
    echo "GET /v1/lineages$([[ $mode == detail ]] && echo '/{cert}') ($label, $connections connections, $DURATION): $rps req/s, p50 $p50, p99 $p99 ${errors}"
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
