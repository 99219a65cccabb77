#!/usr/bin/env python3
"""The WAI-SR scoring rules of `bordin score` in pandas, for a throughput comparison.

Usage: score_pandas.py INPUT.csv OUTPUT.csv

Each subscale (bond = q3 q5 q7 q9, goal = q4 q6 q8 q11, task = q1 q2 q10 q12) is scored when at
most 1 of its 4 items is blank, as mean of the answered items x 4; the total is bond + goal + task
when all three are scored. Output columns as `bordin score`: id,total,bond,goal,task,severity,
flags,missing, with scores to 2 decimals and empty cells for unscored scales.
"""
import sys

import pandas as pd

SUBSCALES = {
    "bond": ["q3", "q5", "q7", "q9"],
    "goal": ["q4", "q6", "q8", "q11"],
    "task": ["q1", "q2", "q10", "q12"],
}


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    items = [f"q{i}" for i in range(1, 13)]
    df = pd.read_csv(src, dtype={"id": str, **{q: "float64" for q in items}})
    answers = df[items]
    if (answers.notna() & ((answers < 1) | (answers > 5) | (answers % 1 != 0))).any().any():
        sys.exit("invalid answers")
    out = pd.DataFrame({"id": df["id"]})
    for name, cols in SUBSCALES.items():
        part = df[cols]
        answered = part.notna().sum(axis=1)
        out[name] = (part.mean(axis=1) * 4).where(answered >= 3)
    out["total"] = out["bond"] + out["goal"] + out["task"]  # NaN unless all three scored
    out["severity"] = ""
    out["flags"] = ""
    out["missing"] = answers.isna().sum(axis=1)
    out = out[["id", "total", "bond", "goal", "task", "severity", "flags", "missing"]]
    out.to_csv(dst, index=False, float_format="%.2f", na_rep="")


if __name__ == "__main__":
    main()
