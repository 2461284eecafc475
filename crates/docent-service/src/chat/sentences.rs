//! Sentences of answers and passages: the unit extractive answers quote and
//! citations are attributed to (split as [`docent_retrieval::sentences`]
//! does, so grounding checks the same sentences).

use docent_retrieval::lexical::Terms;

/// Longest sentence quoted whole; longer ones are not quoted at all.
const MAX_QUOTE_CHARS: usize = 500;

pub(crate) use docent_retrieval::sentences::split;

/// Whether a piece of a passage reads as a whole sentence: it starts with a
/// capital, a digit or a quote, ends with end punctuation, has a few words
/// and is not overly long. Code lines, table rows and pieces cut at a chunk
/// boundary fail it.
pub(crate) fn is_whole(sentence: &str) -> bool {
    let first = sentence.chars().next();
    let last = sentence.chars().last();
    first.is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || c == '"' || c == '“')
        && last.is_some_and(|c| matches!(c, '.' | '!' | '?'))
        && sentence.split_whitespace().count() >= 4
        && sentence.chars().count() <= MAX_QUOTE_CHARS
}

/// The passage (1-based, in `texts` order) whose words best cover the
/// sentence's, when any covers at least `min` of them.
pub(crate) fn best_source(
    terms: &Terms,
    sentence: &str,
    texts: &[String],
    min: f32,
) -> Option<u32> {
    let wanted = terms.of(sentence);
    if wanted.is_empty() {
        return None;
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| (i, terms.coverage(&wanted, t)))
        .filter(|(_, c)| *c >= min)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i as u32 + 1)
}

/// An answer written without `[n]` markers, with a marker after each
/// sentence that a passage supports (most of its words are in the passage),
/// and the passages so cited in order of first use.
pub(crate) fn attribute(terms: &Terms, answer: &str, texts: &[String]) -> (String, Vec<u32>) {
    let mut out = String::with_capacity(answer.len() + 16);
    let mut used = Vec::new();
    let mut rest = answer;
    for sentence in split(answer) {
        let Some(at) = rest.find(sentence) else {
            continue;
        };
        let end = at + sentence.len();
        out.push_str(&rest[..end]);
        if let Some(n) = best_source(terms, sentence, texts, 0.6) {
            out.push_str(&format!(" [{n}]"));
            if !used.contains(&n) {
                used.push(n);
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    (out, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_sentences_only() {
        assert!(is_whole("Refunds are accepted within 30 days of purchase."));
        assert!(!is_whole("CREATE INDEX mytable_cat_"));
        assert!(!is_whole("index_name ON table_name (column);"));
        assert!(!is_whole("within 30 days of purchase."));
        assert!(!is_whole("Yes."));
    }

    #[test]
    fn attributes_sentences_to_the_passage_that_supports_them() {
        let texts = vec![
            "Shipping takes five business days within Europe.".to_string(),
            "Refunds are accepted within 30 days of purchase with a receipt.".to_string(),
        ];
        let t = Terms::default();
        let (text, used) = attribute(
            &t,
            "You can get a refund within 30 days of purchase. Have a nice day!",
            &texts,
        );
        assert_eq!(
            text,
            "You can get a refund within 30 days of purchase. [2] Have a nice day!"
        );
        assert_eq!(used, vec![2]);
        assert_eq!(
            attribute(&t, "Nothing to see.", &texts).1,
            Vec::<u32>::new()
        );
    }
}
