//! Chunking: each section is cut into pieces of at most `max_tokens` of the
//! embedder's own tokens, by `text-splitter`, which prefers the largest
//! semantic unit that fits (paragraphs, then lines, sentences, words) and adds
//! the configured overlap. Sections are never merged, so every chunk has one
//! page and one heading to cite. Deterministic: the same input gives the same
//! chunks.

use docent_core::embed::TokenCounter;
use text_splitter::{ChunkSizer, TextSplitter};

use crate::Extracted;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Largest chunk, in the embedder's tokens.
    pub max_tokens: usize,
    /// Tokens shared by neighbouring chunks of a section (less than `max_tokens`).
    pub overlap_tokens: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub index: u32,
    /// An exact slice of its section's text.
    pub text: String,
    pub token_count: u32,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// Which section of the [`Extracted`] it came from, and its byte offset there.
    pub section: usize,
    pub offset: usize,
}

/// `text-splitter` measures candidates with this; it asks many times per
/// chunk, so the counter must be cheap.
struct Tokens<'a>(&'a dyn TokenCounter);

impl ChunkSizer for Tokens<'_> {
    fn size(&self, chunk: &str) -> usize {
        self.0.count(chunk)
    }
}

pub fn chunk(doc: &Extracted, config: &ChunkConfig, tokens: &dyn TokenCounter) -> Vec<Chunk> {
    let max = config.max_tokens.max(1);
    let overlap = config.overlap_tokens.min(max - 1);
    let splitter_config = text_splitter::ChunkConfig::new(max)
        .with_sizer(Tokens(tokens))
        .with_overlap(overlap)
        .expect("overlap is clamped below the capacity");
    let splitter = TextSplitter::new(splitter_config);
    let mut out = Vec::new();
    for (section_index, section) in doc.sections.iter().enumerate() {
        for (offset, text) in splitter.chunk_indices(&section.text) {
            out.push(Chunk {
                index: out.len() as u32,
                text: text.to_string(),
                token_count: tokens.count(text) as u32,
                page: section.page,
                heading: section.heading.clone(),
                section: section_index,
                offset,
            });
        }
    }
    out
}
