#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for N seconds (default 60)
# on its seed corpus in fuzz/corpus/<target>. A crash fails the run and leaves the input in
# build-fuzz/crashes/; turn it into a regression file under fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCERTCAST_FUZZ=ON \
  -DCERTCAST_TESTS=OFF -DCERTCAST_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(ninja -C build-fuzz -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): phony$/\1/p' | sort -u)
if [[ -z "$targets" ]]; then echo "fuzz: no targets" >&2; exit 1; fi
if ! ninja -C build-fuzz $targets >build-fuzz/build.log 2>&1; then
  tail -n 60 build-fuzz/build.log >&2; exit 1
fi
mkdir -p build-fuzz/crashes
passed=0; failed=0
for t in $targets; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [[ -d "fuzz/corpus/$t" ]] && seeds=("fuzz/corpus/$t")
  if "build-fuzz/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
       -artifact_prefix="build-fuzz/crashes/$t-" "$corpus" "${seeds[@]}" \
       >"build-fuzz/$t.log" 2>&1; then
    echo "fuzz: $t: $(grep -o 'Done [0-9]* runs' "build-fuzz/$t.log" | tail -1) in ${seconds}s, no crash" >&2
    passed=$((passed + 1))
  else
    echo "fuzz: $t FAILED; see build-fuzz/$t.log" >&2
    tail -n 30 "build-fuzz/$t.log" >&2
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
