#!/usr/bin/env bash
# certcast probe dns --dnssec against real DNSSEC: zones signed with ldns-signzone (explicit
# inception and expiration, so rrsig_expires is known to the second), served by nsd as the
# authority and resolved by unbound as the validating resolver (trust anchors: the zones' DS
# records), both on free 127.0.0.1 ports and stopped by their PID. Cases: a valid zone (secure,
# exact expiry), expired signatures (bogus: SERVFAIL, answered with CD=1), signatures expiring in
# two days, an unsigned zone (insecure), NXDOMAIN proofs, a CNAME chain across zones, CAA climbs
# (in a secure zone, under the bogus zone, through unsigned zones), the non-validating path (nsd
# asked directly: no AD, so "insecure" even for the bogus zone: why --dnssec is opt-in), `scan`
# with dnssec targets, and `plan` naming the DNSSEC failure and the RRSIG hazard.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
PATH="$PATH:/usr/sbin"  # nsd and unbound live there; ctest may run without it
for tool in nsd unbound ldns-keygen ldns-signzone; do
  command -v "$tool" >/dev/null || fail "$tool not installed (Debian packages nsd, unbound, ldnsutils)"
done
cd "$work"

# Signature windows. Times are UTC; ldns-signzone takes YYYYMMDDhhmmss.
soon_epoch=$(( $(date +%s) + 2 * 86400 ))
soon_sig=$(date -u -d "@$soon_epoch" +%Y%m%d%H%M%S)
soon_iso=$(date -u -d "@$soon_epoch" +%Y-%m-%dT%H:%M:%SZ)
# zone NAME SIGN(inception expiration | "") RECORDS...: writes NAME.zone(.signed); a signed
# zone's DS goes into the resolver's trust anchors.
zone() {
  local name=$1 window=$2; shift 2
  {
    printf '$ORIGIN %s.\n$TTL 300\n' "$name"
    printf '@ SOA ns.%s. admin.%s. 1 3600 600 86400 300\n@ NS ns.%s.\nns A 127.0.0.1\n' "$name" "$name" "$name"
    printf '%s\n' "$@"
  } >"$name.zone"
  if [[ -z "$window" ]]; then cp "$name.zone" "$name.zone.signed"; return; fi
  local key; key=$(ldns-keygen -k -a ECDSAP256SHA256 "$name") || fail "ldns-keygen $name"
  ldns-signzone -i "${window% *}" -e "${window#* }" "$name.zone" "$key" || fail "ldns-signzone $name"
  cat "$key.ds" >>anchors
}
: >anchors
# "example" is unsigned and not anchored: a CAA climb that reaches it gets an answer (insecure)
# instead of a resolver asking the (unreachable) root.
zone example ""
zone good.example "20200101000000 20300101000000" '@ A 192.0.2.1' '@ CAA 0 issue "letsencrypt.org"' \
  'www CNAME host.soon.example.'
zone soon.example "20200101000000 $soon_sig" 'host A 192.0.2.2' '@ CAA 0 issue "letsencrypt.org"'
zone expired.example "20200101000000 20200201000000" '@ A 192.0.2.3' '@ CAA 0 issue "letsencrypt.org"'
zone plain.example "" '@ A 192.0.2.4'
zones=(example good.example soon.example expired.example plain.example)
[[ $(grep -c -w DS anchors) -eq 3 ]] || fail "anchors: $(cat anchors)"

nsd_port=$(free_udp_port)
{
  cat <<EOF
server:
  ip-address: 127.0.0.1
  port: $nsd_port
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$work"
  database: ""
  pidfile: "$work/nsd.pid"
  xfrdfile: "$work/xfrd.state"
  xfrdir: "$work"
  zonelistfile: "$work/zone.list"
  server-count: 1
remote-control:
  control-enable: no
EOF
  for z in "${zones[@]}"; do printf 'zone:\n  name: %s\n  zonefile: %s.zone.signed\n' "$z" "$z"; done
} >nsd.conf
start nsd nsd -d -c "$work/nsd.conf"
wait_tcp "$nsd_port"

unbound_port=$(free_udp_port)
{
  cat <<EOF
server:
  interface: 127.0.0.1
  port: $unbound_port
  do-ip6: no
  username: ""
  chroot: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: ""
  val-log-level: 2
  do-not-query-localhost: no
  trust-anchor-file: "$work/anchors"
  domain-insecure: "plain.example"
remote-control:
  control-enable: no
EOF
  for z in "${zones[@]}"; do printf 'stub-zone:\n  name: "%s"\n  stub-addr: 127.0.0.1@%s\n' "$z" "$nsd_port"; done
} >unbound.conf
unbound-checkconf unbound.conf >/dev/null || fail "unbound.conf: $(unbound-checkconf unbound.conf 2>&1)"
start unbound unbound -d -c "$work/unbound.conf"
wait_tcp "$unbound_port"

q() { "$CERTCAST" probe dns "$1" --resolver "127.0.0.1:$unbound_port" --timeout 5s "${@:2}"; }
line=$(q good.example --dnssec)
expect "$line" rcode NOERROR good; expect "$line" values 192.0.2.1 good
expect "$line" dnssec secure good; expect "$line" rrsig_expires 2030-01-01T00:00:00Z good
line=$(q good.example)  # without --dnssec nothing DNSSEC is claimed
expect "$line" values 192.0.2.1 "no --dnssec"; expect "$line" dnssec "" "no --dnssec"; expect "$line" rrsig_expires "" "no --dnssec"
line=$(q soon.example --type CAA --dnssec)
expect "$line" dnssec secure soon; expect "$line" rrsig_expires "$soon_iso" soon
# A CNAME chain from the 2030 zone into the two-day zone: the chain's earliest signature counts.
line=$(q www.good.example --dnssec)
expect "$line" values 192.0.2.2 chain; expect "$line" dnssec secure chain; expect "$line" rrsig_expires "$soon_iso" chain
# NXDOMAIN: the denial's NSEC and SOA signatures.
line=$(q nope.good.example --dnssec)
expect "$line" rcode NXDOMAIN nxdomain; expect "$line" dnssec secure nxdomain; expect "$line" rrsig_expires 2030-01-01T00:00:00Z nxdomain
# Expired signatures: unbound answers SERVFAIL; with CD=1 it hands the data over, so bogus, and
# the expiry read from that answer lies in the past.
line=$(q expired.example --dnssec)
expect "$line" rcode SERVFAIL expired; expect "$line" values "" expired
expect "$line" dnssec bogus expired; expect "$line" rrsig_expires 2020-02-01T00:00:00Z expired
line=$(q plain.example --dnssec)
expect "$line" rcode NOERROR plain; expect "$line" values 192.0.2.4 plain
expect "$line" dnssec insecure plain; expect "$line" rrsig_expires "" plain

# CAA climbs: found at the apex of the valid zone (every step secure); under the bogus zone (the
# first step is SERVFAIL, bogus: a CA refuses to issue); through unsigned zones up to the TLD.
line=$(q x.y.good.example --type CAA --dnssec)
expect "$line" values '0 issue "letsencrypt.org"' "caa good"; expect "$line" dnssec secure "caa good"
expect "$line" rrsig_expires 2030-01-01T00:00:00Z "caa good"
line=$(q www.expired.example --type CAA --dnssec)
expect "$line" name www.expired.example "caa bogus"; expect "$line" rcode SERVFAIL "caa bogus"
expect "$line" dnssec bogus "caa bogus"; expect "$line" rrsig_expires 2020-02-01T00:00:00Z "caa bogus"
line=$(q '*.plain.example' --type CAA --dnssec)
expect "$line" rcode NOERROR "caa plain"; expect "$line" values "" "caa plain"
expect "$line" dnssec insecure "caa plain"; expect "$line" rrsig_expires "" "caa plain"

# The non-validating path: nsd itself echoes DO and sends RRSIGs but validates nothing, so AD is
# never set. The expired zone reads "insecure" with its answer: the state is only as true as the
# resolver, which is why DNSSEC is asked for explicitly and --help says the resolver must validate.
line=$("$CERTCAST" probe dns good.example --resolver "127.0.0.1:$nsd_port" --dnssec)
expect "$line" dnssec insecure "nsd direct"; expect "$line" rrsig_expires 2030-01-01T00:00:00Z "nsd direct"
line=$("$CERTCAST" probe dns expired.example --resolver "127.0.0.1:$nsd_port" --dnssec)
expect "$line" rcode NOERROR "nsd direct expired"; expect "$line" dnssec insecure "nsd direct expired"

# Nobody answers: TIMEOUT, and no DNSSEC state is claimed.
line=$("$CERTCAST" probe dns good.example --resolver "127.0.0.1:$(free_udp_port)" --dnssec --timeout 1s)
expect "$line" rcode TIMEOUT silent; expect "$line" dnssec "" silent

cat >scan.toml <<TOML
[scan]
resolver = "127.0.0.1:$unbound_port"
timeout = "5s"
[[dns]]
name = "soon.example"
types = ["A", "CAA"]
dnssec = true
[[dns]]
name = "expired.example"
types = ["A"]
dnssec = true
[[dns]]
name = "good.example"
types = ["A"]
TOML
"$CERTCAST" scan --config scan.toml >scan.jsonl 2>scan.err || fail "scan: $(cat scan.err)"
mapfile -t lines <scan.jsonl
[[ ${#lines[@]} -eq 4 ]] || fail "scan wrote ${#lines[@]} lines, want 4"
expect "${lines[0]}" name soon.example "scan"; expect "${lines[0]}" rcode NOERROR "scan soon A"
expect "${lines[0]}" dnssec secure "scan soon A"; expect "${lines[0]}" rrsig_expires "$soon_iso" "scan soon A"
expect "${lines[1]}" rtype CAA "scan soon CAA"; expect "${lines[1]}" dnssec secure "scan soon CAA"
expect "${lines[2]}" dnssec bogus "scan expired"; expect "${lines[2]}" rrsig_expires 2020-02-01T00:00:00Z "scan expired"
expect "${lines[3]}" dnssec "" "scan target without dnssec"

# It flows: two lineages whose names are these zones, the scan's events in a store, and `plan`
# names the DNSSEC failure of one (an alert: renewing cannot help) and, by default, renews the other
# early because its zone's signatures expire one day before the client's own renewal is due
# (issued 57 days ago for 90 days: due at two thirds, in 3 days).
lineage() {  # CERT NAME ISSUED_DAYS_AGO LIFETIME_DAYS
  local issued expires ca=https://acme-v02.api.letsencrypt.org/directory
  issued=$(date -u -d "-$3 days" +%Y-%m-%dT%H:%M:%SZ)
  expires=$(date -u -d "$(( $4 - $3 )) days" +%Y-%m-%dT%H:%M:%SZ)
  printf '{"v":1,"ts":"%s","type":"config","cert":"%s","host":"web1","names":["%s"],"client":"certbot","ca":"%s","challenge":"http-01","ari":false}\n' \
    "$issued" "$1" "$2" "$ca"
  printf '{"v":1,"ts":"%s","type":"issued","cert":"%s","serial":"0a","not_before":"%s","not_after":"%s","ca":"%s","names":["%s"]}\n' \
    "$issued" "$1" "$issued" "$expires" "$ca" "$2"
}
{ lineage bogus expired.example 10 90; lineage soon soon.example 57 90; } >lineages.jsonl
"$CERTCAST" ingest --db "$work/plan.db" lineages.jsonl 2>ingest.err || fail "ingest: $(cat ingest.err)"
"$CERTCAST" scan --config scan.toml --db "$work/plan.db" 2>scan.err || fail "scan --db: $(cat scan.err)"
"$CERTCAST" plan --db "$work/plan.db" --format table >plan.txt 2>plan.err || fail "plan: $(cat plan.err)"
grep -E '^ *bogus ' plan.txt | grep -q 'DNSSEC' || fail "plan does not name DNSSEC for the bogus lineage: $(cat plan.txt)"
grep -E '^ *soon ' plan.txt | grep 'HazardEarlyRenewal' | grep -q "RRSIG) of the zone expire at $soon_iso" || fail "plan does not name the RRSIG expiry for soon: $(cat plan.txt)"
cat plan.txt
echo "probe_dnssec: ok"
