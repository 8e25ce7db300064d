#!/usr/bin/env bash
# Plan and API latency on one large fleet, PostgreSQL beside SQLite on the same data, in one run:
#  1. LINEAGES lineages (default 1,000,000; bench/gen_lineages.py), each a config, an issued
#     certificate and PROBES TLS probes a day apart (default 3), stored by `certcast ingest` into a fresh SQLite file and into
#     a fresh PostgreSQL 15 this script starts (initdb + pg_ctl, PostgreSQL's default settings:
#     fsync on; pg_stat_statements loaded); events stored and size on disk of each;
#  2. `certcast plan` on each (the first plan: no checkpoint, every event folded; then the next
#     one, from the checkpoint), wall time and peak RSS from /usr/bin/time -v;
#  3. `certcast serve` on each in turn (up once its first plan is done), then wrk 4.1 (2 threads,
#     10 connections, DURATION each, at maximum throughput) against GET /v1/lineages (first page)
#     and GET /v1/lineages/{cert} (a random lineage per request, wrk Lua script as in
#     bench/serve_bench.sh): requests/s, p50 and p99; on PostgreSQL also what each request cost
#     the database, from pg_stat_statements (loaded by this script): statements run (each one
#     round trip), and server time executing and planning them.
# No model: risk is null, as in serve_bench.sh. Not run in CI. Prints a report; run it with `nice`.
# Usage: BUILD=build bench/pg_scale.sh [LINEAGES]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTCAST=${CERTCAST:-$ROOT/${BUILD:-build}/certcast}
LINEAGES=${1:-1000000}
PROBES=${PROBES:-3}
DURATION=${DURATION:-15s}
AT=2026-11-20T00:00:00Z
source "$ROOT/bench/pg_bench_lib.sh"
pg_bench_begin pg-scale
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$@"; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start; $(git -C "$ROOT" rev-parse --short HEAD)"
python3 "$ROOT/bench/gen_lineages.py" "$LINEAGES" "$work/fleet.jsonl" --probes "$PROBES"
lines=$(wc -l <"$work/fleet.jsonl")
pg_bench_start_pg
sqlite=$work/fleet.db

declare -A ingest_s stored size
t0=$(now); "$CERTCAST" ingest --db "$sqlite" "$work/fleet.jsonl" 2>/dev/null; t1=$(now)
ingest_s[sqlite]=$(secs "$t0" "$t1")
t0=$(now); "$CERTCAST" ingest --db "$pg" "$work/fleet.jsonl" 2>/dev/null; t1=$(now)
ingest_s[postgresql]=$(secs "$t0" "$t1")
stored[sqlite]=$(sqlite3 "$sqlite" "SELECT count(*) FROM events")
stored[postgresql]=$(pg_psql -c "SELECT count(*) FROM certcast.events")
sqlite3 "$sqlite" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
size[sqlite]=$(du -sh "$sqlite" | cut -f1)
size[postgresql]=$(pg_psql -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c
                               JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname = 'certcast' AND c.relkind IN ('r', 'm', 't')")
for store in sqlite postgresql; do
  echo "$store: $lines lines, ${stored[$store]} events stored in ${ingest_s[$store]} s, ${size[$store]} on disk"
done

# ---- plan: the first (every event folded, a checkpoint written), then the next (from it)
declare -A db=([sqlite]=$sqlite [postgresql]=$pg)
for store in sqlite postgresql; do
  for run in first next; do
    /usr/bin/time -v "$CERTCAST" plan --db "${db[$store]}" --at "$AT" >"$work/plan-$store-$run.jsonl" \
      2>"$work/time-$store-$run.txt" || { tail -5 "$work/time-$store-$run.txt" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time-$store-$run.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MB", $2 / 1024}' "$work/time-$store-$run.txt")
    echo "$store: certcast plan ($run) ${wall} wall, peak RSS $rss, $(wc -l <"$work/plan-$store-$run.jsonl") actions"
  done
done

# ---- API reads against certcast serve on each store in turn
export LINEAGES
for store in sqlite postgresql; do
  export TOKEN=$("$CERTCAST" token create --db "${db[$store]}" --token-key "$work/token.key" --name "bench-$store" --scope read)
  t0=$(now)
  pg_bench_serve "$CERTCAST" "${db[$store]}" "$work/serve-$store.log"
  t1=$(now)
  echo "$store: certcast serve up with its first plan in $(secs "$t0" "$t1") s"
  for mode in list detail; do
    [[ $store == postgresql ]] && pg_psql -c "SELECT pg_stat_statements_reset()" >/dev/null
    WRK_MODE=$mode wrk -t2 -c10 -d"$DURATION" --latency -s "$ROOT/bench/lineages_wrk.lua" "http://127.0.0.1:$port" \
      >"$work/wrk-$store-$mode.txt" 2>&1
    f="$work/wrk-$store-$mode.txt"
    errors=$(grep -E 'Non-2xx|Socket errors' "$f" | tr '\n' ' ' || true)
    echo "$store: GET /v1/lineages$([[ $mode == detail ]] && echo '/{cert}') (max throughput, 10 connections, $DURATION):" \
      "$(awk '/Requests\/sec/ {print $2}' "$f") req/s, p50 $(awk '$1 == "50%" {print $2}' "$f"), p99 $(awk '$1 == "99%" {print $2}' "$f") $errors"
    if [[ $store == postgresql ]]; then
      requests=$(awk '/requests in/ {print $1}' "$f")
      pg_psql -c "SELECT format('postgresql: per request: %s statements (round trips), server time %s ms executing, %s ms planning',
                                round(sum(calls) / $requests, 2), round((sum(total_exec_time) / $requests)::numeric, 3),
                                round((sum(total_plan_time) / $requests)::numeric, 3))
                  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"
    fi
  done
  kill "$server"; wait "$server" 2>/dev/null || true; server=
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
