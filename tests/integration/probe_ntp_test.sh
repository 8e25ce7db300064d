#!/usr/bin/env bash
# certcast probe ntp against a real NTP server: Debian's chronyd in the foreground on
# 127.0.0.1:<free port> (-x: it never touches the system clock; `local stratum 8`: it serves its
# own clock, which is this machine's), with libfaketime (`faketime -f`) shifting only certcast's
# clock by a known amount. Then a listener that never answers (timeout), a closed port, and a small
# Python server for what chronyd never sends: a reply with the wrong origin timestamp (forged or
# stale: ignored), Kiss-o'-Death and an unsynchronised server. Last, `certcast scan` with [[ntp]]
# targets, and the lines through `certcast ingest`.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
command -v chronyd >/dev/null || fail "chronyd not installed (Debian package chrony)"
command -v faketime >/dev/null || fail "faketime not installed (Debian package faketime)"
cd "$work"

# faketime must move the clock of a program here at all (LD_PRELOAD can be disabled), or the
# offsets below would test nothing.
shifted=$(faketime -f '+42s' date +%s); now=$(date +%s)
(( shifted - now >= 41 && shifted - now <= 43 )) || fail "faketime -f +42s moved date by $((shifted - now)) s"

ntp=$(free_udp_port)
cat >chrony.conf <<CONF
port $ntp
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 8
cmdport 0
bindcmdaddress /
pidfile $work/chronyd.pid
CONF
# chronyd refuses to start as non-root unless told not to check (-U); as root it would drop to
# _chrony, which cannot read this directory, so it stays root (-u root). -x keeps its hands off
# the system clock either way, so it runs beside a system chronyd, or in a container.
if [[ $(id -u) -eq 0 ]]; then user_flags=(-u root); else user_flags=(-U); fi
start chronyd chronyd -x -d -f "$work/chrony.conf" "${user_flags[@]}"
for _ in $(seq 50); do
  "$CERTCAST" probe ntp "127.0.0.1:$ntp" --timeout 1s >/dev/null 2>&1 && break
  kill -0 "${pids[-1]}" 2>/dev/null || fail "chronyd exited: $(cat chronyd.log)"
  sleep 0.1
done

# within LINE WANT_MS: |offset_ms - WANT_MS| <= 500. With --timeout 2s each of the two attempts
# lasts at most 1 s, and an SNTP offset is off by at most half the round trip: 500 ms. chronyd
# serves this machine's own clock, so the true offset is exactly the shift faketime adds.
within() {
  python3 -c 'import json,sys; o=json.loads(sys.argv[1])["offset_ms"]; sys.exit(abs(o-float(sys.argv[2]))>500)' "$1" "$2" ||
    fail "offset_ms not within 500 ms of $2: $1"
}
p() { "$CERTCAST" probe ntp "127.0.0.1:$ntp" --timeout 2s "$@"; }
line=$(p --host web1)
expect "$line" type clock; expect "$line" host web1; expect "$line" source "ntp:127.0.0.1:$ntp"
expect "$line" synced "" "the server cannot say whether this host synchronises"
within "$line" 0
line=$(p); expect "$line" host "$(hostname)" "default host"
ahead=$(faketime -f '+42s' "$CERTCAST" probe ntp "127.0.0.1:$ntp" --timeout 2s); within "$ahead" 42000
behind=$(faketime -f '-7s' "$CERTCAST" probe ntp "127.0.0.1:$ntp" --timeout 2s); within "$behind" -7000
echo "probe_ntp: offset_ms against chronyd: plain $(field "$line" offset_ms)," \
  "faketime +42s $(field "$ahead" offset_ms), -7s $(field "$behind" offset_ms)" >&2

# fails WANT_EXIT WANT_STDERR CMD...: CMD exits WANT_EXIT, prints nothing, says WANT_STDERR.
fails() {
  local want_exit=$1 want=$2 rc; shift 2
  set +e; "$@" >out 2>err; rc=$?; set -e
  [[ $rc -eq $want_exit && ! -s out ]] || fail "$*: exit $rc, want $want_exit; out: $(cat out) err: $(cat err)"
  grep -qF -- "$want" err || fail "$*: stderr lacks '$want': $(cat err)"
}
# A listener that never answers: both attempts time out within the 1 s budget.
silent=$(free_udp_port)
start silent python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1])))
open("silent.ready","w").close()
while True: s.recv(512)' "$silent"
# Bound before the probe, or the kernel answers "port unreachable" (python starts slowly under load).
for _ in $(seq 100); do [[ -e silent.ready ]] && break; sleep 0.1; done
[[ -e silent.ready ]] || fail "the silent UDP listener did not start"
start_ms=$(date +%s%3N)
fails 3 "certcast: ntp 127.0.0.1:$silent: 127.0.0.1: no reply within 1s (2 attempts)" \
  "$CERTCAST" probe ntp "127.0.0.1:$silent" --timeout 1s
elapsed=$(( $(date +%s%3N) - start_ms ))
(( elapsed >= 900 && elapsed < 2500 )) || fail "--timeout 1s with no reply took $elapsed ms"
# Nothing bound at all: the kernel says so (ICMP port unreachable) at once.
closed=$(free_udp_port)
fails 3 "127.0.0.1: port unreachable: nothing listens there (2 attempts)" "$CERTCAST" probe ntp "127.0.0.1:$closed"
fails 2 'NTP server "127.0.0.1:99999" is not HOST, HOST:PORT, [V6] or [V6]:PORT' \
  "$CERTCAST" probe ntp 127.0.0.1:99999

# What a real server does not send. The server's behaviour is read from ./mode for each request,
# and every request is counted in ./requests.
bad=$(free_udp_port)
cat >bad_ntp.py <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    request, peer = s.recvfrom(512)
    with open("requests", "a") as f: f.write("1\n")
    mode = open("mode").read().strip()
    origin = request[40:48]
    now = int((time.time() + 2208988800) * 2**32)
    first, stratum, refid = 0x24, 2, b"GPS\0"      # LI 0, VN 4, mode 4 (server)
    if mode == "wrong-origin": origin = bytes(b ^ 0xff for b in origin)
    if mode == "kod": stratum, refid = 0, b"RATE"
    if mode == "unsynchronised": first = 0xe4        # LI 3
    s.sendto(bytes([first, stratum, 0, 0xe8]) + bytes(8) + refid + struct.pack(">Q", now) + origin +
             struct.pack(">QQ", now, now), peer)
PY
echo ok >mode
start bad python3 bad_ntp.py "$bad"
for _ in $(seq 50); do "$CERTCAST" probe ntp "127.0.0.1:$bad" --timeout 1s >/dev/null 2>&1 && break; sleep 0.1; done
line=$("$CERTCAST" probe ntp "127.0.0.1:$bad" --timeout 2s); within "$line" 0
: >requests; echo wrong-origin >mode
fails 3 "127.0.0.1: no reply within 1s (2 attempts); ignored: origin timestamp 0x" \
  "$CERTCAST" probe ntp "127.0.0.1:$bad" --timeout 1s
grep -qF "not a reply to this request" err || fail "wrong origin: $(cat err)"
[[ $(wc -l <requests) -eq 2 ]] || fail "wrong origin: $(wc -l <requests) requests, want 2 (one retry)"
: >requests; echo kod >mode
fails 3 "127.0.0.1: Kiss-o'-Death RATE: the server asks this client to poll less often" \
  "$CERTCAST" probe ntp "127.0.0.1:$bad" --timeout 2s
[[ $(wc -l <requests) -eq 1 ]] || fail "Kiss-o'-Death: $(wc -l <requests) requests, want 1 (no retry)"
echo unsynchronised >mode
fails 3 "127.0.0.1: leap indicator 3: the server's clock is not synchronised" \
  "$CERTCAST" probe ntp "127.0.0.1:$bad" --timeout 2s

# scan: [[ntp]] targets in config order, the [scan] host on the events, one error per dead target.
cat >scan.toml <<TOML
[scan]
host = "web2"
timeout = "2s"
[[ntp]]
server = "127.0.0.1:$ntp"
[[ntp]]
server = "127.0.0.1:$silent"
timeout = "1s"
TOML
set +e; "$CERTCAST" scan --config scan.toml >scan.jsonl 2>scan.err; rc=$?; set -e
[[ $rc -eq 1 ]] || fail "scan: exit $rc, want 1: $(cat scan.err)"
mapfile -t lines <scan.jsonl
[[ ${#lines[@]} -eq 1 ]] || fail "scan wrote ${#lines[@]} lines, want 1"
expect "${lines[0]}" host web2 scan; within "${lines[0]}" 0
grep -qF "certcast: scan: ntp 127.0.0.1:$silent: 127.0.0.1: no reply within 1s (2 attempts)" scan.err ||
  fail "scan error: $(cat scan.err)"
"$CERTCAST" ingest --db "$work/ntp.db" scan.jsonl 2>/dev/null || fail "ingest refused the clock line"
echo "probe_ntp: ok"
