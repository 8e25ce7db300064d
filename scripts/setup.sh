#!/usr/bin/env bash
# Installs what certcast needs from Debian 12 and builds build/certcast.
#   scripts/setup.sh            build dependencies + release build
#   scripts/setup.sh --test     also the packages the test suite uses (real peers, clang fuzzers)
# Idempotent: packages already installed are not touched, and apt is not called at all when
# nothing is missing. Needs root (or sudo) only when something must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--test" ]] && want_tests=1

BUILD_PKGS=(
  g++ cmake ninja-build ccache pkg-config git
  libabsl-dev libsimdjson-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libspdlog-dev
  libsqlite3-dev sqlite3 libpq-dev libssl-dev libcurl4-openssl-dev libcpp-httplib-dev zlib1g-dev
  libpsl-dev publicsuffix libxxhash-dev libxgboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# The suite fuzzes with clang's libFuzzer and compares the ingest benchmark with Python's json +
# sqlite3. Real peers (pebble, certbot, lego, nginx, PostgreSQL) join this list with the tests that
# start them.
# The e2e lab (tests/e2e/lab_lib.sh) drives the real clients; python3-acme comes with certbot.
# socat fronts pebble where a test takes the CA away without pebble losing its accounts.
# nsd (authoritative), unbound (validating resolver) and ldnsutils (zone signing) serve the DNSSEC
# probe test (tests/integration/probe_dnssec_test.sh), which starts its own on free ports.
# chrony (its chronyd on a free port, -x) and faketime (libfaketime shifts certcast's clock) serve
# the NTP probe test. chrony is a time daemon and Debian allows one: it replaces
# systemd-timesyncd where that is installed, and keeps the clock in sync as timesyncd did.
# prometheus (and its promtool) scrapes `certcast serve` in tests/integration/serve_fleet_test.sh;
# wrk loads it in bench/serve_bench.sh.
# postgresql-15 (server and psql): the store's contract suite on PostgreSQL and several servers
# on one database (tests/integration/pg_*_test.sh start their own with initdb + pg_ctl).
TEST_PKGS=(clang-14 libfuzzer-14-dev libclang-rt-14-dev python3 openssl curl nginx-light pebble
           certbot lego socat nsd unbound ldnsutils chrony faketime prometheus wrk
           prometheus-alertmanager postgresql-15)
# systemd brings systemd-analyze, which verifies the units in packaging/ (tests/integration/
# packaging_test.sh); nothing is started with it.
TEST_PKGS+=(systemd)
# Node.js runs the OpenAPI 3.1 validator (npm @seriousme/openapi-schema-validator, pinned in
# tests/integration/serve_api_test.sh). Debian's npm is a separate package; a Node.js that brings
# its own npm (NodeSource) must not get Debian's on top, so it is added only when npm is missing.
TEST_PKGS+=(nodejs)
# Headless Chromium runs the dashboard's browser test (tests/integration/dashboard_test.sh, driven
# by npm puppeteer-core, pinned there) and bench/dashboard_bench.sh.
TEST_PKGS+=(chromium)
command -v npm >/dev/null 2>&1 || TEST_PKGS+=(npm)

pkgs=("${BUILD_PKGS[@]}")
((want_tests)) && pkgs+=("${TEST_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  # Daemons (nsd, unbound, nginx) must not start at install: the tests start their own on free
  # ports. Where no init system runs (CI's container) but /sbin/init exists, invoke-rc.d would run
  # the init script: nsd would bind port 53 on every address, and its postinst fails the whole
  # install when that port is taken. A policy-rc.d that denies starts (Debian's documented switch,
  # exit 101) is put in place for the install when the machine has none.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# certcast scripts/setup.sh: no service starts during its install\nexit 101\n' |
      $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  status=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || status=$?
  ((own_policy)) && $SUDO rm -f "$policy"
  ((status == 0)) || exit "$status"
fi

build_type="${CERTCAST_BUILD_TYPE:-RelWithDebInfo}"
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
fi
# Build only the binary here; the test script builds the tests.
mkdir -p build
if ! ninja -C build certcast >build/setup-build.log 2>&1; then
  tail -n 60 build/setup-build.log >&2
  echo "setup: build failed (full log: build/setup-build.log)" >&2
  exit 1
fi
echo "setup: ready: build/certcast" >&2
