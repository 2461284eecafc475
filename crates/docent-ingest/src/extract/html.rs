//! HTML main content with `scraper`: the `<main>` (or `<article>`, or
//! `[role=main]`, else `<body>`) without navigation, scripts, styles, forms and
//! other chrome (by element, ARIA role, or a class/id that names it); headings start sections; the title comes from `<title>`, else
//! the first `<h1>`.

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use super::{Builder, ExtractError, Extracted, Limits};

/// Elements that are never content.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg", "iframe",
    "template", "button", "select", "textarea", "object", "canvas", "dialog", "head",
];

/// `class`/`id` words of page chrome rather than content: navigation bars
/// ("Prev | Up | Next"), menus, breadcrumbs, page headers and footers, tables
/// of contents. Matched per word of the attribute (split at spaces, `-`, `_`),
/// as readability-style extractors do; a word starting with `nav` counts too
/// (`navheader`, `navbar`). A small list rather than a readability crate: the
/// walker already skips chrome elements, and this is the same decision for
/// sites that build chrome from `<div>`s.
const CHROME_WORDS: &[&str] = &[
    "breadcrumb",
    "breadcrumbs",
    "footer",
    "header",
    "masthead",
    "menu",
    "pager",
    "pagination",
    "sidebar",
    "skiplink",
    "toc",
];

/// ARIA roles of page chrome.
const CHROME_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
];

fn is_chrome(el: &scraper::node::Element) -> bool {
    if el.attr("role").is_some_and(|r| CHROME_ROLES.contains(&r)) {
        return true;
    }
    let named = |attr: &str| {
        el.attr(attr).is_some_and(|v| {
            v.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
                .map(str::to_ascii_lowercase)
                .any(|w| w.starts_with("nav") || CHROME_WORDS.contains(&w.as_str()))
        })
    };
    named("class") || named("id")
}

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
    if crate::html_nests_deeper_than(html.as_bytes(), crate::MAX_HTML_NESTING) {
        return Err(ExtractError::Corrupt(
            "html",
            format!(
                "its elements nest more than {} levels deep",
                crate::MAX_HTML_NESTING
            ),
        ));
    }
    let doc = Html::parse_document(html);
    let root = pick_root(&doc);
    let mut b = Builder::new(limits);
    let mut walk = Walk {
        b: &mut b,
        first_h1: None,
        max_depth: limits.max_html_depth,
    };
    walk.node(*root, 0, false)?;
    let first_h1 = walk.first_h1.take();
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

/// Walks the tree by recursion down to `max_html_depth`; deeper subtrees
/// (100,000 nested `<div>`s in a hostile page) are read as plain text with
/// scraper's iterative traversal, so the stack stays bounded.
struct Walk<'b> {
    b: &'b mut Builder,
    first_h1: Option<String>,
    max_depth: usize,
}

impl Walk<'_> {
    fn node(
        &mut self,
        node: NodeRef<'_, Node>,
        depth: usize,
        in_pre: bool,
    ) -> Result<(), ExtractError> {
        for child in node.children() {
            match child.value() {
                Node::Text(text) if in_pre => self.b.push_text(text)?,
                Node::Text(text) => self.b.push_inline(text)?,
                Node::Element(el) => {
                    let name = el.name();
                    if SKIP.contains(&name)
                        || is_chrome(el)
                        || el.attr("hidden").is_some()
                        || el.attr("aria-hidden") == Some("true")
                    {
                        continue;
                    }
                    if matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                        let heading = ElementRef::wrap(child)
                            .map(|e| super::collapse_spaces(&e.text().collect::<String>()))
                            .unwrap_or_default();
                        if name == "h1" && self.first_h1.is_none() && !heading.is_empty() {
                            self.first_h1 = Some(heading.clone());
                        }
                        self.b
                            .start_section((!heading.is_empty()).then_some(heading), None);
                        continue;
                    }
                    let block = BLOCK.contains(&name);
                    if block {
                        self.b.line_break();
                    }
                    if matches!(name, "td" | "th") {
                        self.b.push_inline(" | ")?;
                    }
                    if depth >= self.max_depth {
                        self.flat(child)?;
                    } else {
                        self.node(child, depth + 1, in_pre || name == "pre")?;
                    }
                    if matches!(name, "p" | "pre" | "blockquote" | "table" | "ul" | "ol") {
                        self.b.paragraph_break();
                    } else if block {
                        self.b.line_break();
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The text of a subtree too deep to walk, in document order.
    fn flat(&mut self, node: NodeRef<'_, Node>) -> Result<(), ExtractError> {
        for descendant in node.descendants() {
            if let Node::Text(text) = descendant.value() {
                self.b.push_inline(text)?;
            }
        }
        Ok(())
    }
}
