#!/usr/bin/env bash
# certcast probe ca against a real pebble on 127.0.0.1 (directory + HEAD newNonce -> ca_probe,
# Date header -> clock), the same with an untrusted CA bundle (directory_tls) and with pebble
# stopped (directory_connect). Pebble 2.4.0 (Debian) has no renewalInfo, so ARI (RFC 9773) is
# checked against a small Python HTTP server that plays an ARI-capable CA: it answers only for the
# certificate ID computed independently here (openssl + Python base64), sends Retry-After, and a
# second run returns an invalid window (end before start), which must be refused.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
command -v pebble >/dev/null || fail "pebble not installed (Debian package pebble)"
cd "$work"

# TLS for pebble's listener (the Debian package ships no test certificates).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 3650 \
  -subj "/CN=certcast test CA" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout localhost.key -out localhost.csr \
  -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nauthorityKeyIdentifier=keyid\n' >ext.cnf
openssl x509 -req -in localhost.csr -CA ca.pem -CAkey ca.key -set_serial 0x00f1e2d3c4 -days 30 \
  -extfile ext.cnf -out localhost.pem 2>/dev/null
acme=$(free_port); mgmt=$(free_port)
cat >pebble.json <<JSON
{ "pebble": { "listenAddress": "127.0.0.1:$acme", "managementListenAddress": "127.0.0.1:$mgmt",
  "certificate": "$work/localhost.pem", "privateKey": "$work/localhost.key",
  "httpPort": $(free_port), "tlsPort": $(free_port), "ocspResponderURL": "",
  "externalAccountBindingRequired": false } }
JSON
start pebble env PEBBLE_VA_NOSLEEP=1 pebble -config "$work/pebble.json"
pebble_pid=${pids[-1]}
wait_tcp "$acme"
dir="https://127.0.0.1:$acme/dir"

mapfile -t lines < <("$CERTCAST" probe ca "$dir" --ca-file ca.pem --host lab1)
[[ ${#lines[@]} -eq 2 ]] || fail "probe ca printed ${#lines[@]} lines, want ca_probe + clock: ${lines[*]}"
expect "${lines[0]}" type ca_probe; expect "${lines[0]}" ca "$dir"; expect "${lines[0]}" outcome ok pebble
expect "${lines[0]}" status 200 pebble
[[ -n $(field "${lines[0]}" latency_ms) ]] || fail "no latency: ${lines[0]}"
expect "${lines[1]}" type clock; expect "${lines[1]}" host lab1; expect "${lines[1]}" source "http-date:$dir"
# Same machine, same clock: the offset is only the Date header's truncation to whole seconds.
python3 -c 'import sys; o=float(sys.argv[1]); sys.exit(0 if -1500 < o < 1500 else 1)' "$(field "${lines[1]}" offset_ms)" \
  || fail "clock offset against a local server: ${lines[1]}"
printf '%s\n' "${lines[@]}" >ca.jsonl
"$CERTCAST" ingest --db "$work/ca.db" ca.jsonl 2>/dev/null || fail "ingest refused probe ca output"

line=$("$CERTCAST" probe ca "$dir" | head -1)   # system store does not trust the test CA
expect "$line" outcome error untrusted; expect "$line" error directory_tls untrusted

# The TLS probe on pebble's listener without SNI: its certificate has IP:127.0.0.1, so it matches.
line=$("$CERTCAST" probe tls "127.0.0.1:$acme" --ca-file ca.pem)
expect "$line" outcome ok "IP SAN"; expect "$line" sni "" "IP SAN"

# Stop pebble (by its PID): the CA is down.
kill -TERM "$pebble_pid"; wait "$pebble_pid" 2>/dev/null || true
line=$("$CERTCAST" probe ca "$dir" --ca-file ca.pem)
expect "$line" outcome error down; expect "$line" error directory_connect down

# ---- ARI ---------------------------------------------------------------------------------------
aki=$(openssl x509 -in localhost.pem -noout -ext authorityKeyIdentifier | tail -1 | tr -d ' :' | sed 's/^keyid//')
serial=$(openssl x509 -in localhost.pem -noout -serial | cut -d= -f2)
want_id=$(python3 -c 'import base64,sys
b=lambda h: base64.urlsafe_b64encode(bytes.fromhex(h)).decode().rstrip("=")
s=sys.argv[2]; s=("0"+s) if len(s)%2 else s
if int(s[:2],16) >= 0x80: s="00"+s   # DER INTEGER keeps a leading zero for a high first bit
print(b(sys.argv[1])+"."+b(s))' "$aki" "$serial")
ari_port=$(free_port)
cat >ari.py <<'PY'
import http.server, json, sys
port, want = int(sys.argv[1]), sys.argv[2]
base = "http://127.0.0.1:%d" % port
state = {"calls": 0}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self):
        self.send(200, headers=[("Replay-Nonce", "abc")]) if self.path == "/nonce" else self.send(404)
    def do_GET(self):
        if self.path == "/dir":
            return self.send(200, json.dumps({"newNonce": base + "/nonce", "renewalInfo": base + "/ri/"}).encode())
        if self.path != "/ri/" + want:
            return self.send(404, b"unknown certificate ID " + self.path.encode())
        state["calls"] += 1
        window = {"start": "2027-01-01T00:00:00Z", "end": "2027-01-02T00:00:00Z"}
        if state["calls"] > 1:
            window = {"start": "2027-01-02T00:00:00Z", "end": "2027-01-01T00:00:00Z"}
        body = json.dumps({"suggestedWindow": window, "explanationURL": "https://ca.test/why"}).encode()
        self.send(200, body, [("Retry-After", "21600")])
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
start ari python3 ari.py "$ari_port" "$want_id"
wait_tcp "$ari_port"
mapfile -t lines < <("$CERTCAST" probe ca "http://127.0.0.1:$ari_port/dir" --ari-cert localhost.pem --cert shop)
[[ ${#lines[@]} -eq 3 ]] || fail "ARI run printed ${#lines[@]} lines, want ca_probe, clock, ari: ${lines[*]} $(cat "$work/ari.log")"
expect "${lines[0]}" outcome ok "ari ca"
ari=${lines[2]}
expect "$ari" type ari; expect "$ari" cert shop; expect "$ari" ca "http://127.0.0.1:$ari_port/dir"
expect "$ari" window_start 2027-01-01T00:00:00Z; expect "$ari" window_end 2027-01-02T00:00:00Z
expect "$ari" retry_after_s 21600; expect "$ari" explanation_url https://ca.test/why
printf '%s\n' "$ari" >ari.jsonl
"$CERTCAST" ingest --db "$work/ari.db" ari.jsonl 2>/dev/null || fail "ingest refused the ari line"
# Second answer has end before start: RFC 9773 says treat it as no answer -> no ari event, exit 3.
set +e; "$CERTCAST" probe ca "http://127.0.0.1:$ari_port/dir" --ari-cert localhost.pem --cert shop >out 2>err; rc=$?; set -e
[[ $rc -eq 3 ]] || fail "invalid window: exit $rc, want 3 (the CA answered badly)"
grep -q '"type":"ari"' out && fail "invalid window produced an ari event"
grep -q "renewalInfo: suggestedWindow end is not after start" err || fail "invalid window: $(cat err)"
# scan: a ca target whose ARI answer is invalid keeps its ca_probe and clock events and reports
# the ARI error; a ca target that is down gives its error event. Exit 1: something was missing.
cat >scan.toml <<TOML
[scan]
host = "lab2"
[[ca]]
directory = "http://127.0.0.1:$ari_port/dir"
ari_cert = "$work/localhost.pem"
cert = "shop"
[[ca]]
directory = "$dir"
ca_file = "$work/ca.pem"
timeout = "2s"
TOML
set +e; "$CERTCAST" scan --config scan.toml --out scan.jsonl 2>scan.err; rc=$?; set -e
[[ $rc -eq 1 ]] || fail "scan exit $rc, want 1: $(cat scan.err)"
mapfile -t lines <scan.jsonl
[[ ${#lines[@]} -eq 3 ]] || fail "scan wrote ${#lines[@]} lines, want 3: ${lines[*]}"
expect "${lines[0]}" outcome ok "scan ca"; expect "${lines[1]}" host lab2 "scan clock"
expect "${lines[2]}" error directory_connect "scan ca down"
grep -q "certcast: scan: ca http://127.0.0.1:$ari_port/dir: ARI: .*suggestedWindow end is not after start" scan.err \
  || fail "scan ARI error: $(cat scan.err)"
echo "probe_ca: ok"
