//! Ingestion of Docent: recognising a source's type from its bytes, extracting
//! clean text with the metadata citations need (PDF page numbers, HTML and
//! Markdown headings), and cutting that text into token-sized chunks.
//!
//! Extraction and chunking are synchronous and CPU-bound. Extraction reads
//! untrusted bytes, so the server runs it only through [`Sandbox`], in a child
//! process under resource limits.

mod chunk;
mod detect;
mod extract;
mod nesting;
pub mod sandbox;

pub use chunk::{ChunkConfig, Piece, chunk};
pub use detect::detect;
pub use extract::{ExtractError, Extracted, Limits, Section, extract};
pub use nesting::{MAX_HTML_NESTING, html_nests_deeper_than};
pub use sandbox::{Sandbox, SandboxError, SandboxLimits};

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
