#!/usr/bin/env bash
# Scenario 1 (issue #7): port 80 closes for an HTTP-01 lineage that allows DNS-01. certcast must
# see the HTTP-01 probes fail, expect the scheduled renewal to fail, and renew over DNS-01 before
# it, so that the served certificate stays valid. A second lineage without an alternative shows
# that certcast does not switch what its owner did not allow; it gets an alert instead.
CERTCAST=$1 ROOT=$2
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
e2e_certbot_lineage web http-01
e2e_allow web challenges=dns-01
e2e_certbot_lineage blog http-01
e2e_configure
first_web=$(e2e_issued web) first_blog=$(e2e_issued blog)
due=$(e2e_due web)
e2e_daemon_start
say "port 80 closes; web's scheduled renewal is due at $(date -d @"$due" +%T)"
lab_http_off

# The renewal must happen over DNS-01, decided by the policy, before the scheduled renewal.
e2e_wait_audit 150 '"reason_code":"SwitchChallenge".*"outcome":"success"' --kind action --cert web ||
  fail "no successful SwitchChallenge renewal of web (audit: $(e2e_audit --cert web | tail -5))"
(($(date +%s) < due)) || fail "web was renewed only after its scheduled renewal was due"
e2e_audit --kind decision --cert web | grep -q '"challenge":"dns-01"' || fail "the decision did not name dns-01"
lab_wait_until 20 e2e_expect_valid_served web || fail "web: nginx does not serve the renewed certificate"
[[ $(e2e_served web) != "$first_web" ]] || fail "web still serves its first certificate"
grep -q 'authenticator = manual' "$LAB/certbot/config/renewal/web.conf" || fail "certbot did not keep dns-01 for web"

# blog may not switch: an alert names the cause (confirmed by a staging dry run), no renewal.
lab_wait_until 60 grep -q '"cert":"blog".*http01_unreachable' "$LAB/alerts.jsonl" ||
  fail "no alert naming http01_unreachable for blog (alerts: $(cat "$LAB/alerts.jsonl"))"
[[ $(e2e_issued blog) == "$first_blog" ]] || fail "blog was renewed although no renewal could work"
e2e_check_audit_chain
say "port80_closed: ok"
