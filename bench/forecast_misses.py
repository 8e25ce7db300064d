#!/usr/bin/env python3
"""What the forecaster misses (issue #14), from backtest CSVs and the simulator's truth, no training.

For each CSV (WORK/NAME.TAG.csv, written by `certcast backtest --out` or bench_forecast
--study-to; the truth file is WORK/NAME.truth.jsonl beside it) it takes the oracle's catchable
episodes of the test period (labelled, a precursor visible at least a day before the onset, onset
between the CSV's first day and its last day + 1) and the highest risk on the cert-days D in
[onset - 7 d, onset - 1 d], and sorts each into:
  caught   that risk reached the fleet's threshold
  near     at least half the threshold: an operating-point problem
  middle   between 0.03 and half the threshold
  low      below 0.03, about the base rate (0.3-1.7 % on the study fleets): a feature or ranking
           problem
  late     the precursor became visible after the last cert-day's midnight: no daily forecast
           can see it (the oracle counts it, since it allows any time a day before the onset)
  no row   no cert-day row in the window
Then it lists the false alerts (de-duplicated as the backtest does: one per lineage per horizon;
rows inside an episode do not alert) with their day, for `certcast forecast --at DAY --json`.

The threshold per fleet is --threshold NAME=T (default: the CSV's alert column, i.e. the model's
own threshold). Usage:
  bench/forecast_misses.py [--threshold NAME=T ...] [--list] [--false-alerts FILE.json] CSV...
"""
import argparse
import collections
import csv
import json
import os
import re
from datetime import datetime, timedelta

parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
DAY = timedelta(days=1)
HORIZON = timedelta(days=7)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", action="append", default=[], help="NAME=T (NAME as in NAME.TAG.csv)")
    ap.add_argument("--list", action="store_true", help="print every missed catchable episode")
    ap.add_argument("--false-alerts", help="write the false alerts here as JSON")
    ap.add_argument("csv", nargs="+")
    args = ap.parse_args()
    thresholds = dict(t.split("=", 1) for t in args.threshold)
    table = collections.defaultdict(collections.Counter)
    variants = collections.defaultdict(collections.Counter)
    missed, false_alerts = [], []
    for path in args.csv:
        name = re.sub(r"\.[^.]+\.csv$", "", os.path.basename(path))
        truth = os.path.join(os.path.dirname(path), name + ".truth.jsonl")
        rows = collections.defaultdict(list)
        for r in csv.DictReader(open(path)):
            rows[r["cert"]].append((parse(r["day"]), float(r["risk"]), r["alert"] == "1"))
        for rs in rows.values():
            rs.sort()
        first = min(d for rs in rows.values() for d, _, _ in rs)
        last = max(d for rs in rows.values() for d, _, _ in rs) + DAY
        # The model's own threshold: the lowest risk that alerts in the CSV.
        own = min((v for rs in rows.values() for _, v, a in rs if a), default=float("inf"))
        threshold = float(thresholds.get(name, own))
        episodes = [json.loads(l) for l in open(truth)]
        episodes = [e for e in episodes if e.get("type") == "episode"]
        onsets = collections.defaultdict(list)
        spans = collections.defaultdict(list)
        for e in episodes:
            onsets[e["cert"]].append(parse(e["onset"]))
            spans[e["cert"]].append((parse(e["onset"]), parse(e["end"]) if e.get("end") else None))
        for e in episodes:
            onset = parse(e["onset"])
            seen = e.get("precursor_visible")
            if not e["labelled"] or not first <= onset < last or seen is None or parse(seen) > onset - DAY:
                continue
            window = [(d, v) for d, v, _ in rows.get(e["cert"], []) if onset - HORIZON <= d <= onset - DAY]
            top = max((v for _, v in window), default=None)
            last_day = (onset - DAY).replace(hour=0, minute=0, second=0, microsecond=0)
            if top is not None and top >= threshold:
                band = "caught"
            elif parse(seen) > last_day:
                band = "late"
            elif top is None:
                band = "no row"
            elif top >= threshold / 2:
                band = "near"
            elif top >= 0.03:
                band = "middle"
            else:
                band = "low"
            table[e["cause"]][band] += 1
            variants[(e["cause"], e["variant"])][band] += 1
            if band != "caught":
                missed.append((name, band, e["cause"], e["variant"], e["cert"], e["onset"], top, threshold,
                               last_day.strftime("%Y-%m-%dT%H:%M:%SZ")))
        # False alerts at the threshold, de-duplicated per lineage and horizon. A row at or above the
        # model's own threshold that did not alert is inside an episode (the forecaster's rule);
        # below it, the truth's episode spans say so.
        for cert, rs in rows.items():
            counted = None
            for d, v, alerted in rs:
                if v < threshold:
                    continue
                if not alerted and (v >= own or any(a <= d and (b is None or d < b) for a, b in spans[cert])):
                    continue
                if counted is not None and d - counted < HORIZON:
                    continue
                counted = d
                if not any(d < o <= d + HORIZON for o in onsets[cert]):
                    false_alerts.append((name, cert, d.strftime("%Y-%m-%dT%H:%M:%SZ"), v))
    bands = ["caught", "near", "middle", "low", "late", "no row"]
    print("| cause | catchable | " + " | ".join(bands) + " |")
    print("|---" * (len(bands) + 2) + "|")
    total = collections.Counter()
    for cause in sorted(table, key=lambda c: -sum(table[c].values())):
        total.update(table[cause])
        print(f"| {cause} | {sum(table[cause].values())} | " + " | ".join(str(table[cause][b]) for b in bands) + " |")
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[b]) for b in bands) + " |")
    print("\nmissed, by variant (middle + low first):")
    for (cause, variant), c in sorted(variants.items(), key=lambda kv: -(kv[1]["middle"] + kv[1]["low"])):
        if sum(c.values()) > c["caught"]:
            print(f"  {cause}/{variant}: " + ", ".join(f"{b} {c[b]}" for b in bands if c[b]))
    if args.list:
        print("\nfleet band cause variant cert onset top-risk threshold last-cert-day")
        for m in missed:
            print(" ".join(f"{x:.4f}" if isinstance(x, float) else str(x) for x in m))
    print(f"\n{len(false_alerts)} false alerts")
    if args.false_alerts:
        json.dump(false_alerts, open(args.false_alerts, "w"))


if __name__ == "__main__":
    main()
