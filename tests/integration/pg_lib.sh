# A throwaway PostgreSQL for a test: initdb + pg_ctl on a free 127.0.0.1 port, in a private
# directory, stopped by its postmaster's PID. Source it, then:
#   pg_start DIR     sets PG_URI (postgresql://certcast@127.0.0.1:PORT/postgres) and PG_PID; a DIR
#                    whose data directory (DIR/pg/data) exists is started as it is, not made again
#                    (a benchmark that keeps its stores, bench/pg_scale.sh with WORK)
#   pg_stop          stops the server started by pg_start (call it from your EXIT trap)
#   pg_psql SQL...   runs psql -XAtq on PG_URI
# PG_SETTINGS (optional) replaces the test settings (fsync off) with the caller's, e.g. "" for
# PostgreSQL's defaults in a benchmark.
# PostgreSQL refuses to run as root: when the test runs as root (CI), the server runs as the
# unprivileged system user `nobody` (runuser); certcast, the client, runs as the test's user and
# connects over TCP with trust authentication, which is safe because only 127.0.0.1 listens.

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -x $d/initdb ]] || { echo "pg_lib: no PostgreSQL server (apt-get install postgresql-15)" >&2; return 1; }
  echo "$d"
}

# Runs a command as the server's user.
pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}

pg_start() {
  local dir=$1 bin port
  bin=$(pg_bindir) || return 1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PG_DIR=$dir/pg
  mkdir -p "$PG_DIR"
  # nobody must own its data directory, and reach it: the test's directory is opened to others
  # for traversal only (x), never for listing or reading.
  if [[ $(id -u) -eq 0 ]]; then
    chmod o+x "$dir"
    chown nobody "$PG_DIR"
  fi
  if [[ ! -f $PG_DIR/data/PG_VERSION ]]; then
    pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U certcast --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  fi
  # fsync off: a test server's durability is not under test (the store's own synchronous_commit
  # setting still makes every commit wait for its WAL write).
  local settings=${PG_SETTINGS--c fsync=off -c full_page_writes=off}
  pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_DIR -c max_connections=50 $settings" \
    start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
  PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
  PG_URI="postgresql://certcast@127.0.0.1:$port/postgres"
  export PG_URI PG_PID
}

pg_stop() {
  [[ -n ${PG_PID:-} ]] || return 0
  kill -INT "$PG_PID" 2>/dev/null || true  # fast shutdown: roll back, disconnect, stop
  for _ in $(seq 1 300); do
    kill -0 "$PG_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$PG_PID" 2>/dev/null || true
  PG_PID=
}

pg_psql() { psql -XAtq -v ON_ERROR_STOP=1 "$PG_URI" "$@"; }
