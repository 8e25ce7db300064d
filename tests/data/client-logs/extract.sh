#!/bin/sh
# Re-creates the client logs of this folder from acme-lab captures (../shared/acme-lab/real-logs).
# A capture holds the command, the client's stdout+stderr, certbot's letsencrypt.log and the
# servers' log lines, each after a "### ---------------- <what> ----------------" header; the
# parsers read what a host has, so each file here is one section, byte for byte:
#   certbot-X.letsencrypt.log  <- the "certbot letsencrypt.log" section of certbot-X.log
#   lego-X.out                 <- the "client stdout+stderr" section of lego-X.log
# Usage: extract.sh LAB_LOG_DIR  (run in this folder)
set -eu
lab=${1:?usage: extract.sh LAB_LOG_DIR}
section() {  # section FILE HEADER_PREFIX: the lines after the header up to the next header
  awk -v want="$2" '
    /^### ----------------/ { inside = (index($0, want) == 1); next }
    inside { print }' "$1"
}
for scenario in ok-issue-http01 ok-issue-dns01 ok-renew-http01 ok-renew-not-due \
    http01-nothing-listening http01-404-webroot http01-port-in-use dns01-txt-missing \
    dns01-txt-servfail rejected-identifier bad-nonce eab-required ca-down acme-server-hang \
    untrusted-ca-tls account-lost account-key-mismatch clock-minus1y; do
  section "$lab/certbot-$scenario.log" "### ---------------- certbot letsencrypt.log" \
    > "certbot-$scenario.letsencrypt.log"
done
for scenario in ok-issue-http01 ok-issue-tlsalpn01 ok-renew-http01 ok-renew-dns01 \
    ok-renew-not-due http01-nothing-listening http01-port-in-use http01-404-webroot \
    dns01-txt-missing dns01-propagation-timeout rejected-identifier bad-nonce eab-required \
    ca-down acme-server-hang untrusted-ca-tls account-lost; do
  section "$lab/lego-$scenario.log" "### ---------------- client stdout+stderr" \
    > "lego-$scenario.out"
done
