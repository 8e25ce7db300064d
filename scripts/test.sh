#!/usr/bin/env bash
# Sets up and runs every test: unit, integration and e2e (ctest labels), then each libFuzzer
# target for a short time. CI runs exactly this (.ci/run).
#   scripts/test.sh                   everything
#   CERTCAST_FUZZ_SECONDS=0 scripts/test.sh   skip fuzzing
#   CERTCAST_TEST_LABELS=unit scripts/test.sh only unit tests
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

fuzz_seconds="${CERTCAST_FUZZ_SECONDS:-20}"
if [[ "$fuzz_seconds" != 0 ]]; then
  cmake -S . -B build -DCERTCAST_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
  ctest --test-dir build -L fuzz --output-on-failure
fi
