#!/usr/bin/env bash
# kill -9 during ingest: the store stays consistent, every batch reported committed is there, and
# re-running the ingest completes it without storing anything twice.
set -euo pipefail
CERTCAST="$1"; ROOT="$2"
work=$(mktemp -d); pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

lines=600000
python3 "$ROOT/bench/gen_events.py" "$lines" "$work/ev.jsonl" --seed 3
"$CERTCAST" ingest --db "$work/s.db" --batch 5000 --log-commits "$work/ev.jsonl" 2>"$work/log" &
pid=$!
# Wait for a few commits, then kill without warning.
for _ in $(seq 1 600); do
  [[ $(grep -c "committed" "$work/log" || true) -ge 5 ]] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || fail "ingest finished before it could be killed; make the file bigger"
wait "$pid" 2>/dev/null || true
pid=""
last=$(grep -o "through line [0-9]*" "$work/log" | tail -1 | grep -o "[0-9]*$")
[[ -n "$last" ]] || fail "no commit was reported"
[[ "$(sqlite3 "$work/s.db" "PRAGMA integrity_check")" == "ok" ]] || fail "integrity_check failed"
stored=$(sqlite3 "$work/s.db" "select count(*) from events")
# Every line of this file is a distinct valid event, so lines committed <= events stored.
[[ $stored -ge $last ]] || fail "reported committed through line $last but only $stored stored"
[[ $stored -lt $lines ]] || fail "killed ingest stored everything; the test proved nothing"

"$CERTCAST" ingest --db "$work/s.db" "$work/ev.jsonl" 2>"$work/log2" || fail "resume: $(cat "$work/log2")"
[[ $(sqlite3 "$work/s.db" "select count(*) from events") -eq $lines ]] || fail "resume count"
grep -q "$((lines - stored)) stored $stored duplicates" <(sed 's/,//g' "$work/log2") \
  || fail "resume summary (want $((lines - stored)) stored, $stored duplicates): $(cat "$work/log2")"
echo "ok: killed after line $last committed ($stored stored), resumed to $lines"
