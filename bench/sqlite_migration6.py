#!/usr/bin/env python3
# Times the SQLite store's migration 5 -> 6 (the events subject index, src/store/sqlite_store.cc)
# on an existing schema-5 store, with the statements and pragmas SqliteStore::Init uses, through
# the system libsqlite3 that certcast links. Usage: bench/sqlite_migration6.py STORE (changes it).
import sqlite3, sys, time

db = sqlite3.connect(sys.argv[1], isolation_level=None)
for pragma in ["journal_mode=WAL", "synchronous=FULL", "cache_size=-262144", "temp_store=MEMORY"]:
    db.execute("PRAGMA " + pragma)
version = db.execute("PRAGMA user_version").fetchone()[0]
if version != 5:
    sys.exit(f"{sys.argv[1]}: schema {version}, expected 5")
print("sqlite", sqlite3.sqlite_version, "events:", db.execute("SELECT count(*) FROM events").fetchone()[0])
start = time.time()
db.execute("BEGIN IMMEDIATE")
db.execute("CREATE INDEX events_by_subject ON events (subject, ts)")
db.execute("PRAGMA user_version=6")
db.execute("COMMIT")
print("migration 5 -> 6: %.1f s" % (time.time() - start))
