#!/usr/bin/env bash
# packaging/: the systemd units of the server and the agent pass `systemd-analyze verify` with no
# warning at all (verify exits 0 on an unknown key or a bad value and only prints it, so any
# output fails the test; a deliberately broken copy proves that such output is seen), keep their
# hardening options, and the command lines they run are accepted by this build of certcast.
CERTCAST="$1"; ROOT="$2"
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd; scripts/setup.sh --test installs it)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for unit in certcast-server certcast-agent; do
  # The units name /usr/bin/certcast; verify checks that ExecStart is executable, so point it at
  # this build.
  sed "s#/usr/bin/certcast#$CERTCAST#g" "$ROOT/packaging/$unit.service" >"$work/$unit.service"
  out=$(systemd-analyze verify "$work/$unit.service" 2>&1) || fail "$unit: systemd-analyze verify: $out"
  [[ -z "$out" ]] || fail "$unit: systemd-analyze verify warns: $out"
  for option in NoNewPrivileges=yes PrivateTmp=yes ProtectSystem= UMask=0077 StateDirectoryMode=0700; do
    grep -q "^$option" "$ROOT/packaging/$unit.service" || fail "$unit: $option missing"
  done
done
grep -q '^ProtectSystem=strict' "$ROOT/packaging/certcast-server.service" || fail "server: ProtectSystem is not strict"
# The agent's act step runs the clients, which write their state under /etc (read-only with
# ProtectSystem=full) and /root (ProtectHome=read-only): those directories must stay writable.
grep -q '^ReadWritePaths=.*-/etc/letsencrypt.*-/root/.acme.sh' "$ROOT/packaging/certcast-agent.service" ||
  fail "agent: the clients' state directories are not in ReadWritePaths (ProtectSystem=full makes /etc read-only)"
grep -q '^RestartPreventExitStatus=4' "$ROOT/packaging/certcast-agent.service" ||
  fail "agent: a refused token (exit 4) would be restarted in a loop"

# The check sees what it must: a unit with an unknown key and a bad value is reported.
sed 's/^ProtectSystem=strict/ProtectSystem=bogus\nNoSuchOption=1/' "$work/certcast-server.service" >"$work/broken.service"
out=$(systemd-analyze verify "$work/broken.service" 2>&1) || true
[[ "$out" == *"NoSuchOption"* && "$out" == *"bogus"* ]] || fail "verify did not report a broken unit: $out"

# The flags the units pass exist in this build (a renamed flag would fail at start only).
for unit in certcast-server certcast-agent; do
  line=$(sed -n 's/^ExecStart=//p' "$work/$unit.service")
  read -r -a argv <<<"${line//\$\{CERTCAST_SERVER\}/https://certcast.example.net:8440}"
  command=${argv[1]}
  rc=0; out=$("${argv[@]}" --help 2>&1) || rc=$?
  [[ $rc == 0 ]] || fail "$unit: '${argv[*]} --help' exits $rc: $out"
  for flag in "${argv[@]:2}"; do
    [[ $flag == --* ]] || continue
    grep -q -- "$flag" <<<"$("$CERTCAST" "$command" --help)" || fail "$unit: certcast $command has no $flag"
  done
done
echo "packaging: ok"
