#!/usr/bin/env bash
# Ingestion throughput on a real corpus: the PostgreSQL 15 manual (Debian's
# postgresql-doc-15, 1,173 HTML pages) served by a local web server and crawled
# by a release `docent serve`. Reports pages/s and chunks/s end to end (crawl,
# extraction, chunking, embedding, indexing) and the server's peak RSS.
# Nothing is asserted.
#   scripts/bench-ingest.sh [EMBEDDER=hash|local] [MAX_PAGES=1200] [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
embedder=${1:-hash}; max_pages=${2:-1200}; workers=${3:-2}
docs=/usr/share/doc/postgresql-doc-15/html
[[ -d $docs ]] || { apt-get update -qq && apt-get install -y -qq postgresql-doc-15 >/dev/null; }
[[ $embedder == local ]] && scripts/fetch-model.sh >/dev/null
cargo build --release -p docent --locked -q
data=$(mktemp -d); port=18081; site_port=18082
python3 -m http.server $site_port --bind 127.0.0.1 --directory "$docs" >/dev/null 2>&1 &
site=$!
env DOCENT_LOG=warn DOCENT_EMBEDDER="$embedder" DOCENT_EMBED_MODEL_DIR="$PWD/.tools/models/all-MiniLM-L6-v2" \
  DOCENT_WORKER_CONCURRENCY="$workers" DOCENT_CRAWL_CONCURRENCY=4 DOCENT_CRAWL_DELAY_MS=0 \
  ./target/release/docent serve --listen 127.0.0.1:$port --data-dir "$data" &
server=$!
trap 'kill $server $site 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf localhost:$port/api/v1/health >/dev/null && break; sleep 0.1; done
api() { curl -sf "$@" -H "authorization: Bearer $token" -H 'content-type: application/json'; }
token=$(curl -sf -X POST localhost:$port/api/v1/tenants -H 'content-type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"password123"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
bot=$(api -X POST localhost:$port/api/v1/bots -d '{"name":"pg"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
start=$(date +%s.%N)
api -X POST localhost:$port/api/v1/bots/$bot/crawl \
  -d "{\"url\":\"http://127.0.0.1:$site_port/index.html\",\"max_pages\":$max_pages,\"max_depth\":20}" >/dev/null
# Done when no document is queued or processing and the crawl job has ended.
while true; do
  sleep 1
  stats=$(curl -sf "localhost:$port/metrics" | awk '/^docent_jobs_queued /{q=$2} /^docent_jobs_running /{r=$2} END{print q+0, r+0}')
  read -r queued running <<<"$stats"
  [[ $queued == 0 && $running == 0 ]] && break
done
end=$(date +%s.%N)
python3 - "$port" "$token" "$bot" "$start" "$end" "$server" "$embedder" "$workers" <<'PY'
import json, sys, urllib.request
port, token, bot, start, end, pid, embedder, workers = sys.argv[1:]
def get(path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req))
docs, cursor = [], None
while True:
    page = get(f"/api/v1/docs?bot_id={bot}&limit=100" + (f"&cursor={cursor}" if cursor else ""))
    docs += page["documents"]; cursor = page["next_cursor"]
    if not cursor: break
ready = [d for d in docs if d["status"] == "ready"]
chunks = sum(d["chunk_count"] for d in ready)
secs = float(end) - float(start)
hwm = next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM"))
cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
print(f"machine: {len(open('/proc/cpuinfo').read().split('processor'))-1} cores, {cpu}")
print(f"embedder={embedder} workers={workers}: {len(ready)} pages ready ({len(docs)-len(ready)} not), {chunks} chunks")
print(f"elapsed {secs:.1f} s: {len(ready)/secs:.1f} pages/s, {chunks/secs:.1f} chunks/s; peak RSS {int(hwm)/1024:.0f} MiB")
PY
