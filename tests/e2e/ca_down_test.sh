#!/usr/bin/env bash
# Scenario 4 (issue #7): the CA goes away for a while. The CA is reached through a TCP proxy
# (socat) that the test stops and starts, so pebble keeps its accounts (a restarted pebble forgets
# them: docs/e2e.md). Two lineages:
#   primary may fail over to a second CA (alt_cas): certcast renews it there before it is due;
#   solo may not: its renewal (certcast's, the client has no timer) fails while the CA is away,
#   is retried within the budget (no thrashing: renew_retry_interval apart, at most
#   max_renewals_per_certificate), and succeeds once the CA is back (or, with the budget spent,
#   by the safety net before expiry).
CERTCAST=$1 ROOT=$2
export LAB_ALT_CA=1
E2E_RENEW_BEFORE="260 seconds"  # due 40 s after issuance
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
proxy_port=$(lab_free_ports 1)
proxy_up() {
  lab_spawn ca-proxy socat socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$LAB_ACME_PORT"
  lab_wait_until 10 _lab_tcp_open "$proxy_port" || fail "socat did not listen on $proxy_port"
}
proxy_up
# Everything (clients, probes) reaches the main CA through the proxy; pebble builds its URLs from
# the Host the client used, so they point at the proxy too.
LAB_ACME_URL=https://127.0.0.1:$proxy_port/dir
E2E_RENEW_BEFORE="255 seconds" e2e_certbot_lineage primary http-01 reload --server "$LAB_ACME_URL"  # due at +45 s
e2e_allow primary "cas=$LAB_ALT_ACME_URL"
e2e_certbot_lineage solo http-01 reload --server "$LAB_ACME_URL"
grep -q "server = $LAB_ACME_URL" "$LAB/certbot/config/renewal/solo.conf" || fail "solo was not issued through the proxy"
e2e_configure
issued_at=$(date +%s)
e2e_daemon_start
# The CA goes away just before primary is due (+45 s) and solo is overdue for certcast (+48.6 s) and
# comes back 10 s later: with time_scale 20000 that is a 2.3-day outage in policy time.
sleep_until() { local left=$(($1 - $(date +%s))); ((left <= 0)) || sleep "$left"; }
sleep_until $((issued_at + 44))
lab_kill ca-proxy
down_at=$(date +%s)
say "CA unreachable (proxy stopped)"

# primary: failover to the second CA (as a SwitchCa renewal, or as the switch that certcast applies
# to its own overdue renewal, whichever the chain reaches first).
e2e_wait_audit 60 "\"action\":\"renew\".*\"outcome\":\"success\".*\"--server\",\"$LAB_ALT_ACME_URL\"" --kind action --cert primary ||
  fail "no successful renewal of primary at the second CA (audit: $(e2e_audit --cert primary | tail -4))"
e2e_audit --kind decision --cert primary | grep '"action":"renew"' | grep -q "switching to CA $LAB_ALT_ACME_URL" ||
  fail "the decision for primary did not name the switch to the second CA"
grep -q "server = $LAB_ALT_ACME_URL" "$LAB/certbot/config/renewal/primary.conf" || fail "certbot did not keep the alternative CA"
lab_wait_until 20 e2e_expect_valid_served primary || fail "primary: nginx does not serve the certificate of the second CA"

# solo: failed attempts while the CA is away, spaced and bounded.
lab_wait_until 60 _e2e_audit_matches '"cert":"solo".*"outcome":"failure"' --kind action --cert solo ||
  fail "certcast made no renewal attempt for solo while the CA was away"
sleep_until $((down_at + 10))
proxy_up
say "CA reachable again"
failed=$(e2e_audit --kind action --cert solo | grep -c '"action":"renew".*"outcome":"failure"' || true)
((failed >= 1 && failed <= 3)) || fail "$failed failed renewals of solo during the outage: want 1 to 3 (max_renewals_per_certificate)"
# Renewed before expiry: by the next retry (renew_retry_interval) if the budget has one left, else
# by the safety net (30 s before expiry).
expires=$(e2e_served_not_after solo)
e2e_wait_audit $((expires - $(date +%s))) '"action":"renew".*"outcome":"success"' --kind action --cert solo ||
  fail "solo was not renewed before it expired (audit: $(e2e_audit --cert solo | tail -4))"
how=$(e2e_audit --kind action --cert solo | grep '"action":"renew".*"outcome":"success"' | grep -o '"reason_code":"[A-Za-z]*"')
failed=$(e2e_audit --kind action --cert solo | grep -c '"action":"renew".*"outcome":"failure"' || true)
((failed <= 3)) || fail "$failed failed renewals of solo: more than max_renewals_per_certificate"
lab_wait_until 20 e2e_expect_valid_served solo || fail "solo: nginx does not serve its renewed certificate"
e2e_check_audit_chain
say "ca_down: ok ($failed failed attempts for solo, then renewed by $how)"
