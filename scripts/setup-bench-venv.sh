#!/usr/bin/env bash
# Makes the Python venv for scripts/bench_embed_st.py: sentence-transformers on
# a CPU-only PyTorch, from PyPI alone (no PyTorch or Hugging Face download site).
#
# PyPI's Linux x86_64 torch wheel is a CUDA build whose libtorch_cpu.so and
# libtorch_cuda.so link against the CUDA libraries, so `import torch` fails
# without them even on a CPU. Every package below is pinned and installed
# --no-deps: torch plus only the nvidia-* wheels it loads at import (not
# triton, cuda-bindings, cuda-toolkit, cusolver, cccl, nvtx: none is needed on
# a CPU). About 4.5 GB on disk, 2.8 GB downloaded.
#
# Idempotent: does nothing when the venv already holds exactly this set.
#   scripts/setup-bench-venv.sh            (venv at ${BENCH_VENV:-/work/.bench-venv})
set -euo pipefail

VENV="${BENCH_VENV:-/work/.bench-venv}"
PYTHON="${PYTHON:-python3}"

PACKAGES=(
  # torch and the CUDA runtime libraries it links against
  torch==2.15.0
  nvidia-cuda-runtime==13.2.86 nvidia-cuda-cupti==13.2.86 nvidia-cuda-nvrtc==13.2.86
  nvidia-cublas==13.4.1.3 nvidia-cudnn-cu13==9.26.0.51 nvidia-cufft==12.2.0.57
  nvidia-cufile==1.17.1.22 nvidia-cusparse==12.7.10.12 nvidia-cusparselt-cu13==0.8.1
  nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.7.2 nvidia-nvjitlink==13.5.37
  filelock==4.2.12 typing_extensions==4.16.0 sympy==1.14.0 mpmath==1.3.0
  networkx==3.6.1 Jinja2==3.1.6 MarkupSafe==3.0.4 fsspec==2026.9.0
  # sentence-transformers and what it imports
  sentence-transformers==6.2.0 transformers==5.23.0 tokenizers==0.23.3
  huggingface_hub==2.4.0 hf-xet==1.8.0 httpx2==2.16.2 httpcore2==2.16.2 anyio==4.16.0
  h11==0.16.0 idna==3.20 click==8.5.1 truststore==0.10.5 safetensors==0.8.0
  numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 joblib==1.6.0 threadpoolctl==3.8.0
  narwhals==2.29.0 cloudpickle==3.1.2 tqdm==4.70.1 packaging==26.3 PyYAML==6.0.3
  regex==2026.11.15
)
stamp="$VENV/.bench-packages"
wanted="$(printf '%s\n' "${PACKAGES[@]}")"

if [[ -x $VENV/bin/python && -f $stamp && "$(cat "$stamp")" == "$wanted" ]] &&
  HF_HUB_OFFLINE=1 "$VENV/bin/python" -c 'import torch, sentence_transformers' 2>/dev/null; then
  echo "bench venv is ready: $VENV/bin/python"
  exit 0
fi

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' ||
  { echo "error: needs Python 3.11 (set PYTHON=)" >&2; exit 1; }
echo "creating bench venv in $VENV"
"$PYTHON" -m venv --clear "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: "${PACKAGES[@]}"
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c \
  'import torch, sentence_transformers as st; print("torch", torch.__version__, "sentence-transformers", st.__version__)'
printf '%s\n' "$wanted" >"$stamp"
echo "bench venv is ready: $VENV/bin/python"
