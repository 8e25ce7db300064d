#!/usr/bin/env bash
# The dashboard in a real browser: `certcast demo --serve` on a small simulated fleet, headless
# Chromium (Debian's) driven by puppeteer-core, with axe-core for accessibility (both from npm,
# pinned, installed once into a cache directory). dashboard_browser.mjs holds the checks:
# sign-in moves the token out of the address, every page loads without console errors, the
# ranking equals the API's and links to a lineage page whose events are that lineage's, a filter
# changes the ranking, a read-only token cannot plan (the UI says so, the API answers 403), a plan
# token's click reaches POST /v1/plan, no serious or critical axe violation, a phone's width fits;
# the Incidents page lists the API's open and resolved incidents (the demo replays the alert step
# over its last 14 days), a read-only token cannot silence (the UI says so, the API answers 403),
# an admin token's silence set and ended in the UI reaches the API under its name. The demo's
# step 4 (certcast in the closed loop) prints pages, tickets, incidents and expired hours that
# agree with each other and the fleet's size.
# Screenshots of each page are kept in BUILD/test-artifacts/dashboard/.
# The server listens on 127.0.0.1 on a free port and is stopped by PID.
set -euo pipefail
CERTCAST="$1"; ROOT="$2"
source "$ROOT/tests/integration/dashboard_lib.sh"
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [[ -f $work/serve.log ]] && { echo "--- demo --serve stderr" >&2; tail -20 "$work/serve.log" >&2; }
  exit 1
}
chromium=$(command -v chromium || true)
[[ -n $chromium ]] || fail "chromium is not installed (scripts/setup.sh TEST_PKGS)"
command -v node >/dev/null || fail "node is not installed (scripts/setup.sh TEST_PKGS)"

npm_dir=$(dashboard_npm_dir) || fail "npm install of puppeteer-core and axe-core"

artifacts="$(cd "$(dirname "$CERTCAST")" && pwd)/test-artifacts/dashboard"
rm -rf "$artifacts"
mkdir -p "$artifacts"

# A small fleet: big enough for a model that learned something, two CAs and clients to filter on.
"$CERTCAST" demo --dir "$work/demo" --lineages 120 --days 120 --seed 3 --serve \
  --listen 127.0.0.1:0 >"$work/demo.out" 2>"$work/serve.log" &
pid=$!
url=""
for _ in $(seq 1200); do
  url=$(sed -n 's/^dashboard: //p' "$work/demo.out")
  [[ -n $url ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/demo.out" >&2; fail "demo --serve exited"; }
  sleep 0.1
done
[[ -n $url ]] || fail "demo --serve printed no dashboard address in 120 s: $(tail -3 "$work/demo.out")"
[[ $(grep -c '^dashboard: ' "$work/demo.out") -eq 1 ]] || fail "more than one dashboard line"
[[ $url =~ ^http://127\.0\.0\.1:[0-9]+/\?token=cc_[0-9a-f_]+$ ]] || fail "dashboard line: $url"
base=${url%%/\?token=*}
secret=${url#*token=}
grep -qF "$secret" "$work/serve.log" && fail "the secret appears on stderr"
curl -sf "$base/healthz" >/dev/null || fail "server not healthy"
grep -qE '^   incidents: [1-9][0-9]* open' "$work/demo.out" || fail "the demo replayed no open incident: $(grep incidents "$work/demo.out")"
# Step 4, the closed loop on the same fleet (issue #15): pages, tickets and incidents as people
# received them, consistent with each other and with the fleet's size (120 lineages, 120 days).
re_pages='^   pages: +([0-9]+), ([0-9]+) at a real cause \((-|[0-9]+\.[0-9]%)\); ([0-9]+\.[0-9]{2}) per 1,000 lineage-weeks$'
re_tickets='^   tickets: +([0-9]+), ([0-9]+) at a real cause; info ([0-9,]+) and watch ([0-9,]+) lineage-plans'
re_incidents='^   incidents \(opened, resolved\): ([0-9]+), ([0-9]+)$'
re_outcome='^   expired-certificate hours ([0-9.]+) \(clients alone ([0-9.]+)\); issuances ([0-9,]+) \(clients alone ([0-9,]+), [-+][0-9.]+%\)$'
line() { grep -E "$1" "$work/demo.out" | head -1; }
[[ $(line "$re_pages") =~ $re_pages ]] || fail "no pages line in step 4: $(grep -A5 '^4\. alerting' "$work/demo.out")"
pages=${BASH_REMATCH[1]} pages_real=${BASH_REMATCH[2]} share=${BASH_REMATCH[3]} rate=${BASH_REMATCH[4]}
((pages_real <= pages)) || fail "more pages at a real cause ($pages_real) than pages ($pages)"
want_share=$(awk -v p="$pages" -v r="$pages_real" 'BEGIN { if (p == 0) print "-"; else printf "%.1f%%", 100 * r / p }')
[[ $share == "$want_share" ]] || fail "page share $share, want $want_share"
want_rate=$(awk -v p="$pages" 'BEGIN { printf "%.2f", p * 1000 / (120 * 120 / 7) }')
[[ $rate == "$want_rate" ]] || fail "pages per 1,000 lineage-weeks $rate, want $want_rate"
[[ $(line "$re_tickets") =~ $re_tickets ]] || fail "no tickets line in step 4"
tickets=${BASH_REMATCH[1]}
((BASH_REMATCH[2] <= tickets)) || fail "more tickets at a real cause than tickets"
[[ $(line "$re_incidents") =~ $re_incidents ]] || fail "no incidents line in step 4"
opened=${BASH_REMATCH[1]} resolved=${BASH_REMATCH[2]}
((resolved <= opened)) || fail "incidents resolved ($resolved) > opened ($opened)"
((pages + tickets == 0 || opened > 0)) || fail "notices were sent but no incident opened"
[[ $(line "$re_outcome") =~ $re_outcome ]] || fail "no expired-hours line in step 4"
awk -v a="${BASH_REMATCH[1]}" -v n="${BASH_REMATCH[2]}" 'BEGIN { exit !(n > 0 && a <= n) }' \
  || fail "expired hours with certcast ${BASH_REMATCH[1]} vs clients alone ${BASH_REMATCH[2]}"
operator=dashboard-operator
plan_token=$("$CERTCAST" token create --db "$work/demo/fleet.db" --name "$operator" --scope read,plan,admin)

DASHBOARD_URL="$url" PLAN_TOKEN="$plan_token" OPERATOR_NAME="$operator" BASE="$base" CHROMIUM="$chromium" \
  ARTIFACTS="$artifacts" NPM_DIR="$npm_dir" \
  timeout 180 node "$ROOT/tests/integration/dashboard_browser.mjs" >"$work/browser.out" 2>&1 \
  || { cat "$work/browser.out" >&2; fail "browser checks"; }
cat "$work/browser.out"
for page in fleet lineage fleet-filtered model audit incidents fleet-phone fleet-plan incidents-silenced; do
  [[ -s "$artifacts/$page.png" ]] || fail "no screenshot $page.png"
done
kill -TERM "$pid"  # an asynchronous command of a non-interactive shell ignores SIGINT
wait "$pid" || fail "demo --serve did not exit 0 on SIGTERM"
pid=""
echo "dashboard: ok (screenshots in $artifacts)"
