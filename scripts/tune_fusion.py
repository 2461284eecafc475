#!/usr/bin/env python3
"""Tune hybrid fusion and the default floors on `docent eval --signals` output.

Reads the JSON lines `docent eval --signals FILE` writes (per question: every
keyword, vector and hybrid candidate with the signals each stage measured and
whether its document answers), replays the retriever's scoring for a grid of
calibrations, and prints, per calibration, recall@1/5/10 over distinct
documents (as `docent eval` counts them) and, per floor, the share of
out-of-scope questions declined and of in-scope questions whose best passage
above the floor is from a right document.

The replay is the formula of crates/docent-retrieval/src/relevance.rs; change
both together. It tunes, `docent eval` confirms: the figures that count are
the ones `docent eval` prints after the constants are changed.

    python3 scripts/tune_fusion.py SIGNALS.jsonl [--top 10]
"""

import argparse
import itertools
import json


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def prepare(question):
    """The candidates as (document, accepted, ratio, coverage, cosine) tuples."""
    cands = question["candidates"]
    scores = [c["signals"].get("keyword_score") for c in cands]
    best = max((s for s in scores if s is not None), default=0.0)
    known = [c["signals"]["cosine"] for c in cands if "cosine" in c["signals"]]
    # A candidate only the keyword list returned past the hybrid top 50 has
    # no cosine in the file: take the question's lowest known one.
    floor_cos = min(known, default=0.0)
    out = []
    for c in cands:
        s = c["signals"]
        ratio = (s["keyword_score"] / best) if best > 0 and "keyword_score" in s else 0.0
        out.append(
            (
                c["document_id"],
                c["accepted"],
                ratio,
                s.get("coverage", 0.0),
                s.get("cosine", floor_cos),
                s.get("keyword_rank", 10**6),
                s.get("vector_rank", 10**6),
            )
        )
    return out


def cosine_map(cos, lo, hi):
    return min(1.0, max(0.0, (cos - lo) / max(hi - lo, 1e-6)))


def score(cand, mode, cal):
    _, _, ratio, coverage, cos, _, _ = cand
    keyword = min(1.0, ratio) * min(1.0, coverage)
    if mode == "keyword":
        return keyword
    vec = cosine_map(cos, cal["lo"], cal["hi"])
    if mode == "vector":
        return vec
    w = cal["w"]
    return w * keyword + (1 - w) * vec


def at_depth(cands, depth):
    """The candidates a search with this depth sees: the top `depth` of each
    list; a passage past the keyword depth has no keyword ratio."""
    out = []
    for c in cands:
        if c[5] <= depth or c[6] <= depth:
            out.append(c if c[5] <= depth else c[:2] + (0.0,) + c[3:])
    return out


def ranked(cands, mode, cal, top_k=10):
    # The retriever's depth: max(top_k * 4, 20); vector mode reads top_k.
    depth = max(top_k * 4, 20)
    if mode == "keyword":
        pool = [c for c in cands if c[5] <= depth]
        key = lambda c: (-score(c, mode, cal), c[5])
    elif mode == "vector":
        pool = [c for c in cands if c[6] <= top_k]
        key = lambda c: (-score(c, mode, cal), c[6])
    else:
        pool = at_depth(cands, depth)
        key = lambda c: (-score(c, mode, cal), min(c[5], c[6]))
    return sorted(pool, key=key)


def distinct(hits, n=10):
    seen, docs = set(), []
    for c in hits[:n]:
        if c[0] not in seen:
            seen.add(c[0])
            docs.append(c)
    return docs


def recall(questions, mode, cal):
    r = {1: 0, 5: 0, 10: 0}
    inscope = [q for q in questions if q["answerable"]]
    for q in inscope:
        docs = distinct(ranked(q["_c"], mode, cal))
        for k in r:
            r[k] += any(c[1] for c in docs[:k])
    return {k: v / len(inscope) for k, v in r.items()}


def abstention(questions, mode, cal, floor):
    declined = right = 0
    ins = [q for q in questions if q["answerable"]]
    outs = [q for q in questions if not q["answerable"]]
    # As chat answers with a bot's defaults (top_k 5): the best passage
    # above the floor is quoted, a later one when it holds 60% of the
    # question's words (its passage's coverage stands for its sentence's).
    for q in questions:
        hits = [c for c in ranked(q["_c"], mode, cal, 5)[:5] if score(c, mode, cal) >= floor]
        if q["answerable"]:
            right += bool(hits) and (hits[0][1] or any(c[1] and c[3] >= 0.6 for c in hits[1:]))
        else:
            declined += not hits
    return declined / max(len(outs), 1), right / max(len(ins), 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("signals")
    ap.add_argument("--top", type=int, default=10)
    # The calibration in force, replayed first (relevance.rs).
    ap.add_argument("--w", type=float, default=0.5)
    ap.add_argument("--lo", type=float, default=0.0)
    ap.add_argument("--hi", type=float, default=0.6)
    args = ap.parse_args()
    questions = load(args.signals)
    for q in questions:
        q["_c"] = prepare(q)
    base = {"w": args.w, "lo": args.lo, "hi": args.hi}
    for mode in ("keyword", "vector", "hybrid"):
        r = recall(questions, mode, base)
        print(f"{mode:8} R@1 {r[1]:.3f} R@5 {r[5]:.3f} R@10 {r[10]:.3f}")
    grid = []
    for w, lo, hi in itertools.product(
        [i / 20 for i in range(0, 21)], [0.0, 0.1, 0.2, 0.3], [0.5, 0.6, 0.7, 0.8]
    ):
        if hi <= lo:
            continue
        cal = {"w": w, "lo": lo, "hi": hi}
        r = recall(questions, "hybrid", cal)
        grid.append((r[5], r[10], r[1], cal))
    grid.sort(key=lambda g: (-g[0], -g[1], -g[2]))
    print("hybrid, best calibrations by R@5, R@10, R@1:")
    for r5, r10, r1, cal in grid[: args.top]:
        print(f"  w {cal['w']:.2f} cos {cal['lo']:.1f}..{cal['hi']:.1f}: R@1 {r1:.3f} R@5 {r5:.3f} R@10 {r10:.3f}")
    best = grid[0][3]
    for mode in ("keyword", "vector", "hybrid"):
        print(f"{mode} floors (declined out-of-scope / best passage right):")
        for floor in [i / 50 for i in range(5, 40)]:
            d, a = abstention(questions, mode, best, floor)
            print(f"  {floor:.2f}: {d:.2f} / {a:.2f}")


if __name__ == "__main__":
    main()
