//! DOCX through `undoc`: paragraphs, headings (which start sections) and tables
//! (a row per line).

use undoc::model::Block;

use super::{Builder, ExtractError, Extracted, Limits};

pub(super) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
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
