# The e2e scenarios' common part (sourced after `CERTCAST=$1 ROOT=$2`): the lab (lab_lib.sh) plus
# certcast set up as a user would run it beside certbot and lego:
#   - lineages issued by the real clients, with certcast's hook as their deploy hook;
#   - `certcast run` as a daemon whose collectors are certcast's own commands (discover for the
#     clients' state, scan for TLS/DNS/HTTP-01/CA probes, spool for the hooks' events, parse for
#     lego's cron log), whose executors run the real clients, whose reload command HUPs nginx and
#     whose alert command appends to $LAB/alerts.jsonl;
#   - assertions on the audit trail and on the certificate nginx serves.
#
# Time: pebble issues LAB_VALIDITY-second certificates (default 300: a 90-day lifetime compressed
# 25920x) and the policy runs with time_scale = E2E_SCALE (default 20000), so its 12 h probe
# persistence is 2.2 s, its 5 d forecast lead 21.6 s and its 7 d safety net 30 s. certbot
# lineages renew E2E_RENEW_BEFORE before expiry (their scheduled renewal, default "3 minutes":
# 2 minutes after issuance). No model: the forecaster is trained on day-scale histories and would
# read compressed time wrongly, so decisions come from the policy's diagnosis (docs/e2e.md).
set -euo pipefail
export LAB_VALIDITY=${LAB_VALIDITY:-300}  # before lab_lib.sh, which defaults it to 600
source "$ROOT/tests/e2e/lab_lib.sh"


E2E_SCALE=${E2E_SCALE:-20000}
E2E_RENEW_BEFORE=${E2E_RENEW_BEFORE:-3 minutes}
E2E_DOMAIN=lab.test
fail() { _lab_die "$*"; }
say() { _lab_say "$*"; }

declare -ga E2E_LINEAGES=()        # cert names, in creation order
declare -gA E2E_NAME=() E2E_KIND=() E2E_ALT_CHALLENGES=() E2E_ALT_CAS=()

# e2e_start: the lab, and certcast's directories in it.
e2e_start() {
  lab_start
  E2E=$LAB/certcast
  mkdir -p "$E2E/spool" "$E2E/locks"
  E2E_DB=$E2E/fleet.db E2E_CONF=$E2E/certcast.toml E2E_SCAN=$E2E/scan.toml
  E2E_HOOK=("$CERTCAST" hook --spool "$E2E/spool" --host lab)
  : >"$LAB/alerts.jsonl"
  # certcast's own lego runs: the lab's wrapper without its tee into output.log, which stands for
  # the cron job's log. certcast records the runs it starts itself; lego's log would count them twice.
  sed '/tee -a/d' "$LAB/bin/lego" >"$LAB/bin/lego-certcast"
  printf '/usr/bin/lego "${fixed[@]}" "$@"\n' >>"$LAB/bin/lego-certcast"
  chmod +x "$LAB/bin/lego-certcast"
}

# e2e_certbot_lineage CERT http-01|dns-01 [reload|noreload [CERTBOT_ARGS...]]: issues CERT (name
# CERT.lab.test) with certbot over the challenge, certcast's hook as deploy hook (with or without
# nginx's reload), renew_before_expiry = E2E_RENEW_BEFORE, and nginx serving it.
e2e_certbot_lineage() {
  local cert=$1 challenge=$2 reload=${3:-reload} name=$1.$E2E_DOMAIN hook
  shift $(($# < 3 ? $# : 3))
  local -a args
  [[ $challenge == http-01 ]] && args=("${LAB_CERTBOT_HTTP01[@]}") || args=("${LAB_CERTBOT_DNS01[@]}")
  hook="${E2E_HOOK[*]} certbot"
  [[ $reload == reload ]] && hook+=" -- kill -HUP $LAB_NGINX_PID"
  "$LAB_CERTBOT" certonly --cert-name "$cert" -d "$name" "${args[@]}" --deploy-hook "$hook" "$@" \
    >"$LAB/logs/issue-$cert.log" 2>&1 || fail "certbot could not issue $cert (see $LAB/logs/issue-$cert.log)"
  local conf=$LAB/certbot/config/renewal/$cert.conf
  sed -i "1i renew_before_expiry = $E2E_RENEW_BEFORE" "$conf"
  lab_nginx_serve "$name" "$LAB/certbot/config/live/$cert/fullchain.pem" "$LAB/certbot/config/live/$cert/privkey.pem"
  E2E_LINEAGES+=("$cert"); E2E_NAME[$cert]=$name; E2E_KIND[$cert]=certbot
}

# e2e_lego_lineage DOMAIN dns-01|http-01: issues DOMAIN.lab.test with lego (the cert is named by
# its domain, as lego does) and certcast's hook as --run-hook; nginx serves it.
e2e_lego_lineage() {
  local name=$1.$E2E_DOMAIN challenge=$2
  local -a args
  [[ $challenge == http-01 ]] && args=("${LAB_LEGO_HTTP01[@]}") || args=("${LAB_LEGO_DNS01[@]}")
  "$LAB_LEGO" --domains "$name" "${args[@]}" run --run-hook "${E2E_HOOK[*]} lego -- kill -HUP $LAB_NGINX_PID" \
    >"$LAB/logs/issue-$name.log" 2>&1 || fail "lego could not issue $name (see $LAB/logs/issue-$name.log)"
  lab_nginx_serve "$name" "$LAB/lego/certificates/$name.crt" "$LAB/lego/certificates/$name.key"
  E2E_LINEAGES+=("$name"); E2E_NAME[$name]=$name; E2E_KIND[$name]=lego
}

# e2e_allow CERT [challenges=LIST] [cas=LIST]: what certcast may switch CERT to (comma lists).
e2e_allow() {
  local cert=$1 kv
  shift
  for kv in "$@"; do
    case $kv in
      challenges=*) E2E_ALT_CHALLENGES[$cert]=${kv#challenges=} ;;
      cas=*) E2E_ALT_CAS[$cert]=${kv#cas=} ;;
    esac
  done
}

# e2e_configure: writes the scan and daemon configuration for every lineage created so far.
e2e_configure() {
  local cert name
  {
    printf '[scan]\nconcurrency = 16\ntimeout = "3s"\nca_file = "%s"\nresolver = "%s"\nhost = "lab"\n' \
      "$LAB_ROOTS" "$LAB_DNS"
    for cert in "${E2E_LINEAGES[@]}"; do
      name=${E2E_NAME[$cert]}
      printf '[[tls]]\nendpoint = "127.0.0.1:%s"\nsni = "%s"\ncert = "%s"\n' "$LAB_TLS_PORT" "$name" "$cert"
      printf '[[dns]]\nname = "%s"\ntypes = ["A"]\n' "$name"
      printf '[[http01]]\nname = "%s"\nport = %s\nresolver = "%s"\n' "$name" "$LAB_HTTP_PORT" "$LAB_DNS"
    done
    printf '[[ca]]\ndirectory = "%s"\nca_file = "%s"\n' "$LAB_ACME_URL" "$LAB_PEBBLE_CA"
    [[ -z $LAB_ALT_ACME_URL ]] || printf '[[ca]]\ndirectory = "%s"\nca_file = "%s"\n' "$LAB_ALT_ACME_URL" "$LAB_PEBBLE_CA"
  } >"$E2E_SCAN"
  local dns01=() a
  for a in "${LAB_CERTBOT_DNS01[@]}"; do [[ $a == --preferred-challenges || $a == dns-01 ]] || dns01+=("$a"); done
  {
    cat <<EOF
db = "$E2E_DB"
interval = "1s"
lock_dir = "$E2E/locks"

[policy]
time_scale = $E2E_SCALE
${E2E_POLICY_EXTRA:-}
# pebble has no rate limits; certcast's own budget per exact name set stays on (5 per 7 d).
[client]
kind = "certbot"
path = "$LAB_CERTBOT"
timeout = "60s"
staging_server = "$LAB_ACME_URL"  # the lab's pebble is its own staging CA
dns01_args = $(lab_toml_list "${dns01[@]}")
http01_args = $(lab_toml_list "${LAB_CERTBOT_HTTP01[@]}")

[[reload]]
host = "*"
command = ["kill", "-HUP", "$LAB_NGINX_PID"]
timeout = "10s"

[alert]
command = ["sh", "-c", "cat >> '$LAB/alerts.jsonl'"]

[[collector]]
name = "discover"
command = $(lab_toml_list "$CERTCAST" discover --root "$LAB" --max-depth 3 --host lab --lego-challenge dns-01 --lego-ca "$LAB_ACME_URL" --config "$E2E_CONF")
every = "1s"
[[collector]]
name = "hooks"
command = $(lab_toml_list "$CERTCAST" spool --dir "$E2E/spool")
every = "1s"
[[collector]]
name = "probes"
command = $(lab_toml_list "$CERTCAST" scan --config "$E2E_SCAN")
every = "1s"
timeout = "20s"
EOF
    for cert in "${E2E_LINEAGES[@]}"; do
      printf '\n[[lineage]]\ncert = "%s"\n' "$cert"
      if [[ ${E2E_KIND[$cert]} == lego ]]; then
        printf 'kind = "lego"\npath = "%s"\nemail = "%s"\nlego_path = "%s"\n' "$LAB/bin/lego-certcast" "$LAB_EMAIL" "$LAB/lego"
        printf 'dns01_args = %s\nhttp01_args = %s\n' "$(lab_toml_list "${LAB_LEGO_DNS01[@]}")" "$(lab_toml_list "${LAB_LEGO_HTTP01[@]}")"
        printf 'extra_args = %s\n' "$(lab_toml_list --renew-hook "${E2E_HOOK[*]} lego -- kill -HUP $LAB_NGINX_PID")"
      fi
      [[ -z ${E2E_ALT_CHALLENGES[$cert]:-} ]] || printf 'alt_challenges = %s\n' "$(IFS=,; lab_toml_list ${E2E_ALT_CHALLENGES[$cert]})"
      [[ -z ${E2E_ALT_CAS[$cert]:-} ]] || printf 'alt_cas = %s\n' "$(IFS=,; lab_toml_list ${E2E_ALT_CAS[$cert]})"
    done
    if ((${#E2E_LINEAGES[@]})) && [[ -s $LAB/lego/output.log ]]; then
      # lego's cron log: the client's own runs (certcast's are recorded by certcast).
      printf '\n[[collector]]\nname = "lego-log"\ncommand = %s\nevery = "1s"\n' \
        "$(lab_toml_list "$CERTCAST" parse lego "$LAB/lego/output.log" --ca "$LAB_ACME_URL")"
    fi
  } >"$E2E_CONF"
}

# e2e_daemon_start / e2e_daemon_stop: `certcast run` in the background, log in $LAB/logs/certcast.log.
e2e_daemon_start() {
  local before=0
  [[ ! -f $LAB/logs/certcast.log ]] || before=$(grep -c '"msg":"cycle done"' "$LAB/logs/certcast.log" || true)
  lab_spawn certcast "$CERTCAST" "$CERTCAST" run --config "$E2E_CONF"
  E2E_DAEMON_PID=$LAB_LAST_PID
  lab_wait_until 30 _e2e_cycles_above "$before" ||
    fail "certcast run did not finish a cycle (see $LAB/logs/certcast.log)"
}
_e2e_cycles_above() { (($(grep -c '"msg":"cycle done"' "$LAB/logs/certcast.log" || true) > $1)); }
e2e_daemon_stop() { lab_kill certcast; }

# e2e_audit [ARGS...]: the audit trail as JSON lines.
e2e_audit() { "$CERTCAST" audit --db "$E2E_DB" --json "$@"; }
# e2e_record_epoch: the "at" of the first audit record on stdin, in seconds since the epoch (when
# the server recorded it, not when a script polled for it).
e2e_record_epoch() {
  python3 -c 'import json,sys,datetime
print(int(datetime.datetime.fromisoformat(json.loads(sys.stdin.readline())["at"].replace("Z", "+00:00")).timestamp()))'
}
# e2e_wait_audit TIMEOUT_S PATTERN [audit args]: until an audit record matches PATTERN (grep -E).
e2e_wait_audit() {
  local timeout=$1 pattern=$2
  shift 2
  lab_wait_until "$timeout" _e2e_audit_matches "$pattern" "$@"
}
_e2e_audit_matches() { local p=$1; shift; e2e_audit "$@" 2>/dev/null | grep -Eq -- "$p"; }

# e2e_served CERT: the serial nginx serves for CERT's name; e2e_issued CERT: the client's newest.
e2e_served() { lab_served_serial "${E2E_NAME[$1]}"; }
e2e_issued() {
  if [[ ${E2E_KIND[$1]} == certbot ]]; then lab_cert_serial "$LAB/certbot/config/live/$1/cert.pem"
  else lab_cert_serial "$LAB/lego/certificates/$1.crt"; fi
}
# e2e_not_after CERT: expiry (unix seconds) of the certificate nginx serves for CERT.
e2e_served_not_after() {
  local end
  end=$(openssl s_client -connect "127.0.0.1:$LAB_TLS_PORT" -servername "${E2E_NAME[$1]}" </dev/null 2>/dev/null |
    openssl x509 -noout -enddate | sed 's/^notAfter=//')
  date -d "$end" +%s
}

# e2e_due CERT: when a certbot lineage's own renewal is due (unix seconds): its certificate's
# notAfter minus E2E_RENEW_BEFORE.
e2e_due() {
  local end before
  end=$(openssl x509 -in "$LAB/certbot/config/live/$1/cert.pem" -noout -enddate | sed 's/notAfter=//')
  before=$(date -u -d "1970-01-01 00:00:00 UTC + $E2E_RENEW_BEFORE" +%s)
  echo $(($(date -d "$end" +%s) - before))
}

# e2e_expect_valid_served CERT: nginx serves CERT's newest certificate and it has not expired
# (status 1 and a line on stderr if not: callers wait for it with lab_wait_until ... || fail).
e2e_expect_valid_served() {
  local served issued
  served=$(e2e_served "$1") issued=$(e2e_issued "$1")
  [[ $served == "$issued" ]] || { say "$1: nginx serves $served, the newest certificate is $issued"; return 1; }
  (($(e2e_served_not_after "$1") > $(date +%s))) || { say "$1: the served certificate $served has expired"; return 1; }
}

# e2e_check_audit_chain: the hash chain verifies.
e2e_check_audit_chain() { "$CERTCAST" audit --db "$E2E_DB" --verify >/dev/null || fail "audit chain broken"; }
