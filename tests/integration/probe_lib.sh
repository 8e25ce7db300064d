# Shared helpers of the probe_* integration tests (sourced). Every server they start listens on
# 127.0.0.1 only, on a free port, and is stopped by its own PID in the EXIT trap.
set -euo pipefail
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A port nothing listens on right now (the kernel's choice for port 0). A race with another
# process is possible but harmless: the server start then fails and the test says so.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() {
  python3 -c 'import socket
while True:
    t=socket.socket(); t.bind(("127.0.0.1",0)); p=t.getsockname()[1]
    u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try: u.bind(("127.0.0.1",p)); break
    except OSError: t.close()
print(p)'
}

# A TCP port nothing on 127.0.0.1 accepts on now, found by the shell: a python start costs 0.5 CPU s
# (1-2 s wall on a loaded machine). The same harmless race as free_port's.
tcp_port() {
  local port
  while :; do port=$((20000 + RANDOM % 40000)); (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break; done
  echo "$port"
}

wait_tcp() {  # port: until something accepts on 127.0.0.1:port (10 s)
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  fail "nothing listens on 127.0.0.1:$1"
}

# start NAME CMD...: runs CMD in the background, output in $work/NAME.log, PID recorded.
start() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

# field LINE KEY: the JSON value of KEY in one event line ("" when absent); lists joined by '|'.
field() {
  python3 -c 'import json,sys
v=json.loads(sys.argv[1]).get(sys.argv[2])
print("" if v is None else ("|".join(v) if isinstance(v,list) else (str(v).lower() if isinstance(v,bool) else v)))' "$1" "$2"
}

# has LINE KEY JSON [what]: the canonical event line (as stored: no spaces) has "KEY":JSON, e.g.
# has "$line" outcome '"ok"'; has "$line" status 404. Without a python start, unlike expect.
has() {
  [[ $1 == *"\"$2\":$3"* ]] || fail "${4:-}: want \"$2\":$3 in: $1"
}

# expect LINE KEY WANT [what]
expect() {
  local got; got=$(field "$1" "$2")
  [[ "$got" == "$3" ]] || fail "${4:-}: $2 = '$got', want '$3' in: $1"
}

# start_nginx HTTP_BODY: nginx as one process (no master, no workers: one PID to stop, no user
# switch) with HTTP_BODY inside its http {} block, files under $work; started like `start nginx`.
start_nginx() {
  mkdir -p "$work/logs"
  cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/logs; proxy_temp_path $work/logs; fastcgi_temp_path $work/logs;
  uwsgi_temp_path $work/logs; scgi_temp_path $work/logs;
  $1
}
CONF
  start nginx nginx -p "$work" -c "$work/nginx.conf"
}

# fleet_server EVENTS_FILE SETTINGS: the server of the agent tests. Stores EVENTS_FILE's events in
# $work/fleet.db ($db), makes an agent token for web1 and web2 ($work/web1.token, 0600) and a read
# token ($reader), then starts `certcast serve` on a free port with SETTINGS (TOML lines) beside
# db and listen; sets $base (http://127.0.0.1:PORT) and $serve_pid. Needs $CERTCAST.
fleet_server() {
  db="$work/fleet.db"
  "$CERTCAST" ingest --db "$db" "$1" >/dev/null || fail "ingest $1"
  local h
  for h in web1 web2; do
    "$CERTCAST" token create --db "$db" --name "$h" --scope agent --host "$h" >"$work/$h.token"
    chmod 600 "$work/$h.token"
  done
  reader=$("$CERTCAST" token create --db "$db" --name reader --scope read)
  printf 'db = "%s"\nlisten = "127.0.0.1:0"\n%s\n' "$db" "$2" >"$work/serve.toml"
  chmod 600 "$work/serve.toml"
  serve_start "$work/serve.toml"
}

# serve_start CONFIG: `certcast serve --config CONFIG` (listening on 127.0.0.1:0), its log in
# $work/serve.log; sets serve_pid and base (http://127.0.0.1:PORT) once it serves (30 s).
serve_start() {
  start serve "$CERTCAST" serve --config "$1"
  serve_pid=${pids[-1]}
  for _ in $(seq 300); do grep -q 'serving http://' "$work/serve.log" && break; sleep 0.1; done
  base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
  [[ -n "$base" ]] || fail "server did not start: $(cat "$work/serve.log")"
}
