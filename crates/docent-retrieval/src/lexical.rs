//! Which of a question's words a passage contains: the absolute half of
//! keyword relevance. BM25 orders passages well but its scale depends on the
//! query and the corpus, so "the best BM25 hit" may still be unrelated; the
//! share of the question's content words found in the passage says how much
//! of the question it speaks to, on the same scale for every query.
//!
//! Words are lower-cased, English stop words dropped and the rest stemmed
//! with Snowball (the stemmer tantivy uses), so "indexes" meets "index".

use std::collections::HashSet;

use rust_stemmers::{Algorithm, Stemmer};

/// Function words that say nothing about what a question is about, and the
/// frames of support questions ("how do I get …", "how long does … take"). A short fixed list
/// for English, the language of the stemmer; other languages keep every word.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "get",
    "got",
    "make",
    "use",
    "using",
    "want",
    "need",
    "way",
    "long",
    "many",
    "much",
    "often",
    "take",
    "takes",
    "tell",
    "know",
    "please",
    "possible",
    "able",
    "anyone",
    "anything",
    "something",
    "thing",
    "things",
];

/// The stemmed content words of a text.
pub struct Terms {
    stemmer: Stemmer,
}

impl Default for Terms {
    fn default() -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
        }
    }
}

impl Terms {
    pub fn of(&self, text: &str) -> HashSet<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .filter(|w| !STOP_WORDS.contains(&w.as_str()))
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }

    /// The share of `question`'s terms found in `text`, in [0, 1]; 0 for a
    /// question of stop words only.
    pub fn coverage(&self, question: &HashSet<String>, text: &str) -> f32 {
        if question.is_empty() {
            return 0.0;
        }
        let found = self.of(text);
        question.iter().filter(|t| found.contains(*t)).count() as f32 / question.len() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_drops_stop_words() {
        let t = Terms::default();
        let q = t.of("How do I rebuild the indexes?");
        assert_eq!(
            q,
            HashSet::from(["rebuild".to_string(), "index".to_string()])
        );
        assert_eq!(t.coverage(&q, "REINDEX rebuilds an index."), 1.0);
        assert_eq!(t.coverage(&q, "An index speeds up reads."), 0.5);
        assert_eq!(t.coverage(&q, "Nothing related."), 0.0);
        assert_eq!(t.coverage(&t.of("how do I"), "how do I"), 0.0);
    }
}
