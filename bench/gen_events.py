#!/usr/bin/env python3
"""Writes N mixed events-v1 lines (every type, fleet-like proportions) for ingest benchmarks and
tests. Deterministic for a seed. Usage: gen_events.py N OUT [--seed S] [--bad EVERY]

--bad EVERY makes every EVERY-th line invalid (for rejection tests)."""
import argparse
import datetime
import random

p = argparse.ArgumentParser()
p.add_argument("n", type=int)
p.add_argument("out")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--bad", type=int, default=0)
a = p.parse_args()
rnd = random.Random(a.seed)
start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
CA = "https://acme-v02.api.letsencrypt.org/directory"


def ts(sec):
    return (start + datetime.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")


def line(i):
    lin = i % 5000
    cert = f"site{lin}"
    name = f"www.site{lin}.example.com"
    t = ts(i * 7 + rnd.randrange(3600))
    k = rnd.random()
    if k < 0.22:
        return ('{"ts":"%s","type":"tls_probe","endpoint":"192.0.2.%d:443","sni":"%s","cert":"%s",'
                '"outcome":"ok","serial":"%x","not_after":"%s","latency_ms":%.1f,"tls_version":"TLSv1.3",'
                '"cipher":"TLS_AES_128_GCM_SHA256","ocsp_stapled":false,"sct_count":2}'
                % (t, lin % 250, name, cert, rnd.getrandbits(64), ts(i * 7 + 86400 * 60), rnd.uniform(5, 90)))
    if k < 0.44:
        return ('{"ts":"%s","type":"dns","name":"%s","rtype":"A","rcode":"NOERROR","values":["192.0.2.%d"],'
                '"dnssec":"insecure","latency_ms":%.1f}' % (t, name, lin % 250, rnd.uniform(1, 40)))
    if k < 0.60:
        ok = rnd.random() < 0.97
        return ('{"ts":"%s","type":"http01_probe","name":"%s","outcome":"%s"%s,"latency_ms":%.1f}'
                % (t, name, "ok" if ok else "error", "" if ok else ',"error":"timeout"', rnd.uniform(10, 300)))
    if k < 0.68:
        return ('{"ts":"%s","type":"ca_probe","ca":"%s","outcome":"ok","status":200,"latency_ms":%.1f}'
                % (t, CA, rnd.uniform(50, 400)))
    if k < 0.76:
        return ('{"ts":"%s","type":"clock","host":"web%d","offset_ms":%.2f,"synced":true,"source":"ntp"}'
                % (t, lin % 100, rnd.gauss(0, 20)))
    if k < 0.84:
        return ('{"ts":"%s","type":"host","host":"web%d","disk_free_bytes":%d,"disk_total_bytes":100000000000,'
                '"scheduler_last_run":"%s"}' % (t, lin % 100, rnd.randrange(10**9, 10**11), t))
    if k < 0.90:
        ok = rnd.random() < 0.9
        return ('{"ts":"%s","type":"renewal","cert":"%s","outcome":"%s"%s,"challenge":"http-01","ca":"%s",'
                '"duration_ms":%d,"trigger":"schedule"}'
                % (t, cert, "success" if ok else "failure",
                   "" if ok else ',"error":"urn:ietf:params:acme:error:connection","detail":"Timeout during connect (likely firewall problem)"',
                   CA, rnd.randrange(2000, 30000)))
    if k < 0.93:
        return ('{"ts":"%s","type":"issued","cert":"%s","serial":"%x","not_before":"%s","not_after":"%s","ca":"%s",'
                '"names":["%s"]}' % (t, cert, rnd.getrandbits(64), t, ts(i * 7 + 86400 * 90), CA, name))
    if k < 0.95:
        return ('{"ts":"%s","type":"config","cert":"%s","host":"web%d","names":["%s"],"client":"certbot",'
                '"client_version":"2.1.0","ca":"%s","challenge":"http-01","alt_challenges":["dns-01"],"ari":false,'
                '"renew_rule":"days_left:30"}' % (t, cert, lin % 100, name, CA))
    if k < 0.96:
        return ('{"ts":"%s","type":"deploy","cert":"%s","host":"web%d","outcome":"success"}' % (t, cert, lin % 100))
    if k < 0.97:
        return ('{"ts":"%s","type":"dns01_check","name":"_acme-challenge.%s","outcome":"ok","propagation_ms":%d}'
                % (t, name, rnd.randrange(1000, 60000)))
    if k < 0.98:
        return ('{"ts":"%s","type":"ari","cert":"%s","ca":"%s","window_start":"%s","window_end":"%s","retry_after_s":21600}'
                % (t, cert, CA, ts(i * 7 + 86400 * 59), ts(i * 7 + 86400 * 61)))
    if k < 0.99:
        return ('{"ts":"%s","type":"credential","kind":"dns_api_token","host":"web%d","expires":"%s","present":true}'
                % (t, lin % 100, ts(i * 7 + 86400 * 200)))
    return ('{"ts":"%s","type":"domain","name":"site%d.example.com","expires":"%s","status":"active"}'
            % (t, lin, ts(i * 7 + 86400 * 300)))


with open(a.out, "w") as f:
    for i in range(a.n):
        if a.bad and i % a.bad == a.bad - 1:
            f.write('{"ts":"not-a-time","type":"dns"}\n')
        else:
            f.write(line(i) + "\n")
