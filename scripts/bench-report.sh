#!/usr/bin/env bash
# Runs the benchmarks and regenerates docs/BENCHMARKS.md from their results.
#
#   scripts/bench-report.sh [PART...]      (default: docent langchain http scaleout quality)
#
# Parts:
#   docent     `docent bench all` (ingest, chunk, vectors, search on SQLite and
#              PostgreSQL at 10k/100k, chat, local embedding)
#   langchain  LangChain's RecursiveCharacterTextSplitter on the same sections
#   st         sentence-transformers on PyTorch CPU on the same chunk texts
#              (a 2.8 GB download the first time; scripts/setup-bench-venv.sh)
#   search1m   search at 1M passages on SQLite and PostgreSQL (about 20 min)
#   quality    retrieval quality on the PostgreSQL manual, hash and local
#   eval       `docent eval` on the whole PostgreSQL manual, hash and local
#   evalpg     the same with the instance on PostgreSQL (scripts/backends.sh)
#   scaleout   ingestion with 1, 2 and 4 worker processes on PostgreSQL/S3/Redis
#   http       wrk against GET /api/v1/bots
#   render     only regenerate the report from the history
#
# Every result is appended to docs/bench/history.jsonl, stamped with date,
# machine and commit; the report takes each figure's latest measurement, so
# parts can be rerun one at a time. Nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(docent langchain http scaleout quality)
history=docs/bench/history.jsonl
mkdir -p docs/bench target
export DOCENT_LOG=warn DOCENT_BENCH_NO_BUILD=1
stamp() { python3 scripts/bench_report.py stamp "$history"; }
has() { [[ " ${parts[*]} " == *" $1 "* ]]; }

if ! has render || [[ ${#parts[@]} -gt 1 ]]; then
  cargo build --release -p docent --locked -q
  docs=/usr/share/doc/postgresql-doc-15/html
  [[ -d $docs ]] || { apt-get update -qq && apt-get install -y -qq postgresql-doc-15 >/dev/null; }
  scripts/fetch-model.sh >/dev/null
fi
if has docent || has search1m || has scaleout || has evalpg; then
  scripts/backends.sh >/dev/null
  # shellcheck disable=SC1091
  source /tmp/docent-backends/backends.env
fi
docent=./target/release/docent

if has docent; then
  $docent bench --history "$history" all --database "$DOCENT_TEST_POSTGRES_URL"
fi
if has search1m; then
  $docent bench --history "$history" search --sizes 1000000 --others 10000 --queries 50
  # The HNSW graph of 1M vectors needs ~2 GB to build in memory.
  $docent bench --history "$history" search --sizes 1000000 --others 10000 --queries 50 \
    --database "$DOCENT_TEST_POSTGRES_URL?options=-c%20maintenance_work_mem%3D3GB"
fi
if has langchain; then
  venv=${BENCH_CHUNK_VENV:-/work/.bench-venv-chunk}
  if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      langchain-text-splitters==1.1.3 langchain-core==1.7.2 tokenizers==0.23.3
  fi
  [[ -f target/bench-sections.json ]] ||
    $docent bench chunk --sections-out target/bench-sections.json >/dev/null
  "$venv/bin/python" scripts/bench_chunk_langchain.py target/bench-sections.json | tee /dev/stderr | stamp
fi
if has st; then
  scripts/setup-bench-venv.sh
  [[ -f target/bench-texts.json ]] ||
    $docent bench embed --embed 500 --texts-out target/bench-texts.json >/dev/null
  /work/.bench-venv/bin/python scripts/bench_embed_st.py target/bench-texts.json 32 | tee /dev/stderr | stamp
fi
if has eval; then
  for embedder in hash local; do
    $docent eval --corpus "$docs" --golden eval/postgres-manual.jsonl --embedder "$embedder" \
      --model-dir "$PWD/.tools/models/all-MiniLM-L6-v2" | tee /dev/stderr | stamp
  done
fi
if has evalpg; then
  for embedder in hash local; do
    $docent eval --corpus "$docs" --golden eval/postgres-manual.jsonl --embedder "$embedder" \
      --model-dir "$PWD/.tools/models/all-MiniLM-L6-v2" --database "$DOCENT_TEST_POSTGRES_URL" |
      tee /dev/stderr | stamp
  done
fi
if has quality; then
  for embedder in hash local; do scripts/bench-quality.sh "$embedder" 150 | tee /dev/stderr | stamp; done
fi
if has scaleout; then
  for workers in 1 2 4; do scripts/bench-ingest-scaleout.sh "$workers" 1200 hash | tee /dev/stderr | stamp; done
fi
if has http; then
  scripts/bench-http.sh 20s 64 2 | stamp
fi

python3 scripts/bench_report.py render "$history" docs/bench/BENCHMARKS.template.md docs/BENCHMARKS.md
echo "docs/BENCHMARKS.md regenerated from $history"
