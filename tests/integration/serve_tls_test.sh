#!/usr/bin/env bash
# certcast serve over TLS with the operator's certificate and key, reloaded on SIGHUP: a client
# connected before the SIGHUP keeps its connection and finishes its requests; a new connection
# after it gets the new certificate; a bad new pair (key of another certificate, garbage) is
# refused with the reason in the log and the previous certificate stays served.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

selfsigned() {  # NAME: NAME.pem / NAME.key for 127.0.0.1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -out "$1.pem" -days 30 -subj "/CN=certcast $1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
}
selfsigned old
selfsigned new
selfsigned other
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
cp old.pem tls.pem
cp old.key tls.key
chmod 600 tls.key

start serve "$CERTCAST" serve --db "$work/fleet.db" --listen 127.0.0.1:0 --tls-cert tls.pem \
  --tls-key tls.key
server_pid=${pids[-1]}
for _ in $(seq 100); do grep -q 'serving https://' "$work/serve.log" && break; sleep 0.1; done
port=$(grep -o 'https://127.0.0.1:[0-9]*' "$work/serve.log" | head -1 | cut -d: -f3)
[[ -n "$port" ]] || fail "server did not start: $(cat "$work/serve.log")"

# served: the SHA-256 fingerprint of the certificate a new connection gets.
served() {
  openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}
[[ $(served) == "$(fingerprint old.pem)" ]] || fail "not serving the first certificate"

# A client connected before the reload: one keep-alive connection, a request before and two
# after the SIGHUP, on the same TLS session (the socket is checked to be the same one).
python3 - "$port" "$server_pid" "$(fingerprint old.pem)" "$work" <<'PY' || fail "client across SIGHUP"
import hashlib, http.client, os, shutil, signal, ssl, sys, time
port, pid, old_fp, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=os.path.join(work, "old.pem"))
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
def get():
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body)
conn.connect()
sock = conn.sock
fp = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest().upper()
assert ":".join(fp[i:i+2] for i in range(0, len(fp), 2)) == old_fp
get()
shutil.copy(os.path.join(work, "new.pem"), os.path.join(work, "tls.pem"))
shutil.copy(os.path.join(work, "new.key"), os.path.join(work, "tls.key"))
os.kill(pid, signal.SIGHUP)
log = os.path.join(work, "serve.log")
for _ in range(100):
    if "TLS certificate reloaded" in open(log).read():
        break
    time.sleep(0.1)
else:
    raise SystemExit("no reload in the log")
get()
get()
assert conn.sock is sock, "the connection was replaced"
conn.close()
PY
[[ $(served) == "$(fingerprint new.pem)" ]] || fail "a new connection does not get the new certificate"

# Bad pairs keep the current certificate.
cp other.pem tls.pem  # key stays new.key: mismatch
kill -HUP "$server_pid"
for _ in $(seq 100); do grep -q 'private key does not match' "$work/serve.log" && break; sleep 0.1; done
grep -q 'TLS reload refused, still serving the previous certificate: .*private key does not match the certificate' \
  "$work/serve.log" || fail "mismatched pair not refused: $(tail -3 "$work/serve.log")"
[[ $(served) == "$(fingerprint new.pem)" ]] || fail "a refused pair changed the certificate"
echo garbage >tls.pem
kill -HUP "$server_pid"
for _ in $(seq 100); do grep -q 'no PEM certificate' "$work/serve.log" && break; sleep 0.1; done
grep -q 'no PEM certificate' "$work/serve.log" || fail "garbage not refused"
[[ $(served) == "$(fingerprint new.pem)" ]] || fail "garbage changed the certificate"

# Plain HTTP on the TLS port gets no answer that looks like the API.
curl -s -m 5 "http://127.0.0.1:$port/healthz" | grep -q '"status":"ok"' && fail "plain HTTP answered"

kill -TERM "$server_pid"
rc=0; wait "$server_pid" || rc=$?
[[ $rc == 0 ]] || fail "serve exited $rc"
pids=()
echo "PASS: serve_tls"
