"""Embedding throughput of sentence-transformers on PyTorch CPU: the Python
baseline for all-MiniLM-L6-v2, to set beside the Rust `LocalEmbedder`.

Measures wall time to encode every text in TEXTS.json (a JSON array of strings)
with the given batch size, after one warm-up batch: CPU only, torch threads =
number of cores, max_seq_length 256, mean pooling, normalized embeddings.
Prints one line of JSON (texts/s and the process's peak RSS).

    python scripts/bench_embed_st.py TEXTS.json [BATCH=32]

Run it with the venv's python: scripts/setup-bench-venv.sh makes that venv
(outside the repository, /work/.bench-venv by default) from PyPI alone, with
torch's wheel installed --no-deps plus only the CUDA runtime libraries it links
against, so no GPU and no PyTorch or Hugging Face download site is needed.
The model is read from .tools/models/all-MiniLM-L6-v2 (scripts/fetch-model.sh),
or DOCENT_EMBED_MODEL_DIR; the hub is never contacted.
"""
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.disable_progress_bar()

MODEL_DIR = os.environ.get(
    "DOCENT_EMBED_MODEL_DIR",
    str(Path(__file__).resolve().parent.parent / ".tools/models/all-MiniLM-L6-v2"),
)


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    texts = json.loads(Path(sys.argv[1]).read_text())
    batch = int(sys.argv[2]) if len(sys.argv) == 3 else 32
    if not texts or not all(isinstance(t, str) for t in texts):
        sys.exit("TEXTS.json must be a non-empty JSON array of strings")

    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(MODEL_DIR, device="cpu")
    model.max_seq_length = 256

    def encode(items):
        return model.encode(items, batch_size=batch, normalize_embeddings=True,
                            show_progress_bar=False, convert_to_numpy=True)

    encode(texts[:batch])  # warm-up
    start = time.perf_counter()
    vectors = encode(texts)
    seconds = time.perf_counter() - start
    assert vectors.shape == (len(texts), 384)

    print(json.dumps({
        "scenario": "embed_st",
        "impl": "sentence-transformers",
        "torch": torch.__version__,
        "texts": len(texts),
        "batch": batch,
        "seconds": round(seconds, 3),
        "texts_per_s": round(len(texts) / seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
