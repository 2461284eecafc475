#!/usr/bin/env python3
"""Tune the grounding check on `docent eval --grounding SET --signals FILE`.

Reads the JSON lines that command writes (per labelled sentence: its label
and kind, the lexical coverage, the raw cosine with the best window, the
numbers and names the passage lacks, and the negation mismatch), replays the
score of crates/docent-retrieval/src/grounding.rs for a grid of calibrations
and prints the best by F1 of catching unsupported sentences. To guard
against fitting the set, every calibration is also scored as 2-fold
cross-validation (tuned on even lines, scored on odd, and the reverse).

The replay is the formula of grounding.rs; change both together. It tunes,
`docent eval --grounding` confirms.

    python3 scripts/tune_grounding.py SIGNALS.jsonl [--top 10]
"""

import argparse
import itertools
import json


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def score(s, c):
    w, ww, lo, hi, miss, neg = c
    if s["lexical"] is None:
        return None
    sem = min(max((s["cosine"] - lo) / max(hi - lo, 1e-6), 0.0), 1.0)
    x = w * s["lexical"] + ww * s["window_lexical"] + (1 - w - ww) * sem
    if s["missing"]:
        x *= miss
    if s["negation_mismatch"]:
        x *= neg
    return x


def figures(rows, c, t):
    caught = false_alarm = missed = passed = 0
    for s in rows:
        x = score(s, c)
        ok = x is None or x >= t
        if not s["supported"] and not ok:
            caught += 1
        elif s["supported"] and not ok:
            false_alarm += 1
        elif not s["supported"] and ok:
            missed += 1
        else:
            passed += 1
    p = caught / (caught + false_alarm) if caught + false_alarm else 0.0
    r = caught / (caught + missed) if caught + missed else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f1, p, r


def grid():
    ws = [0.0, 0.2, 0.4, 0.6]
    wws = [0.0, 0.2, 0.4, 0.6]
    los = [0.2, 0.3, 0.4, 0.5]
    his = [0.7, 0.8, 0.9]
    miss = [0.5, 0.7, 1.0]
    neg = [0.7, 0.85, 1.0]
    ts = [x / 100 for x in range(30, 91, 5)]
    for c in itertools.product(ws, wws, los, his, miss, neg):
        if c[3] <= c[2] or c[0] + c[1] > 1.0:
            continue
        for t in ts:
            yield c, t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("signals")
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    rows = load(args.signals)
    scored = sorted(((figures(rows, c, t), c, t) for c, t in grid()), key=lambda x: -x[0][0])
    print("best on the whole set (f1, precision, recall | passage words, window words, cos lo, cos hi, missing, negation | threshold)")
    for (f1, p, r), c, t in scored[: args.top]:
        print(f"{f1:.3f} {p:.3f} {r:.3f} | {c} | {t}")
    halves = [rows[0::2], rows[1::2]]
    held = []
    for i in (0, 1):
        tune, test = halves[i], halves[1 - i]
        (_, c, t) = max(((figures(tune, c, t), c, t) for c, t in grid()), key=lambda x: x[0][0])
        held.append((figures(test, c, t), c, t))
    print("2-fold cross-validation (tuned on one half, scored on the other):")
    for (f1, p, r), c, t in held:
        print(f"  held-out f1 {f1:.3f} precision {p:.3f} recall {r:.3f} with {c} threshold {t}")


if __name__ == "__main__":
    main()
