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
for capture in "$lab"/certbot-*.log; do
  scenario=$(basename "$capture" .log); scenario=${scenario#certbot-}
  section "$capture" "### ---------------- certbot letsencrypt.log" \
    > "certbot-$scenario.letsencrypt.log"
done
for capture in "$lab"/lego-*.log; do
  scenario=$(basename "$capture" .log); scenario=${scenario#lego-}
  section "$capture" "### ---------------- client stdout+stderr" > "lego-$scenario.out"
done
# The lab's verdict per case (client, scenario, expected outcome, ACME error type): the golden
# test checks the events against it, independently of the golden files.
cp "$lab/summary.tsv" summary.tsv
