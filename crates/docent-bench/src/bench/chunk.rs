//! `docent bench chunk`: chunking throughput on the extracted text of a
//! directory of HTML pages, in the embedder's tokens (what ingestion does)
//! and in characters, and the section texts written out so another splitter
//! (LangChain's, `scripts/bench_chunk_langchain.py`) cuts exactly the same
//! inputs with the same sizes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use docent_core::embed::{Embedder, TokenCounter};
use docent_ingest::{ChunkConfig, Extracted, Limits, SourceKind};
use docent_llm::embed::LocalEmbedder;

#[derive(Args)]
pub struct ChunkArgs {
    #[command(flatten)]
    inputs: super::Inputs,
    /// Pages to read (0 = all).
    #[arg(long, default_value_t = 0)]
    pages: usize,
    /// Write the section texts here as a JSON array of strings.
    #[arg(long, value_name = "FILE")]
    sections_out: Option<PathBuf>,
}

/// Ingestion's sizes for MiniLM: 200 tokens, 30 of overlap.
const TOKENS: ChunkConfig = ChunkConfig {
    max_tokens: 200,
    overlap_tokens: 30,
};
/// The character sizes set beside LangChain's length-in-characters default.
const CHARS: ChunkConfig = ChunkConfig {
    max_tokens: 1000,
    overlap_tokens: 150,
};

/// Characters as the unit.
struct Chars;

impl TokenCounter for Chars {
    fn count(&self, text: &str) -> usize {
        text.chars().count()
    }
}

/// A counter with its spans hidden: every candidate is tokenized, as
/// chunking did before it sized slices from spans.
struct NoSpans(Arc<dyn TokenCounter>);

impl TokenCounter for NoSpans {
    fn count(&self, text: &str) -> usize {
        self.0.count(text)
    }
}

pub async fn run(args: ChunkArgs) -> anyhow::Result<()> {
    let files = super::html_files(&args.inputs.corpus, args.pages)?;
    let embedder =
        LocalEmbedder::load(&args.inputs.model_dir).context("cannot load the local model")?;
    let docs: Vec<Extracted> = files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .filter_map(|raw| docent_ingest::extract(SourceKind::Html, &raw, &Limits::default()).ok())
        .collect();
    let sections: Vec<&str> = docs
        .iter()
        .flat_map(|d| d.sections.iter().map(|s| s.text.as_str()))
        .collect();
    let bytes: usize = sections.iter().map(|s| s.len()).sum();
    if let Some(path) = &args.sections_out {
        std::fs::write(path, serde_json::to_vec(&sections)?)?;
    }
    println!(
        "corpus: {} pages, {} sections, {:.1} MiB of text",
        docs.len(),
        sections.len(),
        bytes as f64 / 1048576.0
    );
    println!(
        "{:<34} {:>8} {:>9} {:>10} {:>8}",
        "chunker", "chunks", "seconds", "chunks/s", "MiB/s"
    );
    let tokens = embedder.tokens();
    let runs: [(&str, &ChunkConfig, &dyn TokenCounter); 3] = [
        ("tokens (MiniLM), spans", &TOKENS, tokens.as_ref()),
        (
            "tokens (MiniLM), tokenize each",
            &TOKENS,
            &NoSpans(tokens.clone()),
        ),
        ("characters", &CHARS, &Chars),
    ];
    for (name, config, counter) in runs {
        let started = Instant::now();
        let chunks: usize = docs
            .iter()
            .map(|doc| docent_ingest::chunk(doc, config, counter).len())
            .sum();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name:<34} {chunks:>8} {secs:>9.2} {:>10.0} {:>8.2}",
            chunks as f64 / secs,
            bytes as f64 / 1048576.0 / secs
        );
        super::record(
            serde_json::json!({"scenario": "chunk", "chunker": name, "max": config.max_tokens,
                "overlap": config.overlap_tokens, "sections": sections.len(), "bytes": bytes,
                "chunks": chunks, "seconds": secs, "chunks_per_s": chunks as f64 / secs,
                "mib_per_s": bytes as f64 / 1048576.0 / secs,
                "peak_rss_mib": super::peak_rss_mib()}),
        );
    }
    Ok(())
}
