#!/usr/bin/env bash
# Actions from the server carried out exactly once by `certcast agent` (issue #17, part 2), with a
# real server and a real agent on 127.0.0.1:
#  - the server queues web1's renewals for its agent; the agent leases one, writes its intent and
#    runs the client (a script standing in for certbot: it counts its runs in a marker file and,
#    on its first run, writes the renewed certificate and then hangs);
#  - the agent is killed with SIGKILL in the middle of that run and started again: it reconciles
#    the interrupted action from the certificate on disk (newer than the intent: done) and reports
#    it without running the client again, then carries out the other action, whose renewal event
#    reaches the server through the outbox;
#  - each client run happened exactly once; the audit log has each action queued, leased and
#    reported once, naming the agent's token, and the chain verifies;
#  - a revoked token stops the agent (exit 4) and cannot lease.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

db="$work/fleet.db"
"$CERTCAST" token create --db "$db" --name web1-agent --scope agent --host web1 >agent.token
chmod 600 agent.token
reader=$("$CERTCAST" token create --db "$db" --name reader --scope read)

now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
lineage() {  # CERT: a certbot lineage on web1, three days from expiry (the safety net renews it)
  printf '{"ts":"%s","type":"config","cert":"%s","host":"web1","names":["%s.example.com"],"client":"certbot","ca":"https://acme-v02.api.letsencrypt.org/directory","challenge":"http-01","ari":false}\n' \
    "$(iso $((now - 86400 * 85)))" "$1" "$1"
  printf '{"ts":"%s","type":"issued","cert":"%s","serial":"0a%s","not_before":"%s","not_after":"%s","ca":"https://acme-v02.api.letsencrypt.org/directory"}\n' \
    "$(iso $((now - 86400 * 85)))" "$1" "${#1}" "$(iso $((now - 86400 * 85)))" "$(iso $((now + 86400 * 3)))"
}
{ lineage shop; lineage cms; } >events.jsonl
"$CERTCAST" ingest --db "$db" events.jsonl 2>/dev/null || fail "ingest"

# The client: one line per run in runs.txt; the first run writes the certificate (as certbot does
# under --config-dir) and hangs until killed; later runs succeed at once.
mkdir -p le
cat >certbot <<SH
#!/bin/sh
cert=\$(printf '%s\n' "\$@" | sed -n '/^--cert-name\$/{n;p;}')
echo "\$cert \$\$" >> "$work/runs.txt"
if [ ! -f "$work/first-done" ]; then
  touch "$work/first-done"
  mkdir -p "$work/le/live/\$cert" && echo renewed > "$work/le/live/\$cert/cert.pem"
  echo \$\$ > "$work/hung.pid"
  exec sleep 120
fi
exit 0
SH
chmod 755 certbot
cat >agent.toml <<TOML
[client]
kind = "certbot"
path = "$work/certbot"
extra_args = ["--config-dir", "$work/le"]
timeout = "150s"
TOML

cat >serve.toml <<TOML
db = "$db"
listen = "127.0.0.1:0"
threads = 4
TOML
serve_start serve.toml
get() { curl -sS -o body.json -w '%{http_code}' -H "Authorization: Bearer $reader" "$base$1"; }
json() { python3 -c 'import json,sys; j=json.load(open("body.json")); print(eval(sys.argv[1]))' "$1"; }
[[ $(get '/v1/queue?state=queued') == 200 ]] || fail "queue: $(cat body.json)"
[[ $(json 'sorted(a["cert"] for a in j["actions"])') == "['cms', 'shop']" ]] || fail "not queued: $(cat body.json)"

# The agent of web1, its state in state/; no spool, no discovery.
agent_cmd=("$CERTCAST" agent --server "$base" --token-file agent.token --state-dir "$work/state" --host web1
           --config agent.toml --spool-dir "" --discover-root "")
agent() { "${agent_cmd[@]}" "$@"; }

# ---- kill -9 in the middle of the first action ----------------------------------------------------------
"${agent_cmd[@]}" --interval 1h >agent1.log 2>&1 &  # not through the function: $! is the agent
agent_pid=$!
pids+=("$agent_pid")
for _ in $(seq 300); do [[ -s hung.pid ]] && break; sleep 0.1; done
[[ -s hung.pid ]] || fail "the client never started: $(cat agent1.log)"
pids+=("$(cat hung.pid)")
first=$(cut -d' ' -f1 runs.txt)
kill -KILL "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
# The intent is on disk; the outcome is not.
intent=$(grep -l "\"cert\":\"$first\"" state/actions/*.json) || fail "no intent journaled for $first"
grep -q '"outcome":null' "$intent" || fail "an outcome was journaled before the kill: $(cat "$intent")"
[[ $(stat -c %a "$intent") == 600 && $(stat -c %a state/actions) == 700 ]] || fail "journal not private"

# ---- restart: reconcile, report, carry out the rest -----------------------------------------------------
agent --once >agent2.log 2>&1 || fail "agent --once after the kill: exit $? ($(tail -5 agent2.log))"
grep -q '"msg":"interrupted action reconciled, not run again"' agent2.log || fail "no reconciliation: $(cat agent2.log)"
[[ $(wc -l <runs.txt) == 2 ]] || fail "client runs: $(cat runs.txt)"
[[ $(cut -d' ' -f1 runs.txt | sort | tr '\n' ' ') == "cms shop " ]] || fail "each lineage once: $(cat runs.txt)"
agent --once >agent3.log 2>&1 || fail "third agent run: exit $?"
[[ $(wc -l <runs.txt) == 2 ]] || fail "an action ran again: $(cat runs.txt)"

[[ $(get /v1/queue) == 200 ]] || fail "queue"
python3 - "$first" <<'PY' || fail "queue after the restart: $(cat body.json)"
import json, sys
first = sys.argv[1]
actions = {a["cert"]: a for a in json.load(open("body.json"))["actions"]}
for cert, a in actions.items():
    assert a["state"] == "done", a
    assert a["outcome"]["result"] == "success", a
assert "reconciled after a restart" in actions[first]["outcome"]["detail"], actions[first]
PY
# The renewal event of the action that ran to its end reached the store through the outbox.
second=$( [[ $first == shop ]] && echo cms || echo shop )
python3 - "$db" "$second" <<'PY' || fail "no forced renewal event of $second in the store"
import sqlite3, sys, json
rows = [json.loads(r[0]) for r in sqlite3.connect(sys.argv[1]).execute("select json from events where type = 2")]
assert any(r.get("cert") == sys.argv[2] and r.get("trigger") == "forced" and r.get("outcome") == "success" for r in rows), rows
PY

# ---- the audit log: each action queued, leased and reported, naming the agent ----------------------------
[[ $(get '/v1/audit?limit=1000') == 200 ]] || fail "audit"
python3 <<'PY' || fail "audit: $(python3 -c 'import json; [print(r["kind"], r["record"]) for r in json.load(open("body.json"))["records"] if r["kind"].startswith("action_")]')"
import json, collections
records = [r for r in json.load(open("body.json"))["records"] if r["kind"].startswith("action_")]
by_action = collections.defaultdict(list)
for r in records:
    by_action[r["record"]["cert"]].append((r["kind"], r["record"]["by"]))
assert len(by_action) == 2, by_action
for cert, kinds in by_action.items():
    assert kinds.count(("action_queued", "planner")) == 1, (cert, kinds)
    assert kinds.count(("action_outcome", "web1-agent")) == 1, (cert, kinds)
    assert all(by == "web1-agent" for kind, by in kinds if kind == "action_leased"), (cert, kinds)
    assert kinds[-1][0] == "action_outcome", (cert, kinds)
PY
[[ $(get /v1/audit/verify) == 200 && $(json 'j["ok"]') == True ]] || fail "audit chain: $(cat body.json)"

# ---- a revoked token stops the agent ---------------------------------------------------------------------
"$CERTCAST" token revoke --db "$db" web1-agent 2>/dev/null
rc=0; agent --once >agent4.log 2>&1 || rc=$?
[[ $rc == 4 ]] || fail "revoked token: exit $rc, want 4 ($(tail -3 agent4.log))"
curl -sS -o body.json -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat agent.token)" \
  -H 'Content-Type: application/json' -d '{}' "$base/v1/agent/actions/lease" >code.txt
[[ $(cat code.txt) == 401 ]] || fail "revoked token leases: $(cat code.txt)"
grep -qF "$(cut -c20- agent.token)" serve.log agent*.log && fail "a secret is in a log"
echo "agent_actions: ok"
