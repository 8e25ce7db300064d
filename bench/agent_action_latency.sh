#!/usr/bin/env bash
# Time for an action to reach its agent (issue #17): from the server queuing a renewal for a host
# to that host's agent reporting its outcome and the renewal event it produced being stored.
#  1. one `certcast serve` (plan_interval 1s) on a fresh store, AGENTS `agent` tokens (host-1..N);
#  2. AGENTS real `certcast agent` processes (--interval INTERVAL, own state directory, a client
#     that succeeds at once standing in for certbot), already cycling;
#  3. one config + issued event per host (a certbot lineage 3 days from expiry: the safety net
#     renews it) posted at once; the next plan cycle queues one renewal per host;
#  4. per action: queued (audit action_queued, server clock), outcome reported (audit
#     action_outcome, server clock), renewal event stored (first seen by polling the store every
#     0.1 s, this machine's clock, so up to 0.1 s late). Prints min / median / p95 / max of
#     queued -> reported and queued -> event stored, over all actions.
#  5. the server's CPU (utime + stime from /proc/PID/stat) from the lineages posted to the last
#     outcome, the agents' total resident memory, and `uptime` before and after (the machine's load
#     is part of the figure).
# The agents poll: the expected figure is about INTERVAL/2 plus the client's run and one delivery.
# Usage: bench/agent_action_latency.sh [AGENTS] [INTERVAL]   (run it with `nice`)
# 1,000 agents need about 1,000 processes and file descriptors for this user (ulimit -u, -n).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTCAST=${CERTCAST:-$ROOT/${BUILD:-build}/certcast}
AGENTS=${1:-20}
INTERVAL=${2:-5s}
work=$(mktemp -d "${TMPDIR:-/tmp}/action-latency.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

db=$work/fleet.db
for i in $(seq "$AGENTS"); do
  "$CERTCAST" token create --db "$db" --name "host-$i" --scope agent --host "host-$i" >"token-$i"
  chmod 600 "token-$i"
done
ingest=$("$CERTCAST" token create --db "$db" --name loader --scope ingest)
printf '#!/bin/sh\nexit 0\n' >certbot
chmod 755 certbot
printf '[client]\nkind = "certbot"\npath = "%s/certbot"\ntimeout = "60s"\n' "$work" >agent.toml
port=$(free_port)
base="http://127.0.0.1:$port"
"$CERTCAST" serve --db "$db" --listen "127.0.0.1:$port" --plan-interval 1s --threads 8 \
  >serve.log 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
for i in $(seq "$AGENTS"); do
  "$CERTCAST" agent --server "$base" --token-file "token-$i" --state-dir "$work/state-$i" --host "host-$i" \
    --config agent.toml --spool-dir "" --discover-root "" --no-probes --interval "$INTERVAL" >"agent-$i.log" 2>&1 &
  pids+=($!)
done
# Every agent has run its first cycle (an empty delivery) before the lineages arrive; polled.
t0=$(date +%s)
for i in $(seq "$AGENTS"); do
  until grep -q '"msg":"cycle"' "agent-$i.log" 2>/dev/null; do
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "agent $i exited:" >&2; cat "agent-$i.log" >&2; exit 1; }
    (( $(date +%s) - t0 < 600 )) || { echo "agent $i: no cycle within 600 s" >&2; exit 1; }
    sleep 0.2
  done
done
echo "agents: $AGENTS cycling after $(( $(date +%s) - t0 )) s; $(uptime)"
# One awk over every agent's status file (a process per agent took minutes at 1,000 under load).
rss_kb=$(for pid in "${pids[@]:1}"; do echo "/proc/$pid/status"; done | xargs awk '/^VmRSS/ {s += $2} END {print s}')
echo "agents' resident memory: $(( rss_kb / 1024 )) MiB in total, $(( rss_kb / AGENTS )) KiB each"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of PID, in clock ticks
hz=$(getconf CLK_TCK)
cpu_before=$(cpu_ticks "${pids[0]}")
t_before=$(date +%s.%N)

now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
for i in $(seq "$AGENTS"); do
  printf '{"ts":"%s","type":"config","cert":"site-%s","host":"host-%s","names":["site-%s.example.com"],"client":"certbot","ca":"https://acme.example/directory","challenge":"http-01","ari":false}\n' \
    "$(iso $((now - 86400 * 85)))" "$i" "$i" "$i"
  printf '{"ts":"%s","type":"issued","cert":"site-%s","serial":"0a%04x","not_before":"%s","not_after":"%s","ca":"https://acme.example/directory"}\n' \
    "$(iso $((now - 86400 * 85)))" "$i" "$i" "$(iso $((now - 86400 * 85)))" "$(iso $((now + 86400 * 3)))"
done >lineages.jsonl
curl -sf -H "Authorization: Bearer $ingest" --data-binary @lineages.jsonl "$base/v1/events" >/dev/null

# Poll the store: first time each lineage's renewal event is seen; stop when all are, or after 10 min.
python3 - "$db" "$AGENTS" >stored.txt <<'PY'
import sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
seen = {}
deadline = time.time() + 600
while len(seen) < n and time.time() < deadline:
    con = sqlite3.connect(db, timeout=5)
    for (j,) in con.execute("SELECT json FROM events WHERE json LIKE '%\"type\":\"renewal\"%'"):
        cert = j.split('"cert":"', 1)[1].split('"', 1)[0]
        seen.setdefault(cert, time.time())
    con.close()
    time.sleep(0.1)
for cert, t in seen.items():
    print(cert, t)
PY
cpu_after=$(cpu_ticks "${pids[0]}")
t_after=$(date +%s.%N)
echo "server CPU: $(echo "scale=2; ($cpu_after - $cpu_before) / $hz" | bc) s over $(echo "scale=1; ($t_after - $t_before) / 1" | bc) s wall" \
  "(lineages posted to the last renewal event seen; the agents' idle cycles included); $(uptime)"
"$CERTCAST" audit --db "$db" --json >audit.jsonl
python3 - "$AGENTS" "$INTERVAL" <<'PY'
import datetime, json, sys
n, interval = int(sys.argv[1]), sys.argv[2]
def t(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
queued, reported = {}, {}
for line in open("audit.jsonl"):
    r = json.loads(line)
    rec = r.get("record", r)
    kind = r.get("kind")
    cert = rec.get("cert") if isinstance(rec, dict) else None
    if kind == "action_queued": queued.setdefault(cert, t(r["at"]))
    if kind == "action_outcome": reported.setdefault(cert, t(r["at"]))
stored = {c: float(x) for c, x in (l.split() for l in open("stored.txt"))}
def stats(name, ends):
    d = sorted(ends[c] - queued[c] for c in queued if c in ends)
    if not d:
        print(f"{name}: none"); return
    q = lambda p: d[min(len(d) - 1, int(p * len(d)))]
    print(f"{name}: {len(d)}/{len(queued)} actions; min {d[0]:.2f} s, median {q(0.5):.2f} s, p95 {q(0.95):.2f} s, max {d[-1]:.2f} s")
print(f"agents {n}, --interval {interval}, queued {len(queued)}")
stats("queued -> outcome reported", reported)
stats("queued -> renewal event stored", stored)
PY
