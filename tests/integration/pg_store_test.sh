#!/usr/bin/env bash
# The store's contract suite (src/store/store_test.cc) on a real PostgreSQL: starts one
# (tests/integration/pg_lib.sh), runs every Postgres case of the store test binary against it,
# stops it by PID. Usage: pg_store_test.sh STORE_TEST_BINARY SOURCE_DIR
set -euo pipefail
STORE_TEST=$1
SRC=$2
source "$SRC/tests/integration/pg_lib.sh"

work=$(mktemp -d)
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work"

CERTCAST_TEST_POSTGRES=$PG_URI "$STORE_TEST" --gtest_filter='*/Postgres:PostgresStoreTest.*' \
  --gtest_brief=1
