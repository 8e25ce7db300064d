#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each on its seed corpus in
# fuzz/corpus/<target>. A crash fails the run and leaves the input in build-fuzz/crashes/; turn it
# into a fix and a regression file under fuzz/corpus/<target>/. (build-fuzz/ here and below is the
# default build directory; CERTCAST_FUZZ_DIR replaces it.)
#
#   scripts/fuzz.sh [SECONDS]                    every target SECONDS (default 60): CI's smoke run
#   scripts/fuzz.sh --long [SECONDS] [TARGET...] the campaign: each target (default all) SECONDS of
#                                                wall time (default 1800) at nice 19, one after the
#                                                other, then a table of executions, coverage (cov
#                                                and ft from libFuzzer's final status line), CPU
#                                                seconds and crashes per target, written to
#                                                build-fuzz/campaign.md and printed
#   scripts/fuzz.sh --long --cpu [SECONDS] [TARGET...]
#                                                the same, SECONDS of CPU time per target (user +
#                                                sys of the fuzzer, polled every 5 s, then SIGINT):
#                                                on a shared machine at nice 19 wall time says
#                                                little about how much fuzzing a target got
# Example: scripts/fuzz.sh --long 600 fuzz_model_file fuzz_plan_checkpoint
# CERTCAST_FUZZ_NO_BUILD=1 runs the targets already in the build directory without rebuilding them
# (a campaign resumed on the same binaries).
# CERTCAST_FUZZ_DIR=DIR builds and runs in DIR instead of build-fuzz/. A DIR already configured with
# CERTCAST_FUZZ=ON keeps its configuration: scripts/test.sh points this at its sanitizer build
# (clang, ASan + UBSan, fuzz targets included), so CI compiles the tree once for both stages.
set -euo pipefail
cd "$(dirname "$0")/.."

long=0 cpu_budget=0
if [[ "${1:-}" == "--long" ]]; then
  long=1
  shift
  if [[ "${1:-}" == "--cpu" ]]; then
    cpu_budget=1
    shift
  fi
fi
seconds="${1:-$((long ? 1800 : 60))}"
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" == 0 ]]; then
  echo "fuzz: SECONDS must be a positive whole number, got '$seconds'" >&2
  exit 2
fi

dir="${CERTCAST_FUZZ_DIR:-build-fuzz}"
if ! grep -qx 'CERTCAST_FUZZ:BOOL=ON' "$dir/CMakeCache.txt" 2>/dev/null; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCERTCAST_FUZZ=ON \
    -DCERTCAST_TESTS=OFF -DCERTCAST_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
all=$(ninja -C "$dir" -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): phony$/\1/p' | sort -u)
if [[ -z "$all" ]]; then echo "fuzz: no targets" >&2; exit 1; fi
targets="$all"
if [[ $# -gt 0 ]]; then
  for t in "$@"; do
    grep -qx "$t" <<<"$all" || { echo "fuzz: no target $t (targets: $(echo $all))" >&2; exit 2; }
  done
  targets="$*"
fi
if [[ "${CERTCAST_FUZZ_NO_BUILD:-0}" == 0 ]] && ! ninja -C "$dir" $targets >"$dir/fuzz-build.log" 2>&1; then
  tail -n 60 "$dir/fuzz-build.log" >&2; exit 1
fi
mkdir -p "$dir/crashes"
nice_prefix=()
((long)) && nice_prefix=(nice -n 19)
table="$dir/campaign.md"
if ((long)); then
  {
    echo "| target | wall s | CPU s | executions | cov | ft | corpus | crashes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  } >"$table"
fi
passed=0; failed=0
for t in $targets; do
  corpus="$dir/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [[ -d "fuzz/corpus/$t" ]] && seeds=("fuzz/corpus/$t")
  log="$dir/$t.log"
  status=0
  touch "$dir/$t.start"
  # -timeout: an input that takes over 10 s is a hang, reported like a crash. -max_len: configs,
  # model files and logs beyond 64 KiB add time per run, not paths.
  # --cpu: no wall limit; the loop below interrupts the fuzzer once it has used SECONDS of CPU
  # (SIGINT: libFuzzer prints its final stats and exits 72, "run interrupted").
  wall_limit=$seconds
  ((cpu_budget)) && wall_limit=0
  /usr/bin/time -f "cpu %U %S" -o "$dir/$t.time" "${nice_prefix[@]}" \
    "$dir/fuzz/$t" -max_total_time="$wall_limit" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$dir/crashes/$t-" \
    "$corpus" "${seeds[@]}" >"$log" 2>&1 &
  timer=$!
  interrupted=0
  if ((cpu_budget)); then
    ticks=$(getconf CLK_TCK)
    while kill -0 "$timer" 2>/dev/null; do
      sleep 5
      fuzzer=$(pgrep -P "$timer" | head -1 || true)
      [[ -n $fuzzer && -r /proc/$fuzzer/stat ]] || continue
      # Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime, stime in ticks.
      used=$(sed 's/.*) //' "/proc/$fuzzer/stat" | awk -v t="$ticks" '{printf "%d", ($12 + $13) / t}')
      if ((used >= seconds)); then kill -INT "$fuzzer" 2>/dev/null && interrupted=1; break; fi
    done
  fi
  wait "$timer" || status=$?
  if ((interrupted)) && [[ $status == 72 ]] && grep -q 'libFuzzer: run interrupted' "$log"; then
    status=0  # the budget's own SIGINT, not a finding
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  cpu=$(awk '/^cpu/ {printf "%.0f", $2 + $3}' "$dir/$t.time")
  crashes=$(find "$dir/crashes" -name "$t-*" -newer "$dir/$t.start" 2>/dev/null | wc -l)
  [[ $status -ne 0 && $crashes -eq 0 ]] && crashes=1  # an abort without an artifact still counts
  if ((long)); then
    wall=$(($(date +%s) - $(stat -c %Y "$dir/$t.start")))
    echo "| $t | $wall | ${cpu:-?} | ${runs:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $crashes |" >>"$table"
  fi
  if [[ $status -eq 0 ]]; then
    echo "fuzz: $t: ${runs:-?} runs, ${cpu:-?} CPU s, cov ${cov:-?} ft ${ft:-?}, no crash" >&2
    passed=$((passed + 1))
  else
    echo "fuzz: $t FAILED; see $log" >&2
    tail -n 30 "$log" >&2
    failed=$((failed + 1))
  fi
done
((long)) && cat "$table"
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
