#!/usr/bin/env bash
# Ingest through the real binary: rejected lines reported as FILE:LINE: reason with exit 1 and
# the valid lines kept; duplicates stored once; ingest -> events -> ingest gives the same store;
# stdin; a store from a newer schema is refused without being touched.
set -euo pipefail
CERTCAST="$1"; ROOT="$2"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 "$ROOT/bench/gen_events.py" 20000 "$work/ev.jsonl" --seed 7 --bad 1000

set +e
"$CERTCAST" ingest --db "$work/a.db" "$work/ev.jsonl" 2>"$work/err"; rc=$?
set -e
[[ $rc -eq 1 ]] || fail "exit $rc, want 1 when lines are rejected"
n_rej=$(grep -c "^$work/ev.jsonl:[0-9]*: field \"ts\": bad timestamp \"not-a-time\"" "$work/err" || true)
[[ $n_rej -eq 20 ]] || fail "want 20 rejection lines, got $n_rej: $(head -3 "$work/err")"
grep -q "^$work/ev.jsonl:1000: " "$work/err" || fail "first rejection should name line 1000"
grep -q "19,980 stored, 0 duplicates, 20 rejected" "$work/err" || fail "summary: $(tail -1 "$work/err")"

# Re-ingesting the same file stores nothing new.
"$CERTCAST" ingest --db "$work/a.db" "$work/ev.jsonl" 2>"$work/err2" && fail "want exit 1 again"
grep -q "0 stored, 19,980 duplicates, 20 rejected" "$work/err2" || fail "re-ingest: $(tail -1 "$work/err2")"

# Round trip: events out of A, into B through stdin, out again: identical.
"$CERTCAST" events --db "$work/a.db" >"$work/a.jsonl"
[[ $(wc -l <"$work/a.jsonl") -eq 19980 ]] || fail "events printed $(wc -l <"$work/a.jsonl") lines"
"$CERTCAST" ingest --db "$work/b.db" - <"$work/a.jsonl" 2>/dev/null || fail "ingest of events output"
"$CERTCAST" events --db "$work/b.db" >"$work/b.jsonl"
cmp -s "$work/a.jsonl" "$work/b.jsonl" || fail "ingest -> events -> ingest changed the store"
[[ $(sqlite3 "$work/a.db" "select count(*), sum(hash % 1000003) from events") == \
   $(sqlite3 "$work/b.db" "select count(*), sum(hash % 1000003) from events") ]] || fail "stores differ"

# Filters.
cert=$(grep -m1 -o '"type":"renewal","cert":"[a-z0-9]*"' "$work/a.jsonl" | sed 's/.*"cert":"//; s/"$//')
n_cert=$("$CERTCAST" events --db "$work/a.db" --cert "$cert" --type renewal | grep -c "\"cert\":\"$cert\"" || true)
n_all=$(grep -c "\"type\":\"renewal\",\"cert\":\"$cert\"" "$work/a.jsonl" || true)
[[ $n_cert -eq $n_all && $n_all -gt 0 ]] || fail "--cert/--type gave $n_cert, want $n_all"

# A newer schema is refused with the versions named, and the file is left as it was.
cp "$work/a.db" "$work/new.db"
sqlite3 "$work/new.db" "PRAGMA user_version=42"
before=$(sha256sum "$work/new.db")
set +e
"$CERTCAST" ingest --db "$work/new.db" "$work/a.jsonl" 2>"$work/err3"; rc=$?
set -e
[[ $rc -eq 3 ]] || fail "newer schema: exit $rc, want 3"
grep -Eq "store schema is version 42 but this certcast knows only up to [1-9][0-9]*; upgrade certcast" "$work/err3" || fail "$(cat "$work/err3")"
[[ "$before" == "$(sha256sum "$work/new.db")" ]] || fail "refused store was modified"
echo "ok"
