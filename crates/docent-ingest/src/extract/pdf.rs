//! PDF text by page, through `pdf-extract` (on lopdf). It can panic on
//! malformed files; [`super::extract`] catches that. Running headers and
//! footers (a title, a chapter name, "Page 3 of 40") repeat on most pages and
//! are not content: they are dropped before sections are built.

use std::collections::HashMap;

use super::{Builder, ExtractError, Extracted, Limits};

pub(super) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| {
        let message = e.to_string();
        if message.to_ascii_lowercase().contains("decrypt")
            || message.to_ascii_lowercase().contains("password")
        {
            ExtractError::Encrypted
        } else {
            ExtractError::Corrupt("pdf", message)
        }
    })?;
    let pages = without_running_lines(&pages);
    let mut b = Builder::new(limits);
    for (i, page) in pages.iter().enumerate() {
        b.start_section(None, Some(i as u32 + 1));
        b.push_text(page)?;
    }
    b.finish(None)
}

/// Lines at the top or bottom of a page that are looked at as candidates.
const EDGE_LINES: usize = 3;

/// The pages without their running headers and footers: lines among the
/// first or last few of a page that recur at a page edge on at least half
/// the pages (and at least three) — word for word, or with digits ignored
/// when they name a page ("Handbook, page 7") — and bare page numbers there.
/// Body lines that merely share a pattern ("Section 3 starts here") stay.
fn without_running_lines(pages: &[String]) -> Vec<String> {
    let edges = |page: &str| -> Vec<usize> {
        let lines: Vec<&str> = page.lines().collect();
        let filled: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].trim().is_empty())
            .collect();
        let mut at: Vec<usize> = filled.iter().take(EDGE_LINES).copied().collect();
        at.extend(filled.iter().rev().take(EDGE_LINES));
        at.sort_unstable();
        at.dedup();
        at
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for page in pages {
        let lines: Vec<&str> = page.lines().collect();
        let mut on_page: Vec<String> = edges(page).iter().map(|&i| shape(lines[i])).collect();
        on_page.sort_unstable();
        on_page.dedup();
        for key in on_page {
            *seen.entry(key).or_default() += 1;
        }
    }
    let threshold = (pages.len() / 2).max(3);
    pages
        .iter()
        .map(|page| {
            let lines: Vec<&str> = page.lines().collect();
            let drop: Vec<usize> = edges(page)
                .into_iter()
                .filter(|&i| {
                    let key = shape(lines[i]);
                    page_number(lines[i]) || seen.get(&key).is_some_and(|n| *n >= threshold)
                })
                .collect();
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// A line with spaces collapsed, and its digits replaced when it names a
/// page, so "Handbook, page 3" and "Handbook, page 4" are one header.
fn shape(line: &str) -> String {
    let names_page = line.to_lowercase().split_whitespace().any(|w| w == "page");
    if !names_page {
        return line.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let mut out = String::new();
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().map(|c| {
            if c.is_ascii_digit() {
                '#'
            } else {
                c.to_ascii_lowercase()
            }
        }));
    }
    out
}

/// "12", "- 12 -", "Page 12", "12 / 40", "Page 12 of 40".
fn page_number(line: &str) -> bool {
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| c == '-' || c == '|')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    !words.is_empty()
        && words.iter().any(|w| w.chars().all(|c| c.is_ascii_digit()))
        && words.iter().all(|w| {
            w.chars().all(|c| c.is_ascii_digit()) || matches!(w.as_str(), "page" | "of" | "/")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_headers_footers_and_page_numbers_go() {
        let pages: Vec<String> = (1..=6)
            .map(|n| {
                format!(
                    "Acme Handbook — Chapter 2\n\nSection {n} starts here.\nIt says something {n}.\n\nConfidential\nPage {n} of 6"
                )
            })
            .collect();
        let cleaned = without_running_lines(&pages);
        for (i, page) in cleaned.iter().enumerate() {
            let n = i + 1;
            assert!(!page.contains("Acme Handbook"), "{page}");
            assert!(!page.contains("Confidential"), "{page}");
            assert!(!page.contains("Page"), "{page}");
            assert!(
                page.contains(&format!("Section {n} starts here.")),
                "{page}"
            );
            assert!(page.contains(&format!("It says something {n}.")), "{page}");
        }
        // Two pages are too few to call anything a running header.
        let two = without_running_lines(&pages[..2]);
        assert!(two[0].contains("Acme Handbook"));
        assert!(page_number("- 12 -") && page_number("12 / 40") && !page_number("12 apples"));
    }
}
