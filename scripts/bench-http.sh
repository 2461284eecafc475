#!/usr/bin/env bash
# HTTP throughput of an authenticated GET /api/v1/bots on the embedded default.
# Starts a release server on a scratch data dir, signs up a tenant with 10 bots,
# then runs wrk against it. Prints wrk's report; nothing is asserted.
#   scripts/bench-http.sh [DURATION=20s] [CONNECTIONS=64] [THREADS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}; conns=${2:-64}; threads=${3:-2}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[[ -n ${DOCENT_BENCH_NO_BUILD:-} ]] || cargo build --release -p docent --locked -q
data=$(mktemp -d); port=18080
# The limits are for abuse, not for a benchmark of one credential.
DOCENT_LOG=warn DOCENT_RATE_LIMIT_CREDENTIAL_PER_MINUTE=1000000000 DOCENT_RATE_LIMIT_IP_PER_MINUTE=1000000000 \
  ./target/release/docent serve --listen 127.0.0.1:$port --data-dir "$data" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -sf localhost:$port/api/v1/health >/dev/null && break; sleep 0.1; done
token=$(curl -sf -X POST localhost:$port/api/v1/tenants -H 'content-type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"password123"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for i in $(seq 10); do
  curl -sf -X POST localhost:$port/api/v1/bots -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d "{\"name\":\"bot $i\"}" >/dev/null
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "command: wrk -t$threads -c$conns -d$duration --latency -H 'Authorization: Bearer …' http://127.0.0.1:$port/api/v1/bots"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/api/v1/bots" | tee /dev/stderr |
  python3 -c '
import json, re, sys
out = sys.stdin.read()
lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
print(json.dumps({"scenario": "http", "connections": int(sys.argv[1]), "threads": int(sys.argv[2]),
    "duration": sys.argv[3], "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
    "p50": lat.get("50"), "p90": lat.get("90"), "p99": lat.get("99"),
    "max": re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)[1],
    "non_2xx": int((re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out) or [0, 0])[1])}))' "$conns" "$threads" "$duration"
