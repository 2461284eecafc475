#!/usr/bin/env bash
# Browser end-to-end tests, in headless Chromium (Debian's package, driven
# by playwright-core) against the docent binary: the chat widget (a customer
# page on another origin embeds /widget.js and asks it a question) and the
# console at /app (tests/e2e/console.test.mjs).
#
# Installs what it needs and can be run any number of times: Debian's
# `chromium` when /usr/bin/chromium is missing, then tests/e2e's locked npm
# dependencies. It never downloads a browser of its own.
#
#   scripts/e2e-widget.sh                                   # uses target/debug/docent
#   DOCENT_BIN=target/release/docent scripts/e2e-widget.sh
#   WIDGET_SCREENSHOT=docs/widget.png scripts/e2e-widget.sh # also saves a picture
#   CONSOLE_SCREENSHOTS=docs/console scripts/e2e-widget.sh  # and of the console's pages
#
# Build the binary first (cargo build); this script does not.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bin=${DOCENT_BIN:-${CARGO_TARGET_DIR:-target}/debug/docent}
case $bin in
  /*) ;;
  *) bin=$root/$bin ;;
esac
if [[ ! -x $bin ]]; then
  echo "e2e-widget: no docent binary at $bin" >&2
  echo "e2e-widget: build it first (cargo build), or point DOCENT_BIN at one" >&2
  exit 1
fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "e2e-widget: $tool is not installed (node 20 or later is needed)" >&2
    exit 1
  fi
done

if [[ ! -x /usr/bin/chromium ]]; then
  echo "== installing chromium (Debian package)"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they do not know chromium yet, or
  # when they are too old for the install to find its files.
  if ! apt-cache show chromium >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update
  fi
  if ! "${sudo[@]}" apt-get install -y chromium; then
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y chromium
  fi
fi

echo "== npm ci (tests/e2e)"
(cd tests/e2e && npm ci --no-audit --no-fund)

echo "== browser end-to-end tests (widget, console)"
DOCENT_BIN=$bin node --test tests/e2e/
