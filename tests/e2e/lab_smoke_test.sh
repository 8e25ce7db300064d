#!/usr/bin/env bash
# Smoke test of the e2e lab (tests/e2e/lab_lib.sh): proves that the real CA, DNS, web server and
# clients work together before any fault scenario relies on them. One certbot lineage over
# HTTP-01 and one lego lineage over DNS-01 are issued, served by nginx, checked by serial (with
# openssl and with `certcast probe tls`), force-renewed, served again after a reload, and their
# real logs parsed by `certcast parse`.
# Usage: lab_smoke_test.sh CERTCAST_BINARY REPO_ROOT
set -euo pipefail
certcast=$1
root=$2
export LAB_VALIDITY=600
# shellcheck source=lab_lib.sh
source "$root/tests/e2e/lab_lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

lab_start
cb_live=$LAB/certbot/config/live/cb
lego_crt=$LAB/lego/certificates/lg.lab.test.crt

lab_certbot certonly "${LAB_CERTBOT_HTTP01[@]}" -d cb.lab.test --cert-name cb >"$LAB/logs/cb-issue.out" 2>&1 ||
  fail "certbot HTTP-01 issuance: $(tail -n 5 "$LAB/logs/cb-issue.out")"
lab_lego --domains lg.lab.test "${LAB_LEGO_DNS01[@]}" run >"$LAB/logs/lego-issue.out" 2>&1 ||
  fail "lego DNS-01 issuance: $(tail -n 5 "$LAB/logs/lego-issue.out")"
grep -q 'Added DNS-01 TXT challenge for Host "_acme-challenge.lg.lab.test."' "$LAB/logs/challtestsrv.log" ||
  fail "lego's DNS-01 hook never published a TXT record (see $LAB/logs/challtestsrv.log)"

# The lifetime comes from LAB_VALIDITY (pebble's certificateValidityPeriod).
not_before=$(date -d "$(openssl x509 -in "$cb_live/cert.pem" -noout -startdate | cut -d= -f2)" +%s)
not_after=$(date -d "$(openssl x509 -in "$cb_live/cert.pem" -noout -enddate | cut -d= -f2)" +%s)
lifetime=$((not_after - not_before))
((lifetime >= 590 && lifetime <= 600)) || fail "certificate lifetime $lifetime s, want ~600 s (LAB_VALIDITY)"

lab_nginx_serve cb.lab.test "$cb_live/fullchain.pem" "$cb_live/privkey.pem"
lab_nginx_serve lg.lab.test "$lego_crt" "$LAB/lego/certificates/lg.lab.test.key"
lab_nginx_reload

# served_is NAME SERIAL: nginx serves SERIAL for NAME, by openssl and by certcast's TLS probe,
# which must also verify the chain against the CA's root.
served_is() {
  local got line
  got=$(lab_served_serial "$1")
  [[ $got == "$2" ]] || fail "$1: nginx serves serial $got, want $2"
  line=$("$certcast" probe tls "$LAB_IP:$LAB_TLS_PORT" --sni "$1" --ca-file "$LAB_ROOTS")
  python3 - "$line" "$2" <<'EOF' || fail "certcast probe tls for $1: $line"
import json, sys
event = json.loads(sys.argv[1])
assert event["outcome"] == "ok", event
assert event["serial"] == sys.argv[2], event
EOF
}
cb_serial=$(lab_cert_serial "$cb_live/cert.pem")
lego_serial=$(lab_cert_serial "$lego_crt")
served_is cb.lab.test "$cb_serial"
served_is lg.lab.test "$lego_serial"

# Forced renewals, with the argv certcast's executors use.
lab_certbot renew --cert-name cb --force-renewal >"$LAB/logs/cb-renew.out" 2>&1 ||
  fail "certbot forced renewal: $(tail -n 5 "$LAB/logs/cb-renew.out")"
lab_lego --domains lg.lab.test "${LAB_LEGO_DNS01[@]}" renew --days 100000 --no-random-sleep \
  >"$LAB/logs/lego-renew.out" 2>&1 || fail "lego forced renewal: $(tail -n 5 "$LAB/logs/lego-renew.out")"
cb_serial2=$(lab_cert_serial "$cb_live/cert.pem")
lego_serial2=$(lab_cert_serial "$lego_crt")
[[ $cb_serial2 != "$cb_serial" ]] || fail "certbot renewal kept serial $cb_serial"
[[ $lego_serial2 != "$lego_serial" ]] || fail "lego renewal kept serial $lego_serial"
# nginx still serves the old certificates until it reloads, as a real server does.
[[ $(lab_served_serial cb.lab.test) == "$cb_serial" ]] || fail "nginx changed certificate before the reload"
lab_nginx_reload
served_is cb.lab.test "$cb_serial2"
served_is lg.lab.test "$lego_serial2"

# The clients' real logs, parsed: each issuance and renewal is one successful attempt.
# attempts CLIENT FILE WANT: WANT is "cert challenge outcome" per attempt, one a line.
attempts() {
  local events got
  events=$("$certcast" parse "$1" "$2") || fail "certcast parse $1 $2 exited $?"
  got=$(python3 -c 'import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e["type"] == "renewal":
        print(e["cert"], e.get("challenge", "-"), e["outcome"])' <<<"$events")
  [[ $got == "$3" ]] || fail "certcast parse $1: got
$got
want
$3
from events:
$events"
}
attempts certbot "$LAB/certbot/logs/letsencrypt.log" "cb http-01 success
cb http-01 success"
attempts lego "$LAB/lego/output.log" "lg.lab.test dns-01 success
lg.lab.test dns-01 success"
echo "e2e_lab_smoke: ok"
