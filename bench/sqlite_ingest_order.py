#!/usr/bin/env python3
"""What SQLite itself costs to store a fleet's events in a given order, without certcast: the
events table and subject index of src/store/sqlite_store.cc (schema 1 and 6: keyed by (ts, hash)
WITHOUT ROWID; 16 KiB pages, WAL, synchronous=FULL, 256 MiB cache by default) filled through
Python's sqlite3 module in transactions of BATCH rows (certcast ingest's 20,000), the order of the
input file kept. Prints the wall time of the inserts (parsing excluded) and the bytes this process
wrote (/proc/self/io). The hash is BLAKE2b of the line, not certcast's XXH3: only its spread
matters here. docs/scale.md "Why SQLite's ingest slows down with the fleet's size".
Usage: sqlite_ingest_order.py DB FLEET.jsonl [PAGE_SIZE [BATCH [CACHE_KB]]]
       (NOINDEX=1 leaves the subject index out; DB is removed first)"""
import datetime
import hashlib
import json
import os
import sqlite3
import sys
import time

path, src = sys.argv[1], sys.argv[2]
page = int(sys.argv[3]) if len(sys.argv) > 3 else 16384
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
cache_kb = int(sys.argv[5]) if len(sys.argv) > 5 else 256 * 1024
for f in (path, path + "-wal", path + "-shm"):
    if os.path.exists(f):
        os.remove(f)
db = sqlite3.connect(path, isolation_level=None)
db.execute(f"PRAGMA page_size={page}")
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute(f"PRAGMA cache_size=-{cache_kb}")
db.execute("CREATE TABLE events (ts INTEGER NOT NULL, hash INTEGER NOT NULL, type INTEGER NOT NULL,"
           " subject TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (ts, hash)) WITHOUT ROWID")
if os.environ.get("NOINDEX") is None:
    db.execute("CREATE INDEX events_by_subject ON events (subject, ts)")


def micros(ts):
    return int(datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1e6)


rows = []
for line in open(src):
    d = json.loads(line)
    h = int.from_bytes(hashlib.blake2b(line.encode(), digest_size=8).digest(), "little", signed=True)
    rows.append((micros(d["ts"]), h, 1, d["cert"], line))
t0 = time.time()
for i in range(0, len(rows), batch):
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT OR IGNORE INTO events (ts, hash, type, subject, json) VALUES (?, ?, ?, ?, ?)",
                   rows[i:i + batch])
    db.execute("COMMIT")
t1 = time.time()
io = dict(l.split(": ") for l in open("/proc/self/io").read().splitlines())
print(f"page={page} batch={batch} cache={cache_kb}KB index={'no' if os.environ.get('NOINDEX') else 'yes'}: "
      f"{len(rows)} rows in {t1 - t0:.1f}s = {len(rows) / (t1 - t0):.0f}/s, "
      f"write_bytes {int(io['write_bytes']) / 1e9:.2f} GB, load {open('/proc/loadavg').read().split()[0]}")
