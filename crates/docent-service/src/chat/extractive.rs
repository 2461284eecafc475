//! The answer when no language model is configured: whole sentences of the
//! passages above the floor, each cited, introduced as quotations so nobody
//! mistakes them for a composed answer. One sentence per passage, the one
//! holding most of the question's content words: the best passage's comes
//! first (the floor already judged that passage relevant), those of the next
//! passages only when they hold 60% of the question's words.

use docent_core::domain::Citation;
use docent_retrieval::lexical::Terms;

use super::sentences::{is_whole, split};

/// Sentences quoted at most.
const QUOTED: usize = 3;
/// Share of the question's content words a further quoted sentence must hold.
const MIN_COVERAGE: f32 = 0.6;

/// The quoted answer, or `None` when no whole sentence of the passages
/// answers the question (the caller then says it does not know).
pub(crate) fn answer(question: &str, passages: &[Citation], texts: &[String]) -> Option<String> {
    let terms = Terms::default();
    let wanted = terms.of(question);
    let mut scored: Vec<(f32, usize, u32, &str)> = Vec::new();
    for (rank, (c, text)) in passages.iter().zip(texts).enumerate() {
        for sentence in quotable(text) {
            let coverage = terms.coverage(&wanted, sentence);
            if coverage > 0.0 {
                scored.push((coverage, rank, c.n, sentence));
            }
        }
    }
    // One sentence per passage, its best-covering one, in ranking order: the
    // first passage's that holds a question word leads, later ones must hold
    // 60% of the question's words.
    let mut quotes: Vec<String> = Vec::new();
    let mut quoted: Vec<&str> = Vec::new();
    for rank in 0..passages.len() {
        let best = scored
            .iter()
            .filter(|s| s.1 == rank && !quoted.contains(&s.3))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let Some(&(coverage, _, n, sentence)) = best else {
            continue;
        };
        if !quotes.is_empty() && coverage < MIN_COVERAGE {
            continue;
        }
        quotes.push(format!("\"{sentence}\" [{n}]"));
        quoted.push(sentence);
        if quotes.len() == QUOTED {
            break;
        }
    }
    (!quotes.is_empty()).then(|| format!("From the knowledge base: {}", quotes.join(" ")))
}

/// The pieces of a passage that can be quoted whole: its sentences, and lines
/// without end punctuation (a command, a table row) unless they open or close
/// the passage, where a chunk boundary may have cut them.
fn quotable(text: &str) -> Vec<&str> {
    let pieces = split(text);
    let last = pieces.len().saturating_sub(1);
    pieces
        .iter()
        .enumerate()
        .filter(|&(i, p)| {
            is_whole(p)
                || ((pieces.len() == 1 || (i > 0 && i < last))
                    && p.split_whitespace().count() >= 3
                    && p.chars().count() <= 500)
        })
        .map(|(_, p)| *p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use docent_core::ids::{ChunkId, DocumentId};

    fn passage(n: u32) -> Citation {
        Citation {
            n,
            document_id: DocumentId::new(),
            chunk_id: ChunkId::new(),
            title: format!("doc {n}"),
            source_url: None,
            page: None,
            heading: None,
            filename: None,
            snippet: String::new(),
            score: 0.5,
        }
    }

    #[test]
    fn quotes_only_the_sentences_that_answer() {
        let texts = vec![
            "Orders ship in two days. Refunds are accepted within 30 days of purchase.".to_string(),
            "mytable_cat_ refund days\nOur office is in Berlin. Refund requests need the order number.".to_string(),
        ];
        let got = answer(
            "How many days do I have to get a refund?",
            &[passage(1), passage(2)],
            &texts,
        )
        .expect("an answer");
        assert_eq!(
            got,
            "From the knowledge base: \"Refunds are accepted within 30 days of purchase.\" [1]"
        );
        assert!(!got.contains("mytable_cat_"), "{got}");
        assert_eq!(
            answer("Who won the 1998 world cup?", &[passage(1)], &texts[..1]),
            None
        );
    }
}
