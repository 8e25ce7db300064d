#!/usr/bin/env bash
# Measures what lab scenarios cost, so they can be sized (figures in docs/e2e.md): lab_start, one
# issuance per client and challenge, how long a failing renewal takes to fail under each fault
# knob, and what the clients print after a CA restart. Not a test: it asserts only that each
# step ended as the fault implies (success, or failure). Run by hand:
#   bash tests/e2e/lab_timings.sh
set -euo pipefail
source "$(dirname "$0")/lab_lib.sh"

now() { date +%s.%N; }
# step LABEL ok|fail CMD...: runs CMD, prints its wall time, checks the exit status.
step() {
  local label=$1 want=$2 t0 rc=0; shift 2
  t0=$(now)
  "$@" >"$LAB/logs/step.out" 2>&1 || rc=$?
  printf '%-58s %6.1f s  exit %d\n' "$label" "$(echo "$(now) - $t0" | bc)" "$rc"
  if [[ $want == ok && $rc -ne 0 ]] || [[ $want == fail && $rc -eq 0 ]]; then
    tail -n 20 "$LAB/logs/step.out" >&2
    _lab_die "$label: expected $want, exit $rc"
  fi
  grep -m1 -hoE 'urn:ietf:params:acme:error:[A-Za-z]+[^"]{0,150}|Detail: .{0,150}|error: .{0,150}' \
    "$LAB/logs/step.out" | sed 's/^/    /' || true
}
certbot_renew() { lab_certbot renew --cert-name "$1" --force-renewal "${@:2}"; }
lego_renew() { lab_lego --domains "$1" "${@:2}" renew --days 100000 --no-random-sleep; }

t0=$(now); lab_start; printf '%-58s %6.1f s\n' lab_start "$(echo "$(now) - $t0" | bc)"
step "certbot issue, HTTP-01 (webroot)" ok lab_certbot certonly "${LAB_CERTBOT_HTTP01[@]}" -d cb.lab.test --cert-name cb
step "certbot issue, DNS-01 (manual hooks)" ok lab_certbot certonly "${LAB_CERTBOT_DNS01[@]}" -d cbd.lab.test --cert-name cbd
step "lego issue, HTTP-01 (webroot)" ok lab_lego --domains lg.lab.test "${LAB_LEGO_HTTP01[@]}" run
step "lego issue, DNS-01 (exec)" ok lab_lego --domains lgd.lab.test "${LAB_LEGO_DNS01[@]}" run
step "certbot forced renewal, HTTP-01" ok certbot_renew cb
step "lego forced renewal, HTTP-01" ok lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"

t0=$(now); lab_http_off; printf '%-58s %6.1f s\n' lab_http_off "$(echo "$(now) - $t0" | bc)"
step "certbot renewal fails: port 80 closed" fail certbot_renew cb
step "lego renewal fails: port 80 closed" fail lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"
lab_http_on

lab_dns_servfail cb.lab.test; lab_dns_servfail lg.lab.test
step "certbot renewal fails: A lookup SERVFAIL" fail certbot_renew cb
step "lego renewal fails: A lookup SERVFAIL" fail lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"
lab_dns_servfail_clear cb.lab.test; lab_dns_servfail_clear lg.lab.test

lab_dns_a cb.lab.test 127.0.0.2; lab_dns_a lg.lab.test 127.0.0.2
step "certbot renewal fails: A -> 127.0.0.2" fail certbot_renew cb
step "lego renewal fails: A -> 127.0.0.2" fail lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"
lab_dns_a_clear cb.lab.test; lab_dns_a_clear lg.lab.test
step "certbot renewal works again after lab_dns_a_clear" ok certbot_renew cb

lab_txt_broken fail
step "certbot renewal fails: DNS-01 hook fails" fail certbot_renew cbd
step "lego renewal fails: DNS-01 hook fails" fail lego_renew lgd.lab.test "${LAB_LEGO_DNS01[@]}"
lab_txt_broken silent
step "certbot renewal fails: TXT not published" fail certbot_renew cbd
step "lego renewal fails: TXT not published" fail lego_renew lgd.lab.test "${LAB_LEGO_DNS01[@]}"
lab_txt_fixed
step "lego renewal works again after lab_txt_fixed" ok lego_renew lgd.lab.test "${LAB_LEGO_DNS01[@]}"

lab_ca_hang
step "certbot renewal fails: CA hung (SIGSTOP)" fail certbot_renew cb
step "lego renewal fails: CA hung (SIGSTOP)" fail lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"
lab_ca_resume

lab_ca_stop
step "certbot renewal fails: CA stopped" fail certbot_renew cb
step "lego renewal fails: CA stopped" fail lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"
t0=$(now); lab_ca_start; printf '%-58s %6.1f s\n' lab_ca_start "$(echo "$(now) - $t0" | bc)"
step "certbot renewal after CA restart (account unknown)" fail certbot_renew cb
step "lego renewal after CA restart (account unknown)" fail lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"
step "certbot new lineage after CA restart" fail lab_certbot certonly "${LAB_CERTBOT_HTTP01[@]}" -d cb2.lab.test --cert-name cb2
step "lego new lineage after CA restart" fail lab_lego --domains lg2.lab.test "${LAB_LEGO_HTTP01[@]}" run
lab_reset_accounts
step "certbot renewal after lab_reset_accounts" ok certbot_renew cb
step "lego renewal after lab_reset_accounts" ok lego_renew lg.lab.test "${LAB_LEGO_HTTP01[@]}"
echo "roots in \$LAB_ROOTS: $(grep -c 'BEGIN CERT' "$LAB_ROOTS")"
