#!/usr/bin/env python3
"""Writes a fleet of N lineages as events-v1 lines, for the read and scale benchmarks
(bench/serve_bench.sh, bench/pg_scale.sh): each lineage a config, an issued certificate (expiring
in January 2027) and PROBES TLS probes in November 2026, a day apart; with --recent R, also R
TLS probes per lineage spread over the 72 h before --now (so that the server's detail route has
events to read in its window). Deterministic for a given --now.
Usage: gen_lineages.py N OUT [--probes P] [--recent R --now RFC3339] (P from 1 to 3, default 1)"""
import argparse
import datetime

p = argparse.ArgumentParser()
p.add_argument("n", type=int)
p.add_argument("out")
p.add_argument("--probes", type=int, default=1, choices=(1, 2, 3))
p.add_argument("--recent", type=int, default=0)
p.add_argument("--now", default="")
a = p.parse_args()
if a.recent and not a.now:
    p.error("--recent needs --now")
now = datetime.datetime.fromisoformat(a.now.replace("Z", "+00:00")) if a.now else None
out = open(a.out, "w")
ca = "https://acme-v02.api.letsencrypt.org/directory"
for i in range(a.n):
    cert, host, name = f"site{i}", f"web{i % 3000}", f"www.site{i}.example.com"
    day = 1 + i % 28
    out.write('{"ts":"2026-09-01T00:00:00Z","type":"config","cert":"%s","host":"%s","names":["%s"],'
              '"client":"certbot","client_version":"4.1.0","ca":"%s","challenge":"http-01","ari":false}\n' % (cert, host, name, ca))
    out.write('{"ts":"2026-10-%02dT00:00:00Z","type":"issued","cert":"%s","serial":"%x","not_before":"2026-10-%02dT00:00:00Z",'
              '"not_after":"2027-01-%02dT00:00:00Z","ca":"%s"}\n' % (day, cert, i, day, day, ca))
    for probe in range(a.probes):
        out.write('{"ts":"2026-11-%02dT00:00:00Z","type":"tls_probe","endpoint":"%s:443","sni":"%s","cert":"%s",'
                  '"outcome":"ok","serial":"%x","not_after":"2027-01-%02dT00:00:00Z"}\n' % (day + probe, host, name, cert, i, day))
    for r in range(a.recent):
        # Seconds before --now, distinct per lineage and probe, within 72 h.
        at = now - datetime.timedelta(seconds=(i * 7 + r * 86400 // max(a.recent, 1)) % (72 * 3600 - 60) + 1)
        out.write('{"ts":"%s","type":"tls_probe","endpoint":"%s:443","sni":"%s","cert":"%s",'
                  '"outcome":"ok","serial":"%x","not_after":"2027-01-%02dT00:00:00Z"}\n'
                  % (at.strftime("%Y-%m-%dT%H:%M:%SZ"), host, name, cert, i, day))
