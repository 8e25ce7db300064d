#!/usr/bin/env bash
# Scenario 1 (port 80 closes for an HTTP-01 lineage that allows DNS-01) resolved by the fleet
# server itself (issue #16): the host has NO agent. Its telemetry (certcast's own discover, spool
# and scan, as the daemon's collectors would run them) is POSTed to `certcast serve --act` over
# HTTP with an ingest token; the server's own plan decides the switch to DNS-01 and carries it
# out with the real certbot against pebble and nginx's reload, as `certcast run` would. The
# renewal must happen before the scheduled one, nginx must serve the renewed certificate, the
# action record must name the server (not an agent: nothing is queued), and the next plans must
# not renew again.
CERTCAST=$1 ROOT=$2
source "$ROOT/tests/e2e/e2e_lib.sh"

# The policy switches only when the client's own renewal is near (forecast_renew_lead, 5 d: 21.6 s
# at E2E_SCALE), so the test lasts until about then. Issued with its scheduled renewal far off
# (240 s after issuance); once the server holds the lineage, the renewal is brought to DUE_IN
# seconds from then, whatever the set-up took on a loaded machine: room for the probes, the
# staging dry run and a DNS-01 renewal before it, and no longer wait than that.
DUE_IN=${DUE_IN:-75}
E2E_RENEW_BEFORE="60 seconds"
e2e_start
e2e_certbot_lineage web http-01
e2e_allow web challenges=dns-01
e2e_configure
first_web=$(e2e_issued web)

# An ingest token only: no token with the agent scope, so the host "lab" has no agent.
"$CERTCAST" token create --db "$E2E_DB" --name lab-collector --scope ingest >"$E2E/ingest.token" ||
  fail "token create"
chmod 600 "$E2E/ingest.token"
read -r port < <(lab_free_ports 1)
base="http://127.0.0.1:$port"
lab_spawn serve "$CERTCAST" "$CERTCAST" serve --db "$E2E_DB" --listen "127.0.0.1:$port" \
  --run-config "$E2E_CONF" --act --plan-interval 1s --ingest-debounce 1s --threads 4
lab_wait_until 30 curl -sf "$base/healthz" || fail "certcast serve did not start (see $LAB/logs/serve.log)"

# The host's side: every second, what the daemon's collectors would collect, POSTed to the server.
cat >"$E2E/push.sh" <<EOF
#!/usr/bin/env bash
# serve_act's collector: discover, the hooks' spool and the probes, sent to the server.
set -u
while true; do
  {
    "$CERTCAST" discover --root "$LAB" --max-depth 3 --host lab --config "$E2E_CONF"
    "$CERTCAST" spool --dir "$E2E/spool"
    "$CERTCAST" scan --config "$E2E_SCAN"
  } >"$E2E/batch.jsonl" 2>>"$LAB/logs/push-errors.log"
  if [[ -s $E2E/batch.jsonl ]]; then
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer \$(cat "$E2E/ingest.token")" \
      -H 'Content-Type: application/x-ndjson' --data-binary @"$E2E/batch.jsonl" "$base/v1/events"
  fi
  sleep 1
done
EOF
chmod +x "$E2E/push.sh"
lab_spawn push "$E2E/push.sh" "$E2E/push.sh"
lab_wait_until 30 grep -qx 200 "$LAB/logs/push.log" || fail "no batch of events accepted (see $LAB/logs/push.log)"
# certbot's renewal rule moved so that web is due DUE_IN s from now (discover reports the rule at
# the next push).
expires=$(date -d "$(openssl x509 -in "$LAB/certbot/config/live/web/cert.pem" -noout -enddate | sed 's/notAfter=//')" +%s)
before=$((expires - $(date +%s) - DUE_IN))
((before >= 60)) || fail "the set-up took too long: web expires in $((before + DUE_IN)) s"
E2E_RENEW_BEFORE="$before seconds"
sed -i "s/^renew_before_expiry = .*/renew_before_expiry = $E2E_RENEW_BEFORE/" "$LAB/certbot/config/renewal/web.conf"
due=$(e2e_due web)
say "port 80 closes; web's scheduled renewal is due at $(date -d @"$due" +%T)"
lab_http_off

# The server renews web over DNS-01 itself, decided by its own plan, before the scheduled renewal:
# its plan confirms the cause with a staging dry run at once, and switches within the lead before
# `due`. Waited for until 30 s past `due`, so that a late renewal fails below with its time.
e2e_wait_audit $((due - $(date +%s) + 30)) '"reason_code":"SwitchChallenge".*"outcome":"success"' --kind action --cert web ||
  fail "no successful SwitchChallenge renewal of web by the server (audit: $(e2e_audit --cert web | tail -5))"
renewed=$(e2e_audit --kind action --cert web | grep -m1 '"outcome":"success"' | e2e_record_epoch)
((renewed < due)) || fail "web was renewed at $(date -d @"$renewed" +%T), after its scheduled renewal was due"
say "web renewed over dns-01 by the server at $(date -d @"$renewed" +%T), $((due - renewed)) s before its scheduled renewal"
e2e_audit --kind action --cert web | grep '"outcome":"success"' | grep -q '"by":"certcast serve' ||
  fail "the action record does not name the server: $(e2e_audit --kind action --cert web | tail -2)"
e2e_audit --kind decision --cert web | grep -q '"challenge":"dns-01"' || fail "the decision did not name dns-01"
[[ -z $(e2e_audit --kind action_queued) ]] || fail "an action was queued although the host has no agent"
lab_wait_until 20 e2e_expect_valid_served web || fail "web: nginx does not serve the renewed certificate"
[[ $(e2e_served web) != "$first_web" ]] || fail "web still serves its first certificate"
grep -q 'authenticator = manual' "$LAB/certbot/config/renewal/web.conf" || fail "certbot did not keep dns-01 for web"

# The renewal's events reach the server (the hook's spool, posted), and three more plans after
# the renewal do not renew again.
cycles() { grep -c '"msg":"cycle done"' "$LAB/logs/serve.log" || true; }
after=$(cycles)
lab_wait_until 30 eval '(($(cycles) >= after + 3))' || fail "the server stopped planning (see $LAB/logs/serve.log)"
renewals=$(e2e_audit --kind action --cert web | grep -c '"action":"renew"' || true)
[[ $renewals == 1 ]] || fail "web renewed $renewals times: $(e2e_audit --kind action --cert web)"
e2e_check_audit_chain
say "serve_act: ok"
