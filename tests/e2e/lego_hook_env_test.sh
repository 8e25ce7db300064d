#!/usr/bin/env bash
# What Debian's lego (4.9.1) puts in its hooks' environment, measured against the lab's pebble
# rather than taken from lego's documentation (docs/collectors.md, src/collect/host/hook.h): a
# hook that records the LEGO_* variable names, run by `run --run-hook` and `renew --renew-hook`
# with and without --pem/--pfx. Then `certcast hook lego` itself as the renew hook: it spools the
# renewal and the issued certificate, whatever PEM/PFX paths lego adds. A lego upgrade that
# changes the variables fails here first.
# Usage: lego_hook_env_test.sh CERTCAST_BINARY REPO_ROOT
set -euo pipefail
certcast=$1
root=$2
# shellcheck source=lab_lib.sh
source "$root/tests/e2e/lab_lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

lab_start
cat >"$LAB/record-env.sh" <<'EOF'
#!/bin/sh
# The LEGO_* names lego set, without the lab's own (LEGO_CA_CERTIFICATES, LEGO_PATH).
env | sed -n 's/^\(LEGO_[A-Z_]*\)=.*/\1/p' | grep -v -x -e LEGO_CA_CERTIFICATES -e LEGO_PATH |
  sort | tr '\n' ' ' >"$1"
EOF
chmod +x "$LAB/record-env.sh"
domain=hookenv.lab.test
crt=$LAB/lego/certificates/$domain
lego_do() {  # NAME ARGS...: one lego command, its output in $LAB/logs/NAME.out
  local name=$1; shift
  lab_lego --domains "$domain" "${LAB_LEGO_DNS01[@]}" "$@" >"$LAB/logs/$name.out" 2>&1 ||
    fail "lego $name: $(tail -n 5 "$LAB/logs/$name.out")"
}
# expect_env FILE WANT: the recorded names, sorted.
expect_env() { [[ "$(cat "$1")" == "$2 " ]] || fail "$(basename "$1"): got '$(cat "$1")', want '$2'"; }
always="LEGO_ACCOUNT_EMAIL LEGO_CERT_DOMAIN LEGO_CERT_KEY_PATH LEGO_CERT_PATH"

# run: never the PEM/PFX paths, even when it writes those files.
lego_do run --pem --pfx run --run-hook "$LAB/record-env.sh $LAB/run.env"
expect_env "$LAB/run.env" "$always"
[[ -f $crt.pem && -f $crt.pfx ]] || fail "lego run --pem --pfx wrote no .pem/.pfx"
rm -f "$crt.pem" "$crt.pfx"
# renew: always both, even without --pem/--pfx, when it wrote neither file.
lego_do renew renew --no-random-sleep --days 999 --renew-hook "$LAB/record-env.sh $LAB/renew.env"
expect_env "$LAB/renew.env" "$always LEGO_CERT_PEM_PATH LEGO_CERT_PFX_PATH"
[[ ! -e $crt.pem && ! -e $crt.pfx ]] || fail "lego renew without --pem/--pfx wrote a .pem or .pfx"

# certcast's own hook, as lego runs it: one spool file with the renewal and the issued certificate.
spool=$LAB/spool
lego_do renew-certcast renew --no-random-sleep --days 999 --renew-hook "$certcast hook lego --spool $spool"
grep -q "certcast hook: 2 events for $domain spooled" "$LAB/logs/renew-certcast.out" ||
  fail "certcast hook under lego: $(grep -i certcast "$LAB/logs/renew-certcast.out")"
"$certcast" spool --dir "$spool" >"$LAB/spooled.jsonl"
serial=$(lab_cert_serial "$crt.crt")
grep -q "\"type\":\"issued\",\"cert\":\"$domain\",\"serial\":\"$serial\"" "$LAB/spooled.jsonl" ||
  fail "no issued event for the renewed certificate ($serial): $(cat "$LAB/spooled.jsonl")"
echo "lego_hook_env: ok (run: $always; renew adds LEGO_CERT_PEM_PATH LEGO_CERT_PFX_PATH)"
