#!/usr/bin/env bash
# API fuzz run: starts a throwaway `docent serve` (embedded SQLite, hash
# embedder, fresh temp data dir) on a free loopback port, signs up a tenant and
# runs schemathesis against the server's own /openapi.json with that tenant's
# access token. Checks: no 5xx, status codes, content types and response
# bodies as documented in the spec. Exits non-zero when schemathesis reports a
# failure or an error.
#
#   scripts/schemathesis.sh                       # uses target/debug/docent
#   DOCENT_BIN=target/release/docent scripts/schemathesis.sh
#
# Tunables (environment): SCHEMATHESIS_MAX_EXAMPLES (default 100 per
# operation; about 75 s on 2 cores), SCHEMATHESIS_SEED (default 20240601), SCHEMATHESIS_WORKERS
# (default 2), SCHEMATHESIS_REPORT_DIR (default target/schemathesis: JUnit
# XML and an NDJSON event log with every failing case).
#
# Network: schemathesis talks only to the server on 127.0.0.1, and the
# server's own outbound fetches (crawl jobs aimed at fuzzed URLs, an LLM or
# embedding endpoint) must reach nothing either. So, after installing
# schemathesis (which needs PyPI), the script re-runs itself inside a new,
# empty network namespace (`unshare --net`) where only loopback exists; it
# refuses to fuzz when it cannot create one.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV="$PWD/.tools/schemathesis-venv"
ST="$VENV/bin/schemathesis"

if [[ "${_SCHEMATHESIS_SH_STAGE:-}" != fuzz ]]; then
  # --- stage 1: install (network allowed), then enter the namespace -------
  if [[ ! -x "$ST" ]] || [[ "$("$ST" --version 2>/dev/null)" != *" $SCHEMATHESIS_VERSION" ]]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  "$ST" --version

  if ! unshare --net true 2>/dev/null; then
    echo "schemathesis.sh: cannot create a network namespace (unshare --net; needs root" >&2
    echo "or CAP_SYS_ADMIN); refusing to fuzz a server whose crawler could reach the network" >&2
    exit 2
  fi
  _SCHEMATHESIS_SH_STAGE=fuzz exec unshare --net -- "$self" "$@"
fi

# --- stage 2: inside the network namespace: only loopback ------------------
if command -v ip >/dev/null; then
  ip link set lo up
else
  # No iproute2: bring lo up with the SIOCSIFFLAGS ioctl.
  "$VENV/bin/python" - <<'PY'
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ifr = struct.pack("16sH22x", b"lo", 0x1 | 0x8)  # IFF_UP | IFF_LOOPBACK
fcntl.ioctl(s, 0x8914, ifr)  # SIOCSIFFLAGS
PY
fi

bin="${DOCENT_BIN:-target/debug/docent}"
[[ -x "$bin" ]] || { echo "schemathesis.sh: no docent binary at $bin (set DOCENT_BIN)" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
seed="${SCHEMATHESIS_SEED:-20240601}"
workers="${SCHEMATHESIS_WORKERS:-2}"
report_dir="${SCHEMATHESIS_REPORT_DIR:-target/schemathesis}"
mkdir -p "$report_dir"
report_dir="$(cd "$report_dir" && pwd)"
rm -f "$report_dir"/junit.xml "$report_dir"/events.ndjson

work="$(mktemp -d -t docent-schemathesis.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
mkdir -p "$work/data"

# The server's environment: none of the caller's DOCENT_* settings (nor an
# OpenAI key it would fall back to, nor proxies), rate and plan limits lifted
# so that hundreds of requests from one tenant and one IP are not refused
# with 429/402.
(
  for v in $(compgen -e); do
    case "$v" in
      DOCENT_* | OPENAI_API_KEY | http_proxy | https_proxy | all_proxy | HTTP_PROXY | HTTPS_PROXY | ALL_PROXY) unset "$v" ;;
    esac
  done
  export DOCENT_EMBEDDER=hash DOCENT_LOG_FORMAT=json
  export DOCENT_RATE_LIMIT_SIGN_IN_PER_MINUTE=1000000 \
    DOCENT_RATE_LIMIT_CREDENTIAL_PER_MINUTE=1000000 \
    DOCENT_RATE_LIMIT_IP_PER_MINUTE=1000000 \
    DOCENT_RATE_LIMIT_WIDGET_TOKEN_PER_MINUTE=1000000 \
    DOCENT_RATE_LIMIT_VISITOR_IP_PER_MINUTE=1000000
  export DOCENT_PLAN_FREE_MESSAGES_PER_MONTH=unlimited \
    DOCENT_PLAN_FREE_DOCUMENTS=unlimited \
    DOCENT_PLAN_FREE_STORAGE_BYTES=unlimited \
    DOCENT_PLAN_FREE_CRAWL_PAGES_PER_MONTH=unlimited
  # Its cwd is the temp dir, so no docent.toml of the caller's is read.
  cd "$work"
  exec "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data"
) >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 150); do
  if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/health" || true)" == 200 ]]; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "schemathesis.sh: docent serve exited; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/health" || true)" != 200 ]]; then
  echo "schemathesis.sh: $base/api/v1/health did not answer 200 within 30 s; server log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi

token="$(curl -sf -X POST "$base/api/v1/tenants" -H 'content-type: application/json' \
  -d '{"name":"Schemathesis","email":"fuzz-owner@example.com","password":"fuzz-password-1"}' |
  "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

# Excluded: GET /api/v1/chat/ws is a WebSocket upgrade (HTTP 101, then JSON
# frames), not a request/response operation; schemathesis can only send it a
# plain GET, which the route answers by refusing the upgrade.
# Phases: the spec has no examples (that phase skips); coverage and fuzzing
# send positive and negative cases; stateful chains operations through the
# IDs they return. Health checks are suppressed so that strict schemas make
# slow generation, not errors.
start=$SECONDS
set +e
(
  # Run from the temp dir, so that nothing schemathesis or hypothesis writes
  # (caches, example databases) lands in the work tree.
  cd "$work"
  # A hung run is cut off rather than left to CI's clock.
  timeout 900 "$ST" run "$base/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/v1/chat/ws \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --generation-database none \
    --workers "$workers" \
    --request-timeout 20 \
    --max-redirects 0 \
    --continue-on-failure \
    --suppress-health-check all \
    --warnings off \
    --no-color \
    --output-truncate false \
    --report junit,ndjson \
    --report-junit-path "$report_dir/junit.xml" \
    --report-ndjson-path "$report_dir/events.ndjson"
)
status=$?
set -e
elapsed=$((SECONDS - start))

if grep -q '"level": *"ERROR"\|panicked' "$work/server.log"; then
  cp "$work/server.log" "$report_dir/server.log"
  echo "server logged errors or panics: $report_dir/server.log"
fi

"$VENV/bin/python" - "$report_dir/events.ndjson" "$status" "$elapsed" "$seed" "$max_examples" <<'PY'
# One closing line: operations tested and failing, and the failures counted
# once per (operation, check, received status).
import json, sys
path, status, elapsed, seed, n = sys.argv[1:]
tested, failing, distinct = set(), set(), set()
try:
    with open(path) as events:
        for line in events:
            event = json.loads(line).get("ScenarioFinished")
            if not event or event.get("status") == "skip":
                continue
            recorder = event["recorder"]
            if event.get("phase") != "stateful":
                tested.add(recorder["label"])
            for checks in recorder.get("checks", {}).values():
                for check in checks:
                    if check["status"] != "failure":
                        continue
                    failure = check["failure_info"]["failure"]
                    failing.add(failure.get("operation"))
                    distinct.add((failure.get("operation"), check["name"],
                                  failure.get("message", "").split("\n")[0]))
except OSError:
    pass
print(f"schemathesis summary: {len(tested)} operations tested, {len(failing)} with failures, "
      f"{len(distinct)} distinct failures (exit {status}, {elapsed}s, seed {seed}, "
      f"<= {n} examples/operation)")
PY
exit "$status"
