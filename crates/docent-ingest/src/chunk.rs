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

/// One piece of a document as the chunker cuts it: text and where it came
/// from, before it is embedded and stored as a `domain::Chunk`.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
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

/// Longest run of a section handed to the splitter at once. text-splitter's
/// search for the largest fitting unit grows with the square of a run that
/// has no boundary it prefers (measured: one 1.5 MB CSV row kept a core busy
/// for minutes), so longer sections are first cut into windows at a
/// paragraph, line or word break. Real sections (a manual page's) are far
/// shorter and are never cut.
const WINDOW_BYTES: usize = 32 * 1024;

pub fn chunk(doc: &Extracted, config: &ChunkConfig, tokens: &dyn TokenCounter) -> Vec<Piece> {
    let max = config.max_tokens.max(1);
    let overlap = config.overlap_tokens.min(max - 1);
    let exact = splitter(max, overlap, Tokens(tokens));
    let mut out = Vec::new();
    for (section_index, section) in doc.sections.iter().enumerate() {
        for (window_start, window) in windows(&section.text, WINDOW_BYTES) {
            for (offset, text, token_count) in chunk_run(window, max, overlap, &exact, tokens) {
                out.push(Piece {
                    index: out.len() as u32,
                    text: text.to_string(),
                    token_count: token_count as u32,
                    page: section.page,
                    heading: section.heading.clone(),
                    section: section_index,
                    offset: window_start + offset,
                });
            }
        }
    }
    out
}

/// Chunks of one run of text: (offset in the run, slice, tokens).
fn chunk_run<'t>(
    text: &'t str,
    max: usize,
    overlap: usize,
    exact: &TextSplitter<Tokens<'_>>,
    tokens: &dyn TokenCounter,
) -> Vec<(usize, &'t str, usize)> {
    let Some(spans) = tokens.spans(text) else {
        return exact
            .chunk_indices(text)
            .map(|(offset, piece)| (offset, piece, tokens.count(piece)))
            .collect();
    };
    let sizer = Spans {
        text,
        spans: &spans,
    };
    let fast = splitter(max, overlap, &sizer);
    let mut out = Vec::new();
    for (offset, piece) in fast.chunk_indices(text) {
        let end = offset + piece.len();
        let between_words = text[..offset]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace)
            && text[end..].chars().next().is_none_or(char::is_whitespace);
        let count = if between_words {
            sizer.size(piece)
        } else {
            tokens.count(piece)
        };
        if count <= max {
            out.push((offset, piece, count));
        } else {
            // A tokenizer may count a slice apart differently from the
            // same words inside the section (rare, at odd edges): cut
            // such a chunk again by the exact count.
            for (inner, sub) in exact.chunk_indices(piece) {
                out.push((offset + inner, sub, tokens.count(sub)));
            }
        }
    }
    out
}

/// `text` in consecutive runs of at most `max` bytes (a single run when it
/// fits), each ending at the last paragraph break, else line break, else
/// space in its second half, else at a character boundary.
fn windows(text: &str, max: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    while text.len() - start > max {
        let mut limit = start + max;
        while !text.is_char_boundary(limit) {
            limit -= 1;
        }
        let slice = &text[start..limit];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|sep| {
                slice
                    .rfind(sep)
                    .filter(|&i| i > slice.len() / 2)
                    .map(|i| i + sep.len())
            })
            .unwrap_or(slice.len());
        out.push((start, &text[start..start + cut]));
        start += cut;
    }
    out.push((start, &text[start..]));
    out
}

fn splitter<S: ChunkSizer>(max: usize, overlap: usize, sizer: S) -> TextSplitter<S> {
    let config = text_splitter::ChunkConfig::new(max)
        .with_sizer(sizer)
        .with_overlap(overlap)
        .expect("overlap is clamped below the capacity");
    TextSplitter::new(config)
}

#[cfg(test)]
mod tests {
    use super::windows;

    #[test]
    fn windows_cover_the_text_at_breaks_and_char_boundaries() {
        let text = format!("{}\n\n{}", "word ".repeat(5000), "é".repeat(20_000));
        let runs = windows(&text, 4096);
        assert!(runs.len() > 5);
        let mut expected = 0;
        for (start, run) in &runs {
            assert_eq!(*start, expected);
            assert!(run.len() <= 4096);
            expected += run.len();
        }
        assert_eq!(expected, text.len());
        assert!(runs[0].1.ends_with(' '), "cut after a space");
        assert_eq!(windows("short", 4096), [(0, "short")]);
    }
}
