#!/usr/bin/env bash
# certcast probe tls / http01 against a real nginx on 127.0.0.1 serving certificates made here with
# openssl: valid, expired, not yet valid, wrong name, untrusted chain, stapled OCSP "good" and
# "revoked" (responses made with openssl ocsp); plus connect refused and a
# hung server (timeout). HTTP-01: found, 404, wrong content, 403, redirects (allowed, to a
# forbidden port, a loop longer than 10), refused and timeout. Then `certcast scan` over a config
# that lists them all, concurrently.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
command -v nginx >/dev/null || fail "nginx not installed (scripts/setup.sh --test installs nginx-light)"

# ---- certificates ----------------------------------------------------------------------------
cd "$work"
mk_ca() {  # name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
    -days 3650 -subj "/CN=certcast test $1" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
mk_ca ca; mk_ca otherca
mkdir -p newcerts; : >index.txt; echo 1000 >serial
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = $work
database = $work/index.txt
new_certs_dir = $work/newcerts
serial = $work/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
# leaf NAME CA SAN START END: a server certificate with explicit validity (openssl ca can set
# dates in the past, which `x509 -req` in OpenSSL 3.0 cannot).
leaf() {  # ... [EXTRA_EXTENSION_LINE]
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
    -subj "/CN=$3" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n%s\n' "$3" "${6:-}" >"$1.ext"
  openssl ca -batch -notext -config ca.cnf -cert "$2.pem" -keyfile "$2.key" -in "$1.csr" -out "$1.pem" \
    -startdate "$4" -enddate "$5" -extfile "$1.ext" 2>"$1.calog" || { cat "$1.calog"; fail "openssl ca $1"; }
}
leaf valid     ca      shop.test  20250101000000Z 20350101000000Z
leaf expired   ca      shop.test  20200101000000Z 20200301000000Z
leaf future    ca      shop.test  20340101000000Z 20350101000000Z
leaf wrongname ca      other.test 20250101000000Z 20350101000000Z
leaf untrusted otherca shop.test  20250101000000Z 20350101000000Z
leaf stapled   ca      shop.test  20250101000000Z 20350101000000Z
leaf revoked   ca      shop.test  20250101000000Z 20350101000000Z
# Two embedded SCTs (RFC 6962 SignedCertificateTimestampList in the precert SCT extension), built
# by hand: 2 x (v1, 32-byte log ID, timestamp, no extensions, ecdsa/sha256, 8-byte signature).
# OpenSSL parses them without checking the signatures, which is all the count needs.
scts=$(python3 -c 'import struct
def sct(i):
    sig = bytes(range(8))
    body = bytes([0]) + bytes([i]) * 32 + struct.pack(">Q", 1700000000000) + struct.pack(">H", 0) + bytes([4, 3]) + struct.pack(">H", len(sig)) + sig
    return struct.pack(">H", len(body)) + body
lst = sct(1) + sct(2); tls = struct.pack(">H", len(lst)) + lst
print((bytes([0x04, len(tls)]) + tls).hex())')
leaf ct        ca      shop.test  20250101000000Z 20350101000000Z "1.3.6.1.4.1.11129.2.4.2=DER:$scts"
# OCSP responses for nginx to staple (ssl_stapling_file): "good" for one, "revoked" for the other.
openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -revoke revoked.pem 2>/dev/null || fail "openssl ca -revoke"
for k in stapled revoked; do
  openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -issuer ca.pem -cert "$k.pem" \
    -respout "$k.ocsp" -ndays 7 >/dev/null 2>&1 || fail "openssl ocsp $k"
done

# ---- nginx -------------------------------------------------------------------------------------
declare -A port
for k in valid expired future wrongname untrusted stapled revoked ct http blackhole closed; do port[$k]=$(free_port); done
mkdir -p www/.well-known/acme-challenge logs
printf 'token-content\n' >www/.well-known/acme-challenge/good
printf 'something else' >www/.well-known/acme-challenge/wrong
tls_servers=""
for k in valid expired future wrongname untrusted ct; do
  tls_servers+="server { listen 127.0.0.1:${port[$k]} ssl; ssl_certificate $work/$k.pem; ssl_certificate_key $work/$k.key; ssl_protocols TLSv1.2 TLSv1.3; return 200 ok; }
"
done
for k in stapled revoked; do
  tls_servers+="server { listen 127.0.0.1:${port[$k]} ssl; ssl_certificate $work/$k.pem; ssl_certificate_key $work/$k.key; ssl_protocols TLSv1.2 TLSv1.3; ssl_stapling on; ssl_stapling_file $work/$k.ocsp; return 200 ok; }
"
done
H=${port[http]}
start_nginx "  $tls_servers
  server {
    listen 127.0.0.1:$H;
    root $work/www;
    location = /.well-known/acme-challenge/forbidden { return 403; }
    location = /.well-known/acme-challenge/hop { return 302 http://shop.test:$H/.well-known/acme-challenge/good; }
    location = /.well-known/acme-challenge/badport { return 302 http://shop.test:81/.well-known/acme-challenge/good; }
    location = /.well-known/acme-challenge/ftp { return 302 ftp://shop.test/good; }
    location ~ ^/.well-known/acme-challenge/loop([0-9]+)$ { set \$n \$1; return 302 /.well-known/acme-challenge/loop\$n-; }
    location ~ ^/.well-known/acme-challenge/loop([0-9-]+)$ { return 302 /.well-known/acme-challenge/loop\$1-; }
  }
"
# A server that accepts and never answers: the handshake must time out.
start blackhole python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); held=[]
while True: held.append(s.accept()[0])' "${port[blackhole]}"
for k in valid expired future wrongname untrusted stapled revoked ct http blackhole; do wait_tcp "${port[$k]}"; done

# ---- TLS ---------------------------------------------------------------------------------------
probe_tls() { "$CERTCAST" probe tls "127.0.0.1:$1" --sni shop.test --ca-file "$work/ca.pem" "${@:2}"; }
line=$(probe_tls "${port[valid]}" --cert shop)
expect "$line" type tls_probe valid; expect "$line" outcome ok valid; expect "$line" error "" valid
expect "$line" cert shop valid; expect "$line" sni shop.test valid
expect "$line" endpoint "127.0.0.1:${port[valid]}" valid
want_serial=$(openssl x509 -in valid.pem -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')
expect "$line" serial "$want_serial" "valid serial"
expect "$line" not_after 2035-01-01T00:00:00Z valid
expect "$line" tls_version TLSv1.3 valid
[[ -n $(field "$line" cipher) ]] || fail "valid: no cipher: $line"
expect "$line" ocsp_stapled false valid; expect "$line" sct_count 0 valid
# The same line must be a valid events-v1 line for ingest.
echo "$line" >ok.jsonl
"$CERTCAST" ingest --db "$work/s.db" ok.jsonl 2>/dev/null || fail "certcast ingest refused: $line"

line=$(probe_tls "${port[expired]}");   expect "$line" error expired expired; expect "$line" outcome error expired
expect "$line" not_after 2020-03-01T00:00:00Z expired
line=$(probe_tls "${port[future]}");    expect "$line" error not_yet_valid future
line=$(probe_tls "${port[wrongname]}"); expect "$line" error name_mismatch wrongname
line=$(probe_tls "${port[untrusted]}"); expect "$line" error untrusted untrusted
[[ -n $(field "$line" serial) ]] || fail "untrusted: served serial must still be reported: $line"
# Without --ca-file the system store does not know the test CA: untrusted.
line=$("$CERTCAST" probe tls "127.0.0.1:${port[valid]}" --sni shop.test); expect "$line" error untrusted "system store"
line=$(probe_tls "${port[stapled]}");   expect "$line" outcome ok stapled; expect "$line" ocsp_stapled true stapled
line=$(probe_tls "${port[revoked]}");   expect "$line" error revoked revoked; expect "$line" ocsp_stapled true revoked
line=$("$CERTCAST" probe tls "127.0.0.1:${port[revoked]}" --sni other.test --ca-file "$work/ca.pem")
expect "$line" error revoked "revoked beats wrong name"
line=$(probe_tls "${port[ct]}");        expect "$line" outcome ok ct; expect "$line" sct_count 2 "embedded SCTs"
# No SNI for an IP endpoint: the IP must be in the certificate (it is not): name_mismatch, sni "".
line=$("$CERTCAST" probe tls "127.0.0.1:${port[valid]}" --ca-file "$work/ca.pem")
expect "$line" error name_mismatch "IP endpoint"; expect "$line" sni "" "IP endpoint"
line=$(probe_tls "${port[closed]}");    expect "$line" error connect closed
start_s=$(date +%s)
line=$(probe_tls "${port[blackhole]}" --timeout 1s); expect "$line" error timeout blackhole
(( $(date +%s) - start_s <= 5 )) || fail "timeout 1s took $(( $(date +%s) - start_s )) s"
# Plain HTTP on a TLS probe: the handshake fails.
line=$(probe_tls "$H"); expect "$line" error handshake "plain http"
# A CA file that does not exist is an error, not an event.
if "$CERTCAST" probe tls "127.0.0.1:${port[valid]}" --ca-file "$work/nope.pem" >out 2>err; then fail "missing CA file accepted"; fi
[[ ! -s out ]] || fail "missing CA file printed an event"
grep -q "^certcast: --ca-file $work/nope.pem: " err || fail "missing CA file: $(cat err)"

# ---- HTTP-01 -----------------------------------------------------------------------------------
probe_h() { "$CERTCAST" probe http01 shop.test --port "$H" --address 127.0.0.1 "$@"; }
line=$(probe_h);                                  expect "$line" outcome ok "unknown token"; expect "$line" status 404 "unknown token"
expect "$line" type http01_probe; expect "$line" name shop.test
line=$(probe_h --token good --expect token-content); expect "$line" outcome ok good; expect "$line" status 200 good
line=$(probe_h --token wrong --expect token-content); expect "$line" error wrong_content wrong
line=$(probe_h --token missing --expect token-content); expect "$line" error http_status missing; expect "$line" status 404 missing
line=$(probe_h --token forbidden);                 expect "$line" error http_status forbidden; expect "$line" status 403 forbidden
line=$(probe_h --token hop --expect token-content --vantage lab); expect "$line" outcome ok hop; expect "$line" vantage lab
line=$(probe_h --token badport);                   expect "$line" error redirect badport; expect "$line" status 302 badport
line=$(probe_h --token ftp);                       expect "$line" error redirect ftp
line=$(probe_h --token loop1);                     expect "$line" error redirect loop
line=$("$CERTCAST" probe http01 '*.shop.test' --port "${port[closed]}" --address 127.0.0.1)
expect "$line" error refused closed; expect "$line" name shop.test "wildcard prefix dropped"
line=$("$CERTCAST" probe http01 shop.test --port "${port[blackhole]}" --address 127.0.0.1 --timeout 1s)
expect "$line" error timeout blackhole

# ---- scan --------------------------------------------------------------------------------------
cat >scan.toml <<TOML
[scan]
concurrency = 3
timeout = "2s"
ca_file = "$work/ca.pem"
[[tls]]
endpoint = "127.0.0.1:${port[valid]}"
sni = "shop.test"
cert = "shop"
[[tls]]
endpoint = "127.0.0.1:${port[expired]}"
sni = "shop.test"
[[tls]]
endpoint = "127.0.0.1:${port[blackhole]}"
sni = "shop.test"
timeout = "1s"
[[tls]]
endpoint = "127.0.0.1:${port[wrongname]}"
sni = "shop.test"
[[http01]]
name = "shop.test"
port = $H
address = "127.0.0.1"
token = "good"
expect = "token-content"
TOML
"$CERTCAST" scan --config scan.toml --out scan.jsonl 2>scan.err || fail "scan exit $?: $(cat scan.err)"
mapfile -t lines <scan.jsonl
[[ ${#lines[@]} -eq 5 ]] || fail "scan wrote ${#lines[@]} lines, want 5"
expect "${lines[0]}" outcome ok "scan 0"; expect "${lines[0]}" cert shop "scan 0"
expect "${lines[1]}" error expired "scan 1"
expect "${lines[2]}" error timeout "scan 2"
expect "${lines[3]}" error name_mismatch "scan 3"
expect "${lines[4]}" outcome ok "scan 4"; expect "${lines[4]}" type http01_probe "scan 4"
"$CERTCAST" ingest --db "$work/scan.db" scan.jsonl 2>/dev/null || fail "ingest refused scan output"
# A bad config is a usage error naming the problem.
printf '[[tls]]\nsni = "x"\n' >bad.toml
set +e; "$CERTCAST" scan --config bad.toml 2>err >/dev/null; rc=$?; set -e
[[ $rc -eq 2 ]] || fail "bad config exit $rc, want 2"
grep -q "bad.toml: tls\[0\]: endpoint is missing" err || fail "bad config message: $(cat err)"
echo "probe_tls: ok"
