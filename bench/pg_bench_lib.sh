# Shared by the PostgreSQL read benchmarks (bench/pg_scale.sh, bench/pg_api_ab.sh). Source it with
# ROOT set and a name for the scratch directory:
#   pg_bench_begin NAME    makes $work (${TMPDIR:-/tmp}/NAME.XXXXXX), removed on exit together with
#                          the certcast server whose PID is in $server and the PostgreSQL it starts;
#                          with WORK set, $work is that directory instead (made if missing) and is
#                          kept on exit, stores and all, for a later run to reuse
#   pg_bench_start_pg      starts PostgreSQL 15 in $work with its default settings plus
#                          pg_stat_statements (planning tracked), makes schema certcast, sets $pg;
#                          a PostgreSQL kept in $work by an earlier run is started as it is
#   free_port              prints a free TCP port on 127.0.0.1
#   pg_bench_serve CERTCAST DB LOG
#                          starts `CERTCAST serve` on DB (token key $work/token.key, no plan but
#                          the first) on a free port, its PID in $server and port in $port, and
#                          returns once /healthz answers, i.e. once its first plan is done
source "$ROOT/tests/integration/pg_lib.sh"

pg_bench_cleanup() {
  [[ -n ${server:-} ]] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  pg_stop
  [[ -n ${WORK:-} ]] || rm -rf "$work"
}

pg_bench_begin() {
  if [[ -n ${WORK:-} ]]; then
    mkdir -p "$WORK"
    work=$(cd "$WORK" && pwd)
  else
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  fi
  server=
  trap pg_bench_cleanup EXIT
}

pg_bench_start_pg() {
  PG_SETTINGS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on" \
    pg_start "$work"
  pg_psql -c "CREATE SCHEMA IF NOT EXISTS certcast" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public"
  pg="$PG_URI?options=-csearch_path%3Dcertcast"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_bench_serve() {
  port=$(free_port)
  "$1" serve --db "$2" --token-key "$work/token.key" --listen "127.0.0.1:$port" \
    --plan-interval 24h >"$3" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
    kill -0 "$server" 2>/dev/null || { tail -5 "$3" >&2; exit 1; }
    sleep 0.2
  done
}
