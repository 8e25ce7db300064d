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
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
command -v nginx >/dev/null || fail "nginx not installed (scripts/setup.sh --test installs nginx-light)"
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
tls_port=$(free_port)
start_nginx "server { listen 127.0.0.1:$tls_port ssl; ssl_certificate $work/leaf.pem; ssl_certificate_key $work/leaf.key; return 200 ok; }"
wait_tcp "$tls_port"

# ---- the store knows two lineages from their config events, nothing else ----------------------------
db="$work/fleet.db"
closed_port=$(free_port)   # the lineages' CA: nothing listens there
ca_url="https://127.0.0.1:$closed_port/dir"
cat >config.jsonl <<JSONL
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.test","localhost"],"client":"certbot","ca":"$ca_url","challenge":"http-01","ari":false}
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"mail","host":"web2","names":["mail.test"],"client":"lego","ca":"$ca_url","challenge":"dns-01","ari":false}
JSONL
"$CERTCAST" ingest --db "$db" config.jsonl >/dev/null || fail "ingest"
for h in web1 web2; do
  "$CERTCAST" token create --db "$db" --name "$h" --scope agent --host "$h" >"$h.token"
  chmod 600 "$h.token"
done
reader=$("$CERTCAST" token create --db "$db" --name reader --scope read)
cat >serve.toml <<TOML
db = "$db"
listen = "127.0.0.1:0"
threads = 4
probe = true
probe_interval = "1h"
probe_timeout = "3s"
probe_ca_file = "$work/ca.pem"
probe_public_ports = [$tls_port]
probe_local_ports = [$tls_port]
TOML
chmod 600 serve.toml
start serve "$CERTCAST" serve --config serve.toml
for _ in $(seq 300); do grep -q 'serving http://' serve.log && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.log | head -1)
[[ -n "$base" ]] || fail "server did not start: $(cat serve.log)"

# ---- GET /v1/agent/probes: each host its own targets ------------------------------------------------
get() {  # TOKEN: status code; the body in body.json
  curl -sS -o body.json -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} "$base/v1/agent/probes"
}
targets() { python3 -c 'import json; j=json.load(open("body.json")); print(" ".join(sorted(
  (t["endpoint"]+"/"+t["sni"]+"/"+t["cert"]+("/guessed" if t["guessed"] else "")) if t["type"]=="tls" else "ca/"+t["directory"]
  for t in j["targets"])))'; }
[[ $(get "$(cat web1.token)") == 200 ]] || fail "web1 probes: $(cat body.json)"
want="127.0.0.1:$tls_port/localhost/shop/guessed 127.0.0.1:$tls_port/shop.test/shop/guessed ca/$ca_url"
[[ $(targets) == "$want" ]] || fail "web1's targets: $(targets), want $want"
[[ $(get "$(cat web2.token)") == 200 ]] || fail "web2 probes: $(cat body.json)"
want="127.0.0.1:$tls_port/mail.test/mail/guessed ca/$ca_url"
[[ $(targets) == "$want" ]] || fail "web2's targets: $(targets), want $want"
[[ $(get "") == 401 ]] || fail "no token: $(cat body.json)"
[[ $(get "$reader") == 403 ]] || fail "read token: $(cat body.json)"

# ---- the agent runs them; their events reach the store ------------------------------------------------
tls_rows() {  # SNI ENDPOINT: stored tls_probe events
  sqlite3 "$db" "SELECT json FROM events WHERE json LIKE '%\"type\":\"tls_probe\"%' AND json LIKE '%\"endpoint\":\"$2\"%' AND json LIKE '%\"sni\":\"$1\"%'"
}
agent() {
  "$CERTCAST" agent --server "$base" --token-file web1.token --state-dir "$work/state" --host web1 \
    --spool-dir "" --discover-root "" --probe-ca-file "$work/ca.pem" --probe-timeout 3s --timeout 5s "$@"
}
agent --once 2>agent.log || fail "agent --once: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"3"' agent.log || fail "the agent did not run 3 probes: $(cat agent.log)"
for name in shop.test localhost; do
  line=$(tls_rows "$name" "127.0.0.1:$tls_port")
  [[ -n $line ]] || fail "no tls_probe of $name from the agent in the store: $(cat agent.log)"
  expect "$line" outcome ok "agent $name"; expect "$line" cert shop "agent $name"
  expect "$line" serial "$serial" "agent $name"
done
ca_rows=$(sqlite3 "$db" "SELECT count(*) FROM events WHERE json LIKE '%\"type\":\"ca_probe\"%' AND json LIKE '%127.0.0.1:$closed_port%' AND json LIKE '%\"outcome\":\"error\"%'")
(( ca_rows >= 1 )) || fail "the agent's CA probe is not stored"
# Its own limit wins over the server's list.
agent --once --probe-max 1 2>agent.log || fail "agent --probe-max 1: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"1"' agent.log || fail "--probe-max 1 ran other than 1 probe: $(cat agent.log)"
grep -q '"msg":"probe targets left out (this agent.s limits.*"left_out":"2"' agent.log ||
  fail "the left-out targets are not logged: $(cat agent.log)"
# --no-probes: none.
agent --once --no-probes 2>agent.log || fail "agent --no-probes: $(cat agent.log)"
grep -q '"msg":"cycle".*"probes":"0"' agent.log || fail "--no-probes probed: $(cat agent.log)"

# ---- the server's own round, from outside -----------------------------------------------------------
for _ in $(seq 100); do [[ -n $(tls_rows localhost "localhost:$tls_port") ]] && break; sleep 0.1; done
line=$(tls_rows localhost "localhost:$tls_port")
[[ -n $line ]] || fail "the server's probe of localhost:$tls_port is not stored: $(grep probe serve.log)"
expect "$line" outcome ok "server localhost"; expect "$line" serial "$serial" "server localhost"
grep -q '"msg":"server probe round".*"targets":[1-9]' serve.log || fail "no server probe round logged"
# shop.test does not resolve: a guessed endpoint with nothing behind it is not an endpoint in error.
[[ -z $(tls_rows shop.test "shop.test:$tls_port") ]] || fail "a guessed endpoint's connect error was stored"
# The server's round is audited under its own name.
[[ $(sqlite3 "$db" "SELECT count(*) FROM audit WHERE record LIKE '%\"token\":\"server-probe\"%'") -ge 1 ]] ||
  fail "the server's probe round is not in the audit log"
echo "agent_probes: ok"
