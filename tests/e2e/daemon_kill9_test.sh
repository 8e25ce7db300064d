#!/usr/bin/env bash
# Issue #7: kill -9 of `certcast run` in the middle of a renewal, then a restart: nothing stored
# is lost and nothing is renewed twice. The lineage's client never renews by itself (no timer in
# the lab), so certcast renews it once it is overdue (ClientNotRenewing); the daemon is killed as
# soon as that decision is in the audit, while certbot runs, and restarted at once.
CERTCAST=$1 ROOT=$2
E2E_RENEW_BEFORE="280 seconds"  # due 20 s after issuance
# The memory of the first decision must hold the restarted daemon back (it is committed with the
# decision). At the lab's time scale the default 20 h between renewals of one certificate would be
# 3.6 s, shorter than certbot's renewal under load, after which a second decision is right (and
# finds the lock held); 4000 h scaled is 12 minutes, longer than the test.
E2E_POLICY_EXTRA='renew_retry_interval = "4000h"'
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
e2e_certbot_lineage app http-01
e2e_configure
first=$(e2e_issued app)
e2e_daemon_start
e2e_wait_audit 90 '"reason_code":"ClientNotRenewing"' --kind decision --cert app ||
  fail "certcast did not decide to renew the overdue lineage (audit: $(e2e_audit --cert app | tail -3))"
kill -KILL "$E2E_DAEMON_PID"
wait "$E2E_DAEMON_PID" 2>/dev/null || true
# certbot outlives the daemon: still running, or already done with the new certificate (a fast
# renewal can finish in the moment this takes).
pgrep -f -- "--cert-name app" >/dev/null || (($(ls "$LAB/certbot/config/archive/app" | grep -c '^cert') >= 2)) ||
  fail "certbot died with the daemon"
say "killed certcast run (pid $E2E_DAEMON_PID) after its renewal decision"
events_before=$(sqlite3 "$E2E_DB" 'SELECT count(*) FROM events')
audit_before=$(e2e_audit | wc -l)
e2e_check_audit_chain

# The renewal the dead daemon started goes on (certbot is in its own process group, writes to
# files rather than to the dead daemon's pipes, and holds the lineage's lock); the daemon restarted
# at once must not start a second one beside it or after it.
e2e_daemon_start
lab_wait_until 30 e2e_expect_valid_served app || fail "app: nginx does not serve the renewed certificate"
sleep 15  # cycles in which a second renewal would be planned if the first were forgotten

certs=$(ls "$LAB/certbot/config/archive/app" | grep -c '^cert')
[[ $certs -eq 2 ]] || fail "app has $certs certificates: the renewal ran more than once"
renewals=$(e2e_audit --kind decision --cert app | grep -c '"action":"renew"' || true)
[[ $renewals -eq 1 ]] || fail "$renewals renewal decisions for app, want 1"
events_after=$(sqlite3 "$E2E_DB" 'SELECT count(*) FROM events')
((events_after > events_before)) || fail "the store has $events_after events after the restart, $events_before before"
(($(e2e_audit | wc -l) > audit_before)) || fail "no audit record was added after the restart"
[[ $(sqlite3 "$E2E_DB" 'PRAGMA integrity_check') == ok ]] || fail "store integrity check failed"
e2e_check_audit_chain
[[ $(e2e_issued app) != "$first" ]] || fail "app was not renewed"
# The alert decided with the renewal went out exactly once: the killed daemon had not sent it yet
# (it acts on renewals first), so the restarted one found it unsent in the audit log.
sent=$(grep -c '"cert":"app".*ClientNotRenewing' "$LAB/alerts.jsonl" || true)
[[ $sent -eq 1 ]] || fail "the ClientNotRenewing alert for app went out $sent times, want 1"
say "daemon_kill9: ok"
