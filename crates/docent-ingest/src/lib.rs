//! Ingestion of Docent: recognising a source's type from its bytes, extracting
//! clean text with the metadata citations need (PDF page numbers, HTML and
//! Markdown headings), and cutting that text into token-sized chunks.
//!
//! Everything here is synchronous and CPU-bound; callers run it on a blocking
//! thread under a time limit.

mod chunk;
mod detect;
mod extract;

pub use chunk::{Chunk, ChunkConfig, chunk};
pub use detect::detect;
pub use extract::{ExtractError, Extracted, Limits, Section, extract};

/// The formats Docent reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Pdf,
    Docx,
    Html,
    Markdown,
    Text,
    Csv,
    Json,
}

impl SourceKind {
    /// The format's name as stored with a document and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Docx => "docx",
            Self::Html => "html",
            Self::Markdown => "markdown",
            Self::Text => "text",
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }

    /// The inverse of [`SourceKind::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pdf" => Self::Pdf,
            "docx" => Self::Docx,
            "html" => Self::Html,
            "markdown" => Self::Markdown,
            "text" => Self::Text,
            "csv" => Self::Csv,
            "json" => Self::Json,
            _ => return None,
        })
    }
}
