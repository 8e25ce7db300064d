#!/usr/bin/env bash
# certcast hook / spool / probe host / scan --db, driven the way the ACME clients drive a hook:
# certbot 2.1's deploy hook, lego 4.9's renew hook and acme.sh's reloadcmd environments over
# client state trees holding certificates made here with openssl; a reload command that succeeds
# and one that fails; broken environments (exit 0, a clear message); then `certcast spool` |
# `certcast ingest` and `certcast events` show what was recorded, a second pass stores nothing
# new, and `certcast discover` over the same trees repeats the hook's issued lines exactly.
# `probe host` measures a temporary directory; `scan --db` stores a probe of an openssl s_server
# on 127.0.0.1.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

# ---- certificates and client state -----------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 3650 -subj "/CN=certcast hook test CA" 2>/dev/null
leaf() {  # NAME SERIAL SAN...: NAME.pem (leaf) and NAME.key, issued by ca.pem
  local name=$1 serial=$2; shift 2
  local san; san=$(printf 'DNS:%s,' "$@"); san=${san%,}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
    -out "$name.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\n' "$san" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "$serial" -days 90 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
}
leaf shop 0x04ab01 shop.test www.shop.test
leaf lego 0x04ab02 l.test '*.l.test'
leaf acme 0x04ab03 a.test
not_before() { date -u -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ; }

# certbot: live/NAME/cert.pem -> ../../archive/NAME/cert1.pem, as certbot lays it out.
le="$work/etc/letsencrypt"
mkdir -p "$le/archive/shop" "$le/live/shop" "$le/renewal"
cp shop.pem "$le/archive/shop/cert1.pem"
ln -s ../../archive/shop/cert1.pem "$le/live/shop/cert.pem"
cat >"$le/renewal/shop.conf" <<CONF
version = 2.1.0
cert = $le/live/shop/cert.pem
[renewalparams]
authenticator = standalone
server = https://127.0.0.1:14000/dir
CONF
touch -d '2026-11-28 02:00:00 UTC' "$le/archive/shop/cert1.pem"
# lego: certificates/DOMAIN.crt (leaf + issuer) and DOMAIN.json.
lego_dir="$work/srv/.lego"
mkdir -p "$lego_dir/certificates" "$lego_dir/accounts"
cat lego.pem ca.pem >"$lego_dir/certificates/l.test.crt"
printf '{"domain":"l.test","certUrl":"https://127.0.0.1:14000/certZ/04ab02","certStableUrl":""}\n' \
  >"$lego_dir/certificates/l.test.json"
touch -d '2026-11-28 02:10:00 UTC' "$lego_dir/certificates/l.test.crt"
# acme.sh: ~/.acme.sh/DOMAIN_ecc/DOMAIN.cer and DOMAIN.conf.
acme="$work/root/.acme.sh"
mkdir -p "$acme/a.test_ecc"
: >"$acme/account.conf"
cp acme.pem "$acme/a.test_ecc/a.test.cer"
cat >"$acme/a.test_ecc/a.test.conf" <<'CONF'
Le_Domain='a.test'
Le_Alt='no'
Le_Webroot='dns_cf'
Le_API='https://acme-staging-v02.api.letsencrypt.org/directory'
Le_CertCreateTime='1795832400'
Le_NextRenewTime='1798338000'
CONF
touch -d '2026-11-28 02:20:00 UTC' "$acme/a.test_ecc/a.test.cer"

spool="$work/spool"
spool_files() { find "$spool" -name '*.jsonl' 2>/dev/null | wc -l; }

# ---- the hooks -------------------------------------------------------------------------------
# certbot deploy hook with a reload that works: exit 0, the reload ran, one spool file.
RENEWED_LINEAGE="$le/live/shop" RENEWED_DOMAINS="shop.test www.shop.test" \
  "$CERTCAST" hook certbot --spool "$spool" --host web1 -- sh -c 'echo reloaded >>reload.log' \
  >hook1.out 2>hook1.err || fail "certbot hook: exit $? ($(cat hook1.err))"
[[ "$(cat reload.log)" == reloaded ]] || fail "the reload command did not run"
[[ "$(spool_files)" == 1 ]] || fail "certbot hook: $(spool_files) spool files, want 1"
grep -q '3 events for shop spooled' hook1.out || fail "certbot hook said: $(cat hook1.out)"

# lego renew hook with a reload that fails: the client must see the reload's exit code. The PEM
# and PFX paths are set as lego 4.9.1's renew sets them: always, though it wrote neither file.
set +e
LEGO_ACCOUNT_EMAIL=ops@l.test LEGO_CERT_DOMAIN=l.test \
  LEGO_CERT_PATH="$lego_dir/certificates/l.test.crt" \
  LEGO_CERT_KEY_PATH="$lego_dir/certificates/l.test.key" \
  LEGO_CERT_PEM_PATH="$lego_dir/certificates/l.test.pem" \
  LEGO_CERT_PFX_PATH="$lego_dir/certificates/l.test.pfx" \
  "$CERTCAST" hook lego --spool "$spool" --host web2 -- \
  sh -c 'echo "nginx: [emerg] cannot load certificate" >&2; exit 3' >hook2.out 2>hook2.err
rc=$?
set -e
[[ $rc == 3 ]] || fail "lego hook with a failing reload: exit $rc, want 3"
grep -q 'reload failed: sh -c .*: exit 3: nginx: \[emerg\] cannot load certificate' hook2.err ||
  fail "lego hook stderr: $(cat hook2.err)"

# acme.sh reloadcmd without a reload command of its own (cwd is the domain folder, as acme.sh runs it).
(cd "$acme/a.test_ecc" && Le_Domain=a.test CERT_PATH="$acme/a.test_ecc/a.test.cer" \
  CERT_KEY_PATH="$acme/a.test_ecc/a.test.key" CA_CERT_PATH="$acme/a.test_ecc/ca.cer" \
  CERT_FULLCHAIN_PATH="$acme/a.test_ecc/fullchain.cer" \
  "$CERTCAST" hook acme.sh --spool "$spool") >/dev/null 2>hook3.err || fail "acme.sh hook: exit $?"
[[ "$(spool_files)" == 3 ]] || fail "$(spool_files) spool files after three hooks, want 3"

# Broken environments: exit 0, a message that says what is missing, nothing spooled.
env -i PATH="$PATH" "$CERTCAST" hook certbot --spool "$spool" 2>bad1.err ||
  fail "hook without RENEWED_LINEAGE: exit $?, want 0"
grep -q "RENEWED_LINEAGE is not set: run \`certcast hook certbot\` as certbot's --deploy-hook" bad1.err ||
  fail "no RENEWED_LINEAGE: stderr $(cat bad1.err)"
mkdir -p "$le/live/ghost"
RENEWED_LINEAGE="$le/live/ghost" "$CERTCAST" hook certbot --spool "$spool" 2>bad2.err ||
  fail "hook with an unreadable certificate: exit $?, want 0"
grep -q "no events for ghost: $le/live/ghost/cert.pem: not a readable file" bad2.err ||
  fail "unreadable certificate: stderr $(cat bad2.err)"
"$CERTCAST" hook nginx --spool "$spool" 2>bad3.err || fail "hook with an unknown client: exit $?"
grep -q 'the first argument must be certbot, lego or acme.sh, not "nginx"' bad3.err || fail "$(cat bad3.err)"
# lego 5's --deploy-hook environment (LEGO_HOOK_*): named as such, not read.
LEGO_HOOK_CERT_NAME=l.test LEGO_HOOK_CERT_PATH="$lego_dir/certificates/l.test.crt" \
  "$CERTCAST" hook lego --spool "$spool" 2>bad5.err || fail "hook with lego 5's environment: exit $?"
grep -q "LEGO_HOOK_CERT_PATH is set but LEGO_CERT_DOMAIN is not: this is lego 5's --deploy-hook" bad5.err ||
  fail "lego 5 environment: stderr $(cat bad5.err)"
[[ "$(spool_files)" == 3 ]] || fail "a broken hook spooled something"
# An unwritable spool: exit 0 still, and the events are on stderr instead of lost.
: >not-a-dir
RENEWED_LINEAGE="$le/live/shop" "$CERTCAST" hook certbot --spool "$work/not-a-dir/spool" 2>bad4.err ||
  fail "hook with an unwritable spool: exit $?"
grep -q 'could not spool 2 events' bad4.err && grep -q '"type":"issued","cert":"shop"' bad4.err ||
  fail "unwritable spool: stderr $(cat bad4.err)"

# ---- spool -> ingest -> events ---------------------------------------------------------------
"$CERTCAST" spool --dir "$spool" >spooled.jsonl 2>spool.err || fail "spool: exit $? ($(cat spool.err))"
[[ $(wc -l <spooled.jsonl) == 8 ]] || fail "spool printed $(wc -l <spooled.jsonl) lines, want 8"
"$CERTCAST" ingest --db fleet.db spooled.jsonl 2>ingest1.err || fail "ingest: $(cat ingest1.err)"
grep -q '8 stored' ingest1.err || fail "first ingest: $(cat ingest1.err)"

"$CERTCAST" events --db fleet.db --cert shop >shop.jsonl
grep -qx '{"ts":"2026-11-28T02:00:00Z","type":"renewal","cert":"shop","outcome":"success","ca":"https://127.0.0.1:14000/dir"}' shop.jsonl ||
  fail "shop renewal: $(cat shop.jsonl)"
line=$(grep '"type":"issued"' shop.jsonl)
expect "$line" serial 04ab01 "shop issued"
expect "$line" names "shop.test|www.shop.test" "shop issued"
expect "$line" ts "$(not_before shop.pem)" "shop issued"
line=$(grep '"type":"deploy"' shop.jsonl)
expect "$line" host web1 "shop deploy"; expect "$line" outcome success "shop deploy"

"$CERTCAST" events --db fleet.db --cert l.test >lego.jsonl
line=$(grep '"type":"deploy"' lego.jsonl)
expect "$line" outcome failure "lego deploy"; expect "$line" host web2 "lego deploy"
[[ "$(field "$line" detail)" == *"exit 3: nginx: [emerg] cannot load certificate" ]] || fail "lego deploy detail: $line"
line=$(grep '"type":"issued"' lego.jsonl)
expect "$line" ca https://127.0.0.1:14000 "lego issued"; expect "$line" names "l.test|*.l.test" "lego issued"
grep -qx '{"ts":"2026-11-28T02:20:00Z","type":"renewal","cert":"a.test","outcome":"success","ca":"https://acme-staging-v02.api.letsencrypt.org/directory"}' \
  <("$CERTCAST" events --db fleet.db --cert a.test) || fail "acme.sh renewal missing"

# The daemon prints the spool on every cycle: a second pass stores nothing new.
"$CERTCAST" spool --dir "$spool" 2>/dev/null | "$CERTCAST" ingest --db fleet.db - 2>ingest2.err
grep -q '0 stored, 8 duplicates' ingest2.err || fail "second ingest: $(cat ingest2.err)"
# Re-running a hook on the same certificate (acme.sh's --install-cert does) adds no new renewal.
RENEWED_LINEAGE="$le/live/shop" "$CERTCAST" hook certbot --spool "$spool" >/dev/null 2>&1
"$CERTCAST" spool --dir "$spool" 2>/dev/null | "$CERTCAST" ingest --db fleet.db - 2>ingest3.err
grep -q '0 stored, 10 duplicates' ingest3.err || fail "re-run hook: $(cat ingest3.err)"

# discover names the lineages as the hooks do: its issued lines are the hooks' lines exactly.
"$CERTCAST" discover --root "$work" --host web1 2>/dev/null | grep '"type":"issued"' >discovered.jsonl
[[ $(wc -l <discovered.jsonl) == 3 ]] || fail "discover found $(wc -l <discovered.jsonl) issued, want 3"
while read -r line; do
  grep -qxF "$line" spooled.jsonl || fail "discover's $line is not what the hook recorded"
done <discovered.jsonl

# Retention: a file older than --keep is printed one last time, then deleted; bad lines reported.
old=$(find "$spool" -name '*.jsonl' | sort | head -n 1)
touch -d '40 days ago' "$old"
printf '{"ts":"2026-11-28T00:00:00Z","type":"renewal","cert":"x","outcome":"maybe"}\n' >"$spool/zz-bad.jsonl"
set +e
"$CERTCAST" spool --dir "$spool" --keep 30d >spooled2.jsonl 2>spool2.err
rc=$?
set -e
[[ $rc == 1 ]] || fail "spool with a bad line: exit $rc, want 1"
grep -q "$spool/zz-bad.jsonl:1: field \"outcome\": \"maybe\" is not one of success, failure" spool2.err ||
  fail "bad spool line: $(cat spool2.err)"
[[ ! -e "$old" ]] || fail "$old is older than --keep and was not deleted"
[[ $(wc -l <spooled2.jsonl) == 10 ]] || fail "spool printed $(wc -l <spooled2.jsonl) lines with the old file, want 10"
"$CERTCAST" spool --dir "$work/no-spool" >/dev/null 2>&1 || fail "a spool that does not exist yet: exit $?, want 0"

# ---- probe host ------------------------------------------------------------------------------
: >"$work/cron.log"
touch -d '2026-11-27 06:00:00 UTC' "$work/cron.log"
printf '#!/bin/sh\necho "certbot 2.1.0"\n' >fake-certbot; chmod +x fake-certbot
line=$("$CERTCAST" probe host --state-dir "$le" --client certbot --cron "$work/cron.log" \
  --host web1 --client-program "$work/fake-certbot") || fail "probe host: exit $?"
expect "$line" type host; expect "$line" host web1
expect "$line" scheduler_last_run 2026-11-27T06:00:00Z "probe host"
expect "$line" client_version 2.1.0 "probe host"
read -r total avail < <(df -B1 --output=size,avail "$le" | tail -n 1)
[[ "$(field "$line" disk_total_bytes)" == "$total" ]] || fail "disk total $(field "$line" disk_total_bytes), df says $total"
free=$(field "$line" disk_free_bytes)
(( free > 0 && free <= total )) || fail "disk free $free of $total"
set +e
line=$("$CERTCAST" probe host --state-dir "$work/missing" --client lego --host web1 \
  --client-program "$work/no-such-lego" --cron "$work/cron.log" 2>probe.err)
rc=$?
set -e
[[ $rc == 1 ]] || fail "probe host with missing pieces: exit $rc, want 1"
grep -q "disk space of $work/missing: No such file or directory" probe.err || fail "$(cat probe.err)"
[[ "$(field "$line" disk_free_bytes)" == "" && "$(field "$line" client_version)" == "" ]] ||
  fail "missing pieces were invented: $line"

# ---- scan --db -------------------------------------------------------------------------------
cat shop.pem ca.pem >shop-chain.pem
port=$(free_port)
start s_server openssl s_server -accept "127.0.0.1:$port" -cert shop-chain.pem -key shop.key -www -quiet
wait_tcp "$port"
cat >scan.toml <<TOML
[scan]
ca_file = "$work/ca.pem"
[[tls]]
endpoint = "127.0.0.1:$port"
sni = "shop.test"
cert = "shop"
TOML
"$CERTCAST" scan --config scan.toml --db fleet.db 2>scan.err || fail "scan --db: exit $? ($(cat scan.err))"
grep -q '1 events (1 stored, 0 duplicates)' scan.err || fail "scan --db: $(cat scan.err)"
line=$("$CERTCAST" events --db fleet.db --type tls_probe)
expect "$line" outcome ok "stored probe"; expect "$line" serial 04ab01 "stored probe"
set +e
"$CERTCAST" scan --config scan.toml --db fleet.db --out x.jsonl 2>/dev/null
rc=$?
set -e
[[ $rc == 2 ]] || fail "scan --db with --out: exit $rc, want 2"
echo "hook_test: ok"
