# The end-to-end lab (issue #7), sourced by tests/e2e/*_test.sh; works under set -euo pipefail.
#
# lab_start brings up, on 127.0.0.1 only and on free ports, the real peers of a renewal:
#   pebble               Let's Encrypt's test CA, with a short certificate lifetime (LAB_VALIDITY)
#   pebble-challtestsrv  the CA's DNS: every name resolves to 127.0.0.1 unless a knob says otherwise
#   nginx                port "80" (LAB_HTTP_PORT) serves $LAB/www for HTTP-01; port "443"
#                        (LAB_TLS_PORT) serves one certificate per name (lab_nginx_serve)
#   certbot, lego        wrappers in $LAB/bin that confine the real clients to $LAB
# and stops every process it started by PID when the shell exits (an EXIT trap). Call lab_start
# in the test's own shell, not in $(...): the PIDs live in shell variables. docs/e2e.md lists
# every variable and knob; what a knob does to the clients was measured there, not assumed.

LAB_EMAIL=${LAB_EMAIL:-ops@lab.test}
LAB_VALIDITY=${LAB_VALIDITY:-600}
LAB_IP=127.0.0.1
_lab_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

_lab_say() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
# Exits the test (the EXIT trap then stops the lab); the message names what failed and where.
_lab_die() { _lab_say "FAIL: $*"; exit 1; }

# lab_free_ports N: N distinct ports, each free for TCP and UDP on 127.0.0.1 right now. All
# sockets stay bound until all N are chosen, so the N differ; another process may still take one
# before its server binds, and that server's start then fails with its log named.
lab_free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
held, ports = [], []
while len(ports) < int(sys.argv[1]):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close(); continue
    held += [t, u]; ports.append(port)
print(" ".join(map(str, ports)))
EOF
}

# lab_wait_until TIMEOUT_S CMD...: runs CMD every 0.2 s until it succeeds; 1 after TIMEOUT_S.
lab_wait_until() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { _lab_say "gave up after ${timeout}s waiting for: $*"; return 1; }
    sleep 0.2
  done
}

_lab_tcp_open() { (exec 3<>"/dev/tcp/$LAB_IP/$1") 2>/dev/null; }
_lab_tcp_closed() { ! _lab_tcp_open "$1"; }

# Background processes: name, PID and the program name their /proc cmdline must still contain, so
# a PID that was reused by another program after ours exited is never signalled.
declare -ga _lab_names=()
declare -gA _lab_pid=() _lab_prog=()

# lab_spawn NAME PROGRAM_MATCH CMD...: starts CMD in the background with its output in
# $LAB/logs/NAME.log and records its PID, so lab_stop stops it (use it for `certcast run`).
# Sets LAB_LAST_PID.
lab_spawn() {
  local name=$1 prog=$2; shift 2
  "$@" >>"$LAB/logs/$name.log" 2>&1 &
  LAB_LAST_PID=$!
  [[ -v "_lab_pid[$name]" ]] || _lab_names+=("$name")
  _lab_pid[$name]=$LAB_LAST_PID
  _lab_prog[$name]=$prog
}

_lab_is_ours() {  # NAME: the recorded PID runs the recorded program
  local pid=${_lab_pid[$1]:-}
  [[ -n $pid && -r /proc/$pid/cmdline ]] && tr '\0' ' ' </proc/"$pid"/cmdline | grep -qF -- "${_lab_prog[$1]}"
}

# lab_kill NAME: TERM (after CONT, in case lab_ca_hang stopped it), up to 5 s, then KILL.
lab_kill() {
  local name=$1 pid=${_lab_pid[$1]:-} _
  [[ -n $pid ]] || return 0
  if _lab_is_ours "$name"; then
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  _lab_pid[$name]=""
}

_lab_write_tls() {  # a CA and a certificate for pebble's own HTTPS (ACME and management APIs)
  local d=$LAB/tls
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$d/pebble-ca.key" -out "$d/pebble-ca.pem" -subj "/CN=certcast lab: pebble HTTPS CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>"$d/openssl.log" ||
    _lab_die "openssl could not make the pebble HTTPS CA (see $d/openssl.log)"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$d/pebble.key" -out "$d/pebble.csr" 2>>"$d/openssl.log" ||
    _lab_die "openssl could not make pebble's key (see $d/openssl.log)"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$d/pebble.ext"
  openssl x509 -req -in "$d/pebble.csr" -CA "$d/pebble-ca.pem" -CAkey "$d/pebble-ca.key" \
    -CAcreateserial -days 30 -extfile "$d/pebble.ext" -out "$d/pebble.pem" 2>>"$d/openssl.log" ||
    _lab_die "openssl could not sign pebble's certificate (see $d/openssl.log)"
}

_lab_write_pebble_config() {  # NAME ACME_PORT MGMT_PORT
  cat >"$LAB/pebble-$1.json" <<EOF
{ "pebble": {
    "listenAddress": "$LAB_IP:$2",
    "managementListenAddress": "$LAB_IP:$3",
    "certificate": "$LAB/tls/pebble.pem",
    "privateKey": "$LAB/tls/pebble.key",
    "httpPort": $LAB_HTTP_PORT,
    "tlsPort": $LAB_ALPN_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false,
    "certificateValidityPeriod": $LAB_VALIDITY
} }
EOF
}

_lab_pebble_ready() { curl -fsS --max-time 2 --cacert "$LAB_PEBBLE_CA" "$1" -o /dev/null; }

# Starts pebble NAME (main|alt) on its ports and appends its issuing root to $LAB_ROOTS. pebble
# keeps everything in memory, and makes a new root at every start: the roots of earlier runs stay
# in the file so certificates issued before a restart still verify.
_lab_start_pebble() {
  local name=$1 acme_port=$2 mgmt_port=$3
  _lab_tcp_closed "$acme_port" || _lab_die "port $LAB_IP:$acme_port for pebble-$name is taken"
  # VA_NOSLEEP: no random 0-15 s validation delay. AUTHZREUSE=0: every renewal validates again,
  # or a broken challenge would be hidden by a still-valid authorization. NONCEREJECT: the
  # share of nonces refused as badNonce.
  lab_spawn "pebble-$name" pebble env PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 \
    PEBBLE_WFE_NONCEREJECT="${LAB_NONCE_REJECT:-0}" \
    pebble -config "$LAB/pebble-$name.json" -dnsserver "$LAB_DNS"
  lab_wait_until 20 _lab_pebble_ready "https://$LAB_IP:$acme_port/dir" ||
    _lab_die "pebble-$name did not serve its directory on :$acme_port (see $LAB/logs/pebble-$name.log)"
  curl -fsS --cacert "$LAB_PEBBLE_CA" "https://$LAB_IP:$mgmt_port/roots/0" >>"$LAB_ROOTS" ||
    _lab_die "could not fetch pebble-$name's root from https://$LAB_IP:$mgmt_port/roots/0"
}

_lab_write_nginx_config() {
  local n=$LAB/nginx user=""
  # As root, nginx's workers would run as nobody and could not read the 0700 $LAB.
  [[ $(id -u) -eq 0 ]] && user="user root;"
  cat >"$n/nginx.conf" <<EOF
daemon off;
worker_processes 1;
$user
pid $n/nginx.pid;
lock_file $n/nginx.lock;
error_log $LAB/logs/nginx-error.log notice;
events { worker_connections 256; }
http {
  access_log $LAB/logs/nginx-access.log;
  client_body_temp_path $n/tmp/body;
  proxy_temp_path $n/tmp/proxy;
  fastcgi_temp_path $n/tmp/fastcgi;
  uwsgi_temp_path $n/tmp/uwsgi;
  scgi_temp_path $n/tmp/scgi;
  default_type text/plain;
  # Control listener: /generation says which configuration the workers run (lab_nginx_reload).
  server {
    listen $LAB_IP:$LAB_NGINX_CTL_PORT;
    include $n/generation.conf;
  }
  include $n/http.d/*.conf;
  # Unknown SNI names get a handshake failure, as on a server that has no such site.
  server {
    listen $LAB_IP:$LAB_TLS_PORT ssl default_server;
    ssl_reject_handshake on;
  }
  include $n/sites/*.conf;
}
EOF
  cat >"$n/http01.conf" <<EOF
server {
  listen $LAB_IP:$LAB_HTTP_PORT;
  root $LAB/www;
  location / { try_files \$uri =404; }
}
EOF
  cp "$n/http01.conf" "$n/http.d/http01.conf"
}

_lab_nginx() { nginx -p "$LAB/nginx/" -c "$LAB/nginx/nginx.conf" -e "$LAB/logs/nginx-error.log" "$@"; }
_lab_nginx_generation() {
  [[ $(curl -fsS --max-time 2 "http://$LAB_IP:$LAB_NGINX_CTL_PORT/generation") == "$1" ]]
}
_lab_none_alive() { local pid; for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 1; done; return 0; }

# lab_nginx_reload: checks the configuration (nginx -t), sends HUP to the master by PID, and
# returns once the new configuration answers and every old worker has exited (an old worker
# could otherwise still hand out the previous certificate).
lab_nginx_reload() {
  local out old
  _lab_nginx_gen=$((_lab_nginx_gen + 1))
  printf 'location = /generation { return 200 "%s"; }\n' "$_lab_nginx_gen" >"$LAB/nginx/generation.conf"
  out=$(_lab_nginx -t 2>&1) || _lab_die "nginx rejects its configuration: $out"
  old=$(pgrep -P "$LAB_NGINX_PID" || true)
  kill -HUP "$LAB_NGINX_PID"
  # shellcheck disable=SC2086 # one PID per word
  lab_wait_until 20 _lab_nginx_generation "$_lab_nginx_gen" && lab_wait_until 20 _lab_none_alive $old ||
    _lab_die "nginx did not load configuration $_lab_nginx_gen (see $LAB/logs/nginx-error.log)"
}

# lab_nginx_serve NAME CERT_FILE KEY_FILE: a server block for NAME on LAB_TLS_PORT. Takes effect
# at the next lab_nginx_reload, as on a real server (so "renewed but not reloaded" is a scenario).
# Give certbot's live/NAME/fullchain.pem or lego's certificates/NAME.crt (it holds the chain).
lab_nginx_serve() {
  cat >"$LAB/nginx/sites/$1.conf" <<EOF
server {
  listen $LAB_IP:$LAB_TLS_PORT ssl;
  server_name $1;
  ssl_certificate $2;
  ssl_certificate_key $3;
  location / { return 200 "$1\n"; }
}
EOF
}

# lab_http_off / lab_http_on: remove / restore the port-80 listener ("port 80 closed": the CA's
# HTTP-01 connection is refused).
lab_http_off() {
  lab_forget_authz
  rm -f "$LAB/nginx/http.d/http01.conf"
  lab_nginx_reload
  lab_wait_until 10 _lab_tcp_closed "$LAB_HTTP_PORT" || _lab_die "port $LAB_HTTP_PORT still open after lab_http_off"
}
lab_http_on() {
  cp "$LAB/nginx/http01.conf" "$LAB/nginx/http.d/http01.conf"
  lab_nginx_reload
  lab_wait_until 10 _lab_tcp_open "$LAB_HTTP_PORT" || _lab_die "port $LAB_HTTP_PORT still closed after lab_http_on"
}

_lab_write_hooks() {
  local h=$LAB/hooks
  # The hooks are run by certbot, lego and certcast with their own environments: everything they
  # need is written into them now. The fault mode is read from a file at each call, so the
  # knobs act on lineages whose renewal configuration already names these hooks.
  cat >"$h/dns01-txt.sh" <<EOF
#!/bin/bash
# dns01-txt.sh set FQDN VALUE | clear FQDN: the lab's "DNS provider API" (challtestsrv).
set -euo pipefail
action=\$1 fqdn=\${2%.}. value=\${3:-}
mode=\$(cat "$LAB/faults/txt" 2>/dev/null || echo ok)
case \$action in
  set)
    case \$mode in
      fail) echo "dns01-txt.sh: DNS API refused to set TXT \$fqdn: 401 invalid API token (lab fault)" >&2; exit 1 ;;
      silent) exit 0 ;;  # reports success but publishes nothing
    esac
    curl -fsS -X POST -d "{\"host\":\"\$fqdn\",\"value\":\"\$value\"}" "$LAB_DNS_MGMT/set-txt" ;;
  clear)
    curl -fsS -X POST -d "{\"host\":\"\$fqdn\"}" "$LAB_DNS_MGMT/clear-txt" ;;
  *) echo "dns01-txt.sh: unknown action '\$action' (want set or clear)" >&2; exit 2 ;;
esac
EOF
  cat >"$h/certbot-auth.sh" <<EOF
#!/bin/bash
exec "$h/dns01-txt.sh" set "_acme-challenge.\$CERTBOT_DOMAIN" "\$CERTBOT_VALIDATION"
EOF
  cat >"$h/certbot-cleanup.sh" <<EOF
#!/bin/bash
exec "$h/dns01-txt.sh" clear "_acme-challenge.\$CERTBOT_DOMAIN"
EOF
  cat >"$h/lego-exec.sh" <<EOF
#!/bin/bash
# lego's "exec" DNS provider: \$1 = present|cleanup, \$2 = FQDN, \$3 = value.
case \$1 in
  present) exec "$h/dns01-txt.sh" set "\$2" "\$3" ;;
  cleanup) exec "$h/dns01-txt.sh" clear "\$2" ;;
esac
EOF
  chmod +x "$h"/*.sh
}

_lab_write_clients() {
  local b=$LAB/bin
  # certbot: its own directories, the lab CA's HTTPS trusted, no random sleep, one log file
  # (--max-log-backups 0 appends every run to letsencrypt.log instead of rotating it away).
  # --server only for commands that do not read it from renewal/NAME.conf, so a CA switch that
  # certbot saved there stays in force.
  cat >"$b/certbot" <<EOF
#!/bin/bash
export REQUESTS_CA_BUNDLE="$LAB_PEBBLE_CA"
fixed=(--config-dir "$LAB/certbot/config" --work-dir "$LAB/certbot/work"
       --logs-dir "$LAB/certbot/logs" --max-log-backups 0 --non-interactive --agree-tos
       -m "$LAB_EMAIL" --no-random-sleep-on-renew)
given() { local a; for a in "\${args[@]}"; do [[ \$a == "\$1" || \$a == "\$1="* ]] && return 0; done; return 1; }
args=("\$@")
given --server || given renew || fixed+=(--server "$LAB_ACME_URL")
exec /usr/bin/certbot "\${fixed[@]}" "\$@"
EOF
  # lego: state in $LAB/lego (LEGO_PATH; --path wins), the lab CA's HTTPS trusted, the exec DNS
  # provider wired to the hooks with 1 s polling (its default waits 60 s between domains), and
  # --server/--accept-tos/--email added when not given. stderr (where lego logs) is also
  # appended to output.log, the file `certcast parse lego` reads.
  cat >"$b/lego" <<EOF
#!/bin/bash
set -o pipefail
export LEGO_CA_CERTIFICATES="$LAB_PEBBLE_CA" LEGO_PATH="$LAB/lego"
export EXEC_PATH="$LAB/hooks/lego-exec.sh" EXEC_POLLING_INTERVAL=1 EXEC_SEQUENCE_INTERVAL=1
export EXEC_PROPAGATION_TIMEOUT=\${EXEC_PROPAGATION_TIMEOUT:-10}
given() { local a; for a in "\${args[@]}"; do [[ \$a == "\$1" || \$a == "\$1="* ]] && return 0; done; return 1; }
args=("\$@") fixed=()
given --server || given -s || fixed+=(--server "$LAB_ACME_URL")
given --accept-tos || given -a || fixed+=(--accept-tos)
given --email || given -m || fixed+=(--email "$LAB_EMAIL")
{ /usr/bin/lego "\${fixed[@]}" "\$@" 2>&1 1>&3 3>&- | tee -a "$LAB/lego/output.log" >&2; } 3>&1
EOF
  chmod +x "$b"/*
}

# lab_start: brings the lab up (see the top of this file) and exports its variables. Options by
# environment: LAB_VALIDITY (certificate lifetime in seconds, default 600), LAB_ALT_CA=1 (a
# second pebble as alternative CA), LAB_NONCE_REJECT (percent of nonces pebble refuses, default 0).
lab_start() {
  local ports
  LAB=$(mktemp -d "${TMPDIR:-/tmp}/certcast-lab.XXXXXX")
  export LAB
  trap lab_stop EXIT
  mkdir -p "$LAB"/{bin,hooks,logs,faults,tls,certbot/logs,lego} "$LAB/www/.well-known/acme-challenge" \
    "$LAB"/nginx/{sites,http.d,tmp}
  ports=$(lab_free_ports 10)
  read -r LAB_ACME_PORT LAB_PEBBLE_MGMT_PORT LAB_ALT_ACME_PORT LAB_ALT_PEBBLE_MGMT_PORT \
    LAB_DNS_PORT LAB_DNS_MGMT_PORT LAB_HTTP_PORT LAB_TLS_PORT LAB_ALPN_PORT LAB_NGINX_CTL_PORT <<<"$ports"
  export LAB_ACME_PORT LAB_PEBBLE_MGMT_PORT LAB_ALT_ACME_PORT LAB_ALT_PEBBLE_MGMT_PORT LAB_DNS_PORT \
    LAB_DNS_MGMT_PORT LAB_HTTP_PORT LAB_TLS_PORT LAB_ALPN_PORT LAB_NGINX_CTL_PORT LAB_VALIDITY LAB_EMAIL
  export LAB_ACME_URL=https://$LAB_IP:$LAB_ACME_PORT/dir
  export LAB_PEBBLE_MGMT=https://$LAB_IP:$LAB_PEBBLE_MGMT_PORT
  export LAB_ALT_ACME_URL="" LAB_ALT_PEBBLE_MGMT=""
  export LAB_DNS=$LAB_IP:$LAB_DNS_PORT LAB_DNS_MGMT=http://$LAB_IP:$LAB_DNS_MGMT_PORT
  export LAB_PEBBLE_CA=$LAB/tls/pebble-ca.pem LAB_ROOTS=$LAB/roots.pem
  export LAB_CERTBOT=$LAB/bin/certbot LAB_LEGO=$LAB/bin/lego
  : >"$LAB_ROOTS"

  _lab_write_tls
  _lab_write_pebble_config main "$LAB_ACME_PORT" "$LAB_PEBBLE_MGMT_PORT"
  _lab_write_hooks
  _lab_write_clients

  # The CA's DNS. No IPv6 default: pebble would otherwise try ::1 first, where nothing listens.
  lab_spawn challtestsrv pebble-challtestsrv pebble-challtestsrv -dns01 "$LAB_DNS" -http01 "" \
    -https01 "" -tlsalpn01 "" -management "$LAB_IP:$LAB_DNS_MGMT_PORT" -defaultIPv4 "$LAB_IP" -defaultIPv6 ""
  export LAB_DNS_PID=$LAB_LAST_PID
  lab_wait_until 10 _lab_tcp_open "$LAB_DNS_MGMT_PORT" && lab_wait_until 10 _lab_tcp_open "$LAB_DNS_PORT" ||
    _lab_die "pebble-challtestsrv did not start (see $LAB/logs/challtestsrv.log)"

  _lab_start_pebble main "$LAB_ACME_PORT" "$LAB_PEBBLE_MGMT_PORT"
  export LAB_PEBBLE_PID=${_lab_pid[pebble-main]}
  if [[ ${LAB_ALT_CA:-0} == 1 ]]; then
    _lab_write_pebble_config alt "$LAB_ALT_ACME_PORT" "$LAB_ALT_PEBBLE_MGMT_PORT"
    _lab_start_pebble alt "$LAB_ALT_ACME_PORT" "$LAB_ALT_PEBBLE_MGMT_PORT"
    export LAB_ALT_PEBBLE_PID=${_lab_pid[pebble-alt]}
    LAB_ALT_ACME_URL=https://$LAB_IP:$LAB_ALT_ACME_PORT/dir
    LAB_ALT_PEBBLE_MGMT=https://$LAB_IP:$LAB_ALT_PEBBLE_MGMT_PORT
  fi

  _lab_write_nginx_config
  _lab_nginx_gen=1
  printf 'location = /generation { return 200 "1"; }\n' >"$LAB/nginx/generation.conf"
  local out
  out=$(_lab_nginx -t 2>&1) || _lab_die "nginx rejects the lab configuration: $out"
  # nginx itself, not the _lab_nginx function: a function would run in a subshell whose PID
  # is not nginx's.
  lab_spawn nginx nginx nginx -p "$LAB/nginx/" -c "$LAB/nginx/nginx.conf" -e "$LAB/logs/nginx-error.log"
  export LAB_NGINX_PID=$LAB_LAST_PID
  lab_wait_until 10 _lab_nginx_generation 1 || _lab_die "nginx did not start (see $LAB/logs/nginx-error.log)"

  # Argument lists that select a challenge, for the lab's clients and for certcast's
  # client.http01_args / dns01_args (lab_toml_list prints them as TOML).
  LAB_CERTBOT_HTTP01=(--webroot --webroot-path "$LAB/www")
  LAB_CERTBOT_DNS01=(--manual --preferred-challenges dns-01 --manual-auth-hook "$LAB/hooks/certbot-auth.sh"
                     --manual-cleanup-hook "$LAB/hooks/certbot-cleanup.sh")
  LAB_LEGO_HTTP01=(--http --http.webroot "$LAB/www")
  # lego's propagation check asks the zone's authoritative servers (an SOA lookup), which
  # challtestsrv answers NOTIMP: --dns.disable-cp skips that and only asks --dns.resolvers.
  LAB_LEGO_DNS01=(--dns exec --dns.resolvers "$LAB_DNS" --dns.disable-cp)
  _lab_say "up in $LAB: ACME $LAB_ACME_URL${LAB_ALT_ACME_URL:+, alt $LAB_ALT_ACME_URL}, DNS $LAB_DNS, http :$LAB_HTTP_PORT, https :$LAB_TLS_PORT"
}

# lab_stop: stops every process the lab started, by PID, in reverse order; removes $LAB unless
# LAB_KEEP=1. When the test failed, prints the tail of each server log first. Safe to call twice.
lab_stop() {
  local rc=$? i name pid workers f
  # Processes are stopped even when $LAB has gone (removed by someone else): they must not leak.
  for ((i = ${#_lab_names[@]} - 1; i >= 0; i--)); do
    name=${_lab_names[i]} pid=${_lab_pid[${_lab_names[i]}]:-}
    # nginx's workers are the master's children: stop any the master leaves behind.
    workers=""
    [[ $name == nginx && -n $pid ]] && workers=$(pgrep -P "$pid" || true)
    lab_kill "$name"
    for pid in $workers; do kill -KILL "$pid" 2>/dev/null || true; done
  done
  [[ -n ${LAB:-} && -d $LAB ]] || return 0
  if ((rc != 0)); then
    for f in "$LAB"/logs/*.log; do
      [[ -s $f ]] || continue
      echo "----- last lines of $f -----" >&2
      tail -n 15 "$f" >&2
    done
  fi
  if [[ ${LAB_KEEP:-0} == 1 ]]; then
    _lab_say "kept $LAB (LAB_KEEP=1)"
  else
    rm -rf "$LAB"
  fi
  LAB=""
  return 0
}

lab_certbot() { "$LAB/bin/certbot" "$@"; }
lab_lego() { "$LAB/bin/lego" "$@"; }

# lab_forget_authz: deactivates every valid authorization pebble granted so far, so the next
# order validates again. pebble 2.4.0 reuses a valid authorization 1 time in 100 even with
# PEBBLE_AUTHZREUSE=0 (its test is rand.Intn(100) > percent), which would let a renewal under an
# injected fault pass without validating. Every fault knob below calls it first.
lab_forget_authz() {
  /usr/bin/python3 "$_lab_dir/lab_forget_authz.py" "$LAB" "$LAB_PEBBLE_CA" "$LAB"/logs/pebble-*.log \
    2>>"$LAB/logs/forget-authz.log" || _lab_die "lab_forget_authz failed (see $LAB/logs/forget-authz.log)"
}

_lab_dns_post() {  # PATH JSON
  curl -fsS -X POST -d "$2" "$LAB_DNS_MGMT/$1" >/dev/null ||
    _lab_die "challtestsrv refused POST $LAB_DNS_MGMT/$1 $2"
}
# DNS as the CA sees it. A names take precedence over the 127.0.0.1 default.
lab_dns_a() { lab_forget_authz; _lab_dns_post add-a "{\"host\":\"${1%.}.\",\"addresses\":[\"$2\"]}"; }
lab_dns_a_clear() { _lab_dns_post clear-a "{\"host\":\"${1%.}.\"}"; }
lab_dns_servfail() { lab_forget_authz; _lab_dns_post set-servfail "{\"host\":\"${1%.}.\"}"; }
lab_dns_servfail_clear() { _lab_dns_post clear-servfail "{\"host\":\"${1%.}.\"}"; }

# lab_txt_broken [fail|silent]: the DNS-01 hooks fail ("fail", default: exit 1 with an API error,
# like an expired DNS API token) or report success without publishing ("silent"). lab_txt_fixed
# undoes either.
lab_txt_broken() {
  case ${1:-fail} in
    fail | silent) lab_forget_authz; echo "${1:-fail}" >"$LAB/faults/txt" ;;
    *) _lab_die "lab_txt_broken: unknown mode '$1' (want fail or silent)" ;;
  esac
}
lab_txt_fixed() { rm -f "$LAB/faults/txt"; }

_lab_ca_ports() {  # main|alt -> "ACME_PORT MGMT_PORT"
  case ${1:-main} in
    main) echo "$LAB_ACME_PORT $LAB_PEBBLE_MGMT_PORT" ;;
    alt) [[ -n $LAB_ALT_ACME_URL ]] || _lab_die "no alternative CA: start the lab with LAB_ALT_CA=1"
         echo "$LAB_ALT_ACME_PORT $LAB_ALT_PEBBLE_MGMT_PORT" ;;
    *) _lab_die "unknown CA '$1' (want main or alt)" ;;
  esac
}

# lab_ca_stop [main|alt] / lab_ca_start [main|alt]: stop the CA (connection refused) and start it
# again on the same ports. pebble holds everything in memory: after a restart it knows no
# account, order or certificate, and issues from a new root (appended to $LAB_ROOTS). The
# accounts certbot and lego registered before are refused (docs/e2e.md has what they print).
lab_ca_stop() {
  _lab_ca_ports "${1:-main}" >/dev/null
  lab_kill "pebble-${1:-main}"
}
lab_ca_start() {
  local name=${1:-main} ports
  ports=$(_lab_ca_ports "$name")
  # shellcheck disable=SC2086 # two ports
  _lab_start_pebble "$name" $ports
  if [[ $name == main ]]; then LAB_PEBBLE_PID=${_lab_pid[pebble-main]}; else LAB_ALT_PEBBLE_PID=${_lab_pid[pebble-alt]}; fi
}

# lab_reset_accounts: what an operator does after the CA forgot the accounts: removes the
# certbot and lego accounts (not the certificates), registers a new certbot account and points
# every certbot renewal configuration at it (certbot renew refuses a lineage whose account file
# is gone). lego registers a new account by itself at its next run.
lab_reset_accounts() {
  local id
  rm -rf "$LAB/certbot/config/accounts" "$LAB/lego/accounts"
  "$LAB/bin/certbot" register >>"$LAB/logs/certbot-register.log" 2>&1 ||
    _lab_die "certbot register failed (see $LAB/logs/certbot-register.log)"
  id=$(basename "$(dirname "$(find "$LAB/certbot/config/accounts" -name regr.json | head -n1)")")
  sed -i "s/^account = .*/account = $id/" "$LAB"/certbot/config/renewal/*.conf 2>/dev/null || true
}

# lab_ca_hang [main|alt] / lab_ca_resume: SIGSTOP / SIGCONT by PID. Connections are accepted by
# the kernel but never answered, so clients wait for their own timeouts.
lab_ca_hang() { _lab_ca_ports "${1:-main}" >/dev/null; kill -STOP "${_lab_pid[pebble-${1:-main}]}"; }
lab_ca_resume() { _lab_ca_ports "${1:-main}" >/dev/null; kill -CONT "${_lab_pid[pebble-${1:-main}]}"; }

# Serials as `certcast probe tls` prints them: openssl's hex (whole bytes, so a leading zero
# stays), lower case, no colons.
_lab_serial() { sed -n 's/^serial=//p' | tr 'A-F' 'a-f'; }
# lab_served_serial NAME: the serial of the certificate nginx serves for SNI NAME.
lab_served_serial() {
  local pem
  pem=$(openssl s_client -connect "$LAB_IP:$LAB_TLS_PORT" -servername "$1" </dev/null 2>/dev/null |
    openssl x509 2>/dev/null) || { _lab_say "no certificate served for $1 on :$LAB_TLS_PORT"; return 1; }
  openssl x509 -noout -serial <<<"$pem" | _lab_serial
}
# lab_cert_serial FILE: the serial of the (first) certificate in a PEM file.
lab_cert_serial() { openssl x509 -in "$1" -noout -serial | _lab_serial; }

# lab_toml_list ARGS...: ARGS as a TOML array of strings, e.g. for certcast's client.dns01_args:
#   echo "dns01_args = $(lab_toml_list "${LAB_LEGO_DNS01[@]}")"
lab_toml_list() {
  python3 -c 'import json,sys; print("[" + ", ".join(json.dumps(a) for a in sys.argv[1:]) + "]")' "$@"
}
