#!/usr/bin/env bash
# Runs every check and test of Docent from a clean checkout: formatting, lints,
# then the whole test suite (unit, storage conformance, HTTP boundary, CLI).
# Installs and starts whatever the tests need by itself; today that is only the
# Rust toolchain's own components, as the embedded default needs no service.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked
