#!/usr/bin/env python3
"""Writes a fleet of N lineages as events-v1 lines, for the read and scale benchmarks
(bench/serve_bench.sh, bench/pg_scale.sh): each lineage a config, an issued certificate (expiring
in January 2027) and PROBES TLS probes in November 2026, a day apart. Deterministic.
Usage: gen_lineages.py N OUT [--probes P] (P from 1 to 3, default 1)"""
import argparse

p = argparse.ArgumentParser()
p.add_argument("n", type=int)
p.add_argument("out")
p.add_argument("--probes", type=int, default=1, choices=(1, 2, 3))
a = p.parse_args()
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
