#!/usr/bin/env bash
# Scenario 2 (issue #7): the A record moves away from the host. certcast must see the address
# change and HTTP-01 fail where the CA will look, and name DNS as the cause: a lineage that allows
# DNS-01 is renewed over it before its scheduled renewal (DNS-01 proves control of the zone, not of
# the address); one that does not gets an alert that names dns_pointing, and no renewal.
CERTCAST=$1 ROOT=$2
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
e2e_certbot_lineage api http-01
e2e_allow api challenges=dns-01
e2e_certbot_lineage www http-01
e2e_configure
first_api=$(e2e_issued api) first_www=$(e2e_issued www)
due=$(e2e_due api)
e2e_daemon_start
say "api.lab.test and www.lab.test now point at 127.0.0.2 (nothing listens there)"
lab_dns_a api.lab.test 127.0.0.2
lab_dns_a www.lab.test 127.0.0.2

lab_wait_until 90 grep -q '"cert":"www".*dns_pointing' "$LAB/alerts.jsonl" ||
  fail "no alert naming dns_pointing for www (alerts: $(cat "$LAB/alerts.jsonl"))"
grep '"cert":"www"' "$LAB/alerts.jsonl" | grep -q '127.0.0.2' || fail "the alert does not say where the name points now"
e2e_wait_audit 150 '"reason_code":"SwitchChallenge".*"outcome":"success"' --kind action --cert api ||
  fail "no successful SwitchChallenge renewal of api (audit: $(e2e_audit --cert api | tail -5))"
(($(date +%s) < due)) || fail "api was renewed only after its scheduled renewal was due"
e2e_audit --kind decision --cert api | grep '"reason_code":"SwitchChallenge"' | grep -q 'dns_pointing' ||
  fail "the switch decision did not name dns_pointing"
lab_wait_until 20 e2e_expect_valid_served api || fail "api: nginx does not serve the renewed certificate"
[[ $(e2e_issued api) != "$first_api" ]] || fail "api was not renewed"
[[ $(e2e_issued www) == "$first_www" ]] || fail "www was renewed although HTTP-01 cannot work"
e2e_check_audit_chain
say "dns_moved: ok"
