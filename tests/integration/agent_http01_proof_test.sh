#!/usr/bin/env bash
# Proof that the outside HTTP-01 answer comes from this host (issue #17; docs/decisions.md
# 2026-12-05; api/http01_proof.h). Two nginx on loopback at the same port: web1's own
# (127.0.0.1, root = the webroot certbot's renewal conf names) and another host's (127.0.0.2, its
# own root). The server resolves shop.test through pebble-challtestsrv's DNS, to one and then the
# other. Checks:
#  - web1's agent finds the webroot in certbot's renewal conf (discovery), places a random token
#    there, asks POST /v1/agent/http01-proof, and removes it: resolved to web1's nginx, the stored
#    http01_probe (vantage server) is ok and the agent logs the origin proven; the file was 0644
#    while served and nothing is left in the webroot after;
#  - resolved to the other nginx (it answers 404 for the token): error wrong_content, status 404,
#    "not proven" -- a finding apart from unreachable; resolved to an address where nothing
#    listens: refused;
#  - the route: 401 without a token, 403 for a read token, 403 for web2's agent token asking for
#    web1's name, 400 for a token that is not base64url; none of them stores anything;
#  - the audit names the agent that asked; the agent's discovery delivered web1's host health;
#  - an acme.sh domain conf (Le_Webroot) names the webroot of a second name, blog.test: both proven.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
command -v nginx >/dev/null || fail "nginx not installed (scripts/setup.sh --test installs nginx-light)"
command -v pebble-challtestsrv >/dev/null || fail "pebble-challtestsrv not installed (Debian package pebble)"
cd "$work"
umask 022

# ---- two web servers for one name -----------------------------------------------------------------
mkdir -p www1 www2 logs root/etc/letsencrypt/renewal root/etc/letsencrypt/live
chmod 755 "$work" www1 www2   # nginx (as this user or root's worker) reads the roots
http_port=$(tcp_port)
start_nginx "log_format proof '\$server_addr \$request_uri \$status';
  server { listen 127.0.0.1:$http_port; root $work/www1; access_log $work/logs/web1.log proof; }"
# The other host: a second nginx of its own (own config, pid and log).
sed -e "s#127.0.0.1:$http_port#127.0.0.2:$http_port#; s#$work/www1#$work/www2#; s#web1.log#other.log#" \
  -e "s#$work/nginx.pid#$work/nginx2.pid#; s#logs/error.log#logs/error2.log#" nginx.conf >nginx2.conf
start nginx2 nginx -p "$work" -c "$work/nginx2.conf"
wait_tcp "$http_port"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.2/$http_port") 2>/dev/null && break; sleep 0.1; done
dns_port=$(free_udp_port); mgmt=$(tcp_port)
start challtestsrv pebble-challtestsrv -dns01 "127.0.0.1:$dns_port" -management "127.0.0.1:$mgmt" \
  -http01 "" -https01 "" -tlsalpn01 "" -defaultIPv4 127.0.0.1 -defaultIPv6 ""
wait_tcp "$mgmt"
resolve_to() {  # ADDRESS: shop.test's A record as the server's resolver answers it
  curl -sSf -o /dev/null --data '{"host":"shop.test."}' "http://127.0.0.1:$mgmt/clear-a" &&
    curl -sSf -o /dev/null --data "{\"host\":\"shop.test.\",\"addresses\":[\"$1\"]}" "http://127.0.0.1:$mgmt/add-a" ||
    fail "challtestsrv add-a $1"
}

# ---- certbot's configuration on web1 names the webroot ---------------------------------------------
cat >root/etc/letsencrypt/renewal/shop.conf <<CONF
version = 2.1.0
[renewalparams]
authenticator = webroot
server = https://127.0.0.1:1/dir
webroot_path = $work/www1,
[[webroot_map]]
shop.test = $work/www1
CONF
cat >config.jsonl <<JSONL
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.test"],"client":"certbot","ca":"https://127.0.0.1:1/dir","challenge":"http-01","ari":false}
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"blog.test","host":"web1","names":["blog.test"],"client":"acme.sh","ca":"https://127.0.0.1:1/dir","challenge":"http-01","ari":false}
{"ts":"2026-12-01T00:00:00Z","type":"config","cert":"mail","host":"web2","names":["mail.test"],"client":"certbot","ca":"https://127.0.0.1:1/dir","challenge":"http-01","ari":false}
JSONL
fleet_server config.jsonl "threads = 2
probe_timeout = \"2s\"
probe_http01_port = $http_port
probe_resolver = \"127.0.0.1:$dns_port\""

proofs() {  # the stored http01_probe events from the server's vantage, one per line
  sqlite3 "$db" "SELECT json FROM events WHERE json LIKE '%\"type\":\"http01_probe\"%' AND json LIKE '%\"vantage\":\"server\"%' ORDER BY ts"
}
agent() {  # the agent of web1, one cycle; its log in agent.log
  "$CERTCAST" agent --once --server "$base" --token-file web1.token --state-dir "$work/state" --host web1 \
    --spool-dir "" --discover-root "$work/root" --probe-resolver "127.0.0.1:$dns_port" --probe-timeout 2s \
    --timeout 10s 2>agent.log || fail "agent --once: $(cat agent.log)"
}

# ---- resolved to web1's own nginx: proven ------------------------------------------------------------
resolve_to 127.0.0.1
agent
grep -q '"msg":"http-01 origin proven".*"name":"shop.test"' agent.log || fail "not proven from web1's nginx: $(cat agent.log)"
grep -q '"msg":"cycle".*"http01_proven":"1/1"' agent.log || fail "cycle does not count the proof: $(cat agent.log)"
[[ $(proofs | wc -l) == 1 ]] || fail "want one server http01_probe, got: $(proofs)"
line=$(proofs | tail -1)
has "$line" outcome '"ok"' "proof from web1"; has "$line" name '"shop.test"' "proof from web1"
grep -Eq "^127\.0\.0\.1 /\.well-known/acme-challenge/[A-Za-z0-9_-]{43} 200$" logs/web1.log ||
  fail "web1's nginx did not serve the token: $(cat logs/web1.log)"
[[ -z $(ls -A www1) ]] || fail "the webroot is not left as it was: $(find www1)"
[[ $(sqlite3 "$db" "SELECT count(*) FROM audit WHERE record LIKE '%\"route\":\"POST /v1/agent/http01-proof\"%' AND record LIKE '%\"token\":\"web1\"%'") == 1 ]] ||
  fail "the audit does not name the agent that asked for the proof"

# The agent collected on the way: discovery's config event for shop and the host health of the
# certbot it found (disk space of its state directory, measured, never guessed), about web1.
[[ -n $(sqlite3 "$db" "SELECT 1 FROM events WHERE json LIKE '%\"type\":\"host\",\"host\":\"web1\"%' AND json LIKE '%\"disk_free_bytes\":%'") ]] ||
  fail "no host health event of web1 from the agent's discovery: $(sqlite3 "$db" "SELECT json FROM events WHERE json LIKE '%\"type\":\"host\"%'")"

# ---- resolved to the other host's nginx: wrong_content ----------------------------------------------
resolve_to 127.0.0.2
agent
grep -q '"msg":"http-01 origin not proven".*"error":"wrong_content"' agent.log || fail "no wrong_content: $(cat agent.log)"
line=$(proofs | tail -1)
has "$line" outcome '"error"' "proof from the other host"; has "$line" error '"wrong_content"' "proof from the other host"
has "$line" status 404 "proof from the other host"
grep -Eq "^127\.0\.0\.2 /\.well-known/acme-challenge/[A-Za-z0-9_-]{43} 404$" logs/other.log ||
  fail "the other nginx was not asked: $(cat logs/other.log)"
[[ -z $(ls -A www1) ]] || fail "the token was not removed after a failed proof: $(find www1)"

# ---- resolved where nothing listens: unreachable, not wrong_content ---------------------------------
resolve_to 127.0.0.3
agent
line=$(proofs | tail -1)
has "$line" outcome '"error"' "proof with nothing listening"; has "$line" error '"refused"' "proof with nothing listening"
[[ $(proofs | wc -l) == 3 ]] || fail "want three proofs stored, got: $(proofs)"

# ---- the route refuses what is not an agent's own ----------------------------------------------------
post() {  # TOKEN BODY: the HTTP status; the answer in answer.json
  curl -sS -o answer.json -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    ${1:+-H "Authorization: Bearer $1"} --data "$2" "$base/v1/agent/http01-proof"
}
good='{"name":"shop.test","token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","body":"x"}'
[[ $(post "" "$good") == 401 ]] || fail "no token: $(cat answer.json)"
[[ $(post "$reader" "$good") == 403 ]] || fail "read token: $(cat answer.json)"
[[ $(post "$(cat web2.token)" "$good") == 403 ]] || fail "web2 asked for web1's name: $(cat answer.json)"
grep -q 'may only ask for the http-01 names of host \\"web2\\".s lineages; \\"shop.test\\" is none of them' answer.json ||
  fail "403's message: $(cat answer.json)"
[[ $(post "$(cat web1.token)" '{"name":"shop.test","token":"../../../etc/passwd","body":"x"}') == 400 ]] ||
  fail "a traversing token: $(cat answer.json)"
grep -q 'token: 16 to 128 base64url characters' answer.json || fail "400's message: $(cat answer.json)"
[[ $(proofs | wc -l) == 3 ]] || fail "a refused request stored a probe: $(proofs)"
# ---- acme.sh's domain conf names a webroot too: blog.test proven beside shop.test -------------------
# (Until now blog.test had no webroot on web1: no proof was asked for it.)
mkdir -p root/root/.acme.sh/blog.test
: >root/root/.acme.sh/account.conf
cat >root/root/.acme.sh/blog.test/blog.test.conf <<CONF
Le_Domain='blog.test'
Le_Alt='no'
Le_Webroot='$work/www1'
Le_API='https://127.0.0.1:1/dir'
CONF
resolve_to 127.0.0.1
curl -sSf -o /dev/null --data '{"host":"blog.test.","addresses":["127.0.0.1"]}' "http://127.0.0.1:$mgmt/add-a" ||
  fail "challtestsrv add-a blog.test"
agent
grep -q '"msg":"http-01 origin proven".*"name":"blog.test"' agent.log || fail "blog.test not proven from acme.sh's webroot: $(cat agent.log)"
grep -q '"msg":"cycle".*"http01_proven":"2/2"' agent.log || fail "cycle does not count both proofs: $(cat agent.log)"
[[ $(proofs | wc -l) == 5 ]] || fail "want five proofs stored, got: $(proofs)"
[[ -z $(ls -A www1) ]] || fail "the webroot is not left as it was after acme.sh's name: $(find www1)"
echo "agent_http01_proof: ok"
