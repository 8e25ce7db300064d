#!/usr/bin/env bash
# Scenario 5 (issue #7): a nonce storm (pebble refuses 15 % of good nonces as badNonce) and then a
# hung CA (SIGSTOP: connections accepted, never answered). `certcast run` must keep cycling through
# both, store everything its collectors and hooks produce, and renew once the CA answers again.
# The lineage's client has no timer here, so certcast renews it whenever it is overdue
# (ClientNotRenewing, every ~30 s with 5-minute certificates).
CERTCAST=$1 ROOT=$2
export LAB_NONCE_REJECT=15
E2E_RENEW_BEFORE="280 seconds"
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
for try in 1 2 3 4 5; do  # issuance itself goes through the storm
  (e2e_certbot_lineage ops http-01) && break
  ((try < 5)) || fail "certbot could not issue through the nonce storm in 5 tries"
done
E2E_LINEAGES+=(ops); E2E_NAME[ops]=ops.$E2E_DOMAIN; E2E_KIND[ops]=certbot  # set in the subshell
e2e_configure
first=$(e2e_issued ops)
e2e_daemon_start
e2e_wait_audit 120 '"action":"renew".*"outcome":"success"' --kind action --cert ops ||
  fail "no successful renewal through the nonce storm (audit: $(e2e_audit --cert ops | tail -4))"
grep -q 'Configured to reject 15% of good nonces' "$LAB/logs/pebble-main.log" || fail "pebble ran without the nonce storm"
say "renewed through the storm; $(grep -c 'badNonce' "$LAB/certbot/logs/letsencrypt.log" || true) badNonce lines in certbot's log"

# Hang the CA right after a renewal, while no client runs.
lab_wait_until 30 bash -c "! pgrep -f -- '--cert-name [o]ps' >/dev/null" || fail "a certbot run did not end"
cycles=$(grep -c '"msg":"cycle done"' "$LAB/logs/certcast.log")
lab_ca_hang
say "CA hung (SIGSTOP)"
sleep 20
kill -0 "$E2E_DAEMON_PID" || fail "certcast run died while the CA hung"
during=$(($(grep -c '"msg":"cycle done"' "$LAB/logs/certcast.log") - cycles))
((during >= 3)) || fail "only $during cycles in 20 s while the CA hung"
hung_probes=$("$CERTCAST" events --db "$E2E_DB" --type ca_probe | grep -c '"outcome":"error"' || true)
((hung_probes >= 2)) || fail "the CA probes did not record the hang ($hung_probes errors)"
lab_ca_resume
say "CA resumed after $during cycles; $hung_probes CA probe errors stored"

renewed=$(e2e_issued ops)
lab_wait_until 120 bash -c "[[ \$(openssl x509 -in '$LAB/certbot/config/live/ops/cert.pem' -noout -serial) != 'serial=${renewed^^}' ]]" ||
  fail "no renewal after the CA came back"
lab_wait_until 20 e2e_expect_valid_served ops || fail "ops: nginx does not serve its newest certificate"
kill -0 "$E2E_DAEMON_PID" || fail "certcast run died"

# Nothing lost: with no client running and the daemon stopped (SIGTERM: it finishes its cycle),
# every event the hooks spooled is already in the store.
lab_wait_until 60 bash -c "! pgrep -f -- '--cert-name [o]ps' >/dev/null" || fail "a certbot run did not end"
e2e_daemon_stop
stored=$("$CERTCAST" spool --dir "$E2E/spool" 2>/dev/null | "$CERTCAST" ingest --db "$E2E_DB" - 2>&1) ||
  fail "re-ingesting the spool failed: $stored"
[[ $stored == *": 0 stored,"* ]] || fail "the spool holds events the daemon did not store: $stored"
e2e_check_audit_chain
say "ca_unstable: ok"
