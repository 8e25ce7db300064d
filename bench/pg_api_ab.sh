#!/usr/bin/env bash
# API reads of two certcast binaries on the same data, SQLite beside PostgreSQL, alternating in one
# run: LINEAGES lineages (bench/gen_lineages.py, 3 probes each) stored once into a SQLite file and
# into a PostgreSQL 15 this script starts (default settings plus pg_stat_statements); then ROUNDS
# times, for each store, for each binary (OLD, then NEW): `certcast serve`, wrk 4.1 against
# GET /v1/lineages and GET /v1/lineages/{cert} (bench/lineages_wrk.lua) with 1 connection (5 s) and
# 10 connections (10 s), each line with the load average beside it; on PostgreSQL the calls, plans
# and mean execution and planning time of the two statements those routes run.
# Not run in CI. Usage: OLD=path/to/certcast NEW=build/certcast nice bash bench/pg_api_ab.sh [LINEAGES]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=${OLD:?OLD=path of the certcast binary before the change}
NEW=${NEW:-$ROOT/build/certcast}
export LINEAGES=${1:-20000}
ROUNDS=${ROUNDS:-3}
source "$ROOT/bench/pg_bench_lib.sh"
pg_bench_begin pg-api-ab

python3 "$ROOT/bench/gen_lineages.py" "$LINEAGES" "$work/fleet.jsonl" --probes 3
pg_bench_start_pg
declare -A db=([sqlite]=$work/fleet.db [postgresql]=$pg)
declare -A bin=([old]=$OLD [new]=$NEW)
for store in sqlite postgresql; do "$NEW" ingest --db "${db[$store]}" "$work/fleet.jsonl" 2>/dev/null; done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); old $OLD, new $NEW"
for round in $(seq 1 "$ROUNDS"); do
  for store in sqlite postgresql; do
    for which in old new; do
      B=${bin[$which]}
      export TOKEN=$("$B" token create --db "${db[$store]}" --token-key "$work/token.key" \
        --name "ab-$store-$which-$round" --scope read)
      pg_bench_serve "$B" "${db[$store]}" "$work/serve.log"
      [[ $store == postgresql ]] && pg_psql -c "SELECT pg_stat_statements_reset()" >/dev/null
      for connections in 1 10; do
        for mode in list detail; do
          duration=5s threads=1
          [[ $connections == 10 ]] && duration=10s threads=2
          f=$work/wrk.txt
          WRK_MODE=$mode wrk -t"$threads" -c"$connections" -d"$duration" --latency \
            -s "$ROOT/bench/lineages_wrk.lua" "http://127.0.0.1:$port" >"$f" 2>&1
          echo "round $round $store $which, $connections connections, $mode:" \
            "$(awk '/Requests\/sec/ {print $2}' "$f") req/s, p50 $(awk '$1 == "50%" {print $2}' "$f")," \
            "p99 $(awk '$1 == "99%" {print $2}' "$f"), load $(cut -d' ' -f1 /proc/loadavg)" \
            "$(grep -E 'Non-2xx|Socket errors' "$f" | tr '\n' ' ' || true)"
        done
      done
      if [[ $store == postgresql ]]; then
        pg_psql -c "SELECT format('  %s calls, %s plans, %s ms executing, %s ms planning (means): %s', calls,
                                  plans, round(mean_exec_time::numeric, 3),
                                  round(coalesce(total_plan_time / nullif(plans, 0), 0)::numeric, 3),
                                  left(query, 50))
                    FROM pg_stat_statements WHERE query LIKE 'SELECT json, ts%' OR query LIKE 'SELECT id, name%'"
      fi
      kill "$server"; wait "$server" 2>/dev/null || true; server=
    done
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
