//! Markdown with `pulldown-cmark`: headings start sections, the first `#`
//! heading is the title, markup is dropped and code blocks keep their lines.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use super::{Builder, ExtractError, Extracted, Limits};

pub(super) fn extract(text: &str, limits: &Limits) -> Result<Extracted, ExtractError> {
    let mut b = Builder::new(limits);
    let mut title = None;
    let mut heading: Option<(u8, String)> = None;
    let mut in_code = false;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                heading = Some((level as u8, String::new()))
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, h)) = heading.take() {
                    let h = super::collapse_spaces(&h);
                    if level == 1 && title.is_none() && !h.is_empty() {
                        title = Some(h.clone());
                    }
                    b.start_section((!h.is_empty()).then_some(h), None);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code = true;
                b.paragraph_break();
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                b.paragraph_break();
            }
            Event::Text(t) | Event::Code(t) => match &mut heading {
                Some((_, h)) => h.push_str(&t),
                None if in_code => b.push_text(&t)?,
                None => b.push_inline(&t)?,
            },
            Event::SoftBreak => match &mut heading {
                Some((_, h)) => h.push(' '),
                None => b.push_inline(" ")?,
            },
            Event::HardBreak => b.line_break(),
            Event::End(
                TagEnd::Paragraph | TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Table,
            ) => b.paragraph_break(),
            Event::End(TagEnd::Item | TagEnd::TableRow | TagEnd::TableHead) => b.line_break(),
            Event::End(TagEnd::TableCell) => b.push_inline(" | ")?,
            _ => {}
        }
    }
    b.finish(title)
}
