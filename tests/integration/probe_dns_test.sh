#!/usr/bin/env bash
# certcast probe dns against pebble-challtestsrv's mock DNS on 127.0.0.1, records set through its
# management API: A (set and default), AAAA, CAA (at the name and at an ancestor: the RFC 8659
# tree climb), TXT, SERVFAIL (plain and in the middle of a CAA climb), a resolver that does not
# answer (TIMEOUT), a truncated UDP answer retried over TCP (small Python server), and
# `certcast scan` with dns targets.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
command -v pebble-challtestsrv >/dev/null || fail "pebble-challtestsrv not installed (Debian package pebble)"

dns=$(free_udp_port); mgmt=$(free_port)
# TCP and UDP on the same port: challtestsrv serves both.
start challtestsrv pebble-challtestsrv -dns01 "127.0.0.1:$dns" -management "127.0.0.1:$mgmt" \
  -http01 "" -https01 "" -tlsalpn01 "" -defaultIPv4 127.0.0.9 -defaultIPv6 ""
wait_tcp "$mgmt"
ctl() {  # POST to the management API (python3 rather than curl: one package fewer)
  python3 -c 'import sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST"), timeout=5)' \
    "http://127.0.0.1:$mgmt/$1" "$2" || fail "challtestsrv $1 $2"
}
ctl add-a '{"host":"shop.example.test.","addresses":["203.0.113.9","203.0.113.7"]}'
ctl add-aaaa '{"host":"shop.example.test.","addresses":["2001:db8::1"]}'
ctl set-txt '{"host":"_acme-challenge.shop.example.test.","value":"tXt \"quoted\" value"}'
ctl add-caa '{"host":"example.test.","policies":[{"tag":"issue","value":"letsencrypt.org"},{"tag":"issuewild","value":";"}]}'
ctl add-caa '{"host":"own.example.test.","policies":[{"tag":"issue","value":"other-ca.example"}]}'
ctl set-servfail '{"host":"broken.example.test."}'
ctl set-servfail '{"host":"mid.example.test."}'

cd "$work"
q() { "$CERTCAST" probe dns "$1" --resolver "127.0.0.1:$dns" "${@:2}"; }
line=$(q shop.example.test)
expect "$line" type dns; expect "$line" rtype A A; expect "$line" rcode NOERROR A
expect "$line" values "203.0.113.7|203.0.113.9" "A sorted"
[[ -n $(field "$line" latency_ms) ]] || fail "no latency: $line"
line=$(q unknown.example.test);                 expect "$line" values 127.0.0.9 "default A"
line=$(q shop.example.test --type AAAA);        expect "$line" values 2001:db8::1 AAAA
line=$(q unknown.example.test --type AAAA);     expect "$line" rcode NOERROR "empty AAAA"; expect "$line" values "" "empty AAAA"
line=$(q _acme-challenge.shop.example.test --type TXT)
expect "$line" values '"tXt \"quoted\" value"' TXT
line=$(q broken.example.test);                  expect "$line" rcode SERVFAIL servfail; expect "$line" values "" servfail
# CAA: at the name itself, found at the parent (climb), wildcard prefix dropped, none anywhere.
line=$(q own.example.test --type CAA);          expect "$line" values '0 issue "other-ca.example"' "CAA at name"
line=$(q a.b.shop.example.test --type CAA)
expect "$line" name a.b.shop.example.test "climb"
expect "$line" values '0 issue "letsencrypt.org"|0 issuewild ";"' "CAA from ancestor"
line=$(q '*.shop.example.test' --type CAA);     expect "$line" name shop.example.test wildcard
expect "$line" values '0 issue "letsencrypt.org"|0 issuewild ";"' wildcard
line=$(q www.other.test --type CAA);            expect "$line" rcode NOERROR "no CAA"; expect "$line" values "" "no CAA"
# SERVFAIL on the way up ends the climb: a CA must not issue, and the event says why.
line=$(q x.mid.example.test --type CAA);        expect "$line" rcode SERVFAIL "climb servfail"; expect "$line" values "" "climb servfail"
ctl clear-servfail '{"host":"mid.example.test."}'
line=$(q x.mid.example.test --type CAA);        expect "$line" rcode NOERROR "cleared"; expect "$line" values '0 issue "letsencrypt.org"|0 issuewild ";"' cleared
# Nobody answers on this port: TIMEOUT within the timeout.
silent=$(free_udp_port)
line=$("$CERTCAST" probe dns shop.example.test --resolver "127.0.0.1:$silent" --timeout 1s)
expect "$line" rcode TIMEOUT silent
start_s=$(date +%s)
line=$("$CERTCAST" probe dns a.b.c.d.example.test --type CAA --resolver "127.0.0.1:$silent" --timeout 1s)
expect "$line" rcode TIMEOUT "silent CAA climb"
(( $(date +%s) - start_s <= 3 )) || fail "CAA climb with --timeout 1s took $(( $(date +%s) - start_s )) s"
# Truncation: a server that sets TC over UDP and answers fully over TCP (RFC 7766); the probe must
# retry over TCP and report the TCP answer.
tc=$(free_udp_port)
cat >tc.py <<'PY'
import socket, struct, sys, threading
port = int(sys.argv[1])
def question_end(q):
    i = 12
    while q[i]: i += 1 + q[i]
    return i + 5
def reply(q, truncated):
    end = question_end(q)
    flags = 0x8380 if truncated else 0x8180
    head = q[:2] + struct.pack(">HHHHH", flags, 1, 0 if truncated else 1, 0, 0)
    body = q[12:end]
    if not truncated:
        body += struct.pack(">HHHIH", 0xc00c, 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    return head + body
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", port))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", port)); t.listen(4)
def udp():
    while True:
        q, peer = u.recvfrom(4096); u.sendto(reply(q, True), peer)
threading.Thread(target=udp, daemon=True).start()
while True:
    c, _ = t.accept()
    try:  # wait_tcp's probe connection closes without a query: ignore it
        n = struct.unpack(">H", c.recv(2))[0]; q = b""
        while len(q) < n: q += c.recv(n - len(q))
        r = reply(q, False); c.sendall(struct.pack(">H", len(r)) + r)
    except Exception:
        pass
    c.close()
PY
start tc python3 tc.py "$tc"
wait_tcp "$tc"
line=$("$CERTCAST" probe dns big.example.test --resolver "127.0.0.1:$tc" --timeout 3s)
expect "$line" rcode NOERROR "TCP retry"; expect "$line" values 192.0.2.1 "TCP retry"

set +e; "$CERTCAST" probe dns shop.example.test --type MX >/dev/null 2>err; rc=$?; set -e
[[ $rc -eq 2 ]] && grep -q "is not one of A, AAAA, CNAME, CAA, NS, TXT" err || fail "--type MX: exit $rc $(cat err)"
set +e; "$CERTCAST" probe dns shop.example.test --resolver dns.example >/dev/null 2>err; rc=$?; set -e
[[ $rc -eq 2 ]] && grep -q 'is not an IP address' err || fail "--resolver name: exit $rc $(cat err)"

# All lines are valid events-v1.
for n in shop.example.test broken.example.test; do q "$n"; done >dns.jsonl
"$CERTCAST" ingest --db "$work/dns.db" dns.jsonl 2>/dev/null || fail "ingest refused dns lines"

cat >scan.toml <<TOML
[scan]
resolver = "127.0.0.1:$dns"
concurrency = 4
[[dns]]
name = "shop.example.test"
types = ["A", "AAAA", "CAA", "TXT"]
[[dns]]
name = "broken.example.test"
types = ["A"]
TOML
"$CERTCAST" scan --config scan.toml >scan.jsonl 2>scan.err || fail "scan: $(cat scan.err)"
mapfile -t lines <scan.jsonl
[[ ${#lines[@]} -eq 5 ]] || fail "scan wrote ${#lines[@]} lines, want 5"
expect "${lines[0]}" rtype A; expect "${lines[1]}" rtype AAAA; expect "${lines[2]}" rtype CAA
expect "${lines[2]}" values '0 issue "letsencrypt.org"|0 issuewild ";"' "scan CAA"
expect "${lines[3]}" rtype TXT; expect "${lines[3]}" values "" "no TXT at the name itself"
expect "${lines[4]}" rcode SERVFAIL "scan servfail"

# HTTP-01 through the mock DNS (--resolver): the probe goes where the A record points now, as the
# CA's validator would. A web server on 127.0.0.1 only; 127.0.0.2 is loopback too but nothing listens.
mkdir -p www && web=$(free_port)
start web python3 -m http.server "$web" --bind 127.0.0.1 --directory www
wait_tcp "$web"
ctl add-a '{"host":"here.example.test.","addresses":["127.0.0.1"]}'
ctl add-a '{"host":"moved.example.test.","addresses":["127.0.0.2"]}'
h() { "$CERTCAST" probe http01 "$1" --port "$web" --resolver "127.0.0.1:$dns" --timeout 3s "${@:2}"; }
line=$(h here.example.test);   expect "$line" outcome ok "http01 via mock DNS"
line=$(h moved.example.test);  expect "$line" outcome error "http01 moved"; expect "$line" error refused "http01 moved"
line=$(h broken.example.test); expect "$line" error refused "http01 SERVFAIL name"

# IPv6 as Let's Encrypt's validator uses it: AAAA first; IPv4 only when IPv6 fails at the network
# level (refused, timeout); any answer over IPv6 is final, so a stale AAAA pointing at another web
# server fails validation although IPv4 works. Needs ::1 on the loopback interface.
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  mkdir -p www/.well-known/acme-challenge www6/.well-known/acme-challenge
  echo right >www/.well-known/acme-challenge/tok
  echo stale >www6/.well-known/acme-challenge/tok
  ctl add-a '{"host":"dual.example.test.","addresses":["127.0.0.1"]}'
  ctl add-aaaa '{"host":"dual.example.test.","addresses":["::1"]}'
  ctl add-aaaa '{"host":"v6only.example.test.","addresses":["::1"]}'
  hv() { h "$1" --token tok --expect right; }
  # Nothing listens on [::1]: refused over IPv6, then IPv4 answers.
  line=$(hv dual.example.test);   expect "$line" outcome ok "AAAA refused, IPv4 fallback"
  line=$(hv v6only.example.test); expect "$line" error refused "AAAA refused, no A"
  if getent ahostsv6 localhost | grep -q '^::1 '; then
    line=$("$CERTCAST" probe http01 localhost --port "$web" --token tok --expect right --timeout 3s)
    expect "$line" outcome ok "system resolver: ::1 refused, IPv4 fallback"
  fi
  start web6 python3 -m http.server "$web" --bind ::1 --directory www6
  for _ in $(seq 100); do python3 -c "import socket,sys; socket.create_connection(('::1', $web), 1)" 2>/dev/null && break; sleep 0.1; done
  line=$(hv dual.example.test);   expect "$line" error wrong_content "stale AAAA answers: no fallback"
  line=$(hv v6only.example.test); expect "$line" error wrong_content "IPv6 only"
  line=$(h dual.example.test);    expect "$line" outcome ok "without --expect a 200 over IPv6 is reachable"
  if getent ahostsv6 localhost | grep -q '^::1 '; then
    line=$("$CERTCAST" probe http01 localhost --port "$web" --token tok --expect right --timeout 3s)
    expect "$line" error wrong_content "system resolver: IPv6 first"
  else
    echo "probe_dns: /etc/hosts has no ::1 localhost; the system-resolver IPv6 cases did not run" >&2
  fi
else
  echo "probe_dns: no ::1 on this machine; the IPv6 HTTP-01 cases did not run" >&2
fi
echo "probe_dns: ok"
