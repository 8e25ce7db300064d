#!/usr/bin/env bash
# Issue #12 findings 1, 4 and 11 against the built binary. `certcast run --once` renews a lineage
# about to expire with a fake certbot that prints Latin-1 ("Error: caf\xE9", as localized certbot
# does) and fails; the client has an EAB HMAC key in its arguments, the alert goes to a real HTTP
# server on 127.0.0.1 through a webhook URL with credentials and a token, and the daemon's
# environment holds a variable the client must not see. Then:
#   - the store ingest created and its -wal/-shm are 0600;
#   - the failure is stored with its detail as valid UTF-8, and `events` and `plan` still work;
#   - the client got its key, the server got the real URL, but neither the audit log nor the
#     daemon's stderr holds any of the secrets;
#   - the client saw its configured variable and not the daemon's secret;
#   - a config file others can write is refused, naming it and the fix;
#   - a row corrupted with the sqlite3 CLI is skipped, counted and named by `events` and `plan`,
#     which still read the rest and exit 0.
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/probe_lib.sh"
cd "$work"

# ---- a webhook receiver that records each request's path and Authorization -------------------
port=$(free_port)
cat >hook_server.py <<'PY'
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open("webhook.log", "a") as log:
            log.write(f"{self.path} {self.headers.get('Authorization', '')} {body.decode()}\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
start webhook python3 hook_server.py "$port"
wait_tcp "$port"

# ---- a lineage expiring in two days, and a certbot that fails in Latin-1 ---------------------
now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
cat >events.jsonl <<JSONL
{"ts":"$(iso $((now - 88 * 86400)))","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","client_version":"2.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false}
{"ts":"$(iso $((now - 88 * 86400)))","type":"issued","cert":"shop","serial":"0a","not_before":"$(iso $((now - 88 * 86400)))","not_after":"$(iso $((now + 2 * 86400)))","ca":"https://acme.example/dir"}
JSONL
cat >certbot <<SH
#!/bin/sh
env >"$work/client.env"
printf '%s\n' "\$@" >"$work/client.argv"
printf 'Saving debug log\nError: caf\351\n' >&2
exit 1
SH
chmod +x certbot
secrets=(EABSECRET0123 HOOKPASS42 PATHSECRET77 TOKENSECRET99)
cat >certcast.toml <<TOML
db = "$work/fleet.db"
lock_dir = "$work/locks"
[client]
kind = "certbot"
path = "$work/certbot"
extra_args = ["--eab-kid", "kid-1", "--eab-hmac-key", "EABSECRET0123"]
env = { CERTCAST_CONFIGURED_TEST = "configured" }
[alert]
webhook = "http://hookuser:HOOKPASS42@127.0.0.1:$port/hook/PATHSECRET77?token=TOKENSECRET99&team=web"
timeout = "5s"
TOML

"$CERTCAST" ingest --db fleet.db events.jsonl >ingest.out 2>&1 || fail "ingest: $(cat ingest.out)"
for f in fleet.db fleet.db-wal fleet.db-shm; do
  [[ ! -e $f || $(stat -c %a "$f") == 600 ]] || fail "$f is mode $(stat -c %a "$f"), want 600"
done
[[ $(stat -c %a fleet.db) == 600 ]] || fail "fleet.db is mode $(stat -c %a fleet.db), want 600"

# A config others can write chooses what root runs: refused before anything is done, with the
# file and the fix named; nothing stored changes.
chmod 0666 certcast.toml
before=$(sqlite3 fleet.db 'SELECT count(*) FROM events')
if "$CERTCAST" run --config certcast.toml --once >run.out 2>run.err; then
  fail "run --once took a world-writable config"
fi
grep -q "daemon config certcast.toml: mode 0666 lets group or others write it.*chmod go-w" run.err ||
  fail "run did not name the writable config: $(cat run.err)"
[[ $(sqlite3 fleet.db 'SELECT count(*) FROM events') == "$before" ]] || fail "the refused run changed the store"
[[ ! -e client.argv ]] || fail "the refused run started the client"
chmod 0644 certcast.toml

CERTCAST_SECRET_TEST=x "$CERTCAST" run --config certcast.toml --once >run.out 2>run.err ||
  fail "run --once: exit $? ($(cat run.err))"

# ---- finding 11: the client's environment ---------------------------------------------------
grep -q '^CERTCAST_CONFIGURED_TEST=configured$' client.env || fail "the configured variable did not reach the client"
! grep -q '^CERTCAST_SECRET_TEST=' client.env || fail "the daemon's CERTCAST_SECRET_TEST reached the client"
grep -q '^PATH=' client.env || fail "PATH did not reach the client"

# ---- finding 4: secrets used, never written -------------------------------------------------
grep -qx EABSECRET0123 client.argv || fail "the client did not get its EAB key: $(cat client.argv)"
grep -q '^/hook/PATHSECRET77?token=TOKENSECRET99&team=web Basic ' webhook.log ||
  fail "the webhook did not get the real URL: $(cat webhook.log 2>/dev/null)"
"$CERTCAST" audit --db fleet.db >audit.out 2>&1 || fail "audit: $(cat audit.out)"
grep -q 'REDACTED' audit.out || fail "the audit log shows no redaction: $(cat audit.out)"
for s in "${secrets[@]}"; do
  ! grep -q "$s" audit.out || fail "audit log holds the secret $s: $(grep "$s" audit.out)"
  ! grep -q "$s" run.err || fail "the daemon's stderr holds the secret $s: $(grep "$s" run.err)"
done

# ---- finding 1: the Latin-1 failure is stored readable, and nothing stops -------------------
"$CERTCAST" events --db fleet.db --type renewal >renewals.out 2>events.err || fail "events: $(cat events.err)"
grep -qF "\"detail\":\"exit 1: Error: caf"$'\xef\xbf\xbd'"\"" renewals.out ||
  fail "renewal detail not stored as valid UTF-8: $(cat renewals.out)"
"$CERTCAST" plan --db fleet.db >plan.out 2>plan.err || fail "plan after the failure: $(cat plan.err)"

# A row made unreadable in the file (as a binary without the fix wrote it): skipped, counted,
# named, and the rest still read.
sqlite3 fleet.db "UPDATE events SET json = replace(json, 'caf', 'caf' || CAST(X'E9' AS TEXT)) WHERE json LIKE '%\"renewal\"%'; DELETE FROM checkpoints;"
"$CERTCAST" events --db fleet.db >all.out 2>events.err || fail "events with a bad row: exit $? ($(cat events.err))"
[[ $(grep -c '"type":"config"\|"type":"issued"' all.out) == 2 ]] || fail "events did not print the readable rows: $(cat all.out)"
grep -q '^certcast: warning: 1 stored event unreadable, skipped (the rest were read): ts=[0-9]* (.*) hash=-\?[0-9]*: invalid JSON: The input is not valid UTF-8' events.err ||
  fail "events did not name the unreadable row: $(cat events.err)"
"$CERTCAST" plan --db fleet.db >plan.out 2>plan.err || fail "plan with a bad row: exit $? ($(cat plan.err))"
grep -q '^certcast: warning: 1 stored event unreadable' plan.err || fail "plan did not say it skipped a row: $(cat plan.err)"
echo "PASS"
