//! DOCX through `undoc`: paragraphs, headings (which start sections) and tables
//! (a row per line).

use undoc::model::Block;

use std::io::{Cursor, Read};

use super::{Builder, ExtractError, Extracted, Limits};

/// Most parts in one DOCX; real ones have a few dozen.
const MAX_PARTS: usize = 10_000;

pub(super) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    check_expansion(bytes, limits)?;
    let doc =
        undoc::parse_bytes(bytes).map_err(|e| ExtractError::Corrupt("docx", e.to_string()))?;
    let mut b = Builder::new(limits);
    let mut first_heading = None;
    for section in &doc.sections {
        for block in &section.content {
            match block {
                Block::Paragraph(p) if p.is_heading() => {
                    let heading = super::collapse_spaces(&p.plain_text());
                    if heading.is_empty() {
                        continue;
                    }
                    first_heading.get_or_insert_with(|| heading.clone());
                    b.start_section(Some(heading), None);
                }
                Block::Paragraph(p) => {
                    b.push_inline(&p.plain_text())?;
                    b.paragraph_break();
                }
                Block::Table(t) => {
                    b.push_text(&t.plain_text())?;
                    b.paragraph_break();
                }
                Block::Note { content, .. } => {
                    for p in content {
                        b.push_inline(&p.plain_text())?;
                        b.paragraph_break();
                    }
                }
                _ => {}
            }
        }
    }
    let title = doc
        .metadata
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .or(first_heading);
    b.finish(title)
}

/// Inflates every part into a sink, counting, and refuses the file once the
/// XML parts or all parts together pass their budget. Sizes declared in the
/// archive are not trusted: only bytes actually inflated count.
fn check_expansion(bytes: &[u8], limits: &Limits) -> Result<(), ExtractError> {
    let corrupt = |e: zip::result::ZipError| ExtractError::Corrupt("docx", e.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    if archive.len() > MAX_PARTS {
        return Err(ExtractError::Corrupt(
            "docx",
            format!("it has {} parts (at most {MAX_PARTS})", archive.len()),
        ));
    }
    let (mut xml, mut all) = (0u64, 0u64);
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(corrupt)?;
        let is_xml = {
            let name = entry.name().map_err(corrupt)?.to_ascii_lowercase();
            name.ends_with(".xml") || name.ends_with(".rels")
        };
        let budget = if is_xml {
            limits.max_docx_xml_bytes - xml
        } else {
            limits.max_docx_bytes - all
        }
        .min(limits.max_docx_bytes - all);
        let inflated = std::io::copy(&mut entry.take(budget + 1), &mut std::io::sink())
            .map_err(|e| ExtractError::Corrupt("docx", e.to_string()))?;
        all += inflated;
        if is_xml {
            xml += inflated;
        }
        if xml > limits.max_docx_xml_bytes {
            return Err(ExtractError::ExpandsTooMuch(
                limits.max_docx_xml_bytes >> 20,
            ));
        }
        if all > limits.max_docx_bytes {
            return Err(ExtractError::ExpandsTooMuch(limits.max_docx_bytes >> 20));
        }
    }
    Ok(())
}
