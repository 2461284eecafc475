#!/usr/bin/env bash
# Talks to Docent's OpenAI-compatible API with the official `openai` Python SDK,
# unchanged: lists models, asks a bot (plain and streamed). Starts a scratch
# server (debug build) with one bot and one document; prints what the SDK got.
#   scripts/openai-sdk-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${SDK_VENV:-/tmp/docent-sdk-venv}
[[ -x $venv/bin/python ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q openai; }
cargo build -q -p docent --locked
data=$(mktemp -d); port=18090
DOCENT_LOG=warn DOCENT_EMBEDDER=hash ./target/debug/docent serve --listen 127.0.0.1:$port --data-dir "$data" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf localhost:$port/api/v1/health >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf -X POST localhost:$port/api/v1/tenants -H 'content-type: application/json' \
  -d '{"name":"SDK","email":"sdk@example.com","password":"password123"}' | json '["access_token"]')
auth=(-H "authorization: Bearer $token" -H 'content-type: application/json')
bot=$(curl -sf -X POST localhost:$port/api/v1/bots "${auth[@]}" -d '{"name":"Support"}' | json '["id"]')
curl -sf -X POST localhost:$port/api/v1/docs "${auth[@]}" \
  -d "{\"bot_id\":\"$bot\",\"title\":\"Refunds\",\"text\":\"Refunds are granted within thirty days of purchase.\"}" >/dev/null
key=$(curl -sf -X POST localhost:$port/api/v1/api-keys "${auth[@]}" -d '{"name":"sdk","role":"viewer"}' | json '["key"]')
sleep 1 # let the worker index the document
"$venv/bin/python" - "$port" "$key" "$bot" <<'PY'
import sys
from openai import OpenAI
port, key, bot = sys.argv[1:]
client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key)
print("models:", [m.id for m in client.models.list()])
r = client.chat.completions.create(model=bot, messages=[{"role": "user", "content": "How long do refunds take?"}])
print("answer:", r.choices[0].message.content, "| usage:", r.usage)
parts = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model=bot, messages=[{"role": "user", "content": "How long do refunds take?"}], stream=True) if c.choices]
print("streamed:", "".join(parts))
PY
