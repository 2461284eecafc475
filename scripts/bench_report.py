"""The benchmark report's figures come from here, never from a hand edit.

    scripts/bench_report.py stamp HISTORY < lines     append JSON result lines, stamped
    scripts/bench_report.py render HISTORY TEMPLATE OUT

`stamp` adds the date, the machine and the version to each JSON object read
from stdin (other lines are ignored) and appends it to HISTORY, the JSON-lines
file `docent bench --history` also writes. `render` fills TEMPLATE's
`{{table NAME}}` and `{{value NAME}}` markers from HISTORY, taking for each
figure the latest line that measured it, and writes OUT. A table names the
date and machine of its rows; a marker with no measurement left renders as
"not measured", so a missing run is visible, not hidden.
"""
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone


def machine() -> str:
    cpu = next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
        "unknown",
    )
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
    return f"{os.cpu_count()} vCPU {cpu}, {round(mem / 1048576)} GiB"


def version() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stamp(history: str) -> None:
    context = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "version": version(),
    }
    with open(history, "a") as out:
        for line in sys.stdin:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "scenario" in value:
                out.write(json.dumps({**value, **context}) + "\n")


# Which fields tell two measurements of a scenario apart: a later line with
# the same identity replaces an earlier one.
IDENTITY = {
    "ingest": ["embedder", "workers"],
    "embed": [],
    "embed_st": [],
    "chunk": ["chunker"],
    "chunk_langchain": ["chunker"],
    "memory_bandwidth": [],
    "vectors": ["vectors"],
    "search": ["backend", "corpus", "passages", "other_passages", "mode"],
    "search_load": ["backend", "corpus", "passages"],
    "keyword_index_build": ["backend", "corpus", "passages"],
    "vector_index_build": ["backend", "corpus", "passages", "quantization"],
    "chat": ["streams"],
    "chat_trace": ["passages"],
    "console_page": ["page", "documents", "conversations"],
    "console_assets": [],
    "quality": ["embedder"],
    "eval": ["eval", "embedder", "backend"],
    "eval_grounding": ["eval", "embedder"],
    "ingest_scaleout": ["workers"],
    "http": ["connections"],
}


def latest(lines):
    figures = {}
    for value in lines:
        scenario = value.get("scenario")
        if scenario not in IDENTITY:
            continue
        if scenario == "eval":
            # Eval lines before the PostgreSQL runs named no backend: SQLite.
            value.setdefault("backend", "sqlite")
        if scenario in ("search", "search_load", "keyword_index_build"):
            # Search lines from before `--corpus` measured the hash corpus.
            value.setdefault("corpus", "hash")
        key = (scenario,) + tuple(str(value.get(f)) for f in IDENTITY[scenario])
        old = figures.pop(key, None)  # keep insertion order = order of last measurement
        # The latest figure of an earlier version stays beside the new one.
        if old is not None:
            before = old if old.get("version") != value.get("version") else old.get("_before")
            if before is not None:
                value["_before"] = before
        figures[key] = value
    return figures


def num(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, (int,)) or (isinstance(x, float) and digits == 0):
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def table(head, rows, sources):
    if not rows:
        return "_Not measured yet: run the command above._"
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    seen = sorted({(s.get("date", "?"), s.get("machine", "?"), s.get("version", "?")) for s in sources})
    out.append("")
    out.append(
        "<sub>Measured "
        + "; ".join(f"{d} on {m} (version {v})" for d, m, v in seen)
        + ".</sub>"
    )
    return "\n".join(out)


def render(history: str, template: str, out_path: str) -> None:
    lines = [json.loads(l) for l in open(history) if l.strip()] if os.path.exists(history) else []
    fig = latest(lines)

    def of(scenario, **match):
        return [
            v
            for k, v in fig.items()
            if k[0] == scenario and all(str(v.get(f)) == str(x) for f, x in match.items())
        ]

    def one(scenario, **match):
        found = of(scenario, **match)
        return found[-1] if found else None

    tables, values = {}, {}

    rows = of("ingest")
    tables["ingest"] = table(
        ["embedder", "workers", "pages", "chunks", "elapsed", "pages/s", "chunks/s", "peak RSS"],
        [
            [r["embedder"], r["workers"], num(r["pages"], 0), num(r["chunks"], 0), f"{r['seconds']:.1f} s",
             num(r["pages_per_s"]), num(r["chunks_per_s"], 0), f"{r['peak_rss_mib']:.0f} MiB"]
            for r in sorted(rows, key=lambda r: (r["embedder"], r["workers"]))
        ],
        rows,
    )

    chunk_rows, sources = [], []
    for unit, ours, theirs in [
        ("tokens (MiniLM), 200 / overlap 30", "tokens (MiniLM), spans", "tokens (MiniLM)"),
        ("characters, 1000 / overlap 150", "characters", "characters"),
    ]:
        lc = one("chunk_langchain", chunker=theirs)
        for impl, r in [
            ("LangChain RecursiveCharacterTextSplitter", lc),
            ("Docent (`text-splitter`)", one("chunk", chunker=ours)),
        ] + ([("Docent, spans hidden: every candidate tokenized",
               one("chunk", chunker="tokens (MiniLM), tokenize each"))]
             if unit.startswith("tokens") else []):
            if r is None:
                continue
            sources.append(r)
            # The same text on both sides: the ratio of times.
            ratio = f"**{lc['seconds'] / r['seconds']:.1f}×**" if lc else "-"
            chunk_rows.append([unit, impl, num(r["chunks"], 0), f"{r['seconds']:.2f} s",
                               num(r["chunks_per_s"], 0), f"{r['mib_per_s']:.2f}", ratio])
    tables["chunk"] = table(
        ["unit and size", "implementation", "chunks", "time", "chunks/s", "MiB/s", "speed vs LangChain"],
        chunk_rows, sources,
    )

    e, st = one("embed"), one("embed_st")
    embed_rows = []
    if st:
        embed_rows.append([f"sentence-transformers on PyTorch {st['torch']} CPU (batch {st['batch']})",
                           num(st["texts"], 0), num(st["texts_per_s"]), "1.00"])
    if e:
        ratio = f"**{e['embed_chunks_per_s'] / st['texts_per_s']:.2f}**" if st else "-"
        embed_rows.append([f"Docent LocalEmbedder, candle (batch {e['batch']})", num(e["embedded"], 0),
                           num(e["embed_chunks_per_s"]), ratio])
    tables["embed"] = table(["implementation", "texts", "texts/s", "ratio"], embed_rows, [x for x in (e, st) if x])
    if e:
        tables["extract"] = table(
            ["stage", "throughput"],
            [["HTML extraction (`scraper`, main content)", f"{num(e['extract_pages_per_s'], 0)} pages/s ({e['pages']} pages)"],
             ["chunking (MiniLM tokens)", f"{num(e['chunk_chunks_per_s'], 0)} chunks/s ({num(e['chunks'], 0)} chunks)"],
             ["embedding (local MiniLM, one process)", f"{num(e['embed_chunks_per_s'])} chunks/s"],
             ["peak RSS", f"{e['peak_rss_mib']:.0f} MiB"]],
            [e],
        )

    bw = one("memory_bandwidth")
    vec = of("vectors")
    tables["vectors"] = table(
        ["vectors (384 dims)", "p50", "p99", "QPS (one thread)", "scan rate", "share of the read limit"],
        [[num(r["vectors"], 0), f"{r['p50_ms']:.2f} ms", f"{r['p99_ms']:.2f} ms", num(r["qps"], 0),
          f"{r['scan_gb_per_s']:.1f} GB/s", f"{100 * r['scan_gb_per_s'] / r['read_limit_gb_per_s']:.0f}%"
          if r.get("read_limit_gb_per_s") else "-"]
         for r in sorted(vec, key=lambda r: r["vectors"])],
        vec + ([bw] if bw else []),
    )
    values["read_bandwidth"] = f"{bw['read_gb_per_s']:.1f} GB/s" if bw else "not measured"

    for (backend, corpus) in [(b, c) for b in ["sqlite", "postgres"] for c in ["hash", "clustered"]]:
        suffix = "" if corpus == "hash" else "_clustered"
        rows = of("search", backend=backend, corpus=corpus)
        order = {"keyword": 0, "vector": 1, "hybrid": 2, "vector, small bot": 3, "vector_bare_sql": 4,
                 "keyword_engine": 5, "keyword_fts5": 6}
        body = []
        def base(mode):
            # Rows of a non-default quantization are named `vector f32`.
            name, _, q = mode.rpartition(" ")
            return (name, q) if q in ("f16", "f32") else (mode, "")

        def place(r):
            mode, q = base(r["mode"])
            bot = r["passages"] if mode != "vector, small bot" else r.get("other_passages", 0)
            return (bot, order.get(mode, 9), q)
        for r in sorted(rows, key=place):
            before = r.get("_before")
            was = f"{before['p50_ms']:.2f} ms ({before.get('date', '?')[:10]})" if before else ""
            if r["mode"] == "vector_bare_sql":
                body.append([num(r["passages"], 0), "vector, bare SQL (as psql sends it)", f"{r['p50_ms']:.2f} ms", "", "", "",
                             f"retriever / SQL = {r['retriever_over_sql']:.2f}", was])
                continue
            if r["mode"] in ("keyword_engine", "keyword_fts5"):
                name = {"keyword_engine": "keyword index alone (tantivy)",
                        "keyword_fts5": "keyword, the FTS5 query it replaced"}[r["mode"]]
                if r["mode"] == "keyword_fts5":
                    note = f"FTS5 / index = {r['p50_ms'] / r['engine_p50_ms']:.0f}×" if r.get("engine_p50_ms") else ""
                else:
                    share = r["p50_ms"] / r["keyword_p50_ms"] if r.get("keyword_p50_ms") else r.get("over_keyword_p50")
                    note = f"{100 * share:.0f}% of the keyword mode" if share else ""
                body.append([num(r["passages"], 0), name, f"{r['p50_ms']:.2f} ms", f"{r['p99_ms']:.2f} ms", "", "",
                             note, was])
                continue
            bot = num(r["passages"], 0)
            if base(r["mode"])[0] == "vector, small bot":
                bot = f"{num(r['passages'], 0)} (of {num(r['passages'] + r['other_passages'], 0)})"
            recall = f"{r['recall_at_10']:.3f}" if r.get("recall_at_10") is not None else "-"
            note = [f"min {r['min_hits']} hits"] if "min_hits" in r else []
            if r.get("rss_mib") and base(r["mode"])[0] == "vector":
                note.append(f"RSS {num(r['rss_mib'], 0)} MiB")
            body.append([bot, r["mode"], f"{r['p50_ms']:.2f} ms", f"{r['p99_ms']:.2f} ms", num(r["qps"], 0), recall,
                         ", ".join(note), was])
        tables[f"search_{backend}{suffix}"] = table(
            ["passages in bot", "mode", "p50", "p99", "QPS", "recall@10", "note", "p50 before"], body, rows
        )
        loads = of("search_load", backend=backend, corpus=corpus)
        builds = {r["passages"]: r for r in of("keyword_index_build", backend=backend, corpus=corpus)}
        graphs = of("vector_index_build", backend=backend, corpus=corpus)

        def keyword_build(r):
            b = builds.get(r["passages"])
            return f"{b['build_s']:.1f} s ({num(b['per_s'], 0)}/s)" if b else "-"

        def vector_build(r):
            # SQLite builds a bot's graph on its first vector search (none
            # below 10,000 passages); PostgreSQL builds HNSW after the load.
            made = sorted((g for g in graphs if g["passages"] == r["passages"]), key=lambda g: g["quantization"] != "i8")
            if made:
                return "; ".join(f"{g['build_s']:.1f} s ({num(g['per_s'], 0)}/s, {g['quantization']})" for g in made)
            if backend == "sqlite":
                return "- (exact scan)" if r["passages"] < 10_000 else "-"
            return f"{r['index_build_s']:.1f} s"
        tables[f"load_{backend}{suffix}"] = table(
            ["passages in bot", "other tenant", "load rate", "vector index build", "keyword index build", "peak RSS"],
            [[num(r["passages"], 0), num(r["other_passages"], 0), f"{num(r['load_per_s'], 0)} passages/s",
              vector_build(r), keyword_build(r), f"{r['peak_rss_mib']:.0f} MiB"]
             for r in sorted(loads, key=lambda r: r["passages"])],
            loads + list(builds.values()) + graphs,
        )

    rows = of("chat")
    tables["chat"] = table(
        ["concurrent streams", "overhead p50", "overhead p99", "time to first token p50", "answers/s", "peak RSS"],
        [[r["streams"], f"{r['overhead_p50_ms']:.1f} ms", f"{r['overhead_p99_ms']:.1f} ms",
          f"{r['ttft_p50_ms']:.1f} ms", num(r["answers_per_s"]), f"{r['peak_rss_mib']:.0f} MiB"]
         for r in sorted(rows, key=lambda r: r["streams"])],
        rows,
    )

    rows = of("console_page")
    tables["console"] = table(
        ["page", "documents", "conversations", "p50", "p99", "size"],
        [[r["page"], num(r["documents"], 0), num(r["conversations"], 0), f"{r['p50_ms']:.2f} ms",
          f"{r['p99_ms']:.2f} ms", f"{r['bytes'] / 1024:.1f} KiB"] for r in rows],
        rows,
    )
    rows = of("console_assets")
    tables["console_assets"] = table(
        ["script and style", "gzip-compressed"],
        [[f"{r['bytes'] / 1024:.1f} KiB", f"{r['gzip_bytes'] / 1024:.1f} KiB"] for r in rows],
        rows,
    )

    rows = of("chat_trace")
    tables["chat_trace"] = table(
        ["passages in bot", "answers", "trace size p50", "trace size max", "encode and store, mean"],
        [[r["passages"], r["answers"], f"{r['trace_bytes_p50'] / 1024:.1f} KiB",
          f"{r['trace_bytes_max'] / 1024:.1f} KiB", f"{r['trace_write_ms_mean']:.2f} ms"]
         for r in rows],
        rows,
    )

    rows = of("quality")
    tables["quality"] = table(
        ["embedder", "pages / chunks", "keyword recall@5", "vector recall@5", "hybrid recall@5", "MRR@5 (k / v / h)"],
        [[r["embedder"], f"{r['pages']} / {num(r['chunks'], 0)}", f"{r['recall_at_5']['keyword']:.3f}",
          f"{r['recall_at_5']['vector']:.3f}", f"**{r['recall_at_5']['hybrid']:.3f}**",
          " / ".join(f"{r['mrr_at_5'][m]:.3f}" for m in ["keyword", "vector", "hybrid"])]
         for r in rows],
        rows,
    )

    rows = of("eval")

    def eval_before(r, mode):
        b = r.get("_before")
        m = b and b.get("modes", {}).get(mode)
        if not m:
            return ""
        out = f"{m['recall@5']:.3f} / {m['recall@10']:.3f}"
        if mode == "hybrid" and b.get("chat"):
            out += f"; {b['chat']['declined']:.2f}, {b['chat']['answered_right']:.2f}"
        return f"{out} ({b.get('version', '?')})"
    tables["eval"] = table(
        ["backend", "embedder", "mode", "recall@1", "recall@5", "recall@10", "MRR", "nDCG@10", "declined (out of scope)",
         "right citation (in scope)", "before: recall@5 / @10; declined, right citation"],
        [[r.get("backend", "sqlite"), r["embedder"], mode, f"{m['recall@1']:.3f}", f"**{m['recall@5']:.3f}**", f"{m['recall@10']:.3f}",
          f"{m['mrr']:.3f}", f"{m['ndcg@10']:.3f}",
          num(r["chat"]["declined"], 2) if mode == "hybrid" else "",
          num(r["chat"]["answered_right"], 2) if mode == "hybrid" else "",
          eval_before(r, mode)]
         for r in rows for mode, m in r["modes"].items()],
        rows,
    )

    rows = of("eval_grounding")
    tables["eval_grounding"] = table(
        ["embedder", "sentences (supported / not)", "threshold", "precision", "recall", "F1", "supported kept",
         "judged wrong, by kind", "check p50 / p95"],
        [[r["embedder_id"], f"{r['sentences']} ({r['supported']} / {r['unsupported']})", f"{r['threshold']:.2f}",
          f"**{r['figures']['precision']:.3f}**", f"**{r['figures']['recall']:.3f}**", f"{r['figures']['f1']:.3f}",
          f"{r['figures']['supported_kept']:.3f}",
          ", ".join(f"{k} {v['of'] - v['right']}/{v['of']}" for k, v in r["kinds"].items() if v["of"] - v["right"]),
          f"{r['check_p50_ms']:.1f} / {r['check_p95_ms']:.1f} ms"]
         for r in rows],
        rows,
    )

    rows = of("ingest_scaleout")
    tables["scaleout"] = table(
        ["worker processes", "pages", "elapsed", "pages/s", "chunks/s", "peak RSS per worker"],
        [[r["workers"], num(r["pages"], 0), f"{r['elapsed_secs']:.1f} s", num(r["pages_per_sec"]),
          num(r["chunks_per_sec"], 0), " / ".join(f"{x}" for x in r["peak_rss_mib"]["workers"]) + " MiB"]
         for r in sorted(rows, key=lambda r: r["workers"])],
        rows,
    )

    rows = of("http")
    tables["http"] = table(
        ["connections", "requests/s", "p50", "p90", "p99", "max", "non-2xx answers"],
        [[r["connections"], num(r["requests_per_s"], 0), r["p50"], r["p90"], r["p99"], r["max"], r.get("non_2xx", "?")]
         for r in rows],
        rows,
    )

    text = open(template).read()

    def fill(m):
        kind, name = m.group(1), m.group(2)
        found = (tables if kind == "table" else values).get(name)
        if found is None:
            raise SystemExit(f"unknown marker {{{{{kind} {name}}}}}")
        return found

    text = re.sub(r"\{\{(table|value) ([a-z_]+)\}\}", fill, text)
    with open(out_path, "w") as out:
        out.write(text)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "stamp":
        stamp(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "render":
        render(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)
