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
        let mut word = 0usize;
        for c in text.chars() {
            if c.is_alphanumeric() {
                word += 1;
            } else {
                tokens += word.div_ceil(4);
                word = 0;
                if !c.is_whitespace() {
                    tokens += 1;
                }
            }
        }
        tokens + word.div_ceil(4)
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
}
