#!/usr/bin/env bash
# TLS probe speed (issue 6): probes per second against a local nginx, in one run, repeated:
#   1. capacity: nginx's full-handshake rate, measured with bench_tls_handshake_load (epoll, one
#      thread per core, many connections, fresh handshakes with SNI, no certificate checks: the
#      cheapest client that still completes the whole protocol; see its header for why not s_time)
#   2. blackbox_exporter (Debian package): /probe?module=tls_<name>&target=127.0.0.1:PORT for every
#      target, driven by bench_http_probe_load (keep-alive GETs, as Prometheus scrapes; see its
#      header for why not curl) at high concurrency; answers with `probe_success 1` per second
#   3. `certcast scan` over the same targets (same SNI names, same trust root, its own bounded
#      concurrency); `ok` tls_probe events per second
# nginx, the load generator and the prober share this machine's cores in all three.
#
# Usage: [BUILD=dir] bench/tls_probe.sh [NAMES] [TARGETS] [REPEATS]
#   NAMES    server names (certificates), spread over PORTS=4 ports (default 100)
#   TARGETS  probes per run of blackbox_exporter and of certcast scan (default 5000)
#   REPEATS  rounds of the three measurements (default 3)
#   env: BUILD (default build; needs certcast, bench/bench_tls_handshake_load and
#        bench/bench_http_probe_load there),
#        CONCURRENCY (certcast [scan] concurrency, default: the scan default), BB_PARALLEL (connections
#        to blackbox_exporter, default 64), LOAD_SECONDS (capacity window,
#        default 10), LOAD_CONCURRENCY (connections per load thread, default 32), PORTS (default 4),
#        PROFILE (a file: also record one more `certcast scan` under `perf record --call-graph dwarf` into it)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build="${BUILD:-build}"
names="${1:-100}"
targets="${2:-5000}"
repeats="${3:-3}"
ports_n="${PORTS:-4}"
cores=$(nproc)
load_seconds="${LOAD_SECONDS:-10}"
load_concurrency="${LOAD_CONCURRENCY:-32}"
bb_parallel="${BB_PARALLEL:-64}"
certcast="$root/$build/certcast"
loadgen="$root/$build/bench/bench_tls_handshake_load"
httpload="$root/$build/bench/bench_http_probe_load"
for tool in "$certcast" "$loadgen" "$httpload"; do
  [[ -x "$tool" ]] || {
    echo "no $tool (ninja -C $build certcast bench/bench_tls_handshake_load bench/bench_http_probe_load)" >&2; exit 2; }
done

# The packages this needs: installed when missing (says so), as scripts/setup.sh does.
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v prometheus-blackbox-exporter >/dev/null || need+=(prometheus-blackbox-exporter)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "installing ${need[*]} with apt-get"
  sudo_cmd=(); [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi

# work dir, PIDs stopped in the EXIT trap, free_port, wait_tcp: the probe tests' helpers.
source "$root/tests/integration/probe_lib.sh"
now() { date +%s.%N; }
# CPU seconds (user + system) used so far by the given PIDs, from /proc (clock ticks).
cpu_of() { local t=0 pid; for pid in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0))); done
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'; }
# CPU seconds of a finished command, from /usr/bin/time -o FILE -f '%U %S'.
cpu_file() { awk '{ printf "%.3f", $1 + $2 }' "$1"; }

# ---- certificates: root -> intermediate -> one leaf per name (ECDSA P-256, as most ACME
# certificates today); nginx serves leaf + intermediate, the probers trust the root only --------
cd "$work"
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec root.key
openssl req -x509 -new -key root.key -out root.pem -days 3650 -subj "/CN=bench root" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ec int.key
openssl req -new -key int.key -subj "/CN=bench intermediate" -out int.csr
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >int.ext
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 3650 -extfile int.ext \
  -out int.pem 2>/dev/null
mkdir -p leaves
for ((i = 0; i < names; i++)); do
  ec "leaves/$i.key"
  openssl req -new -key "leaves/$i.key" -subj "/CN=site$i.test" -out "leaves/$i.csr"
  printf 'subjectAltName=DNS:site%d.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$i" >"leaves/$i.ext"
  openssl x509 -req -in "leaves/$i.csr" -CA int.pem -CAkey int.key -CAserial root.srl -days 90 \
    -extfile "leaves/$i.ext" -out "leaves/$i.crt" 2>/dev/null
  cat "leaves/$i.crt" int.pem >"leaves/$i.pem"
done

# ---- nginx: one worker per core, name i on port i % PORTS -------------------------------------
ports=()
for ((p = 0; p < ports_n; p++)); do ports+=("$(free_port)"); done
mkdir -p logs
{
  echo "worker_processes $cores; daemon off; pid $work/nginx.pid; error_log $work/logs/error.log warn;"
  echo "events { worker_connections 8192; }"
  echo "http { access_log off; client_body_temp_path $work/logs; proxy_temp_path $work/logs;"
  echo "  fastcgi_temp_path $work/logs; uwsgi_temp_path $work/logs; scgi_temp_path $work/logs;"
  for ((i = 0; i < names; i++)); do
    port=${ports[$((i % ports_n))]}
    echo "  server { listen 127.0.0.1:$port ssl; server_name site$i.test;"
    echo "    ssl_certificate $work/leaves/$i.pem; ssl_certificate_key $work/leaves/$i.key; return 200 ok; }"
  done
  echo "}"
} >nginx.conf
nginx -t -q -p "$work" -c "$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" >logs/nginx.out 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
for port in "${ports[@]}"; do wait_tcp "$port"; done
mapfile -t nginx_workers < <(pgrep -P "$nginx_pid")

# ---- targets: TARGETS probes cycling over the names ---------------------------------------------
bb_port=$(free_port)
{
  echo "modules:"
  for ((i = 0; i < names; i++)); do
    printf '  tls_%d:\n    prober: tcp\n    timeout: 10s\n    tcp:\n      tls: true\n' "$i"
    printf '      tls_config:\n        ca_file: %s\n        server_name: site%d.test\n' "$work/root.pem" "$i"
  done
} >blackbox.yml
load_targets=()
for ((i = 0; i < names; i++)); do load_targets+=("127.0.0.1:${ports[$((i % ports_n))]}/site$i.test"); done
{
  echo "[scan]"
  [[ -n "${CONCURRENCY:-}" ]] && echo "concurrency = $CONCURRENCY"
  echo "ca_file = \"$work/root.pem\""
  for ((t = 0; t < targets; t++)); do
    i=$((t % names)); port=${ports[$((i % ports_n))]}
    printf '[[tls]]\nendpoint = "127.0.0.1:%d"\nsni = "site%d.test"\n' "$port" "$i"
    printf '/probe?module=tls_%d&target=127.0.0.1:%d\n' "$i" "$port" >>bb_paths.txt
  done
} >scan.toml

prometheus-blackbox-exporter --config.file="$work/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" \
  --log.level=warn >logs/blackbox.log 2>&1 &
bb_pid=$!
pids+=("$bb_pid")
wait_tcp "$bb_port"

# One check before timing anything: each prober succeeds on the first target.
"$certcast" probe tls "127.0.0.1:${ports[0]}" --sni site0.test --ca-file root.pem | grep -q '"outcome":"ok"' \
  || fail "certcast probe tls fails on site0.test"
curl -fsS "http://127.0.0.1:$bb_port/probe?module=tls_0&target=127.0.0.1:${ports[0]}" | grep -qx 'probe_success 1' \
  || fail "blackbox_exporter probe fails on site0.test"

echo "machine: $cores cores (shared by nginx, the load generator and the prober), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "setup: nginx $(nginx -v 2>&1 | cut -d/ -f2), $cores workers, $names names on $ports_n ports, ECDSA P-256 leaf + intermediate;"
echo "       $targets probes per run; handshake load: $cores threads x $load_concurrency connections x ${load_seconds}s; blackbox_exporter: $bb_parallel connections;"
echo "       certcast scan concurrency: ${CONCURRENCY:-default}"
printf '%-6s %-6s %11s %16s %16s %7s %7s | %-27s\n' rep load capacity/s blackbox/s certcast/s vs_bb vs_cap \
  'CPU us/probe: client+nginx'
format='{ printf "%-6s %-6s %11.0f %10.0f (%4d) %10.0f (%4d) %6.1fx %6.0f%% | %4.0f+%-4.0f %4.0f+%-4.0f %4.0f+%-4.0f\n",
  $1, $2, $3, $4, $5, $6, $7, $6 / $4, 100 * $6 / $3, $8, $9, $10, $11, $12, $13 }'
: >rows.txt

for ((r = 1; r <= repeats; r++)); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  # (1) capacity: full handshakes over all names.
  n0=$(cpu_of "${nginx_workers[@]}")
  /usr/bin/time -o load.cpu -f '%U %S' \
    "$loadgen" --seconds "$load_seconds" --threads "$cores" --concurrency "$load_concurrency" "${load_targets[@]}" >load.out
  n1=$(cpu_of "${nginx_workers[@]}")
  capacity=$(awk '{ print $6 }' load.out)
  cap_count=$(awk '{ print $2 }' load.out)

  # (2) blackbox_exporter.
  b0=$(cpu_of "$bb_pid")
  t0=$(now)
  /usr/bin/time -o http.cpu -f '%U %S' "$httpload" --port "$bb_port" --connections "$bb_parallel" bb_paths.txt >http.out
  t1=$(now)
  b1=$(cpu_of "$bb_pid"); n2=$(cpu_of "${nginx_workers[@]}")
  bb_ok=$(awk '{ print $4 }' http.out)

  # (3) certcast scan.
  t2=$(now)
  /usr/bin/time -o scan.cpu -f '%U %S' "$certcast" scan --config scan.toml --out scan.jsonl 2>logs/scan.err || true
  t3=$(now)
  n3=$(cpu_of "${nginx_workers[@]}")
  cc_ok=$(grep -c '"outcome":"ok"' scan.jsonl || true)

  # One row of raw figures: rep load capacity bb/s bb_failed cc/s cc_failed, then CPU us per probe
  # (client, nginx) for capacity, blackbox, certcast, then the HTTP load generator's part of blackbox's client CPU.
  awk -v r="$r" -v load="$load" -v cap="$capacity" -v bo="$bb_ok" -v a="$t0" -v b="$t1" -v co="$cc_ok" \
      -v c="$t2" -v d="$t3" -v n="$targets" -v cn="$cap_count" -v lc="$(cpu_file load.cpu)" \
      -v bc="$(awk -v a="$b0" -v b="$b1" -v c="$(cpu_file http.cpu)" 'BEGIN { print b - a + c }')" \
      -v cc_cpu="$(cpu_file scan.cpu)" -v http="$(cpu_file http.cpu)" -v n0="$n0" -v n1="$n1" -v n2="$n2" -v n3="$n3" 'BEGIN { u = 1e6
    print r, load, cap, bo / (b - a), n - bo, co / (d - c), n - co,
      u * lc / cn, u * (n1 - n0) / cn, u * bc / n, u * (n2 - n1) / n, u * cc_cpu / n, u * (n3 - n2) / n,
      u * http / n }' >>rows.txt
  tail -1 rows.txt | awk "$format"
done
if [[ -n "${PROFILE:-}" ]]; then
  perf record -q --call-graph dwarf,16384 -F 2000 -o "$PROFILE" "$certcast" scan --config scan.toml --out scan.jsonl 2>logs/scan.err || true
  echo "perf profile of one certcast scan: $PROFILE"
fi
# Median of each column over the repeats, then the rates the cores would give if these three
# clients and nginx had them to themselves: cores / (client + nginx CPU per probe).
awk -v reps="$repeats" '{ for (i = 2; i <= NF; i++) v[i, NR] = $i }
  END { printf "median"
        for (i = 2; i <= 14; i++) {
          for (j = 1; j <= reps; j++) {  # insertion sort: mawk has no asort
            x = v[i, j]; for (k = j - 1; k >= 1 && a[k] > x; k--) a[k + 1] = a[k]; a[k + 1] = x }
          printf " %s", (reps % 2 ? a[(reps + 1) / 2] : (a[reps / 2] + a[reps / 2 + 1]) / 2) }
        printf "\n" }' rows.txt >median.txt
awk "$format" median.txt
awk -v cores="$cores" '{ cap = cores * 1e6 / ($8 + $9); bb = cores * 1e6 / ($10 + $11); cc = cores * 1e6 / ($12 + $13)
  printf "CPU-bound (cores / median CPU per probe): capacity %.0f/s, blackbox_exporter %.0f/s, certcast %.0f/s: %.1fx blackbox, %.0f%% of capacity\n",
    cap, bb, cc, cc / bb, 100 * cc / cap
  printf "(of blackbox_exporter'"'"'s client CPU, %.0f us per probe is its HTTP load generator)\n", $14 }' median.txt
echo "(blackbox/s and certcast/s: successful probes per wall second; in parentheses: probes that did not succeed."
echo " CPU: microseconds of CPU per probe/handshake of the client (load generator; blackbox_exporter + its HTTP load;"
echo " certcast) and of the nginx workers, in the order capacity, blackbox, certcast. Load: 1-minute load"
echo " average when the repeat started; anything else running on the machine takes cores from all three.)"
