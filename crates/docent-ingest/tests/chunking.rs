//! Chunking properties: nothing lost or reordered, limits respected, overlap
//! as configured, deterministic.

use docent_core::embed::TokenCounter;
use docent_ingest::{ChunkConfig, Extracted, Piece, Section, chunk};
use proptest::prelude::*;

/// One token per whitespace-separated word, like a crude word-piece model.
struct Words;

impl TokenCounter for Words {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        Some(
            text.split_whitespace()
                .map(|w| {
                    let start = w.as_ptr() as usize - text.as_ptr() as usize;
                    start..start + w.len()
                })
                .collect(),
        )
    }
}

/// The same counter without spans: chunking tokenizes every candidate.
struct WordsNoSpans;

impl TokenCounter for WordsNoSpans {
    fn count(&self, text: &str) -> usize {
        Words.count(text)
    }
}

fn doc(sections: Vec<String>) -> Extracted {
    Extracted {
        title: None,
        sections: sections
            .into_iter()
            .enumerate()
            .map(|(i, text)| Section {
                text,
                page: Some(i as u32 + 1),
                heading: Some(format!("h{i}")),
            })
            .collect(),
    }
}

fn check(doc: &Extracted, config: &ChunkConfig, chunks: &[Piece]) {
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.index as usize, i);
        let section = &doc.sections[c.section];
        // An exact slice of its section, with its metadata.
        assert_eq!(&section.text[c.offset..c.offset + c.text.len()], c.text);
        assert_eq!(c.page, section.page);
        assert_eq!(c.heading, section.heading);
        assert!(
            c.token_count as usize <= config.max_tokens,
            "{} > {}",
            c.token_count,
            config.max_tokens
        );
        assert!(!c.text.trim().is_empty());
    }
    for pair in chunks.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        // In order: sections ascending, offsets ascending within a section.
        assert!((a.section, a.offset) < (b.section, b.offset));
        if a.section == b.section && b.offset < a.offset + a.text.len() {
            let shared = &doc.sections[a.section].text[b.offset..a.offset + a.text.len()];
            assert!(
                Words.count(shared) <= config.overlap_tokens,
                "overlap `{shared}` too long"
            );
        }
    }
    // Nothing lost: every non-space byte of every section is inside some chunk.
    for (s, section) in doc.sections.iter().enumerate() {
        let mut covered = vec![false; section.text.len()];
        for c in chunks.iter().filter(|c| c.section == s) {
            covered[c.offset..c.offset + c.text.len()]
                .iter_mut()
                .for_each(|x| *x = true);
        }
        for (i, byte) in section.text.bytes().enumerate() {
            assert!(
                covered[i] || byte.is_ascii_whitespace(),
                "byte {i} of section {s} lost"
            );
        }
    }
}

fn text_strategy() -> impl Strategy<Value = String> {
    let word = "[a-zA-Zéß0-9]{1,12}[.,!?]?";
    let sep = prop_oneof![
        Just(" "),
        Just(" "),
        Just(" "),
        Just("\n"),
        Just("\n\n"),
        Just(". ")
    ];
    prop::collection::vec((word, sep), 1..400).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, s)| format!("{w}{s}"))
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunks_preserve_text_and_limits(
        sections in prop::collection::vec(text_strategy(), 1..4),
        max in 1usize..80,
        overlap_pct in 0usize..50,
    ) {
        let doc = doc(sections);
        let config = ChunkConfig { max_tokens: max, overlap_tokens: max * overlap_pct / 100 };
        let chunks = chunk(&doc, &config, &Words);
        check(&doc, &config, &chunks);
        prop_assert_eq!(&chunks, &chunk(&doc, &config, &Words));
        // Counting slices from the section's spans cuts exactly where
        // tokenizing each candidate does.
        prop_assert_eq!(&chunks, &chunk(&doc, &config, &WordsNoSpans));
    }
}

#[test]
fn overlap_is_applied_when_configured() {
    let text: String = (0..600).map(|i| format!("word{i} ")).collect();
    let doc = doc(vec![text]);
    let with = ChunkConfig {
        max_tokens: 50,
        overlap_tokens: 10,
    };
    let chunks = chunk(&doc, &with, &Words);
    check(&doc, &with, &chunks);
    let overlapping = chunks
        .windows(2)
        .filter(|p| p[1].offset < p[0].offset + p[0].text.len())
        .count();
    assert_eq!(
        overlapping,
        chunks.len() - 1,
        "every neighbour pair should share words"
    );
    let without = ChunkConfig {
        max_tokens: 50,
        overlap_tokens: 0,
    };
    let plain = chunk(&doc, &without, &Words);
    assert!(
        plain
            .windows(2)
            .all(|p| p[1].offset >= p[0].offset + p[0].text.len())
    );
    assert!(chunks.len() > plain.len());
}

#[test]
fn sentences_are_not_split_when_they_fit() {
    let text =
        "The first sentence is here. The second one follows it. A third closes the paragraph.";
    let doc = doc(vec![text.to_string()]);
    let chunks = chunk(
        &doc,
        &ChunkConfig {
            max_tokens: 11,
            overlap_tokens: 0,
        },
        &Words,
    );
    let texts: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "The first sentence is here. The second one follows it.",
            "A third closes the paragraph."
        ]
    );
}
