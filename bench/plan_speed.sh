#!/usr/bin/env bash
# End-to-end speed of `certcast plan` on a simulated hosting fleet (issue #5: 10,000 lineages in
# <= 1 s after the model is loaded), as the evaluator calls it: once per simulated day, a new
# process each time. Prints plan's own breakdown (--explain): checkpoint restore (read + decode),
# events read and folded, views, scoring, decision chain, save (memory + checkpoint), audit.
#   1. simulate N lineages x D days (preset hosting) and ingest them;
#   2. train a model on a separate 1,000-lineage fleet (seed 100);
#   3. plan at day D-1 from scratch (no checkpoint: every event folded), then at day D (the
#      checkpoint restored, one day of events folded) RUNS times on copies of the store, and print
#      the medians of wall, CPU and in-plan time (the sum of plan's phases, after the model is
#      loaded). Every run shows the load average before it, the process's user+sys CPU time and
#      its minor page faults (/usr/bin/time, Debian package time): on a shared machine the wall
#      time also measures the other processes.
# Usage: [BUILD="dir[=work] ..."] [WORK=dir] [RUNS=5] [FACTS=1] bench/plan_speed.sh [N] [D]
#   (defaults: BUILD=build, 10000 lineages, 120 days)
#   BUILD with several build directories (e.g. one built at an older commit) compares them: each
#     plans day D-1 from scratch into its own store, the day-D runs alternate between them (so
#     they see the same load), and the printed plans of builds sharing a work directory must be
#     byte-identical;
#   dir=work gives that build a work directory of its own, whose fleet, store and model it makes
#     itself: for a build too old to open the stores of the others (a store schema it does not
#     know), e.g. BUILD="/src/e11b6dc/build=/tmp/e11b6dc-work build". Its plans are not compared
#     (an older build decides differently), only its times;
#   WORK=dir keeps the simulated fleet, its store and the model for the next call;
#   FACTS=1 plans without a model (the fact-based checks only).
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a specs <<< "${BUILD:-build}"
n="${1:-10000}"
d="${2:-120}"
work="${WORK:-$(mktemp -d)}"
builds=() works=()
for spec in "${specs[@]}"; do
  builds+=("${spec%%=*}")
  if [[ "$spec" == *=* ]]; then works+=("${spec#*=}"); else works+=("$work"); fi
done
start=2026-11-28
day_end() { date -u -d "$start + $1 days" +%Y-%m-%dT%H:%M:%SZ; }
echo "fleet: $n lineages x $d days (hosting), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
# Each work directory's fleet and model are made by the first build that uses it.
for b in "${!builds[@]}"; do
  wk="${works[$b]}" cc="${builds[$b]}/certcast"
  mkdir -p "$wk"
  if [[ ! -f "$wk/fleet.db" ]]; then
    "$cc" simulate --preset hosting --lineages "$n" --days "$d" --seed 7 --out "$wk/fleet.jsonl" --quiet
    "$cc" ingest -q --db "$wk/fleet.db" "$wk/fleet.jsonl"
    rm -f "$wk/fleet.jsonl"
  fi
  if [[ ! -f "$wk/train.model" ]]; then
    "$cc" simulate --preset hosting --lineages 1000 --days 200 --seed 100 --out "$wk/train.jsonl" --quiet
    "$cc" ingest -q --db "$wk/train.db" "$wk/train.jsonl"
    "$cc" train --db "$wk/train.db" --model "$wk/train.model" --until "$(day_end 185)" 2>/dev/null
  fi
done
runs="${RUNS:-5}"
model_args() {  # build index: the model flags for that build's work directory
  [[ "${FACTS:-0}" == 1 ]] || echo "--model ${works[$1]}/train.model"
}
run() {  # label, build index, db, at, output; appends "wall cpu in-plan faults" to $work/times.<index>
  local e u s f load line inproc cpu
  load=$(cut -d' ' -f1 /proc/loadavg)
  # shellcheck disable=SC2046  # the model flags are two words or none
  /usr/bin/time -f "%e %U %S %R" -o "$work/time" \
    "${builds[$2]}/certcast" plan --db "$3" $(model_args "$2") --at "$4" --explain 2> "$work/err" > "$5"
  read -r e u s f < "$work/time"
  cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
  line=$(grep '^plan:' "$work/err")
  # In plan: the sum of plan's phases (after the model is loaded).
  inproc=$(sed -E 's/.*; load ([0-9.e-]+) s.*views ([0-9.e-]+) s, score ([0-9.e-]+) s, decide ([0-9.e-]+) s, save ([0-9.e-]+) s.*audit ([0-9.e-]+) s.*/\1 \2 \3 \4 \5 \6/' <<< "$line" |
    awk '{ printf "%.3f", $1 + $2 + $3 + $4 + $5 + $6 }')
  awk -v l="$1" -v b="${builds[$2]}" -v e="$e" -v c="$cpu" -v i="$inproc" -v f="$f" -v n="$(wc -l < "$5")" -v load="$load" \
    'BEGIN { printf "%s, %s: wall %.2f s, cpu %.2f s (process), in plan %.2f s, %d minor faults, %d actions, load before %s\n", l, b, e, c, i, f, n, load }'
  sed 's/^/    /' <<< "$line"
  echo "$e $cpu $inproc $f" >> "$work/times.$2"
}
# Each run plans on a fresh copy of a 2.3 GB store; `sync` writes the copy out first. Without it the
# copy's 1.4-1.9 GB of dirty page cache is still being written back when plan commits, and plan's
# own ~40 MB of writes (WAL, then the checkpoint into the database) wait for it: the commit took
# 2.1 and 3.3 s against 1.2 and 1.3 s after a sync (2026-12-05, docs/benchmarks.md). An
# evaluator's store is not copied just before each plan.
for b in "${!builds[@]}"; do
  wk="${works[$b]}"
  cp "$wk/fleet.db" "$wk/run.db"
  sync
  run "day $((d - 1)), from scratch" "$b" "$wk/run.db" "$(day_end $((d - 1)))" "$wk/scratch.$b.out"
  mv "$wk/run.db" "$wk/day.$b.db"
  : > "$work/times.$b"
done
for i in $(seq 1 "$runs"); do
  for b in "${!builds[@]}"; do
    wk="${works[$b]}"
    cp "$wk/day.$b.db" "$wk/run.db"
    sync
    run "day $d, from the checkpoint (run $i)" "$b" "$wk/run.db" "$(day_end "$d")" "$wk/day.$b.out"
  done
done
median() {  # build index, column of $work/times.<index>
  sort -n -k"$2" "$work/times.$1" | awk -v k="$2" '{ v[NR] = $k } END { printf "%.2f", v[int((NR + 1) / 2)] }'
}
for b in "${!builds[@]}"; do
  echo "${builds[$b]}: median of $runs: wall $(median "$b" 1) s, cpu $(median "$b" 2) s, in plan $(median "$b" 3) s, $(median "$b" 4 | cut -d. -f1) minor faults"
  # Compared with the first build that shares its work directory (the same fleet and model).
  for a in "${!builds[@]}"; do
    (( a < b )) || break
    [[ "${works[$a]}" == "${works[$b]}" ]] || continue
    for out in scratch day; do
      if cmp -s "${works[$a]}/$out.$a.out" "${works[$b]}/$out.$b.out"; then
        echo "    $out plan: identical to ${builds[$a]}'s"
      else
        echo "    $out plan: DIFFERS from ${builds[$a]}'s"
      fi
    done
    break
  done
done
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
