#!/usr/bin/env bash
# Scenario 6 (issue #7): the DNS-01 automation breaks (the DNS API refuses the TXT update, as with
# an expired token). lego's own cron run fails; certcast reads lego's log and must switch the
# lineage that allows HTTP-01 to it, and alert for the one that does not, naming dns01_automation.
CERTCAST=$1 ROOT=$2
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
e2e_lego_lineage mail dns-01
e2e_allow mail.lab.test challenges=http-01
e2e_lego_lineage vpn dns-01
first_mail=$(e2e_issued mail.lab.test) first_vpn=$(e2e_issued vpn.lab.test)
lab_txt_broken fail
# lego logs whole seconds and the hook stamps the issuance with the certificate file's time: a cron
# run in the same second as the issuance would tie with it and the order of the two would be
# arbitrary. A real cron job runs hours later; a second is enough here.
sleep 1.1
# lego's cron job renews both (its rule: --days 1, which a 5-minute certificate always meets).
for name in mail vpn; do
  ! "$LAB_LEGO" --domains "$name.lab.test" "${LAB_LEGO_DNS01[@]}" renew --days 1 --no-random-sleep \
    >"$LAB/logs/cron-$name.log" 2>&1 || fail "lego renewed $name although its DNS API is broken"
done
e2e_configure  # after the cron run: its log is a collector now
e2e_daemon_start

e2e_wait_audit 90 '"reason_code":"SwitchChallenge".*"outcome":"success"' --kind action --cert mail.lab.test ||
  fail "no successful SwitchChallenge renewal of mail (audit: $(e2e_audit --cert mail.lab.test | tail -5))"
e2e_audit --kind decision --cert mail.lab.test | grep '"reason_code":"SwitchChallenge"' |
  grep '"challenge":"http-01"' | grep -q dns01_automation || fail "the switch did not name http-01 and dns01_automation"
lab_wait_until 20 e2e_expect_valid_served mail.lab.test || fail "mail: nginx does not serve the renewed certificate"
[[ $(e2e_issued mail.lab.test) != "$first_mail" ]] || fail "mail was not renewed"

lab_wait_until 60 grep -q '"cert":"vpn.lab.test".*dns01_automation' "$LAB/alerts.jsonl" ||
  fail "no alert naming dns01_automation for vpn (alerts: $(cat "$LAB/alerts.jsonl"))"
[[ $(e2e_issued vpn.lab.test) == "$first_vpn" ]] || fail "vpn was renewed although DNS-01 is broken"
e2e_check_audit_chain
say "dns01_broken: ok"
