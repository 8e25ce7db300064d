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
# ORDER (default time) is the order the fleet's lines are ingested in: time (sorted by ts, stable:
# as a live fleet's events arrive) or lineage (as gen_lineages.py writes them, each lineage's five
# events together, their times months apart: a backfill of per-host histories). Into SQLite the
# lineage order costs about two 16 KiB page writes per event (the WAL's and the checkpoint's)
# once the file has many more pages than a batch has events (docs/scale.md).
# No model: risk is null, as in serve_bench.sh. Not run in CI. Prints a report; run it with `nice`.
# STAGES (default "ingest plan api") names the stages to run, in that order (the plan and api
# stages need the stores of an ingest, of this run or of an earlier one kept in WORK).
# WORK=DIR keeps everything in DIR (the fleet, both stores, PostgreSQL's data directory, each
# step's report) instead of a scratch directory removed at exit, and a later run with the same
# WORK skips every step whose report is there, printing it again marked "(earlier run)": at
# 1,000,000 lineages a run takes hours, and one stopped part way resumes where it stopped. A step
# starts from scratch (ingest: an empty store; the first plan: no checkpoint).
# Usage: BUILD=build [WORK=DIR] [STAGES="ingest plan api"] bench/pg_scale.sh [LINEAGES]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTCAST=${CERTCAST:-$ROOT/${BUILD:-build}/certcast}
LINEAGES=${1:-1000000}
PROBES=${PROBES:-3}
DURATION=${DURATION:-15s}
ORDER=${ORDER:-time}
STAGES=${STAGES:-ingest plan api}
AT=2026-11-20T00:00:00Z
source "$ROOT/bench/pg_bench_lib.sh"
pg_bench_begin pg-scale
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$@"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# step NAME COMMAND...: runs COMMAND, its report (stdout) kept as $work/report-NAME.txt, unless an
# earlier run with this WORK left that report: then it is printed again and nothing runs.
step() {
  local name=$1 report=$work/report-$1.txt
  shift
  if [[ -f $report ]]; then
    sed 's/$/ (earlier run)/' "$report"
    return
  fi
  "$@" >"$report.part"
  mv "$report.part" "$report"
  cat "$report"
}

echo "machine: $(nproc) cores, load $(load) at start; $(git -C "$ROOT" rev-parse --short HEAD); $CERTCAST"
# A kept WORK holds one fleet (its reports are of that fleet).
if [[ -f $work/fleet.txt && $(cat "$work/fleet.txt") != "$LINEAGES $PROBES $ORDER" ]]; then
  echo "WORK=$work holds the fleet \"$(cat "$work/fleet.txt")\" (lineages, probes, order), not \"$LINEAGES $PROBES $ORDER\"" >&2
  exit 2
fi
echo "$LINEAGES $PROBES $ORDER" >"$work/fleet.txt"
fleet=$work/fleet-$ORDER.jsonl
if [[ ! -f $fleet ]]; then
  case $ORDER in
    lineage) python3 "$ROOT/bench/gen_lineages.py" "$LINEAGES" "$fleet.part" --probes "$PROBES" ;;
    # Every line starts {"ts":"...", so the fourth "-separated field is the time, and RFC 3339
    # UTC sorts as text.
    time) python3 "$ROOT/bench/gen_lineages.py" "$LINEAGES" /dev/stdout --probes "$PROBES" |
            LC_ALL=C sort -S 1G -s -t'"' -k4,4 -T "$work" >"$fleet.part" ;;
    *) echo "ORDER: $ORDER is neither time nor lineage" >&2; exit 2 ;;
  esac
  mv "$fleet.part" "$fleet"
fi
lines=$(wc -l <"$fleet")
[[ $lines == $((LINEAGES * (2 + PROBES))) ]] || { echo "$fleet: $lines lines, not a fleet of $LINEAGES lineages" >&2; exit 1; }
echo "fleet: $LINEAGES lineages, $lines events, in $ORDER order"
pg_bench_start_pg
sqlite=$work/fleet.db
declare -A db=([sqlite]=$sqlite [postgresql]=$pg)

# ---- ingest: each store emptied, then the whole fleet by `certcast ingest`; events and disk size
ingest() {
  local store=$1 t0 t1 stored size
  if [[ $store == sqlite ]]; then
    rm -f "$sqlite" "$sqlite"-*
  else
    pg_psql -c "DROP SCHEMA certcast CASCADE" -c "CREATE SCHEMA certcast"
  fi
  t0=$(now); "$CERTCAST" ingest --db "${db[$store]}" "$fleet" 2>/dev/null; t1=$(now)
  if [[ $store == sqlite ]]; then
    stored=$(sqlite3 "$sqlite" "SELECT count(*) FROM events")
    sqlite3 "$sqlite" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    size=$(du -sh "$sqlite" | cut -f1)
  else
    stored=$(pg_psql -c "SELECT count(*) FROM certcast.events")
    size=$(pg_psql -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'certcast' AND c.relkind IN ('r', 'm', 't')")
  fi
  echo "$store: $lines lines, $stored events stored in $(secs "$t0" "$t1") s, $size on disk (load $(load) at end)"
}

# ---- plan: the first (no checkpoint: every event folded, a checkpoint written), then the next
# (from it), wall time and peak RSS
plan() {
  local store=$1 run=$2 wall rss
  if [[ $run == first ]]; then
    # Checkpoints are derived state, rebuilt from the events (sqlite_store.cc, migration 2): without
    # them the plan folds every event, as a first plan does.
    if [[ $store == sqlite ]]; then
      sqlite3 "$sqlite" "DELETE FROM checkpoints"
    else
      pg_psql -c "DELETE FROM certcast.checkpoints"
    fi
  fi
  /usr/bin/time -v "$CERTCAST" plan --db "${db[$store]}" --at "$AT" >"$work/plan-$store-$run.jsonl" \
    2>"$work/time-$store-$run.txt" || { tail -5 "$work/time-$store-$run.txt" >&2; exit 1; }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time-$store-$run.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MB", $2 / 1024}' "$work/time-$store-$run.txt")
  echo "$store: certcast plan ($run) ${wall} wall, peak RSS $rss, $(wc -l <"$work/plan-$store-$run.jsonl") actions (load $(load) at end)"
}

# ---- API reads against certcast serve on one store
api() {
  local store=$1 t0 t1 mode f errors requests
  export LINEAGES
  export TOKEN=$("$CERTCAST" token create --db "${db[$store]}" --token-key "$work/token.key" \
    --name "bench-$store-$(date +%s)" --scope read)
  t0=$(now)
  pg_bench_serve "$CERTCAST" "${db[$store]}" "$work/serve-$store.log"
  t1=$(now)
  echo "$store: certcast serve up with its first plan in $(secs "$t0" "$t1") s"
  for mode in list detail; do
    [[ $store == postgresql ]] && pg_psql -c "SELECT pg_stat_statements_reset()" >/dev/null
    f="$work/wrk-$store-$mode.txt"
    WRK_MODE=$mode wrk -t2 -c10 -d"$DURATION" --latency -s "$ROOT/bench/lineages_wrk.lua" "http://127.0.0.1:$port" \
      >"$f" 2>&1
    errors=$(grep -E 'Non-2xx|Socket errors' "$f" | tr '\n' ' ' || true)
    echo "$store: GET /v1/lineages$([[ $mode == detail ]] && echo '/{cert}') (max throughput, 10 connections, $DURATION):" \
      "$(awk '/Requests\/sec/ {print $2}' "$f") req/s, p50 $(awk '$1 == "50%" {print $2}' "$f"), p99 $(awk '$1 == "99%" {print $2}' "$f")" \
      "(load $(load))$errors"
    if [[ $store == postgresql ]]; then
      requests=$(awk '/requests in/ {print $1}' "$f")
      pg_psql -c "SELECT format('postgresql: per request: %s statements (round trips), server time %s ms executing, %s ms planning',
                                round(sum(calls) / $requests, 2), round((sum(total_exec_time) / $requests)::numeric, 3),
                                round((sum(total_plan_time) / $requests)::numeric, 3))
                  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"
    fi
  done
  kill "$server"; wait "$server" 2>/dev/null || true; server=
}

for stage in $STAGES; do
  case $stage in
    ingest) for store in sqlite postgresql; do step "ingest-$store" ingest "$store"; done ;;
    plan) for store in sqlite postgresql; do for run in first next; do step "plan-$store-$run" plan "$store" "$run"; done; done ;;
    api) for store in sqlite postgresql; do step "api-$store" api "$store"; done ;;
    *) echo "STAGES: unknown stage $stage (ingest, plan, api)" >&2; exit 2 ;;
  esac
done
echo "load at end: $(load)"
