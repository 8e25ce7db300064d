#!/usr/bin/env bash
# Ingest into PostgreSQL beside its physical limit and beside SQLite, in one run on one machine:
#  1. the same N events (bench/gen_events.py, default 2,000,000) stored by `certcast ingest` into a
#     fresh SQLite file;
#  2. the same file stored by `certcast ingest --db postgresql://...` into a fresh schema of a
#     PostgreSQL 15 this script starts (initdb + pg_ctl, PostgreSQL's default settings: fsync on);
#  3. the physical limit of that path: the rows certcast stored (ts, hash, type, subject, json),
#     exported, then loaded by `psql \copy` into the same table (a second fresh certcast schema,
#     same partitions, same key and index), as fast as PostgreSQL takes them.
# Prints wall seconds and events/s of each, certcast's share of the raw COPY rate (target >= 70 %),
# and the stores' sizes on disk. Not run in CI. Usage: BUILD=build bench/pg_bench.sh [N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTCAST=${CERTCAST:-$ROOT/${BUILD:-build}/certcast}
N=${1:-2000000}
source "$ROOT/tests/integration/pg_lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/pg-bench.XXXXXX")
trap 'pg_stop; rm -rf "$work"' EXIT
now() { date +%s.%N; }
rate() { python3 -c "import sys; n,a,b=map(float,sys.argv[1:]); print(f'{b-a:7.1f} s  {n/(b-a):9,.0f} events/s')" "$@"; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start; $(git -C "$ROOT" rev-parse --short HEAD)"
python3 "$ROOT/bench/gen_events.py" "$N" "$work/events.jsonl" --seed 1
PG_SETTINGS="" pg_start "$work"

t0=$(now)
"$CERTCAST" ingest --db "$work/local.db" "$work/events.jsonl" 2>"$work/sqlite.log"
t1=$(now)
pg_psql -c "CREATE SCHEMA certcast; CREATE SCHEMA raw"
uri="$PG_URI?options=-csearch_path%3Dcertcast"
t2=$(now)
"$CERTCAST" ingest --db "$uri" "$work/events.jsonl" 2>"$work/pg.log"
t3=$(now)
stored=$(pg_psql -c "SELECT count(*) FROM certcast.events")

# The same rows, exported, into an identical empty table: the schema certcast creates, with the
# same monthly partitions made beforehand.
pg_psql -c "\\copy (SELECT ts, hash, type, subject, json FROM certcast.events) TO '$work/rows.tsv'"
"$CERTCAST" ingest --db "$PG_URI?options=-csearch_path%3Draw" /dev/null 2>/dev/null
pg_psql -c "SELECT format('CREATE TABLE raw.%I PARTITION OF raw.events %s;', c.relname, pg_get_expr(c.relpartbound, c.oid))
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'certcast.events'::regclass" >"$work/partitions.sql"
pg_psql -f "$work/partitions.sql"
t4=$(now)
pg_psql -c "\\copy raw.events (ts, hash, type, subject, json) FROM '$work/rows.tsv'"
t5=$(now)
raw=$(pg_psql -c "SELECT count(*) FROM raw.events")

size() { pg_psql -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i
                     JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '$1.events'::regclass"; }
echo "events: $N lines, $stored stored by certcast into PostgreSQL, $raw loaded by \\copy"
echo "sqlite      certcast ingest   $(rate "$N" "$t0" "$t1")   $(du -h "$work/local.db" | cut -f1) on disk"
echo "postgresql  certcast ingest   $(rate "$N" "$t2" "$t3")   $(size certcast) on disk (events, key, subject index)"
echo "postgresql  psql \\copy (raw)  $(rate "$N" "$t4" "$t5")   $(size raw) on disk"
python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print(f'certcast into PostgreSQL: {100*(d-c)/(b-a):.0f} % of the raw COPY rate')" \
  "$t2" "$t3" "$t4" "$t5"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
