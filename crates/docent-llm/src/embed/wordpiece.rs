//! Token byte ranges of a BERT WordPiece tokenizer, fast on ASCII text.
//!
//! Chunking sizes slices of every section from its tokens' byte ranges, so
//! it tokenizes all ingested text once. Measured on the PostgreSQL manual,
//! `tokenizers`' general pipeline (a normalized copy of the text with
//! per-byte alignments, then offsets mapped back) was nearly all of
//! chunking's time, though the text is ASCII and BERT's steps are simple
//! there: split at whitespace, isolate each punctuation mark, lowercase, and
//! cut each word greedily into the longest vocabulary pieces. This does those
//! steps in place for runs of printable ASCII and hands any other run between
//! ASCII whitespace (accents, CJK, control characters) to the tokenizer
//! itself. Both BERT steps before the vocabulary are per character, so a run
//! tokenized alone gives the same tokens as inside its text. A property test
//! checks the ranges against the tokenizer's own offsets.

use std::collections::HashSet;
use std::ops::Range;

use tokenizers::Tokenizer;
use tokenizers::models::ModelWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;

pub(crate) struct FastWordPiece {
    /// Pieces that start a word, and the rest of the pieces without their
    /// continuation prefix (`##`).
    starts: HashSet<Box<str>>,
    continues: HashSet<Box<str>>,
    lowercase: bool,
    max_word_chars: usize,
    /// Added tokens (`[CLS]`…) are matched in raw text before anything else;
    /// a text that holds one goes to the tokenizer whole.
    added: Vec<String>,
}

impl FastWordPiece {
    /// `None` unless the tokenizer is exactly BERT's: a `BertNormalizer`, the
    /// `BertPreTokenizer` and a WordPiece model, with added tokens matched on
    /// raw text.
    pub(crate) fn new(tokenizer: &Tokenizer) -> Option<Self> {
        let Some(NormalizerWrapper::BertNormalizer(normalizer)) = tokenizer.get_normalizer() else {
            return None;
        };
        let Some(PreTokenizerWrapper::BertPreTokenizer(_)) = tokenizer.get_pre_tokenizer() else {
            return None;
        };
        let ModelWrapper::WordPiece(model) = tokenizer.get_model() else {
            return None;
        };
        let added = tokenizer.get_added_tokens_decoder();
        if added.values().any(|t| t.normalized) {
            return None;
        }
        let prefix = &model.continuing_subword_prefix;
        if prefix.is_empty() {
            return None;
        }
        let mut starts = HashSet::new();
        let mut continues = HashSet::new();
        for piece in tokenizers::Model::get_vocab(model).into_keys() {
            match piece.strip_prefix(prefix.as_str()) {
                Some(rest) => continues.insert(rest.into()),
                _ => starts.insert(piece.into_boxed_str()),
            };
        }
        Some(Self {
            starts,
            continues,
            lowercase: normalizer.lowercase,
            max_word_chars: model.max_input_chars_per_word,
            added: added.into_values().map(|t| t.content).collect(),
        })
    }

    /// The byte range in `text` of every token, as `Tokenizer::encode(text,
    /// false)` reports them; `None` if the tokenizer fails.
    pub(crate) fn spans(&self, tokenizer: &Tokenizer, text: &str) -> Option<Vec<Range<usize>>> {
        if self.added.iter().any(|a| text.contains(a.as_str())) {
            return slow(tokenizer, text, 0, Vec::new());
        }
        let mut out = Vec::with_capacity(text.len() / 4);
        let mut word = String::new();
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
                at += 1;
                continue;
            }
            let end = bytes[at..]
                .iter()
                .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .map_or(bytes.len(), |n| at + n);
            let run = &bytes[at..end];
            if run.iter().all(|b| (0x21..=0x7e).contains(b)) {
                self.ascii_run(run, at, &mut word, &mut out);
            } else {
                out = slow(tokenizer, &text[at..end], at, out)?;
            }
            at = end;
        }
        Some(out)
    }

    /// A run of printable ASCII: letters and digits make words, every other
    /// character is a word of its own.
    fn ascii_run(&self, run: &[u8], base: usize, word: &mut String, out: &mut Vec<Range<usize>>) {
        let mut at = 0;
        while at < run.len() {
            let end = if run[at].is_ascii_alphanumeric() {
                run[at..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(run.len(), |n| at + n)
            } else {
                at + 1
            };
            word.clear();
            word.extend(run[at..end].iter().map(|&b| {
                if self.lowercase {
                    b.to_ascii_lowercase() as char
                } else {
                    b as char
                }
            }));
            self.word_pieces(word, base + at, out);
            at = end;
        }
    }

    /// WordPiece: the longest vocabulary piece from the left, again and
    /// again; a word that cannot be cut so is one unknown token.
    fn word_pieces(&self, word: &str, base: usize, out: &mut Vec<Range<usize>>) {
        let first = out.len();
        if word.len() <= self.max_word_chars {
            let mut start = 0;
            while start < word.len() {
                let vocab = if start == 0 {
                    &self.starts
                } else {
                    &self.continues
                };
                let Some(end) = (start + 1..=word.len())
                    .rev()
                    .find(|&end| vocab.contains(&word[start..end]))
                else {
                    break;
                };
                out.push(base + start..base + end);
                start = end;
            }
            if start == word.len() {
                return;
            }
        }
        out.truncate(first);
        out.push(base..base + word.len());
    }
}

/// The tokenizer's own offsets for `text`, shifted by `base`, appended to `out`.
fn slow(
    tokenizer: &Tokenizer,
    text: &str,
    base: usize,
    mut out: Vec<Range<usize>>,
) -> Option<Vec<Range<usize>>> {
    let encoding = tokenizer.encode(text, false).ok()?;
    out.extend(
        encoding
            .get_offsets()
            .iter()
            .map(|&(s, e)| base + s..base + e),
    );
    Some(out)
}
