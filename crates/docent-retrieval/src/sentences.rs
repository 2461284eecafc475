//! Sentences of answers and passages: the unit extractive answers quote,
//! citations are attributed to and grounding is checked on. The splitter is
//! deliberately simple (end punctuation followed by white space, or a line
//! break): what it must guarantee is that a piece is a whole sentence, never
//! a cut fragment, and that it finds the same boundaries in a growing stream
//! as in the finished text.

/// Sentences (or lines) of `text`, trimmed, without empty ones.
pub fn split(text: &str) -> Vec<&str> {
    spans(text).into_iter().map(|(s, e)| &text[s..e]).collect()
}

/// Byte ranges of the sentences of `text`, trimmed, without empty ones.
pub fn spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut push = |from: usize, to: usize| {
        let piece = &text[from..to];
        let lead = piece.len() - piece.trim_start().len();
        let trimmed = piece.trim();
        if trimmed.chars().any(char::is_alphanumeric) {
            out.push((from + lead, from + lead + trimmed.len()));
        }
    };
    for (i, &b) in bytes.iter().enumerate() {
        let end_of_sentence = matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if end_of_sentence || b == b'\n' {
            push(start, i + 1);
            start = i + 1;
        }
    }
    push(start, text.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_end_punctuation_and_lines() {
        assert_eq!(
            split("Use VACUUM. It reclaims space!\nSee also 1.5 below?  ok"),
            vec![
                "Use VACUUM.",
                "It reclaims space!",
                "See also 1.5 below?",
                "ok"
            ]
        );
        assert_eq!(split("  \n . \n"), Vec::<&str>::new());
        let text = " One.  Two ";
        let s = spans(text);
        assert_eq!(&text[s[0].0..s[0].1], "One.");
        assert_eq!(&text[s[1].0..s[1].1], "Two");
    }
}
