#!/usr/bin/env bash
# End-to-end speed of `certcast plan` on a simulated hosting fleet (issue #5: 10,000 lineages in
# <= 1 s after the model is loaded), as the evaluator calls it: once per simulated day, a new
# process each time. Prints plan's own breakdown (--explain): checkpoint restore (read + decode),
# events read and folded, views, scoring, decision chain, save (memory + checkpoint), audit.
#   1. simulate N lineages x D days (preset hosting) and ingest them;
#   2. train a model on a separate 1,000-lineage fleet (seed 100);
#   3. plan at day D-1 from scratch (no checkpoint: every event folded), then at day D (the
#      checkpoint restored, one day of events folded) three times on copies of the store.
# Usage: [BUILD=dir] [WORK=dir] bench/plan_speed.sh [N] [D]   (defaults 10000 120)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD:-build}"
n="${1:-10000}"
d="${2:-120}"
work="${WORK:-$(mktemp -d)}"
cc="$build/certcast"
start=2026-11-28
day_end() { date -u -d "$start + $1 days" +%Y-%m-%dT%H:%M:%SZ; }
echo "fleet: $n lineages x $d days (hosting), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
if [[ ! -f "$work/fleet.db" ]]; then
  "$cc" simulate --preset hosting --lineages "$n" --days "$d" --seed 7 --out "$work/fleet.jsonl" --quiet
  "$cc" ingest -q --db "$work/fleet.db" "$work/fleet.jsonl"
  rm -f "$work/fleet.jsonl"
fi
if [[ ! -f "$work/train.model" ]]; then
  "$cc" simulate --preset hosting --lineages 1000 --days 200 --seed 100 --out "$work/train.jsonl" --quiet
  "$cc" ingest -q --db "$work/train.db" "$work/train.jsonl"
  "$cc" train --db "$work/train.db" --model "$work/train.model" --until "$(day_end 185)" 2>/dev/null
fi
run() {  # label, db, at
  local t0 t1
  t0=$(date +%s.%N)
  "$cc" plan --db "$2" --model "$work/train.model" --at "$3" --explain 2> "$work/err" > "$work/out"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v l="$1" -v n="$(wc -l < "$work/out")" 'BEGIN { printf "%s: wall %.2f s (process), %d actions\n", l, b-a, n }'
  grep '^plan:' "$work/err" | sed 's/^/    /'
}
cp "$work/fleet.db" "$work/run.db"
run "day $((d - 1)), from scratch" "$work/run.db" "$(day_end $((d - 1)))"
cp "$work/run.db" "$work/day.db"
for i in 1 2 3; do
  cp "$work/day.db" "$work/run.db"
  run "day $d, from the checkpoint (run $i)" "$work/run.db" "$(day_end "$d")"
done
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
