# Sourced by tests/integration/dashboard_test.sh and bench/dashboard_bench.sh: the pinned npm
# packages that drive Chromium, installed once into a cache directory.
#   dashboard_npm_dir   prints the directory (node_modules inside), installing when missing
PUPPETEER_VERSION=24.40.0
AXE_VERSION=4.11.0
dashboard_npm_dir() {
  local dir="${CERTCAST_NPM_CACHE:-$HOME/.cache/certcast-npm}/dashboard-puppeteer-$PUPPETEER_VERSION-axe-$AXE_VERSION"
  if [[ ! -f "$dir/node_modules/puppeteer-core/package.json" || ! -f "$dir/node_modules/axe-core/axe.min.js" ]]; then
    mkdir -p "$dir"
    # puppeteer-core never downloads a browser (that is puppeteer's job): Chromium is Debian's.
    npm install --prefix "$dir" --no-audit --no-fund --silent \
      "puppeteer-core@$PUPPETEER_VERSION" "axe-core@$AXE_VERSION" >/dev/null || return 1
  fi
  echo "$dir"
}
