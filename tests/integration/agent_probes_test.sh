#!/usr/bin/env bash
# Probes without a hand-written list (issue #17): the server derives probe targets from the
# lineages it knows. A real nginx on 127.0.0.1 serves a certificate for shop.test and localhost;
# the store knows lineage "shop" on host web1 (names shop.test, localhost) and "mail" on web2 from
# their config events only -- no scan config names anything. Checks:
#  - GET /v1/agent/probes hands web1 only web1's targets (each name on 127.0.0.1 at the server's
#    probe_local_ports, the CA directory), web2 only web2's; 401 without a token, 403 for a read
#    token;
#  - `certcast agent --once` of web1 runs them and the tls_probe events (sni shop.test and
#    localhost, the served serial) arrive in the store; --probe-max 1 leaves the rest out, logged;
#  - the server's own round (probe = true) probes each name at probe_public_ports from where it
#    stands: localhost:PORT is stored; shop.test (does not resolve) is a guess with nothing behind
#    it and is not stored as an endpoint in error.
#  - the challenge path: shop is http-01, so web1's agent asks its own nginx (127.0.0.1 at
#    probe_http01_port, Host shop.test) for /.well-known/acme-challenge/<random token> and the
#    server asks shop.test where pebble-challtestsrv's DNS resolves it: http01_probe events with
#    vantage web1 and server, each request in nginx's access log with a new 43-character token;
#    "two" and "mail" are dns-01, so the agent and the server ask _acme-challenge.NAME CNAME and
#    NS (challtestsrv answers the CNAME): dns events.
#  - probe identity: lineage "two" has two names on one nginx address:port, each served with its
#    own certificate (a.two.test the lineage's older one, b.two.test the newest): the fleet view
#    has one result per (endpoint, SNI) and calls the lineage stale (keyed by endpoint alone, the
#    later probe, b's current one, would hide a's).
#  - the probe list survives the server's absence: the agent keeps it in its state directory
#    (probes.json, 0600); with the server stopped, `agent --once` still runs every target from it
#    (and exits non-zero: nothing acknowledged); a symlink in its place is refused.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
command -v nginx >/dev/null || fail "nginx not installed (scripts/setup.sh --test installs nginx-light)"
command -v pebble-challtestsrv >/dev/null || fail "pebble-challtestsrv not installed (Debian package pebble)"
cd "$work"

# ---- a certificate and nginx serving it ------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 \
  -subj "/CN=certcast agent probes test CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || fail "openssl CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=shop.test" \
  2>/dev/null || fail "openssl leaf key"
printf 'subjectAltName=DNS:shop.test,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 10 -extfile leaf.ext -out leaf.pem \
  2>/dev/null || fail "openssl leaf"
serial=$(openssl x509 -in leaf.pem -noout -serial | cut -d= -f2 | tr A-F a-f)
# Lineage "two": an older and a newer certificate for a.two.test and b.two.test.
printf 'subjectAltName=DNS:a.two.test,DNS:b.two.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >two.ext
for age in old new; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$age.key" -out "$age.csr" -subj "/CN=a.two.test" \
    2>/dev/null || fail "openssl $age key"
  openssl x509 -req -in "$age.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 10 -extfile two.ext -out "$age.pem" \
    2>/dev/null || fail "openssl $age"
done
old_serial=$(openssl x509 -in old.pem -noout -serial | cut -d= -f2 | tr A-F a-f)
new_serial=$(openssl x509 -in new.pem -noout -serial | cut -d= -f2 | tr A-F a-f)
tls_port=$(tcp_port); http_port=$(tcp_port)
tls() { echo "server { listen 127.0.0.1:$tls_port ssl; $1 ssl_certificate $work/$2.pem; ssl_certificate_key $work/$2.key; return 200 ok; }"; }
start_nginx "$(tls "" leaf) $(tls "server_name a.two.test;" old) $(tls "server_name b.two.test;" new)
  log_format probe '\$host \$request_uri';
  server { listen 127.0.0.1:$http_port; access_log $work/logs/access.log probe; return 404; }"
wait_tcp "$tls_port"; wait_tcp "$http_port"
# DNS as the CA and the DNS-01 hook would see it: every name resolves to 127.0.0.1, and
# _acme-challenge.mail.test / .a.two.test are delegated by CNAME.
dns_port=$(free_udp_port); mgmt=$(tcp_port)
start challtestsrv pebble-challtestsrv -dns01 "127.0.0.1:$dns_port" -management "127.0.0.1:$mgmt" \
  -http01 "" -https01 "" -tlsalpn01 "" -defaultIPv4 127.0.0.1 -defaultIPv6 ""
wait_tcp "$mgmt"
for name in mail.test a.two.test; do
  curl -sSf -o /dev/null --data "{\"host\":\"_acme-challenge.$name.\",\"target\":\"$name.acme-dns.test.\"}" \
    "http://127.0.0.1:$mgmt/set-cname" ||
    fail "challtestsrv set-cname $name"
done

# ---- the store knows two lineages from their config events, nothing else ----------------------------
closed_port=$(tcp_port)   # the lineages' CA: nothing listens there
ca_url="https://127.0.0.1:$closed_port/dir"
cat >config.jsonl <<JSONL
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.test","localhost"],"client":"certbot","ca":"$ca_url","challenge":"http-01","ari":false}
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"mail","host":"web2","names":["mail.test"],"client":"lego","ca":"$ca_url","challenge":"dns-01","ari":false}
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"two","host":"web1","names":["a.two.test","b.two.test"],"client":"certbot","ca":"$ca_url","challenge":"dns-01","ari":false}
{"ts":"2026-12-01T00:00:00Z","type":"issued","cert":"two","serial":"$old_serial","not_before":"2026-11-01T00:00:00Z","not_after":"2027-01-30T00:00:00Z","ca":"$ca_url"}
{"ts":"2026-12-02T00:00:00Z","type":"issued","cert":"two","serial":"$new_serial","not_before":"2026-12-02T00:00:00Z","not_after":"2027-03-02T00:00:00Z","ca":"$ca_url"}
JSONL
fleet_server config.jsonl "threads = 4
probe = true
probe_interval = \"1h\"
probe_timeout = \"3s\"
probe_ca_file = \"$work/ca.pem\"
probe_public_ports = [$tls_port]
probe_local_ports = [$tls_port]
probe_http01_port = $http_port
probe_resolver = \"127.0.0.1:$dns_port\""

# ---- GET /v1/agent/probes: each host its own targets ------------------------------------------------
get() {  # TOKEN: status code; the body in body.json
  curl -sS -o body.json -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} "$base/v1/agent/probes"
}
targets() { python3 -c 'import json; j=json.load(open("body.json")); print(" ".join(sorted(
  (t["endpoint"]+"/"+t["sni"]+"/"+t["cert"]+("/guessed" if t["guessed"] else "")) if t["type"]=="tls" else
  "http01/"+t["endpoint"]+"/"+t["name"] if t["type"]=="http01" else "dns/"+t["name"]+"/"+t["rtype"] if t["type"]=="dns" else
  "ca/"+t["directory"] for t in j["targets"])))'; }
[[ $(get "$(cat web1.token)") == 200 ]] || fail "web1 probes: $(cat body.json)"
want="127.0.0.1:$tls_port/a.two.test/two/guessed 127.0.0.1:$tls_port/b.two.test/two/guessed"
want+=" 127.0.0.1:$tls_port/localhost/shop/guessed 127.0.0.1:$tls_port/shop.test/shop/guessed ca/$ca_url"
want+=" dns/_acme-challenge.a.two.test/CNAME dns/_acme-challenge.a.two.test/NS dns/_acme-challenge.b.two.test/CNAME"
want+=" dns/_acme-challenge.b.two.test/NS http01/127.0.0.1:$http_port/localhost http01/127.0.0.1:$http_port/shop.test"
[[ $(targets) == "$want" ]] || fail "web1's targets: $(targets), want $want"
[[ $(get "$(cat web2.token)") == 200 ]] || fail "web2 probes: $(cat body.json)"
want="127.0.0.1:$tls_port/mail.test/mail/guessed ca/$ca_url dns/_acme-challenge.mail.test/CNAME dns/_acme-challenge.mail.test/NS"
[[ $(targets) == "$want" ]] || fail "web2's targets: $(targets), want $want"
[[ $(get "") == 401 ]] || fail "no token: $(cat body.json)"
[[ $(get "$reader") == 403 ]] || fail "read token: $(cat body.json)"

# ---- the agent runs them; their events reach the store ------------------------------------------------
tls_rows() {  # SNI ENDPOINT: stored tls_probe events
  sqlite3 "$db" "SELECT json FROM events WHERE json LIKE '%\"type\":\"tls_probe\"%' AND json LIKE '%\"endpoint\":\"$2\"%' AND json LIKE '%\"sni\":\"$1\"%'"
}
agent() {
  "$CERTCAST" agent --server "$base" --token-file web1.token --state-dir "$work/state" --host web1 \
    --spool-dir "" --discover-root "" --probe-ca-file "$work/ca.pem" --probe-timeout 3s --timeout 5s \
    --probe-resolver "127.0.0.1:$dns_port" "$@"
}
agent --once 2>agent.log || fail "agent --once: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"11"' agent.log || fail "the agent did not run 11 probes: $(cat agent.log)"
[[ $(stat -c %a "$work/state/probes.json") == 600 ]] || fail "the kept probe list is not 0600"
for name in shop.test localhost; do
  line=$(tls_rows "$name" "127.0.0.1:$tls_port")
  [[ -n $line ]] || fail "no tls_probe of $name from the agent in the store: $(cat agent.log)"
  has "$line" outcome '"ok"' "agent $name"; has "$line" cert '"shop"' "agent $name"
  has "$line" serial "\"$serial\"" "agent $name"
done
ca_rows=$(sqlite3 "$db" "SELECT count(*) FROM events WHERE json LIKE '%\"type\":\"ca_probe\"%' AND json LIKE '%127.0.0.1:$closed_port%' AND json LIKE '%\"outcome\":\"error\"%'")
(( ca_rows >= 1 )) || fail "the agent's CA probe is not stored"
# The challenge path from inside: this host's nginx answered for shop.test (404: a web server that
# would serve a real token), with a random token like a CA's.
event_rows() {  # TYPE NAME: stored events of TYPE about NAME
  sqlite3 "$db" "SELECT json FROM events WHERE json LIKE '%\"type\":\"$1\"%' AND json LIKE '%\"name\":\"$2\"%'"
}
line=$(event_rows http01_probe shop.test | grep '"vantage":"web1"' | head -1)
[[ -n $line ]] || fail "no http01_probe of shop.test from the agent: $(cat agent.log)"
has "$line" outcome '"ok"' "agent http01"; has "$line" status 404 "agent http01"
grep -Eq '^shop\.test /\.well-known/acme-challenge/[A-Za-z0-9_-]{43}$' logs/access.log ||
  fail "nginx saw no challenge request for shop.test: $(cat logs/access.log)"
line=$(event_rows dns _acme-challenge.a.two.test | grep '"rtype":"CNAME"' | head -1)
[[ -n $line ]] || fail "no dns event of _acme-challenge.a.two.test from the agent"
has "$line" rcode '"NOERROR"' "agent delegation"; has "$line" values '["a.two.test.acme-dns.test"]' "agent delegation"
[[ -n $(event_rows dns _acme-challenge.b.two.test | grep '"rtype":"NS"') ]] || fail "no NS question of _acme-challenge.b.two.test"
# Probe identity: one result per (endpoint, SNI); a.two.test serves the older certificate.
lineage_two() { curl -sS -H "Authorization: Bearer $reader" "$base/v1/lineages/two"; }
endpoints_two() { lineage_two | python3 -c 'import json,sys; j=json.load(sys.stdin); j=j.get("lineage", j)
print(j["served"], " ".join(sorted(e["endpoint"]+"/"+e["sni"]+"/"+e["serial"]+("/current" if e["current"] else "") for e in j["endpoints"])))'; }
want="stale 127.0.0.1:$tls_port/a.two.test/$old_serial 127.0.0.1:$tls_port/b.two.test/$new_serial/current"
for _ in $(seq 100); do [[ $(endpoints_two) == "$want" ]] && break; sleep 0.1; done
[[ $(endpoints_two) == "$want" ]] || fail "lineage two's endpoints: $(endpoints_two), want $want"
# Its own limit wins over the server's list.
agent --once --probe-max 1 2>agent.log || fail "agent --probe-max 1: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"1"' agent.log || fail "--probe-max 1 ran other than 1 probe: $(cat agent.log)"
grep -q '"msg":"probe targets left out (this agent.s limits.*"left_out":"10"' agent.log ||
  fail "the left-out targets are not logged: $(cat agent.log)"
# --no-probes: none.
agent --once --no-probes 2>agent.log || fail "agent --no-probes: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"0"' agent.log || fail "--no-probes probed: $(cat agent.log)"

# ---- the server's own round, from outside -----------------------------------------------------------
for _ in $(seq 100); do [[ -n $(tls_rows localhost "localhost:$tls_port") ]] && break; sleep 0.1; done
line=$(tls_rows localhost "localhost:$tls_port")
[[ -n $line ]] || fail "the server's probe of localhost:$tls_port is not stored: $(grep probe serve.log)"
has "$line" outcome '"ok"' "server localhost"; has "$line" serial "\"$serial\"" "server localhost"
grep -q '"msg":"server probe round".*"targets":[1-9]' serve.log || fail "no server probe round logged"
# shop.test does not resolve: a guessed endpoint with nothing behind it is not an endpoint in error.
[[ -z $(tls_rows shop.test "shop.test:$tls_port") ]] || fail "a guessed endpoint's connect error was stored"
# The server's round is audited under its own name.
[[ $(sqlite3 "$db" "SELECT count(*) FROM audit WHERE record LIKE '%\"token\":\"server-probe\"%'") -ge 1 ]] ||
  fail "the server's probe round is not in the audit log"
# The server asked the challenge path from outside: shop.test resolved by challtestsrv (127.0.0.1)
# to the same nginx; mail's delegation.
line=$(event_rows http01_probe shop.test | grep '"vantage":"server"' | head -1)
[[ -n $line ]] || fail "no http01_probe of shop.test from the server: $(grep probe serve.log)"
has "$line" outcome '"ok"' "server http01"
line=$(event_rows dns _acme-challenge.mail.test | grep '"rtype":"CNAME"' | head -1)
[[ -n $line ]] || fail "no dns event of _acme-challenge.mail.test from the server"
has "$line" values '["mail.test.acme-dns.test"]' "server delegation"
(( $(grep -c 'acme-challenge' logs/access.log) >= 3 && $(grep -o 'acme-challenge/.*' logs/access.log | sort -u | wc -l) >= 3 )) ||
  fail "challenge tokens are not new for each probe: $(cat logs/access.log)"

# ---- the server goes away: the kept list goes on being probed -----------------------------------------
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
if agent --once 2>agent.log; then fail "agent --once succeeded without a server"; fi
grep -q '"msg":"probing with the kept probe list"' agent.log || fail "the kept list was not used: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"11"' agent.log || fail "without the server, not 11 probes: $(cat agent.log)"
# A symlink planted in its place is not followed.
mv state/probes.json elsewhere.json; ln -s "$work/elsewhere.json" state/probes.json
if agent --once 2>agent.log; then fail "agent --once succeeded without a server"; fi
grep -q '"msg":"kept probe list unusable".*not a regular file' agent.log || fail "a symlinked list was used: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"0"' agent.log || fail "probes ran from a symlinked list: $(cat agent.log)"
echo "agent_probes: ok"
