#!/usr/bin/env bash
# Scenario 1 (port 80 closes for an HTTP-01 lineage that allows DNS-01) resolved through the fleet:
# agent -> server -> agent (issue #17). The host runs `certcast agent` (its collectors: discover,
# the hooks' spool, probes), which sends every event to `certcast serve`; the server plans and,
# since the host has an agent, queues the DNS-01 renewal instead of running it; the agent leases
# it, runs the real certbot with its own configuration and reports. The renewal must happen over
# DNS-01 before the scheduled one, reported by the agent (audit names its token), and nginx must
# serve the renewed certificate. The server carries nothing out itself.
CERTCAST=$1 ROOT=$2
source "$ROOT/tests/e2e/e2e_lib.sh"

e2e_start
e2e_certbot_lineage web http-01
e2e_allow web challenges=dns-01
e2e_configure
first_web=$(e2e_issued web)
due=$(e2e_due web)

"$CERTCAST" token create --db "$E2E_DB" --name lab-agent --scope agent --host lab >"$E2E/agent.token" ||
  fail "token create"
chmod 600 "$E2E/agent.token"
read -r port < <(lab_free_ports 1)
lab_spawn serve "$CERTCAST" "$CERTCAST" serve --db "$E2E_DB" --listen "127.0.0.1:$port" \
  --run-config "$E2E_CONF" --plan-interval 1s --threads 4
lab_wait_until 30 curl -sf "http://127.0.0.1:$port/healthz" || fail "certcast serve did not start (see $LAB/logs/serve.log)"
# The probes the server derives for the host (GET /v1/agent/probes) verify against the lab's
# roots and pebble's HTTPS CA, as the lab's scan config does.
cat "$LAB_ROOTS" "$LAB_PEBBLE_CA" >"$E2E/probe-trust.pem"
lab_spawn agent "$CERTCAST" "$CERTCAST" agent --server "http://127.0.0.1:$port" --token-file "$E2E/agent.token" \
  --state-dir "$E2E/agent" --host lab --config "$E2E_CONF" --spool-dir "" --discover-root "" --interval 1s \
  --probe-ca-file "$E2E/probe-trust.pem" --probe-timeout 3s
say "port 80 closes; web's scheduled renewal is due at $(date -d @"$due" +%T)"
lab_http_off

# The agent reports a successful renewal of web, decided by the server as a challenge switch.
e2e_wait_audit 150 '"cert":"web".*"by":"lab-agent".*"outcome":\{"result":"success"' --kind action_outcome ||
  fail "no successful renewal of web reported by the agent (queue: $(e2e_audit --cert web | grep action_ | tail -5))"
# When the server recorded the agent's report (not when this script looked: the audit is polled).
reported=$(e2e_audit --kind action_outcome --cert web | grep -m1 '"result":"success"' | e2e_record_epoch)
((reported < due)) || fail "web was renewed at $(date -d @"$reported" +%T), after its scheduled renewal was due"
say "web renewed over dns-01 by the agent at $(date -d @"$reported" +%T), $((due - reported)) s before its scheduled renewal"
e2e_audit --kind decision --cert web | grep -q '"reason_code":"SwitchChallenge".*"challenge":"dns-01"\|"challenge":"dns-01".*"reason_code":"SwitchChallenge"' ||
  fail "the decision was not a switch to dns-01: $(e2e_audit --kind decision --cert web | tail -3)"
e2e_audit --kind action_leased --cert web | grep -q '"by":"lab-agent"' || fail "the lease does not name the agent"
[[ -z $(e2e_audit --kind action) ]] || fail "the server carried an action out itself: $(e2e_audit --kind action)"
lab_wait_until 20 e2e_expect_valid_served web || fail "web: nginx does not serve the renewed certificate"
[[ $(e2e_served web) != "$first_web" ]] || fail "web still serves its first certificate"
grep -q 'authenticator = manual' "$LAB/certbot/config/renewal/web.conf" || fail "certbot did not keep dns-01 for web"
grep -q '"msg":"action done".*"cert":"web".*"result":"success"' "$LAB/logs/agent.log" || fail "the agent's log has no finished action"
e2e_check_audit_chain
say "agent_port80_closed: ok"
