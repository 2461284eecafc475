#!/usr/bin/env bash
# Retrieval quality on a real corpus: recall@5 and MRR@5 of keyword, vector and
# hybrid search over the PostgreSQL 15 manual (Debian's postgresql-doc-15),
# against the 40 user questions of scripts/bench/questions.json, each labelled
# with the manual page(s) that answer it. Nothing is asserted.
#
# Corpus: every page that answers a question plus DISTRACTORS other pages,
# chosen deterministically (the sorted list of the remaining pages, every k-th,
# k = remaining / DISTRACTORS). Each page is uploaded as an HTML file
# (`POST /bots/{id}/files`) to a release `docent serve` on SQLite: uploads keep
# the corpus exactly the chosen set (a crawl follows links), and the document
# title is the file name, which is how results are mapped back to pages.
# Before anything starts, each question's pages are checked to exist and to
# contain its `evidence` (a regex, matched in lower case on the tag-stripped
# text), so a relabelled or mistyped question fails loudly.
#
# A hit: any of the top 5 results (chunks) comes from an expected page.
# MRR@5: mean of 1/rank of the first such result (0 when none is in the top 5).
#   scripts/bench-quality.sh [EMBEDDER=hash|local] [DISTRACTORS=150]
# BENCH_VERBOSE=1 also prints each question's rank per mode.
# DOCENT_BENCH_NO_BUILD=1 uses ./target/release/docent as it is (no cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
embedder=${1:-hash}; distractors=${2:-150}
docs=/usr/share/doc/postgresql-doc-15/html
[[ -d $docs ]] || { apt-get update -qq && apt-get install -y -qq postgresql-doc-15 >/dev/null; }
[[ $embedder == local ]] && scripts/fetch-model.sh >/dev/null
[[ -n ${DOCENT_BENCH_NO_BUILD:-} ]] || cargo build --release -p docent --locked -q
# Labels first: fail before starting anything if a page is missing or silent.
python3 - "$docs" scripts/bench/questions.json <<'PY'
import html, json, os, re, sys
docs, path = sys.argv[1:]
bad = []
for q in json.load(open(path)):
    for page in q["pages"]:
        file = os.path.join(docs, page)
        if not os.path.isfile(file):
            bad.append(f"{page}: missing ({q['q']})"); continue
        text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", open(file, encoding="utf-8").read()))).lower()
        if not re.search(q["evidence"], text):
            bad.append(f"{page}: no /{q['evidence']}/ ({q['q']})")
if bad:
    sys.exit("questions.json labels do not hold:\n  " + "\n  ".join(bad))
PY
data=$(mktemp -d); port=18091
env DOCENT_LOG=warn DOCENT_EMBEDDER="$embedder" DOCENT_EMBED_MODEL_DIR="$PWD/.tools/models/all-MiniLM-L6-v2" \
  DOCENT_PLAN_FREE_DOCUMENTS=unlimited DOCENT_PLAN_FREE_STORAGE_BYTES=unlimited \
  DOCENT_RATE_LIMIT_CREDENTIAL_PER_MINUTE=1000000 DOCENT_JWT_SECRET=bench-quality-secret-bench-quality-secret \
  ./target/release/docent serve --listen 127.0.0.1:$port --data-dir "$data" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf localhost:$port/api/v1/health >/dev/null && break; sleep 0.1; done
api() { curl -sf "$@" -H "authorization: Bearer $token" -H 'content-type: application/json'; }
token=$(curl -sf -X POST localhost:$port/api/v1/tenants -H 'content-type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"password123"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
bot=$(api -X POST localhost:$port/api/v1/bots -d '{"name":"pg"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
python3 - "$port" "$token" "$bot" "$docs" scripts/bench/questions.json "$distractors" "$embedder" <<'PY'
import json, os, sys, time, urllib.request, uuid
port, token, bot, docs, qpath, distractors, embedder = sys.argv[1:]
distractors = int(distractors)
base = f"http://127.0.0.1:{port}/api/v1"
auth = {"authorization": f"Bearer {token}"}
def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers={**auth, **(headers or {})})
    return json.load(urllib.request.urlopen(req))
def post_json(path, obj):
    return call("POST", path, json.dumps(obj).encode(), {"content-type": "application/json"})

questions = json.load(open(qpath))
answers = sorted({p for q in questions for p in q["pages"]})
rest = sorted(f for f in os.listdir(docs) if f.endswith(".html") and f not in answers)
step = max(1, len(rest) // max(1, distractors))
chosen = answers + rest[::step][:distractors]

start = time.monotonic()
page_of = {}  # document id -> file name
for name in chosen:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: text/html\r\n\r\n").encode() + open(os.path.join(docs, name), "rb").read() + f"\r\n--{boundary}--\r\n".encode()
    doc = call("POST", f"/bots/{bot}/files", body, {"content-type": f"multipart/form-data; boundary={boundary}"})["document"]
    page_of[doc["id"]] = name
def documents():
    out, cursor = [], None
    while True:
        page = call("GET", f"/docs?bot_id={bot}&limit=200" + (f"&cursor={cursor}" if cursor else ""))
        out += page["documents"]; cursor = page["next_cursor"]
        if not cursor: return out
while True:
    docs_now = documents()
    if all(d["status"] in ("ready", "failed") for d in docs_now): break
    time.sleep(1)
ingest_secs = time.monotonic() - start
ready = [d for d in docs_now if d["status"] == "ready"]
failed = sorted(page_of.get(d["id"], d["title"]) for d in docs_now if d["status"] != "ready")
chunks = sum(d["chunk_count"] for d in ready)

modes = ("keyword", "vector", "hybrid")
hits = {m: 0 for m in modes}; rr = {m: 0.0 for m in modes}; ranks = []
start = time.monotonic()
for q in questions:
    row = {}
    for mode in modes:
        results = post_json(f"/bots/{bot}/search", {"query": q["q"], "top_k": 5, "mode": mode})["results"]
        rank = next((i + 1 for i, r in enumerate(results[:5]) if page_of.get(r["document_id"]) in q["pages"]), None)
        row[mode] = rank
        if rank:
            hits[mode] += 1; rr[mode] += 1 / rank
    ranks.append(row)
search_secs = time.monotonic() - start
n = len(questions)

if os.environ.get("BENCH_VERBOSE"):
    for q, row in zip(questions, ranks):
        print(" ".join(f"{m[0]}={row[m] or '-'}" for m in modes), q["q"])
cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
print(f"machine: {len(open('/proc/cpuinfo').read().split('processor'))-1} cores, {cpu}")
print(f"embedder={embedder}: {len(ready)} pages ready ({len(chosen)} uploaded: {len(answers)} answer pages + "
      f"{len(chosen) - len(answers)} distractors), {chunks} chunks; {n} questions")
if failed:
    print(f"not ready: {', '.join(failed)}")
for m in modes:
    print(f"  {m:8} recall@5 {hits[m] / n:.3f} ({hits[m]}/{n})  MRR@5 {rr[m] / n:.3f}")
print(f"elapsed: ingest {ingest_secs:.1f} s, {3 * n} searches {search_secs:.1f} s")
print(json.dumps({
    "scenario": "quality", "embedder": embedder, "distractors": len(chosen) - len(answers),
    "pages": len(ready), "failed": len(failed), "chunks": chunks, "questions": n,
    "recall_at_5": {m: round(hits[m] / n, 4) for m in modes},
    "mrr_at_5": {m: round(rr[m] / n, 4) for m in modes},
    "ingest_secs": round(ingest_secs, 1), "search_secs": round(search_secs, 2),
}))
PY
