#!/usr/bin/env bash
# Sets up and runs every test: unit, integration and e2e (ctest labels), then the unit-test
# binaries and four integration scripts again under ASan + UBSan in a clang sanitizer build
# (build-sanitize/), then each libFuzzer target, built in that same tree, for a short time. CI runs exactly this (.ci/run).
#   scripts/test.sh                   everything
#   CERTCAST_FUZZ_SECONDS=0 scripts/test.sh   skip fuzzing
#   CERTCAST_SANITIZE_TESTS=0 scripts/test.sh skip the sanitizer stage
#   CERTCAST_TEST_LABELS=unit scripts/test.sh only unit tests (the sanitizer stage too)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test

jobs=$(nproc)
# Benchmarks are not tests (bench/CMakeLists.txt): CI builds only what the tests run.
cmake -S . -B build -G Ninja -DCERTCAST_TESTS=ON -DCERTCAST_BENCH=OFF >/dev/null
echo "test: building (ninja -C build, $jobs jobs)" >&2
if ! ninja -C build -j"$jobs" >build/test-build.log 2>&1; then
  tail -n 80 build/test-build.log >&2
  echo "test: build failed (full log: build/test-build.log)" >&2
  exit 1
fi

labels="${CERTCAST_TEST_LABELS:-unit|integration|e2e}"
ctest --test-dir build -L "$labels" --output-on-failure -j"$jobs" --timeout 900

# Sanitizer stage: test binaries built with -DCERTCAST_SANITIZE=ON (ASan + UBSan) in
# build-sanitize/ and run there; any report halts the process and fails the stage. After the
# normal tests, so an ordinary failure is reported first and cheaply. The list holds the binaries
# verified clean under the sanitizers so far (docs/security.md, "Sanitizers"); the other unit and
# integration tests join it as each is run clean, so CI never carries an unverified stage.
# sim_test is left out on purpose: under ASan it ran 801 s (13 min) where it needs seconds
# unsanitized, too long for CI; its code (the simulator) reads no outside input.
sanitize_tests=(src/core/core_test src/store/store_test src/model/model_test
                src/features/features_test src/features/client_rule_test
                src/policy/policy_test src/plan/planner_test src/act/act_test
                src/api/api_test src/api/api_fleet_test src/api/api_metrics_test
                src/collect/probe/probe_test src/collect/probe/ntp_test
                src/collect/clients/clients_test src/collect/clients/clients_corpus_test
                src/collect/host/host_test src/alert/alert_test src/agent/agent_test
                src/agent/agent_actions_test src/features/fleet_facts_test src/plan/plan_state_test
                src/act/daemon_test src/api/api_fleet_service_test)
# Integration scripts run again with the sanitized `certcast` (each takes the binary as its first
# argument), chosen for the outside input they feed it: event files and spool lines (ingest_cli),
# a client's Latin-1 output, a hostile config and a corrupted store row (run_hardening), kill -9
# in the middle of an ingest (ingest_kill9), the server's HTTP routes with tokens (silences). Each
# was run clean first; the rest of the integration suite (serve_api took 436 s under ASan on the
# loaded development machine) stays unsanitized.
sanitize_scripts=(ingest_cli run_hardening ingest_kill9 silences)
fuzz_seconds="${CERTCAST_FUZZ_SECONDS:-10}"
sanitized=0
if [[ "${CERTCAST_SANITIZE_TESTS:-1}" != 0 ]] && grep -qw unit <<<"${labels//|/ }"; then
  sanitized=1
  # One clang tree serves this stage and the fuzz stage below: the fuzz targets need clang's
  # libFuzzer and the same ASan + UBSan, so compiling the libraries once (with libFuzzer's coverage
  # hooks, which cost the tests nothing they check) saves a whole build of the tree on CI's two
  # cores. The fuzz targets halt on the first UBSan report here, as the tests do.
  fuzz_flag=OFF
  [[ "$fuzz_seconds" != 0 ]] && fuzz_flag=ON
  # A tree configured by an older version of this script with g++ cannot switch compilers.
  if [[ -f build-sanitize/CMakeCache.txt ]] &&
     ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-14' build-sanitize/CMakeCache.txt; then
    rm -rf build-sanitize
  fi
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-sanitize -G Ninja -DCERTCAST_TESTS=ON \
    -DCERTCAST_BENCH=OFF -DCERTCAST_SANITIZE=ON -DCERTCAST_FUZZ="$fuzz_flag" >/dev/null
  echo "test: building the sanitizer build (ninja -C build-sanitize, $jobs jobs)" >&2
  sanitize_targets=("${sanitize_tests[@]##*/}")
  grep -qw integration <<<"${labels//|/ }" && sanitize_targets+=(certcast)
  if [[ "$fuzz_flag" == ON ]]; then
    sanitize_targets+=($(ninja -C build-sanitize -t targets all |
                         sed -n 's/^\(fuzz_[a-z0-9_]*\): phony$/\1/p' | sort -u))
  fi
  if ! ninja -C build-sanitize -j"$jobs" "${sanitize_targets[@]}" >build-sanitize/test-build.log 2>&1; then
    tail -n 80 build-sanitize/test-build.log >&2
    echo "test: sanitizer build failed (full log: build-sanitize/test-build.log)" >&2
    exit 1
  fi
  for t in "${sanitize_tests[@]}"; do
    echo "test: $t under ASan + UBSan" >&2
    ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "build-sanitize/$t" --gtest_brief=1
  done
  if grep -qw integration <<<"${labels//|/ }"; then
    for t in "${sanitize_scripts[@]}"; do
      echo "test: integration/${t}_test.sh with certcast under ASan + UBSan" >&2
      ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        bash "tests/integration/${t}_test.sh" "$PWD/build-sanitize/certcast" "$PWD"
    done
    # The store's contract suite again on a real PostgreSQL (store_test above ran its SQLite cases
    # only): the same sanitized binary, against a server pg_store_test.sh starts and stops.
    echo "test: src/store/store_test on PostgreSQL under ASan + UBSan" >&2
    ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      bash tests/integration/pg_store_test.sh build-sanitize/src/store/store_test "$PWD"
  fi
fi

if [[ "$fuzz_seconds" != 0 ]]; then
  cmake -S . -B build -DCERTCAST_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
  # With the sanitizer stage run, its tree holds the fuzz targets already (scripts/fuzz.sh,
  # CERTCAST_FUZZ_DIR); without it, fuzz.sh builds its own clang tree in build-fuzz/.
  if ((sanitized)); then
    CERTCAST_FUZZ_DIR="$PWD/build-sanitize" ctest --test-dir build -L fuzz --output-on-failure
  else
    ctest --test-dir build -L fuzz --output-on-failure
  fi
fi
