//! Golden sets: JSON lines of questions with the documents that answer them.
//!
//! ```json
//! {"question": "How many days do I have to get a refund?", "documents": ["refunds.md"]}
//! {"question": "Who won the 1998 world cup?", "answerable": false}
//! ```
//!
//! `documents` are patterns matched against a result's document title (an
//! uploaded file's name) and its `source_url`; `*` matches any run of
//! characters, so `*/sql-createindex.html` names a crawled page.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub question: String,
    #[serde(default)]
    pub documents: Vec<String>,
    /// `false` for a question the knowledge base does not answer: the bot
    /// should decline it.
    #[serde(default = "yes")]
    pub answerable: bool,
}

fn yes() -> bool {
    true
}

pub fn load(path: &Path) -> anyhow::Result<Vec<Question>> {
    json_lines(path, "golden question", |q: &Question| {
        if q.answerable && q.documents.is_empty() {
            Err("an answerable question names the documents that answer it")
        } else {
            Ok(())
        }
    })
}

/// The records of a JSON-lines file (blank lines and `//` comments skipped),
/// each passing `check`; a bad line is refused with its number, an empty
/// file too.
pub fn json_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    check: impl Fn(&T) -> Result<(), &'static str>,
) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        let record: T =
            serde_json::from_str(line).with_context(|| format!("{}: not a {what}", at()))?;
        if let Err(why) = check(&record) {
            anyhow::bail!("{}: {why}", at());
        }
        out.push(record);
    }
    anyhow::ensure!(!out.is_empty(), "{} holds no {what}", path.display());
    Ok(out)
}

impl Question {
    /// Whether a result known by these names (its title, source URL, file
    /// name) answers the question.
    pub fn accepts(&self, names: &[String]) -> bool {
        self.documents
            .iter()
            .any(|p| names.iter().any(|n| glob(p, n)))
    }
}

/// `*`-only glob, whole string.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_titles_urls_and_file_names() {
        let q = Question {
            question: "q".into(),
            documents: vec!["refunds.md".into(), "*/sql-*.html".into()],
            answerable: true,
        };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(q.accepts(&names(&["refunds.md"])));
        assert!(!q.accepts(&names(&["refunds.md.bak"])));
        assert!(q.accepts(&names(&[
            "Create index",
            "https://x.org/docs/sql-createindex.html"
        ])));
        assert!(q.accepts(&names(&["Refund policy", "refunds.md"])));
        assert!(!q.accepts(&names(&["Intro", "https://x.org/docs/intro.html"])));
        assert!(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxc") && glob("*", ""));
    }
}
