#!/usr/bin/env bash
# certcast run --once with [alert] alertmanager against a real Prometheus Alertmanager (Debian's
# prometheus-alertmanager) on 127.0.0.1 (cluster listener off), whose webhook receiver is a small
# HTTP server this test runs. What arrived is read back twice: from Alertmanager's own API
# (GET /api/v2/alerts, /api/v2/alerts/groups) and from the notifications it sends the receiver.
# Two lineages on one registered domain whose CAA lookup answers SERVFAIL, both expiring in two
# days:
#   - they arrive as ONE incident: one Alertmanager alert in one group, severity page, with the
#     labels, annotations, startsAt, endsAt (one re-notification interval ahead) and generatorURL
#     docs/alerts.md promises;
#   - Alertmanager is stopped, the cause clears, the next cycle resolves the incident and keeps the
#     post in the store's outbox; Alertmanager comes back and the next cycle delivers it, once: the
#     receiver gets the group resolved with endsAt = the incident's resolution;
#   - the cause returns under a silence set with `certcast silence add`: the incident is stored,
#     nothing reaches Alertmanager.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"
AM=$(command -v prometheus-alertmanager || true)
[[ -n "$AM" ]] || fail "prometheus-alertmanager is not installed (scripts/setup.sh --test)"

# ---- the receiver: every webhook body Alertmanager posts, one JSON per line ---------------------
hook_port=$(free_port)
cat >hook_server.py <<'PY'
import http.server, json, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open("received.jsonl", "a") as log:
            log.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
start hook python3 hook_server.py "$hook_port"
wait_tcp "$hook_port"

am_port=$(free_port)
cat >alertmanager.yml <<YAML
route:
  receiver: certcast-test
  group_by: [incident]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: certcast-test
    webhook_configs:
      - url: http://127.0.0.1:$hook_port/hook
        send_resolved: true
YAML
start_am() {
  start alertmanager "$AM" --config.file=alertmanager.yml --storage.path="$work/am-data" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=warn
  am_pid=${pids[-1]}
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$am_port/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "Alertmanager did not start: $(cat "$work/alertmanager.log")"
}
stop_am() { kill -TERM "$am_pid"; wait "$am_pid" 2>/dev/null || true; }
start_am

# wait_received PYTHON_CONDITION: until a received body satisfies it (b = the body), 20 s.
wait_received() {
  for _ in $(seq 200); do
    [[ -s received.jsonl ]] && python3 -c '
import json, sys
for line in open("received.jsonl"):
    b = json.loads(line)
    if '"$1"': sys.exit(0)
sys.exit(1)' && return 0
    sleep 0.1
  done
  fail "no Alertmanager notification with $1; received: $(cat received.jsonl 2>/dev/null)"
}

# ---- two lineages about to expire, their domain's CAA lookup failing ----------------------------
now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
lineage() {  # CERT
  echo "{\"ts\":\"$(iso $((now - 88 * 86400)))\",\"type\":\"config\",\"cert\":\"$1\",\"host\":\"web1\",\"names\":[\"$1.example.com\"],\"client\":\"certbot\",\"client_version\":\"2.1.0\",\"ca\":\"https://acme.example/dir\",\"challenge\":\"http-01\",\"ari\":false}"
  echo "{\"ts\":\"$(iso $((now - 88 * 86400)))\",\"type\":\"issued\",\"cert\":\"$1\",\"serial\":\"0a$1\",\"not_before\":\"$(iso $((now - 88 * 86400)))\",\"not_after\":\"$(iso $((now + 2 * 86400)))\",\"ca\":\"https://acme.example/dir\"}"
}
# The DNS probe reports a CAA lookup under the name it probed (the climb to example.com included).
caa() {  # CERT RCODE SECONDS_AGO
  echo "{\"ts\":\"$(iso $((now - $3)))\",\"type\":\"dns\",\"name\":\"$1.example.com\",\"rtype\":\"CAA\",\"rcode\":\"$2\",\"values\":[]}"
}
{ lineage shop; lineage blog; caa shop SERVFAIL 3600; caa blog SERVFAIL 3600; } >events.jsonl
cat >certbot <<'SH'
#!/bin/sh
echo "An unexpected error occurred: DNS problem: SERVFAIL looking up CAA for example.com" >&2
exit 1
SH
chmod +x certbot
cat >certcast.toml <<TOML
db = "$work/fleet.db"
lock_dir = "$work/locks"
allowed_cas = ["https://acme.example/dir"]
[client]
kind = "certbot"
path = "$work/certbot"
[alert]
alertmanager = "http://127.0.0.1:$am_port"
alertmanager_generator_url = "https://certcast.example/v1/incidents/"
alertmanager_labels = { team = "web" }
alertmanager_timeout = "3s"
TOML
"$CERTCAST" ingest --db fleet.db events.jsonl >ingest.out 2>&1 || fail "ingest: $(cat ingest.out)"
run_once() { "$CERTCAST" run --config certcast.toml --once >>run.out 2>>run.err || fail "run --once: $(tail -5 run.err)"; }
incidents() {  # prints "id state severity lineages" per incident
  python3 -c '
import json, sqlite3, sys
for doc, in sqlite3.connect(sys.argv[1]).execute("select document from incidents order by opened, id"):
    d = json.loads(doc)
    print(d["id"], d["state"], d["severity"], ",".join(sorted(l["cert"] for l in d["lineages"])))' fleet.db
}

# ---- 1. one incident, one page, both lineages ----------------------------------------------------
run_once
[[ $(incidents | wc -l) == 1 ]] || fail "want one incident, got: $(incidents)"
read -r incident state severity certs < <(incidents)
[[ $state == open && $severity == page && $certs == blog,shop ]] || fail "incident: $(incidents)"
wait_received "b['status'] == 'firing' and len(b['alerts']) == 1 and b['groupLabels'] == {'incident': '$incident'}"
am_get() { curl -sf "http://127.0.0.1:$am_port/api/v2/$1" || fail "GET /api/v2/$1"; }
am_get alerts >am_alerts.json
am_get alerts/groups >am_groups.json
python3 - "$incident" fleet.db <<'PY' || fail "Alertmanager's alerts: $(cat am_alerts.json); groups: $(cat am_groups.json)"
import datetime, json, sqlite3, sys
incident, db = sys.argv[1], sys.argv[2]
def t(text):  # RFC 3339 from Go (milliseconds) or certcast (microseconds)
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
doc, = sqlite3.connect(db).execute("select document from incidents where id = ?", (incident,)).fetchone()
d = json.loads(doc)
alerts = json.load(open("am_alerts.json"))
assert len(alerts) == 1, f"want one alert, got {len(alerts)}"
a = alerts[0]
assert a["labels"] == {"alertname": "CertcastIncident", "incident": incident, "cause": "caa_dnssec",
                       "cause_key": "domain:example.com", "severity": "page", "team": "web"}, a["labels"]
ann = a["annotations"]
assert set(ann) == {"summary", "lineages", "description"}, ann
assert sorted(ann["lineages"].split(",")) == ["blog", "shop"], ann
assert ann["summary"].startswith("caa_dnssec on domain:example.com: 2 lineages affected; "), ann
assert "CAA lookup answers SERVFAIL" in ann["summary"], ann
assert ann["description"] == f"2 lineages share the cause domain:example.com; dedupe key {incident}:page", ann
assert a["generatorURL"] == "https://certcast.example/v1/incidents/" + incident, a
assert a["status"]["state"] == "active", a["status"]
ms = datetime.timedelta(milliseconds=1)
assert abs(t(a["startsAt"]) - t(d["opened"])) < ms, (a["startsAt"], d["opened"])
# Firing: ends one re-notification interval (renotify_page, 24 h) after the notice.
want_end = t(d["notified_at"]) + datetime.timedelta(hours=24)
assert abs(t(a["endsAt"]) - want_end) < ms, (a["endsAt"], want_end)
groups = json.load(open("am_groups.json"))
assert len(groups) == 1 and groups[0]["labels"] == {"incident": incident}, groups
assert [g["fingerprint"] for g in groups[0]["alerts"]] == [a["fingerprint"]], groups
PY
# The notification the receiver got is that group with that one alert.
python3 - "$incident" <<'PY' || fail "firing notification: $(cat received.jsonl)"
import json, sys
b = json.loads(open("received.jsonl").readline())
assert b["status"] == "firing" and b["groupLabels"] == {"incident": sys.argv[1]}, b
assert len(b["alerts"]) == 1 and b["alerts"][0]["labels"]["severity"] == "page", b
assert b["alerts"][0]["generatorURL"] == "https://certcast.example/v1/incidents/" + sys.argv[1], b
PY
# The plan's per-lineage alerts did not go out on their own: the audit log has incident notices.
python3 - fleet.db <<'PY' || fail "audit of the notice"
import json, sqlite3, sys
rows = [json.loads(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(
    "select record from audit where kind = 'action' and record like '%notification%'")]
assert [(r["notification"], r["severity"]) for r in rows] == [("firing", "page")], rows
PY

# ---- 2. Alertmanager down while the cause clears: kept, then delivered ---------------------------
stop_am
renewed() {  # CERT
  echo "{\"ts\":\"$(iso $((now - 2)))\",\"type\":\"renewal\",\"cert\":\"$1\",\"outcome\":\"success\",\"ca\":\"https://acme.example/dir\"}"
  echo "{\"ts\":\"$(iso $((now - 2)))\",\"type\":\"issued\",\"cert\":\"$1\",\"serial\":\"0b$1\",\"not_before\":\"$(iso $((now - 2)))\",\"not_after\":\"$(iso $((now + 90 * 86400)))\",\"ca\":\"https://acme.example/dir\"}"
}
# Stamped just before now: a plan reads the events before its instant only.
now=$(date -u +%s)
{ renewed shop; renewed blog; caa shop NOERROR 1; caa blog NOERROR 1; } >recovered.jsonl
"$CERTCAST" ingest --db fleet.db recovered.jsonl >>ingest.out 2>&1 || fail "ingest: $(cat ingest.out)"
run_once
read -r _ state _ _ < <(incidents)
[[ $state == resolved ]] || fail "not resolved while Alertmanager is down: $(incidents); $(tail -3 run.err)"
grep -q 'Alertmanager did not take the alerts; kept for the next cycle' run.err ||
  fail "no outbox warning: $(tail -3 run.err)"
outbox() { python3 -c 'import json,sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute("select value from state where key=?",("alert.alertmanager.outbox.v1",)).fetchone(); print(len(json.loads(r[0])) if r else 0)' fleet.db; }
[[ $(outbox) == 1 ]] || fail "outbox holds $(outbox) posts, want 1"
start_am
run_once
[[ $(outbox) == 0 ]] || fail "outbox not flushed: $(outbox)"
wait_received "b['status'] == 'resolved' and b['groupLabels'] == {'incident': '$incident'}"
python3 - "$incident" fleet.db <<'PY' || fail "resolved notification: $(cat received.jsonl)"
import datetime, json, sqlite3, sys
incident, db = sys.argv[1], sys.argv[2]
def t(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
doc, = sqlite3.connect(db).execute("select document from incidents where id = ?", (incident,)).fetchone()
d = json.loads(doc)
bodies = [json.loads(line) for line in open("received.jsonl")]
resolved = [b for b in bodies if b["status"] == "resolved"]
assert len(resolved) == 1, resolved
a, = resolved[0]["alerts"]
assert a["labels"]["incident"] == incident and a["labels"]["severity"] == "page", a
assert a["status"] == "resolved", a
# endsAt is the incident's resolution, not Alertmanager's receipt of the late post.
assert abs(t(a["endsAt"]) - t(d["resolved"])) < datetime.timedelta(milliseconds=1), (a["endsAt"], d["resolved"])
# Exactly one post per state change: one firing, one resolved notice in the audit log.
rows = [json.loads(r[0]) for r in sqlite3.connect(db).execute(
    "select record from audit where kind = 'action' and record like '%notification%' order by rowid")]
assert [(r["notification"], r["severity"]) for r in rows] == [("firing", "page"), ("resolved", "page")], rows
PY
# Resolved: no longer among Alertmanager's active alerts.
[[ $(am_get 'alerts?active=true&silenced=true&inhibited=true&unprocessed=true') == "[]" ]] ||
  fail "a resolved incident is still active in Alertmanager: $(am_get alerts)"

# ---- 3. a silence in certcast: the cause returns, nothing is sent ---------------------------------
silence=$("$CERTCAST" silence add --db fleet.db --by alice --cause domain:example.com --for 1h \
  --comment 'provider maintenance' 2>>run.err) || fail "silence add: $(tail -3 run.err)"
lines_before=$(wc -l <received.jsonl)
now=$(date -u +%s)
{ lineage api; caa api SERVFAIL 1; } >again.jsonl
"$CERTCAST" ingest --db fleet.db again.jsonl >>ingest.out 2>&1 || fail "ingest: $(cat ingest.out)"
run_once
[[ $(incidents | grep -c ' open ') == 1 ]] || fail "the returning cause is not an open incident: $(incidents)"
python3 - fleet.db "$silence" <<'PY' || fail "silenced lineage not marked"
import json, sqlite3, sys
doc, = sqlite3.connect(sys.argv[1]).execute("select document from incidents where open = 1").fetchone()
d = json.loads(doc)
assert d["notifications"] == 0 and all(l["silenced_by"] == sys.argv[2] for l in d["lineages"] if not l["recovered"]), d
PY
# certcast posts during the cycle: had it sent anything, Alertmanager would hold it now.
[[ $(am_get alerts) == "[]" ]] || fail "a silenced incident reached Alertmanager: $(am_get alerts)"
[[ $(outbox) == 0 ]] || fail "a silenced incident waits in the outbox: $(outbox)"
[[ $(wc -l <received.jsonl) == "$lines_before" ]] || fail "a silenced incident was sent: $(tail -1 received.jsonl)"
echo "alertmanager: one incident = one alert in one group (labels, annotations, startsAt, endsAt, generatorURL read back), resolved after an outage through the outbox with endsAt, silence held"
