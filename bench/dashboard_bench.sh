#!/usr/bin/env bash
# How long the dashboard's Fleet page takes to render with 10,000 lineages in headless Chromium:
# from navigation start to the ranking rendered (the page's performance mark
# certcast-ranking-rendered), over RUNS loads of a warm server, plus the bytes of the two API
# answers the page reads. Not in CI. Uses the same npm cache as tests/integration/dashboard_test.sh.
#   bench/dashboard_bench.sh [build/certcast] [LINEAGES=10000] [RUNS=7]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CERTCAST="${1:-$ROOT/build/certcast}"
LINEAGES="${2:-10000}"
RUNS="${3:-7}"
source "$ROOT/tests/integration/dashboard_lib.sh"
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
npm_dir=$(dashboard_npm_dir)
echo "demo fleet of $LINEAGES lineages (simulate, train, backtest, serve) ..." >&2
"$CERTCAST" demo --dir "$work/demo" --lineages "$LINEAGES" --days 90 --seed 7 --serve \
  --listen 127.0.0.1:0 >"$work/demo.out" 2>"$work/demo.err" &
pid=$!
url=""
while [[ -z $url ]]; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/demo.out" "$work/demo.err" >&2; exit 1; }
  sleep 1
  url=$(sed -n 's/^dashboard: //p' "$work/demo.out")
done
base=${url%%/\?token=*}
token=${url#*token=}
total=$(curl -s -H "Authorization: Bearer $token" "$base/v1/lineages?limit=1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
fleet_bytes=$(curl -s -H "Authorization: Bearer $token" "$base/v1/fleet" | wc -c)
page_bytes=$(curl -s -H "Authorization: Bearer $token" "$base/v1/lineages?limit=50&offset=0" | wc -c)
echo "lineages served: $total; GET /v1/fleet $fleet_bytes B, GET /v1/lineages?limit=50 $page_bytes B"
args=(--headless=new --disable-gpu --no-first-run)
[[ $(id -u) -eq 0 ]] && args+=(--no-sandbox)  # root in a container has no user namespaces
URL="$url" RUNS="$RUNS" NPM_DIR="$npm_dir" CHROMIUM="$(command -v chromium)" ARGS="${args[*]}" node --input-type=module -e '
import {createRequire} from "node:module";
import path from "node:path";
const env = process.env;
const require = createRequire(path.join(env.NPM_DIR, "package.json"));
const puppeteer = require("puppeteer-core");
const browser = await puppeteer.launch({executablePath: env.CHROMIUM, args: env.ARGS.split(" ")});
const page = await browser.newPage();
await page.setViewport({width: 1280, height: 900});
await page.goto(env.URL);
await page.waitForSelector("#ranking tbody tr");
const times = [];
for (let i = 0; i < Number(env.RUNS); ++i) {
  await page.reload({waitUntil: "domcontentloaded"});
  await page.waitForFunction(() => performance.getEntriesByName("certcast-ranking-rendered").length > 0, {timeout: 60000});
  times.push(await page.evaluate(() => performance.getEntriesByName("certcast-ranking-rendered")[0].startTime));
}
times.sort((a, b) => a - b);
const rows = await page.$$eval("#ranking tbody tr", r => r.length);
console.log(`fleet page, navigation start -> ranking rendered (${rows} rows shown), ${times.length} loads: ` +
            `median ${times[Math.floor(times.length / 2)].toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms`);
await browser.close();
'
