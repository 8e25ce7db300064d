#!/usr/bin/env python3
"""The loader a user would otherwise write: Python's json + sqlite3 doing the same work as
`certcast ingest` (parse each line, check the required fields of its type, store a canonical form
once per distinct event, commit in batches of 20,000 with WAL and synchronous=FULL).
Usage: python_loader.py DB FILE"""
import json
import sqlite3
import sys

REQUIRED = {
    "config": ("cert", "host", "names", "client", "ca", "challenge", "ari"),
    "issued": ("cert", "serial", "not_before", "not_after", "ca"),
    "renewal": ("cert", "outcome"), "deploy": ("cert", "host", "outcome"),
    "tls_probe": ("endpoint", "sni", "outcome"), "dns": ("name", "rtype", "rcode", "values"),
    "http01_probe": ("name", "outcome"), "dns01_check": ("name", "outcome"),
    "ca_probe": ("ca", "outcome"), "ari": ("cert", "ca", "window_start", "window_end"),
    "clock": ("host", "offset_ms"), "host": ("host",), "credential": ("kind",), "domain": ("name",),
}

db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, ts TEXT, type TEXT, "
           "subject TEXT, json TEXT UNIQUE)")
batch, rejected = [], 0
with open(sys.argv[2]) as f:
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            req = REQUIRED[e["type"]]
            if not all(k in e for k in req) or not isinstance(e["ts"], str):
                raise ValueError("missing field")
        except Exception as ex:  # noqa: BLE001 - report and go on, like certcast
            rejected += 1
            print(f"{sys.argv[2]}:{n}: {ex}", file=sys.stderr)
            continue
        subject = e.get("cert") or e.get("name") or e.get("host") or e.get("ca") or e.get("endpoint") or ""
        batch.append((e["ts"], e["type"], subject, json.dumps(e, sort_keys=True, separators=(",", ":"))))
        if len(batch) >= 20000:
            db.executemany("INSERT OR IGNORE INTO events (ts, type, subject, json) VALUES (?,?,?,?)", batch)
            db.commit()
            batch.clear()
db.executemany("INSERT OR IGNORE INTO events (ts, type, subject, json) VALUES (?,?,?,?)", batch)
db.commit()
print(f"python loader: {rejected} rejected", file=sys.stderr)
