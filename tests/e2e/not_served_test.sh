#!/usr/bin/env bash
# Scenario 3 (issue #7): renewed but not served. certbot renews on its own schedule; its deploy
# hook records the new certificate but nobody reloads nginx, which keeps serving the old one.
# certcast must see the served serial differ from the issued one and reload the server.
CERTCAST=$1 ROOT=$2
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
e2e_certbot_lineage shop http-01 noreload
lab_nginx_reload
e2e_configure
old=$(e2e_served shop)
e2e_daemon_start
# The client's own renewal (its timer), with the hook that records but does not reload.
"$LAB_CERTBOT" renew --cert-name shop --force-renewal >"$LAB/logs/client-renew.log" 2>&1 ||
  fail "certbot renew failed (see $LAB/logs/client-renew.log)"
new=$(e2e_issued shop)
[[ $new != "$old" ]] || fail "certbot did not issue a new certificate"
[[ $(e2e_served shop) == "$old" ]] || fail "nginx already serves the new certificate: the scenario needs a stale one"
say "issued $new, nginx still serves $old"

e2e_wait_audit 60 '"action":"reload".*"reason_code":"ServedStale".*"outcome":"success"' --kind action --cert shop ||
  fail "no successful ServedStale reload (audit: $(e2e_audit --cert shop | tail -5))"
e2e_audit --kind decision --cert shop | grep -q "serves $old" || fail "the decision did not name the stale serial $old"
lab_wait_until 20 e2e_expect_valid_served shop || fail "nginx does not serve $new after certcast's reload"
# The reload is recorded as a deploy event; no renewal was started by certcast.
"$CERTCAST" events --db "$E2E_DB" --cert shop | grep -q '"type":"deploy".*reload by certcast' ||
  fail "no deploy event for the reload"
! e2e_audit --kind action --cert shop | grep -q '"action":"renew"' || fail "certcast renewed although only a reload was needed"
e2e_check_audit_chain
say "not_served: ok"
