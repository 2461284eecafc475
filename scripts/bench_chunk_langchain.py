"""Chunking throughput of LangChain's RecursiveCharacterTextSplitter: the
Python baseline for `docent bench chunk`, on the same section texts with the
same sizes.

    python scripts/bench_chunk_langchain.py SECTIONS.json [MODEL_DIR]

SECTIONS.json is the JSON array written by `docent bench chunk --sections-out`.
Two runs, each splitting every section on its own (as Docent does):
  - tokens: chunk_size 200, overlap 30, length = the MiniLM tokenizer's token
    count (`tokenizers`, the same Rust tokenizer Docent uses; what LangChain's
    `from_huggingface_tokenizer` does with a fast tokenizer);
  - characters: chunk_size 1000, overlap 150, length = len().
Prints one line of JSON per run. scripts/bench-chunk.sh makes the venv and
runs both sides.
"""
import json
import resource
import sys
import time
from pathlib import Path

from langchain_text_splitters import RecursiveCharacterTextSplitter
from tokenizers import Tokenizer


def main() -> None:
    sections = json.loads(Path(sys.argv[1]).read_text())
    model_dir = Path(sys.argv[2] if len(sys.argv) > 2 else ".tools/models/all-MiniLM-L6-v2")
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def tokens(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    runs = [
        ("tokens (MiniLM)", 200, 30, tokens),
        ("characters", 1000, 150, len),
    ]
    size = sum(len(s.encode()) for s in sections)
    for name, chunk_size, overlap, length in runs:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=overlap, length_function=length
        )
        started = time.perf_counter()
        chunks = sum(len(splitter.split_text(s)) for s in sections)
        secs = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "scenario": "chunk_langchain",
                    "chunker": name,
                    "max": chunk_size,
                    "overlap": overlap,
                    "sections": len(sections),
                    "bytes": size,
                    "chunks": chunks,
                    "seconds": secs,
                    "chunks_per_s": chunks / secs,
                    "mib_per_s": size / 1048576 / secs,
                    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
