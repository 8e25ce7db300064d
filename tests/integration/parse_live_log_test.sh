#!/usr/bin/env bash
# `certcast parse` as the daemon's collector runs it (every second, on the client's live log), on
# a lego log that grows: read while lego is mid-attempt, then after the outcome, then after the
# file has settled, each read's events ingested into one store as `certcast run` stores them.
# The attempt under way is held back (no failure that did not happen), the outcome is stored
# exactly once with its real error, and re-reading the settled log adds nothing. Then the rule's
# other side: the same truncated log once settled (--settle-time, or --may-grow no) is a
# failure with error unknown, and --may-grow yes holds even an old file. No server needed.
set -euo pipefail
CERTCAST="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"
ca=https://127.0.0.1:14000/dir

# One collector run: parse the log, store what it printed.
collect() {
  "$CERTCAST" parse lego lego.log --ca "$ca" "$@" >out.jsonl 2>err.txt || {
    echo "parse exited $?: $(cat err.txt)" >&2; return 1; }
  [[ ! -s out.jsonl ]] || "$CERTCAST" ingest --db store.db out.jsonl 2>/dev/null
}
renewals() { "$CERTCAST" events --db store.db --type renewal 2>/dev/null | grep -c '"type":"renewal"' || true; }

# lego mid-attempt: the order is placed, the DNS provider is being called.
cat >lego.log <<'LOG'
2026/11/28 02:53:06 [INFO] [mail.lab.test] acme: Obtaining bundled SAN certificate
2026/11/28 02:53:06 [INFO] [mail.lab.test] acme: use dns-01 solver
2026/11/28 02:53:06 [INFO] [mail.lab.test] acme: Preparing to solve DNS-01
LOG
collect || fail "a read mid-attempt failed"
[[ ! -s out.jsonl ]] || fail "a read mid-attempt printed an event: $(cat out.jsonl)"
grep -q '^lego.log:1: attempt under way, held back' err.txt || fail "no held-back note: $(cat err.txt)"
# Half a line (lego writing it now) is not read either.
printf '2026/11/28 02:53:07 Could not obt' >>lego.log
collect || fail "a read of half a line failed"
[[ ! -s out.jsonl ]] || fail "half a line made an event: $(cat out.jsonl)"
# The outcome arrives (the rest of lego's fatal error, in one write).
printf 'ain certificates:\n\terror: one or more domains had a problem:\n[mail.lab.test] acme: error: 403 :: urn:ietf:params:acme:error:unauthorized :: Incorrect TXT record\n' >>lego.log
collect || fail "the read after the outcome failed"
grep -q '"cert":"mail.lab.test","outcome":"failure","error":"urn:ietf:params:acme:error:unauthorized"' out.jsonl ||
  fail "the outcome is not the CA's refusal: $(cat out.jsonl)"
# Re-read every second while it is fresh, then once settled: still one renewal stored.
collect && collect || fail "a re-read failed"
touch -d '10 minutes ago' lego.log
collect || fail "the read of the settled log failed"
[[ $(renewals) == 1 ]] || fail "want exactly 1 renewal stored, got $(renewals): $("$CERTCAST" events --db store.db)"
"$CERTCAST" events --db store.db --type renewal | grep -q '"error":"unknown"' &&
  fail "a failure with error unknown was stored"

# The same truncated log, settled: the client died mid-attempt, recorded as such (exit 1).
head -3 lego.log >dead.log
touch -d '10 minutes ago' dead.log
unknown='"outcome":"failure","error":"unknown","detail":"no outcome in the log"'
rc=0; "$CERTCAST" parse lego dead.log --ca "$ca" >out.jsonl 2>err.txt || rc=$?
[[ $rc == 1 ]] || fail "settled truncated log: want exit 1, got $rc"
grep -q "$unknown" out.jsonl || fail "settled truncated log: $(cat out.jsonl)"
grep -q '^dead.log:1: lego attempt for mail.lab.test has no outcome' err.txt || fail "$(cat err.txt)"
# A longer settle time makes the 10-minute-old file still live; --may-grow forces either way.
"$CERTCAST" parse lego dead.log --settle-time 1h >out.jsonl 2>/dev/null || fail "--settle-time 1h exited $?"
[[ ! -s out.jsonl ]] || fail "--settle-time 1h: $(cat out.jsonl)"
"$CERTCAST" parse lego dead.log --may-grow yes >out.jsonl 2>/dev/null || fail "--may-grow yes exited $?"
[[ ! -s out.jsonl ]] || fail "--may-grow yes: $(cat out.jsonl)"
touch dead.log
rc=0; "$CERTCAST" parse lego dead.log --may-grow no >out.jsonl 2>/dev/null || rc=$?
[[ $rc == 1 ]] && grep -q "$unknown" out.jsonl || fail "--may-grow no on a fresh file: rc $rc $(cat out.jsonl)"
# stdin has ended: complete unless told otherwise.
rc=0; "$CERTCAST" parse lego - <dead.log >out.jsonl 2>/dev/null || rc=$?
[[ $rc == 1 ]] && grep -q "$unknown" out.jsonl || fail "stdin: rc $rc $(cat out.jsonl)"

# Bad flags name themselves.
rc=0; "$CERTCAST" parse lego dead.log --settle-time 5 2>err.txt >/dev/null || rc=$?
[[ $rc == 2 ]] && grep -q -- '--settle-time' err.txt || fail "--settle-time 5: rc $rc $(cat err.txt)"
rc=0; "$CERTCAST" parse lego dead.log --may-grow maybe 2>err.txt >/dev/null || rc=$?
[[ $rc == 2 ]] && grep -q -- '--may-grow' err.txt || fail "--may-grow maybe: rc $rc $(cat err.txt)"
echo "parse_live_log: ok"
