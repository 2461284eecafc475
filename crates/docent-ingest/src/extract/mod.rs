//! Extraction: source bytes → clean text in [`Section`]s that carry the page or
//! heading a citation can point to.

mod docx;
mod html;
mod markdown;
mod pdf;
mod structured;

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::SourceKind;

/// Clean text of one source.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    /// The source's own title (`<title>`, first `<h1>`, first `#`), if any.
    pub title: Option<String>,
    pub sections: Vec<Section>,
}

impl Extracted {
    /// All text, sections separated by blank lines.
    pub fn text(&self) -> String {
        self.sections
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// A run of text under one heading, or on one PDF page.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Section {
    pub text: String,
    /// 1-based PDF page.
    pub page: Option<u32>,
    /// The nearest heading above this text (HTML, Markdown, DOCX).
    pub heading: Option<String>,
}

/// Bounds on what one source may produce, so a decompression bomb or a
/// pathological file fails cleanly instead of exhausting memory.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most bytes of extracted text.
    pub max_text_bytes: usize,
    /// Most bytes a DOCX's XML parts may inflate to, all together; measured
    /// while streaming, before the document model is built (which takes
    /// about 17 times the XML's size in memory).
    pub max_docx_xml_bytes: u64,
    /// Most bytes all parts of a DOCX may inflate to (images included).
    pub max_docx_bytes: u64,
    /// Deepest element nesting walked in HTML; deeper content is read as
    /// plain text.
    pub max_html_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024 * 1024,
            max_docx_xml_bytes: 32 << 20,
            max_docx_bytes: 256 << 20,
            max_html_depth: 256,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExtractError {
    #[error("the {0} file is corrupt or unreadable: {1}")]
    Corrupt(&'static str, String),
    #[error("the PDF is encrypted and needs a password")]
    Encrypted,
    #[error("the file contains no extractable text")]
    Empty,
    #[error("the extracted text exceeds {0} bytes")]
    TooLarge(usize),
    #[error("the file expands to more than {0} MiB when unpacked")]
    ExpandsTooMuch(u64),
}

/// Extracts clean text. Never panics: a parser that panics on a hostile file
/// is caught and reported as a corrupt file.
pub fn extract(kind: SourceKind, bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let result = catch_unwind(AssertUnwindSafe(|| match kind {
        SourceKind::Pdf => pdf::extract(bytes, limits),
        SourceKind::Docx => docx::extract(bytes, limits),
        SourceKind::Html => html::extract(text_of(kind, bytes)?, limits),
        SourceKind::Markdown => markdown::extract(text_of(kind, bytes)?, limits),
        SourceKind::Text => {
            let mut b = Builder::new(limits);
            b.push_text(text_of(kind, bytes)?)?;
            b.finish(None)
        }
        SourceKind::Csv => structured::csv(text_of(kind, bytes)?, limits),
        SourceKind::Json => structured::json(text_of(kind, bytes)?, limits),
    }));
    match result {
        Ok(r) => r,
        Err(_) => Err(ExtractError::Corrupt(
            kind.as_str(),
            "the parser gave up on it".into(),
        )),
    }
}

fn text_of(kind: SourceKind, bytes: &[u8]) -> Result<&str, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes)
        .map_err(|e| ExtractError::Corrupt(kind.as_str(), format!("not UTF-8 text: {e}")))
}

/// Collects text into sections, normalising whitespace (runs of spaces and
/// tabs become one space, at most one blank line between paragraphs) and
/// enforcing [`Limits`].
pub(crate) struct Builder {
    sections: Vec<Section>,
    current: Section,
    bytes: usize,
    limit: usize,
    /// Pending separator: 0 none, 1 space, 2 newline, 3 blank line.
    pending: u8,
}

impl Builder {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            sections: Vec::new(),
            current: Section::default(),
            bytes: 0,
            limit: limits.max_text_bytes,
            pending: 0,
        }
    }

    /// Starts a new section (under a heading, or on a page).
    pub(crate) fn start_section(&mut self, heading: Option<String>, page: Option<u32>) {
        self.flush();
        self.current = Section {
            text: String::new(),
            page,
            heading,
        };
    }

    /// Appends inline text; whitespace in it collapses to single spaces.
    pub(crate) fn push_inline(&mut self, text: &str) -> Result<(), ExtractError> {
        for (i, word) in text.split([' ', '\t', '\n', '\r', '\u{a0}']).enumerate() {
            if i > 0 {
                self.pending = self.pending.max(1);
            }
            if !word.is_empty() {
                self.push_raw(word)?;
            }
        }
        Ok(())
    }

    /// Appends text whose line structure matters (plain text, code): lines are
    /// kept, blank-line runs shrink to one, trailing spaces go.
    pub(crate) fn push_text(&mut self, text: &str) -> Result<(), ExtractError> {
        let mut blank = false;
        for line in text.lines() {
            let line = line.trim_end();
            if line.trim().is_empty() {
                blank = true;
                continue;
            }
            self.pending = self.pending.max(if blank { 3 } else { 2 });
            blank = false;
            let inner = collapse_spaces(line);
            self.push_raw(&inner)?;
        }
        self.pending = self.pending.max(2);
        Ok(())
    }

    /// Ends a line (a table row, a list item).
    pub(crate) fn line_break(&mut self) {
        self.pending = self.pending.max(2);
    }

    /// Ends a paragraph.
    pub(crate) fn paragraph_break(&mut self) {
        self.pending = 3;
    }

    fn push_raw(&mut self, s: &str) -> Result<(), ExtractError> {
        if !self.current.text.is_empty() {
            match self.pending {
                1 => self.current.text.push(' '),
                2 => self.current.text.push('\n'),
                3 => self.current.text.push_str("\n\n"),
                _ => {}
            }
        }
        self.pending = 0;
        self.bytes += s.len() + 2;
        if self.bytes > self.limit {
            return Err(ExtractError::TooLarge(self.limit));
        }
        self.current.text.push_str(s);
        Ok(())
    }

    fn flush(&mut self) {
        let section = std::mem::take(&mut self.current);
        if !section.text.trim().is_empty() {
            self.sections.push(section);
        }
        self.pending = 0;
    }

    pub(crate) fn finish(mut self, title: Option<String>) -> Result<Extracted, ExtractError> {
        self.flush();
        if self.sections.is_empty() {
            return Err(ExtractError::Empty);
        }
        let title = title
            .map(|t| collapse_spaces(t.trim()))
            .filter(|t| !t.is_empty());
        Ok(Extracted {
            title,
            sections: self.sections,
        })
    }
}

/// Collapses runs of whitespace inside a line to one space, keeping leading
/// indentation out.
pub(crate) fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
