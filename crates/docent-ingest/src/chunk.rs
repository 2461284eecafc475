//! Chunking: each section is cut into pieces of at most `max_tokens` of the
//! embedder's own tokens, by `text-splitter`, which prefers the largest
//! semantic unit that fits (paragraphs, then lines, sentences, words) and adds
//! the configured overlap. Sections are never merged, so every chunk has one
//! page and one heading to cite. Deterministic: the same input gives the same
//! chunks.

use std::ops::Range;

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

/// Sizes slices of one section from its tokens' byte ranges, computed once:
/// two binary searches per candidate instead of a tokenizer run over it
/// (measured on the PostgreSQL manual with the MiniLM tokenizer: the
/// tokenizer runs were nearly all of chunking's time). A token cut by the
/// slice's edge counts whole, so a slice is never sized smaller than its
/// tokens. For a slice cut between words (whitespace or the section's edge
/// on both sides) the count equals tokenizing the slice alone; `chunk`
/// tokenizes any other chunk again to check it.
struct Spans<'a> {
    text: &'a str,
    spans: &'a [Range<usize>],
}

impl ChunkSizer for Spans<'_> {
    fn size(&self, chunk: &str) -> usize {
        // text-splitter hands out slices of the text it splits.
        let start = (chunk.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
        if start > self.text.len() {
            return self.spans.len();
        }
        let end = start + chunk.len();
        let first = self.spans.partition_point(|t| t.end <= start);
        let last = self.spans.partition_point(|t| t.start < end);
        last.saturating_sub(first)
    }
}

pub fn chunk(doc: &Extracted, config: &ChunkConfig, tokens: &dyn TokenCounter) -> Vec<Chunk> {
    let max = config.max_tokens.max(1);
    let overlap = config.overlap_tokens.min(max - 1);
    let exact = splitter(max, overlap, Tokens(tokens));
    let mut out = Vec::new();
    for (section_index, section) in doc.sections.iter().enumerate() {
        let mut push = |offset: usize, text: &str, token_count: usize| {
            out.push(Chunk {
                index: out.len() as u32,
                text: text.to_string(),
                token_count: token_count as u32,
                page: section.page,
                heading: section.heading.clone(),
                section: section_index,
                offset,
            });
        };
        let Some(spans) = tokens.spans(&section.text) else {
            for (offset, text) in exact.chunk_indices(&section.text) {
                push(offset, text, tokens.count(text));
            }
            continue;
        };
        let sizer = Spans {
            text: &section.text,
            spans: &spans,
        };
        let fast = splitter(max, overlap, &sizer);
        for (offset, text) in fast.chunk_indices(&section.text) {
            let end = offset + text.len();
            let between_words = section.text[..offset]
                .chars()
                .next_back()
                .is_none_or(char::is_whitespace)
                && section.text[end..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace);
            let count = if between_words {
                sizer.size(text)
            } else {
                tokens.count(text)
            };
            if count <= max {
                push(offset, text, count);
            } else {
                // A tokenizer may count a slice apart differently from the
                // same words inside the section (rare, at odd edges): cut
                // such a chunk again by the exact count.
                for (inner, piece) in exact.chunk_indices(text) {
                    push(offset + inner, piece, tokens.count(piece));
                }
            }
        }
    }
    out
}

fn splitter<S: ChunkSizer>(max: usize, overlap: usize, sizer: S) -> TextSplitter<S> {
    let config = text_splitter::ChunkConfig::new(max)
        .with_sizer(sizer)
        .with_overlap(overlap)
        .expect("overlap is clamped below the capacity");
    TextSplitter::new(config)
}
