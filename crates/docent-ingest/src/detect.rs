//! Type detection from content first, the file name second: a PNG renamed
//! `notes.pdf` is refused, and a text file's extension only chooses among the
//! text formats.

use crate::SourceKind;

/// The source kind of `bytes`, or `None` when Docent cannot read it.
pub fn detect(bytes: &[u8], filename: Option<&str>) -> Option<SourceKind> {
    if bytes.starts_with(b"%PDF-") {
        return Some(SourceKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        // A DOCX is a ZIP whose entries include `word/document.xml`; entry
        // names are stored uncompressed in the local headers and directory.
        return contains(bytes, b"word/document.xml").then_some(SourceKind::Docx);
    }
    let text = decode_text(bytes)?;
    // A strong signature in the content (an HTML document, valid JSON) wins
    // over the name; otherwise the extension chooses among the text formats.
    if let Some(kind) = strong_signature(text) {
        return Some(kind);
    }
    let extension = filename
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    Some(match extension.as_deref() {
        Some("md" | "markdown" | "mdx") => SourceKind::Markdown,
        Some("csv") => SourceKind::Csv,
        Some("json") => SourceKind::Json,
        Some("html" | "htm" | "xhtml") => SourceKind::Html,
        Some("txt" | "text") => SourceKind::Text,
        _ if looks_like_markdown(text) => SourceKind::Markdown,
        _ => SourceKind::Text,
    })
}

/// UTF-8 text (a BOM allowed) without NUL bytes; binary formats we do not read
/// (images, archives, executables) fail here.
fn decode_text(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).ok()?;
    (!text.contains('\0')).then_some(text)
}

fn strong_signature(text: &str) -> Option<SourceKind> {
    let head: String = text
        .trim_start()
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    if (head.starts_with('{') || head.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    {
        return Some(SourceKind::Json);
    }
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Some(SourceKind::Html);
    }
    None
}

fn looks_like_markdown(text: &str) -> bool {
    text.lines().take(200).any(|l| {
        let l = l.trim_start();
        l.starts_with("# ") || l.starts_with("## ") || l.starts_with("### ") || l.starts_with("```")
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_beats_the_name() {
        assert_eq!(
            detect(b"%PDF-1.7 ...", Some("x.txt")),
            Some(SourceKind::Pdf)
        );
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0", Some("x.pdf")), None);
        assert_eq!(detect(b"PK\x03\x04 just a zip", Some("x.docx")), None);
        assert_eq!(
            detect(b"PK\x03\x04....word/document.xml", None),
            Some(SourceKind::Docx)
        );
    }

    #[test]
    fn text_formats() {
        assert_eq!(detect(b"a,b\n1,2\n", Some("t.CSV")), Some(SourceKind::Csv));
        assert_eq!(detect(b"{\"a\": 1}", None), Some(SourceKind::Json));
        assert_eq!(detect(b"{not json", None), Some(SourceKind::Text));
        assert_eq!(
            detect(b"<!DOCTYPE html><html></html>", None),
            Some(SourceKind::Html)
        );
        assert_eq!(detect(b"# Title\n\ntext", None), Some(SourceKind::Markdown));
        assert_eq!(detect(b"plain words", None), Some(SourceKind::Text));
        assert_eq!(
            detect(b"\xEF\xBB\xBFhello", Some("a.txt")),
            Some(SourceKind::Text)
        );
        assert_eq!(detect(b"bad \xff utf8", Some("a.txt")), None);
    }
}
