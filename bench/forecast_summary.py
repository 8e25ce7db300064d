#!/usr/bin/env python3
"""Summarises bench/forecast_eval.sh output: one row per fleet with the issue #14 figures beside
their baselines (the best simple rule on the same cert-days, base-rate Brier, the oracle's
ceiling), then the mean and the worst fleet.

Why: the study over perturbed fleets is judged by its mean and its worst fleet, not by one
lucky fleet (docs/evaluation.md section 4), and a figure means little without what a simple rule
gets on the same data. "rule" columns take, per fleet, the best of the rules forecast_eval.sh
prints (after a failed renewal, days left <= 14, any DNS change or probe failure): the highest
PR-AUC, and the highest recall with that rule's precision. Usage: bench/forecast_summary.py OUTPUT...
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
RULE = re.compile(
    r"^\s+rule: .*?PR-AUC (?P<prauc>[\d.]+)\s+Brier [\d.]+\s+recall (?P<recall>[\d.]+) \((?P<caught>\d+)/\d+\)\s+"
    r"precision (?P<precision>[\d.na]+)")


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
            if m:
                g = m.groupdict()
                catchable = int(g["catchable"])
                rows.append({
                    "fleet": f'{g["name"]} [{g["tag"]}]',
                    "PR-AUC": number(g["prauc"]),
                    "rule PR-AUC": float("nan"),
                    "recall": number(g["recall"]),
                    "rule recall": float("nan"),
                    "rule precision": float("nan"),
                    "recall/ceiling": int(g["caught"]) / catchable if catchable else float("nan"),
                    "precision": number(g["precision"]),
                    "Brier": number(g["brier"]),
                    "base Brier": number(g["base"]),
                    "Brier skill": 1 - number(g["brier"]) / number(g["base"]) if number(g["base"]) else float("nan"),
                    "lead d": number(g["lead"]),
                    "caught/catchable": f'{g["caught"]}/{catchable}',
                })
                continue
            r = RULE.match(line)
            if r and rows:
                row = rows[-1]
                prauc, recall = number(r["prauc"]), number(r["recall"])
                if not row["rule PR-AUC"] >= prauc:
                    row["rule PR-AUC"] = prauc
                if not row["rule recall"] >= recall:
                    row["rule recall"], row["rule precision"] = recall, number(r["precision"])
    if not rows:
        sys.exit("no fleet lines found (expected bench/forecast_eval.sh output)")
    keys = ["PR-AUC", "rule PR-AUC", "recall", "rule recall", "recall/ceiling", "precision", "rule precision",
            "Brier", "base Brier", "Brier skill", "lead d"]
    print("| fleet | " + " | ".join(keys) + " | caught/catchable |")
    print("|---" * (len(keys) + 2) + "|")
    fmt = lambda v: "nan" if v != v else (f"{v:.5f}" if abs(v) < 0.05 and v != 0 else f"{v:.3f}")
    for r in rows:
        print(f'| {r["fleet"]} | ' + " | ".join(fmt(r[k]) for k in keys) + f' | {r["caught/catchable"]} |')
    # Worst: the lowest value, except for Brier (the highest); baselines have no worst.
    baselines = {"base Brier", "rule PR-AUC", "rule recall", "rule precision"}
    values = lambda k: [r[k] for r in rows if r[k] == r[k]]
    mean = {k: statistics.fmean(values(k)) if values(k) else float("nan") for k in keys}
    worst = {k: (max if k == "Brier" else min)(values(k)) if values(k) else float("nan") for k in keys}
    print(f"| mean of {len(rows)} | " + " | ".join(fmt(mean[k]) for k in keys) + " | |")
    print("| worst fleet | " + " | ".join("" if k in baselines else fmt(worst[k]) for k in keys) + " | |")
    below = sum(1 for r in rows if r["Brier"] < r["base Brier"])
    print(f"\nBrier below the base rate on {below} of {len(rows)} fleets.")
    caught = sum(int(r["caught/catchable"].split("/")[0]) for r in rows)
    catchable = sum(int(r["caught/catchable"].split("/")[1]) for r in rows)
    if catchable:
        print(f"Pooled: {caught} of {catchable} catchable episodes caught ({caught / catchable:.3f} of the ceiling).")


if __name__ == "__main__":
    main()
