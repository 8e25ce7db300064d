#!/usr/bin/env bash
# Ingest benchmark: on one generated file of N mixed events (default 2,000,000), in one run:
#   1. parse rate on one core (bench_event_parse, Google Benchmark, no store)
#   2. durable ingest: `certcast ingest` into a new SQLite store (WAL, synchronous=FULL)
#   3. the plain Python json + sqlite3 loader doing the same work (bench/python_loader.py)
# Usage: [BUILD=dir] bench/ingest.sh [N]   (default BUILD=build; needs certcast and bench/bench_event_parse there)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD:-build}"
n="${1:-2000000}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 bench/gen_events.py "$n" "$work/events.jsonl" --seed 1
size=$(stat -c %s "$work/events.jsonl")
echo "file: $n events, $((size / 1000000)) MB, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# items_per_second is per CPU second of the one benchmark thread.
CERTCAST_BENCH_EVENTS="$work/events.jsonl" "$build"/bench/bench_event_parse \
  --benchmark_filter=BM_ParseEventLines 2>/dev/null \
  | sed -n 's/.*items_per_second=\([0-9.]*\)M\/s.*/parse (1 core):        \1 M events\/s per CPU second/p'

t0=$(date +%s.%N)
"$build"/certcast ingest -q --db "$work/certcast.db" "$work/events.jsonl"
t1=$(date +%s.%N)
python3 bench/python_loader.py "$work/python.db" "$work/events.jsonl" 2>/dev/null
t2=$(date +%s.%N)
c=$(sqlite3 "$work/certcast.db" "select count(*) from events")
p=$(sqlite3 "$work/python.db" "select count(*) from events")
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v sc="$c" -v sp="$p" 'BEGIN {
  printf "certcast ingest:       %.1f s, %.0f events/s durable (%d stored)\n", b-a, n/(b-a), sc
  printf "python json+sqlite3:   %.1f s, %.0f events/s durable (%d stored)\n", c-b, n/(c-b), sp
  printf "ratio:                 %.1fx\n", (c-b)/(b-a) }'
