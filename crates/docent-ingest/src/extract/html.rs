//! HTML main content with `scraper`: the `<main>` (or `<article>`, or
//! `[role=main]`, else `<body>`) without navigation, scripts, styles, forms and
//! other chrome; headings start sections; the title comes from `<title>`, else
//! the first `<h1>`.

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use super::{Builder, ExtractError, Extracted, Limits};

/// Elements that are never content.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg", "iframe",
    "template", "button", "select", "textarea", "object", "canvas", "dialog", "head",
];

/// Elements that end a line or paragraph.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "blockquote",
    "pre",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
    "br",
];

pub(super) fn extract(html: &str, limits: &Limits) -> Result<Extracted, ExtractError> {
    let doc = Html::parse_document(html);
    let root = pick_root(&doc);
    let mut b = Builder::new(limits);
    let mut first_h1 = None;
    walk(*root, &mut b, &mut first_h1)?;
    let title = select_text(&doc, "title")
        .filter(|t| !t.is_empty())
        .or(first_h1);
    b.finish(title)
}

fn pick_root(doc: &Html) -> ElementRef<'_> {
    for selector in ["main", "article", "[role=main]", "body"] {
        if let Some(el) = Selector::parse(selector)
            .ok()
            .and_then(|s| doc.select(&s).next())
        {
            return el;
        }
    }
    doc.root_element()
}

fn select_text(doc: &Html, selector: &str) -> Option<String> {
    let selector = Selector::parse(selector).ok()?;
    let el = doc.select(&selector).next()?;
    Some(super::collapse_spaces(&el.text().collect::<String>()))
}

fn walk(
    node: NodeRef<'_, Node>,
    b: &mut Builder,
    first_h1: &mut Option<String>,
) -> Result<(), ExtractError> {
    for child in node.children() {
        match child.value() {
            Node::Text(text) => {
                let inside_pre = child
                    .ancestors()
                    .any(|a| a.value().as_element().is_some_and(|e| e.name() == "pre"));
                if inside_pre {
                    b.push_text(text)?;
                } else {
                    b.push_inline(text)?;
                }
            }
            Node::Element(el) => {
                let name = el.name();
                if SKIP.contains(&name)
                    || el.attr("hidden").is_some()
                    || el.attr("aria-hidden") == Some("true")
                {
                    continue;
                }
                if matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                    let heading = ElementRef::wrap(child)
                        .map(|e| super::collapse_spaces(&e.text().collect::<String>()))
                        .unwrap_or_default();
                    if name == "h1" && first_h1.is_none() && !heading.is_empty() {
                        *first_h1 = Some(heading.clone());
                    }
                    b.start_section((!heading.is_empty()).then_some(heading), None);
                    continue;
                }
                let block = BLOCK.contains(&name);
                if block {
                    b.line_break();
                }
                if matches!(name, "td" | "th") {
                    b.push_inline(" | ")?;
                }
                walk(child, b, first_h1)?;
                if matches!(name, "p" | "pre" | "blockquote" | "table" | "ul" | "ol") {
                    b.paragraph_break();
                } else if block {
                    b.line_break();
                }
            }
            _ => {}
        }
    }
    Ok(())
}
