#!/usr/bin/env bash
# Sets up and runs every test: unit, integration and e2e (ctest labels), then the unit and
# integration tests again built with ASan + UBSan (build-sanitize/), then each libFuzzer target for
# a short time. CI runs exactly this (.ci/run).
#   scripts/test.sh                   everything
#   CERTCAST_FUZZ_SECONDS=0 scripts/test.sh   skip fuzzing
#   CERTCAST_SANITIZE_TESTS=0 scripts/test.sh skip the sanitizer stage
#   CERTCAST_TEST_LABELS=unit scripts/test.sh only unit tests (the sanitizer stage too)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCERTCAST_TESTS=ON -DCERTCAST_BENCH=ON >/dev/null
echo "test: building (ninja -C build, $jobs jobs)" >&2
if ! ninja -C build -j"$jobs" >build/test-build.log 2>&1; then
  tail -n 80 build/test-build.log >&2
  echo "test: build failed (full log: build/test-build.log)" >&2
  exit 1
fi

labels="${CERTCAST_TEST_LABELS:-unit|integration|e2e}"
ctest --test-dir build -L "$labels" --output-on-failure -j"$jobs" --timeout 900

# Sanitizer stage: the unit and integration tests (not e2e: their timings are tuned to an
# optimised build; not benchmarks) built with -DCERTCAST_SANITIZE=ON in build-sanitize/, which
# holds only the libraries, test binaries and certcast (benchmarks off). Any ASan or UBSan report
# halts the process, which fails its test. After the normal tests, so an ordinary failure is
# reported first and cheaply.
if [[ "${CERTCAST_SANITIZE_TESTS:-1}" != 0 ]]; then
  sanitize_labels=$(tr '|' '\n' <<<"$labels" | grep -xE 'unit|integration' | paste -sd'|' || true)
  if [[ -n "$sanitize_labels" ]]; then
    cmake -S . -B build-sanitize -G Ninja -DCERTCAST_TESTS=ON -DCERTCAST_BENCH=OFF \
      -DCERTCAST_SANITIZE=ON >/dev/null
    echo "test: building the sanitizer build (ninja -C build-sanitize, $jobs jobs)" >&2
    if ! ninja -C build-sanitize -j"$jobs" >build-sanitize/test-build.log 2>&1; then
      tail -n 80 build-sanitize/test-build.log >&2
      echo "test: sanitizer build failed (full log: build-sanitize/test-build.log)" >&2
      exit 1
    fi
    ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      ctest --test-dir build-sanitize -L "$sanitize_labels" --output-on-failure -j"$jobs" --timeout 900
  fi
fi

fuzz_seconds="${CERTCAST_FUZZ_SECONDS:-20}"
if [[ "$fuzz_seconds" != 0 ]]; then
  cmake -S . -B build -DCERTCAST_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
  ctest --test-dir build -L fuzz --output-on-failure
fi
