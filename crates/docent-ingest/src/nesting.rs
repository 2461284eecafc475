//! A linear pre-scan of HTML nesting. html5ever's tree builder walks its
//! stack of open elements for many start tags, so a page of 100,000 nested
//! `<div>`s costs minutes of CPU (measured: 20,000 levels 2.6 s, 100,000
//! over 60 s). Real pages nest a few dozen levels; a page deeper than the
//! limit is refused before it is parsed, by the extractor and the crawler.
//!
//! Hand-written: no crate estimates depth without building the tree.

/// Elements with no end tag, or whose end tag HTML lets authors omit: not
/// counted, so ordinary pages are never overestimated.
const UNCOUNTED: &[&[u8]] = &[
    b"area",
    b"base",
    b"br",
    b"col",
    b"embed",
    b"hr",
    b"img",
    b"input",
    b"link",
    b"meta",
    b"source",
    b"track",
    b"wbr",
    b"param",
    b"keygen",
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"tr",
    b"td",
    b"th",
    b"thead",
    b"tbody",
    b"tfoot",
    b"option",
    b"optgroup",
    b"rb",
    b"rt",
    b"rtc",
    b"rp",
    b"colgroup",
    b"caption",
    b"html",
    b"head",
    b"body",
];

/// Elements whose content is raw text, where `<` starts no tag.
const RAW_TEXT: &[&[u8]] = &[
    b"script",
    b"style",
    b"textarea",
    b"title",
    b"xmp",
    b"noscript",
];

/// Deepest nesting of HTML elements allowed before a page is refused.
pub const MAX_HTML_NESTING: usize = 1_000;

/// Whether the elements of `html` nest deeper than `max`, counting start
/// tags against end tags (an upper bound of the parsed tree's depth for
/// the elements counted).
pub fn html_nests_deeper_than(html: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(offset) = html[i..].iter().position(|&b| b == b'<') {
        let mut j = i + offset + 1;
        if html[j..].starts_with(b"!--") {
            i = find(html, j + 3, b"-->").map_or(html.len(), |k| k + 3);
            continue;
        }
        let closing = html.get(j) == Some(&b'/');
        j += usize::from(closing);
        let name_end = j + html[j..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        let name = html[j..name_end].to_ascii_lowercase();
        let tag_end = html[name_end..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(html.len(), |k| name_end + k);
        i = (tag_end + 1).min(html.len());
        if name.is_empty() || !name[0].is_ascii_alphabetic() {
            continue;
        }
        let self_closing = tag_end > 0 && html.get(tag_end - 1) == Some(&b'/');
        if !closing && RAW_TEXT.contains(&name.as_slice()) {
            let mut end_tag = b"</".to_vec();
            end_tag.extend_from_slice(&name);
            i = find_ignore_case(html, i, &end_tag).unwrap_or(html.len());
            continue;
        }
        if self_closing || UNCOUNTED.contains(&name.as_slice()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            if depth > max {
                return true;
            }
        }
    }
    false
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|k| from + k)
}

fn find_ignore_case(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|k| from + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_pages_are_caught_and_ordinary_ones_pass() {
        let deep = format!("{}x{}", "<div>".repeat(1_001), "</div>".repeat(1_001));
        assert!(html_nests_deeper_than(deep.as_bytes(), 1_000));
        let siblings = "<div><span>a</span></div>".repeat(50_000);
        assert!(!html_nests_deeper_than(siblings.as_bytes(), 1_000));
        // Omitted end tags, void elements, self-closing tags, comments and
        // scripts do not count.
        let loose = format!(
            "<ul>{}</ul><!-- {} --><script>{}</script>{}",
            "<li><p>item<br><img src=x>".repeat(5_000),
            "<div>".repeat(5_000),
            "if (a <div) {}".repeat(5_000),
            "<x-icon/>".repeat(5_000)
        );
        assert!(!html_nests_deeper_than(loose.as_bytes(), 1_000));
    }
}
