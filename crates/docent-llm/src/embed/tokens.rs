//! A token estimate for embedders whose tokenizer we do not have (the hashing
//! embedder, remote APIs). Word-piece and BPE vocabularies split English at
//! roughly one token per short word and per punctuation mark, and long words
//! into pieces of about four characters; this counts the same way, so chunks
//! sized with it fit the real model's window with margin.

use docent_core::embed::TokenCounter;

#[derive(Clone, Copy, Debug, Default)]
pub struct ApproxTokens;

impl TokenCounter for ApproxTokens {
    fn count(&self, text: &str) -> usize {
        let mut tokens = 0;
        self.each(text, |_| tokens += 1);
        tokens
    }

    fn spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        let mut spans = Vec::new();
        self.each(text, |span| spans.push(span));
        Some(spans)
    }
}

impl ApproxTokens {
    /// Calls `token` with the byte range of each token: every mark that is
    /// neither alphanumeric nor space, and each run of up to four
    /// alphanumeric characters of a word.
    fn each(&self, text: &str, mut token: impl FnMut(std::ops::Range<usize>)) {
        let mut word_start = None;
        let mut letters = 0usize;
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                if letters == 4 {
                    token(word_start.unwrap_or(i)..i);
                    word_start = None;
                    letters = 0;
                }
                word_start.get_or_insert(i);
                letters += 1;
            } else {
                if let Some(start) = word_start.take() {
                    token(start..i);
                }
                letters = 0;
                if !c.is_whitespace() {
                    token(i..i + c.len_utf8());
                }
            }
        }
        if let Some(start) = word_start {
            token(start..text.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_pieces_and_punctuation() {
        assert_eq!(ApproxTokens.count(""), 0);
        assert_eq!(ApproxTokens.count("a cat sat."), 4);
        assert_eq!(ApproxTokens.count("internationalization"), 5);
        assert_eq!(ApproxTokens.count("ça va"), 2);
    }

    #[test]
    fn spans_match_the_count_and_the_text() {
        let text = "internationalization, ça va? Yes: 42 cats.";
        let spans = ApproxTokens.spans(text).unwrap();
        assert_eq!(spans.len(), ApproxTokens.count(text));
        let pieces: Vec<&str> = spans.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(
            pieces,
            [
                "inte", "rnat", "iona", "liza", "tion", ",", "ça", "va", "?", "Yes", ":", "42",
                "cats", "."
            ]
        );
    }
}
