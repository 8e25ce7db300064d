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

# lego keeps no challenge in its state: its cron still passes --dns, and the switched renewal
# rewrote mail's certificate JSON, so the next config report undoes the switch. When the cron's
# next run fails the same way, certcast switches again and asks a person for the lasting fix.
switched_mail=$(e2e_issued mail.lab.test)
sleep 1.1  # the same-second tie as above, with the switched renewal's certificate
lab_forget_authz  # else pebble may reuse the http-01 authorization and lego would not fail
# The daemon reads lego's log every second while this run appends to it line by line: a read
# mid-run holds the attempt under way back (docs/collectors.md, "Logs still being written"), so
# the store gets the run's real failure, and no failure with error unknown.
! "$LAB_LEGO" --domains mail.lab.test "${LAB_LEGO_DNS01[@]}" renew --days 1 --no-random-sleep \
  >"$LAB/logs/cron-mail-2.log" 2>&1 || fail "lego renewed mail over dns-01 although its DNS API is broken"
lab_wait_until 60 grep -q '"cert":"mail.lab.test".*configure lego itself for http-01' "$LAB/alerts.jsonl" ||
  fail "no alert asking to configure lego for http-01 (alerts: $(cat "$LAB/alerts.jsonl"))"
! "$CERTCAST" events --db "$E2E_DB" --cert mail.lab.test --type renewal | grep '"error":"unknown"' ||
  fail "a read of lego's live log stored a failure that did not happen (above)"
grep '"cert":"mail.lab.test".*configure lego itself' "$LAB/alerts.jsonl" |
  grep -q 'configured for dns-01 instead of http-01 again.*dns01_automation still stands' ||
  fail "the alert does not name the undone switch and its cause: $(grep mail.lab.test "$LAB/alerts.jsonl")"
e2e_audit --kind decision --cert mail.lab.test | grep -q '"reason_code":"SwitchNotKept"' ||
  fail "no SwitchNotKept decision in the audit"
mail_renewed_again() { [[ $(e2e_issued mail.lab.test) != "$switched_mail" ]]; }
lab_wait_until 60 mail_renewed_again || fail "certcast did not switch mail to http-01 again"
e2e_check_audit_chain
say "dns01_broken: ok"
