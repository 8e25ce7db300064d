#!/usr/bin/env python3
"""Summarises bench/forecast_eval.sh output: one row per fleet with the issue #14 figures beside
their baselines (base-rate Brier, the oracle's ceiling), then the mean and the worst fleet.

Why: the study over perturbed fleets is judged by its mean and its worst fleet, not by one
lucky fleet (docs/evaluation.md section 4). Usage: bench/forecast_summary.py OUTPUT...
"""
import re
import statistics
import sys

HEAD = re.compile(
    r"^(?P<name>\S+) \[(?P<tag>[^\]]+)\] PR-AUC (?P<prauc>[\d.]+)\s+Brier (?P<brier>[\d.]+)\s+"
    r"recall (?P<recall>[\d.]+) \((?P<caught>\d+)/(?P<episodes>\d+)\)\s+"
    r"precision (?P<precision>[\d.na]+)(?: \((?P<true_alerts>\d+)/(?P<alerts>\d+)\))?\s+"
    r"median lead (?P<lead>[\d.na]+)(?: d)?.*\| base-rate Brier (?P<base>[\d.]+) \| "
    r"ceiling (?P<catchable>\d+)/(?P<truth_episodes>\d+)")


def number(text):
    try:
        return float(text)
    except ValueError:
        return float("nan")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: forecast_summary.py OUTPUT...")
    rows = []
    for path in sys.argv[1:]:
        for line in open(path):
            m = HEAD.match(line)
            if not m:
                continue
            g = m.groupdict()
            catchable = int(g["catchable"])
            rows.append({
                "fleet": f'{g["name"]} [{g["tag"]}]',
                "PR-AUC": number(g["prauc"]),
                "recall": number(g["recall"]),
                "recall/ceiling": int(g["caught"]) / catchable if catchable else float("nan"),
                "precision": number(g["precision"]),
                "Brier": number(g["brier"]),
                "base Brier": number(g["base"]),
                "Brier skill": 1 - number(g["brier"]) / number(g["base"]) if number(g["base"]) else float("nan"),
                "lead d": number(g["lead"]),
                "caught/catchable": f'{g["caught"]}/{catchable}',
            })
    if not rows:
        sys.exit("no fleet lines found (expected bench/forecast_eval.sh output)")
    keys = ["PR-AUC", "recall", "recall/ceiling", "precision", "Brier", "base Brier", "Brier skill", "lead d"]
    print("| fleet | " + " | ".join(keys) + " | caught/catchable |")
    print("|---" * (len(keys) + 2) + "|")
    fmt = lambda v: "nan" if v != v else (f"{v:.5f}" if abs(v) < 0.05 and v != 0 else f"{v:.3f}")
    for r in rows:
        print(f'| {r["fleet"]} | ' + " | ".join(fmt(r[k]) for k in keys) + f' | {r["caught/catchable"]} |')
    # Worst: the lowest value, except for Brier (the highest) and the base rate (not a result).
    mean = {k: statistics.fmean(r[k] for r in rows if r[k] == r[k]) for k in keys}
    worst = {k: (max if k == "Brier" else min)(r[k] for r in rows if r[k] == r[k]) for k in keys}
    print(f"| mean of {len(rows)} | " + " | ".join(fmt(mean[k]) for k in keys) + " | |")
    print("| worst fleet | " + " | ".join("" if k == "base Brier" else fmt(worst[k]) for k in keys) + " | |")
    below = sum(1 for r in rows if r["Brier"] < r["base Brier"])
    print(f"\nBrier below the base rate on {below} of {len(rows)} fleets.")


if __name__ == "__main__":
    main()
