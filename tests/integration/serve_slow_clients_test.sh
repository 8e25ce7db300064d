#!/usr/bin/env bash
# `certcast serve` against slow and greedy clients on 127.0.0.1 (issue #12, src/api/connection_guard.h):
#  1. slowloris: 60 connections from one address each send a request line and then one header
#     line a second, never finishing; the server (4 workers, 4 queued) keeps answering GET /healthz
#     (before the guard, 267 such connections left it unanswered for as long as they lasted) and
#     shuts the greedy connections down ("too_many_from_client" in its log);
#  2. a single slow client, within the per-address share, is shut down once header_timeout has
#     passed without complete headers ("header_timeout"), while it is still sending;
#  3. a request whose headers arrived is never cut for time: a body uploaded for longer than
#     header_timeout is stored (200).
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

db="$work/fleet.db"
ingest=$("$CERTCAST" token create --db "$db" --name ingest --scope ingest,read)
cat >serve.toml <<TOML
db = "$db"
listen = "127.0.0.1:0"
threads = 4
queue = 4
header_timeout = "6s"
max_connections_per_client = 2
TOML
serve_start serve.toml
port=${base##*:}
healthz() { curl -s -o /dev/null -m "$1" -w '%{http_code}' "$base/healthz" || true; }
[[ $(healthz 5) == 200 ]] || fail "healthz before the slow clients"

# ---- 1. slowloris from one address --------------------------------------------------------------
# The attacker keeps every connection it got and reports how many the server closed.
python3 - "$port" 60 40 >slowloris.txt 2>&1 <<'EOF' &
import socket, sys, time
port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    except OSError:
        pass
print("opened", len(socks), flush=True)
closed = set()
end = time.time() + seconds
while time.time() < end:
    time.sleep(1)
    for i, s in enumerate(socks):
        if i in closed: continue
        try:
            s.sendall(b"X-Slow: 1\r\n")
            s.setblocking(False)
            try:
                if s.recv(1) == b"": closed.add(i)
            except BlockingIOError:
                pass
            s.setblocking(True)
        except OSError:
            closed.add(i)
print("closed", len(closed), flush=True)
EOF
attacker=$!
pids+=("$attacker")
sleep 12  # the attacker's connections are open (and the surplus shut down) by now
ok=0
for _ in 1 2 3 4 5 6; do [[ $(healthz 5) == 200 ]] && ok=$((ok + 1)); sleep 1; done
[[ $ok == 6 ]] || fail "GET /healthz answered $ok of 6 times under 60 slow connections"
grep -q '"reason":"too_many_from_client"' serve.log || fail "no connection shut down for its share: $(tail -5 serve.log)"
wait "$attacker" || true
opened=$(awk '/^opened/ {print $2}' slowloris.txt)
closed=$(awk '/^closed/ {print $2}' slowloris.txt)
# Every connection the attacker got was shut down within its 40 s: its share of 2 by the header
# timeout, the rest for the share.
[[ -n "$opened" && "$opened" -ge 8 && "$closed" == "$opened" ]] || fail "attacker: $(cat slowloris.txt)"
grep -q '"reason":"header_timeout"' serve.log || fail "no connection shut down for its headers"

# ---- 2. one slow client, alone: the header timeout -----------------------------------------------
python3 - "$port" >slow_one.txt <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"GET /healthz HTTP/1.1\r\n")
start = time.time()
while time.time() - start < 20:
    time.sleep(0.5)
    try:
        s.sendall(b"X-Slow: 1\r\n")
        s.setblocking(False)
        try:
            if s.recv(1) == b"": break
        except BlockingIOError:
            pass
        s.setblocking(True)
    except OSError:
        break
print("%.1f" % (time.time() - start))
EOF
after=$(cat slow_one.txt)
python3 -c "import sys; t=float(sys.argv[1]); sys.exit(0 if 5.5 <= t <= 9.5 else 1)" "$after" ||
  fail "a lone slow client was shut down after ${after}s (header_timeout 6s, scans every 1s)"

# ---- 3. a slow body is not a slow header ----------------------------------------------------------
for i in $(seq 1 400); do
  printf '{"ts":"2026-11-0%dT00:00:00Z","type":"host","host":"slow%d","disk_free_bytes":%d}\n' $((i % 9 + 1)) "$i" "$i"
done >slow.jsonl
started=$(date +%s)
code=$(curl -sS -o slow_answer.json -w '%{http_code}' --limit-rate 2k -H "Authorization: Bearer $ingest" \
  --data-binary @slow.jsonl "$base/v1/events")
took=$(( $(date +%s) - started ))
[[ $code == 200 ]] || fail "slow upload: $code $(cat slow_answer.json)"
(( took >= 8 )) || fail "the upload took ${took}s, not longer than header_timeout: the check proves nothing"
grep -q '"stored":400' slow_answer.json || fail "slow upload not stored: $(cat slow_answer.json)"
echo "serve slow clients: ok (healthz 6/6 under $opened slow connections, all shut down; lone slow client cut after ${after}s; ${took}s upload stored)"
