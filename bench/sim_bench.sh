#!/bin/sh
# Benchmark of the fleet simulator: 10,000 lineages x 365 days, events written to a file.
# Usage: bench/sim_bench.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, /tmp)
# Prints wall, user and system seconds, events, bytes and the machine load when it ran; the
# target is <= 60 s wall on the 2-core development machine (docs/simulator.md).
set -eu
build=${1:-build}
out=${2:-/tmp}
bin="$build/certcast"
[ -x "$bin" ] || { echo "no $bin: build the certcast target first" >&2; exit 2; }
file="$out/sim-bench-10k.jsonl"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, max rss %M KiB" \
  "$bin" simulate --lineages 10000 --days 365 --seed 1 --out "$file" --quiet
echo "events: $(wc -l < "$file"), bytes: $(stat -c %s "$file")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$file" "$out/sim-bench-10k.truth.jsonl"
