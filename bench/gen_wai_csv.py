#!/usr/bin/env python3
"""Writes a deterministic WAI-SR answers CSV for benchmarking `bordin score`.

Usage: gen_wai_csv.py ROWS > FILE

Header `id,q1..q12`; answers 1-5 leaning high (as real alliance ratings do); about 3% of
answers blank. Seeded, so every run writes the same bytes.
"""
import random
import sys


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rnd = random.Random(20260101)
    out = sys.stdout
    out.write("id," + ",".join(f"q{i}" for i in range(1, 13)) + "\n")
    choices = "1233444455"
    buf = []
    for r in range(rows):
        fields = ["" if rnd.random() < 0.03 else rnd.choice(choices) for _ in range(12)]
        buf.append(f"r{r}," + ",".join(fields))
        if len(buf) >= 10_000:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")


if __name__ == "__main__":
    main()
