#!/usr/bin/env python3
"""One row per operating-point rule over several `bench_forecast --study-to` outputs (issue #14).

Each output prints, per rule, the threshold chosen on the validation slice ("NAME threshold ...")
and, when trained with --oof-folds, on each out-of-fold pool ("pooled rR: NAME threshold ..."),
with the test figures at that threshold. This sums them over the fleets: episodes caught, alerts
true (pooled precision), mean precision over the fleets that alerted, mean and worst caught /
catchable (the oracle's ceiling: labelled episodes of the test period whose precursor was visible
a day before the onset, counted from the truth file), and fleets that never alerted.

Usage: bench/forecast_rule_table.py [--rule SUBSTRING] OUT:TRUTH:SPLIT:END ...
  (SPLIT and END as YYYY-MM-DD, the fleet's --until and --study-to)
"""
import argparse
import collections
import json
import re
import statistics
from datetime import datetime, timedelta

LINE = re.compile(
    r"^\s+(?:pooled (?P<pool>r\d+): )?(?P<name>.+?)\s+threshold (?P<t>[\d.]+)(?: \(best F1\))? \| .*?\| test recall "
    r"[\d.]+ \((?P<caught>\d+)/(?P<episodes>\d+)\) precision [\d.na]+ \((?P<true>\d+)/(?P<alerts>\d+)\)")
parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))


def catchable(truth, split, end):
    lo, hi = parse(split + "T00:00:00Z"), parse(end + "T00:00:00Z")
    n = 0
    for line in open(truth):
        e = json.loads(line)
        if e.get("type") != "episode" or not e.get("labelled"):
            continue
        onset, seen = parse(e["onset"]), e.get("precursor_visible")
        n += lo <= onset < hi and seen is not None and parse(seen) <= onset - timedelta(days=1)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rule", action="append", default=[], help="only rules whose name contains this")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    rows = collections.defaultdict(list)  # (pool, rule) -> per-fleet tuples
    for run in args.runs:
        out, truth, split, end = run.split(":")
        ceiling = catchable(truth, split, end)
        for line in open(out):
            m = LINE.match(line)
            if not m or (args.rule and not any(r in m["name"] for r in args.rule)):
                continue
            rows[(m["pool"] or "slice", m["name"])].append(
                (out, float(m["t"]), int(m["caught"]), int(m["episodes"]), int(m["true"]), int(m["alerts"]), ceiling))
    print("| threshold chosen on | rule | fleets | caught | alerts true | mean precision | mean caught/catchable | worst | silent fleets |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (pool, name), fleets in rows.items():
        caught = sum(f[2] for f in fleets)
        episodes = sum(f[3] for f in fleets)
        true = sum(f[4] for f in fleets)
        alerts = sum(f[5] for f in fleets)
        precisions = [f[4] / f[5] for f in fleets if f[5] > 0]
        ratios = [f[2] / f[6] for f in fleets if f[6] > 0]
        print(f"| {pool} | {name} | {len(fleets)} | {caught}/{episodes} | {true}/{alerts} ({true / max(alerts, 1):.3f}) | "
              f"{statistics.fmean(precisions) if precisions else float('nan'):.3f} | "
              f"{statistics.fmean(ratios):.3f} | {min(ratios):.3f} | {sum(1 for f in fleets if f[5] == 0)} |")


if __name__ == "__main__":
    main()
