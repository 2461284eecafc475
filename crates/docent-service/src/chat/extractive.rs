//! The answer when no language model is configured: the sentences of the best
//! passages that share the most words with the question, each cited, and
//! introduced as quotations so nobody mistakes them for a composed answer.

use docent_core::domain::Citation;

/// Passages quoted at most.
const QUOTED: usize = 3;

pub(crate) fn answer(question: &str, passages: &[Citation], texts: &[String]) -> String {
    let terms: Vec<String> = words(question).filter(|w| w.chars().count() >= 3).collect();
    let mut quotes = Vec::new();
    for (c, text) in passages.iter().zip(texts).take(QUOTED) {
        let best = sentences(text)
            .into_iter()
            .map(|s| (words(s).filter(|w| terms.contains(w)).count(), s))
            .max_by_key(|(score, s)| (*score, std::cmp::Reverse(s.len())));
        if let Some((_, sentence)) = best {
            quotes.push(format!("\"{}\" [{}]", sentence.trim(), c.n));
        }
    }
    format!("From the knowledge base: {}", quotes.join(" "))
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Sentences (or lines), without empty ones; long ones cut at 400 characters.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let end_of_sentence = matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if end_of_sentence || b == b'\n' {
            let s = text[start..=i].trim();
            if s.chars().any(char::is_alphanumeric) {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let tail = text[start..].trim();
    if tail.chars().any(char::is_alphanumeric) {
        out.push(tail);
    }
    out.into_iter()
        .map(|s| match s.char_indices().nth(400) {
            Some((cut, _)) => &s[..cut],
            None => s,
        })
        .collect()
}
