//! The grounding check of generated answers: each sentence the model wrote
//! against the passages it cites (the score is
//! [`docent_retrieval::grounding`]'s). With `flag` the finished answer is
//! checked at once; with `drop` a [`Gate`] holds the stream back until each
//! sentence is complete and checked, and sends only those found supported.

use std::time::Instant;

use docent_core::domain::{
    GROUNDING_SENTENCE_CHARS, Grounding, GroundingTrace, SentenceCheck, UnsupportedSentences, clip,
};
use docent_retrieval::grounding::{Checker, Claim, Evidence, Support};
use docent_retrieval::sentences;

/// A sentence of an answer: where it lies (its markers included), its text
/// without markers, and the passages (`[n]`) it cites.
#[derive(Debug, PartialEq)]
pub(super) struct AnswerSentence {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub cites: Vec<u32>,
}

/// The sentences of an answer. A marker group that opens a sentence (`…
/// purchase. [2] Have…`) belongs to the sentence before it.
pub(super) fn sentences_of(answer: &str) -> Vec<AnswerSentence> {
    let mut out: Vec<AnswerSentence> = Vec::new();
    for (mut start, end) in sentences::spans(answer) {
        let (lead, _) = markers(&answer[start..end]);
        if lead > 0
            && let Some(prev) = out.last_mut()
        {
            prev.end = start + lead;
            let (_, cited) = markers(&answer[prev.start..prev.end]);
            prev.cites = cited;
            let rest = &answer[start + lead..end];
            start = end - rest.trim_start().len();
        }
        let piece = &answer[start..end];
        if !piece.chars().any(char::is_alphanumeric) || only_markers(piece) {
            continue;
        }
        out.push(AnswerSentence {
            start,
            end,
            text: without_markers(piece),
            cites: markers(piece).1,
        });
    }
    out
}

/// The length of the marker group (`[1] [2]`, spaces included) at the start
/// of `s`, and every marker number in `s`.
fn markers(s: &str) -> (usize, Vec<u32>) {
    let mut numbers = Vec::new();
    let mut lead = 0;
    let mut leading = true;
    let mut rest = s;
    let mut at = 0;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inner = after[..close].trim();
        let n = inner.parse::<u32>().ok();
        if let Some(n) = n
            && !numbers.contains(&n)
        {
            numbers.push(n);
        }
        if leading && n.is_some() && rest[..open].trim().is_empty() {
            lead = at + open + close + 2;
        } else {
            leading = false;
        }
        at += open + close + 2;
        rest = &after[close + 1..];
    }
    if lead > 0 {
        lead += s[lead..].len() - s[lead..].trim_start().len();
    }
    (lead, numbers)
}

fn only_markers(s: &str) -> bool {
    markers(s).0 == s.len()
}

fn without_markers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if after[..close].trim().parse::<u32>().is_ok() => {
                out.push_str(rest[..open].trim_end());
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// The claims the checker scores: cited passages as indexes into the
/// evidence (markers are 1-based).
fn claims(sentences: &[AnswerSentence]) -> Vec<Claim> {
    sentences
        .iter()
        .map(|s| Claim {
            text: s.text.clone(),
            cites: s.cites.iter().map(|&n| n as usize - 1).collect(),
        })
        .collect()
}

fn record(
    index: u32,
    s: &AnswerSentence,
    support: Option<&Support>,
    dropped: bool,
) -> SentenceCheck {
    SentenceCheck {
        index,
        text: clip(&s.text, GROUNDING_SENTENCE_CHARS),
        cites: s.cites.clone(),
        passage: support.map(|x| x.passage as u32 + 1),
        lexical: support.map(|x| x.lexical),
        semantic: support.map(|x| x.semantic),
        missing: support.map(|x| x.missing.clone()).unwrap_or_default(),
        negation_mismatch: support.is_some_and(|x| x.negation_mismatch),
        score: support.map(|x| x.score),
        supported: support.map(|x| x.supported),
        dropped,
    }
}

/// The check of one answer, as the response, the stored message and the
/// trace carry it.
pub(super) struct Checked {
    pub grounding: Grounding,
    pub trace: GroundingTrace,
    pub ms: f64,
}

fn summarize(
    checks: Vec<SentenceCheck>,
    flagged: Vec<String>,
    action: UnsupportedSentences,
    threshold: f32,
    ms: f64,
) -> Checked {
    let judged: Vec<&SentenceCheck> = checks.iter().filter(|c| c.supported.is_some()).collect();
    let score = if judged.is_empty() {
        1.0
    } else {
        judged.iter().filter_map(|c| c.score).sum::<f32>() / judged.len() as f32
    };
    let grounding = Grounding {
        supported: judged.iter().filter(|c| c.supported == Some(true)).count() as u32,
        unsupported: judged
            .iter()
            .filter(|c| c.supported == Some(false))
            .map(|c| c.index)
            .collect(),
        score,
        action,
        flagged,
    };
    Checked {
        grounding,
        trace: GroundingTrace {
            threshold,
            sentences: checks,
        },
        ms,
    }
}

/// Checks a finished answer (`flag`): every sentence, in one embedding call
/// for the passages and one for the sentences.
pub(super) async fn check_answer(
    checker: &Checker,
    answer: &str,
    passages: &[String],
) -> Option<Checked> {
    let clock = Instant::now();
    let found = sentences_of(answer);
    let run = async {
        let evidence = checker.prepare(passages).await?;
        checker.check(&evidence, &claims(&found)).await
    };
    let supports = match run.await {
        Ok(s) => s,
        Err(error) => {
            tracing::warn!(error = %crate::ErrorChain(&error), "the grounding check could not run");
            return None;
        }
    };
    let mut flagged = Vec::new();
    let checks = found
        .iter()
        .zip(&supports)
        .enumerate()
        .map(|(i, (s, support))| {
            if support.as_ref().is_some_and(|x| !x.supported) {
                flagged.push(answer[s.start..s.end].trim_end().to_string());
            }
            record(i as u32, s, support.as_ref(), false)
        })
        .collect();
    let ms = clock.elapsed().as_secs_f64() * 1000.0;
    let threshold = checker.calibration().threshold;
    Some(summarize(
        checks,
        flagged,
        UnsupportedSentences::Flag,
        threshold,
        ms,
    ))
}

/// Holds a streamed answer back sentence by sentence (`drop`): a sentence
/// is released once it is complete (the next one has begun, or the answer
/// ended) and found supported; the unsupported ones are never sent.
pub(super) struct Gate {
    checker: Checker,
    passages: Vec<String>,
    evidence: Option<Evidence>,
    pending: String,
    /// Something was released already (the next release keeps its leading
    /// white space).
    released_any: bool,
    checks: Vec<SentenceCheck>,
    /// The check failed: the rest passes unchecked and no grounding is
    /// reported.
    failed: bool,
    ms: f64,
}

impl Gate {
    pub fn new(checker: Checker, passages: Vec<String>) -> Self {
        Self {
            checker,
            passages,
            evidence: None,
            pending: String::new(),
            released_any: false,
            checks: Vec::new(),
            failed: false,
            ms: 0.0,
        }
    }

    /// Takes a delta; returns what may be sent now (often nothing).
    pub async fn push(&mut self, delta: &str) -> String {
        self.pending.push_str(delta);
        let found = sentences_of(&self.pending);
        // The last sentence may still grow, and one that opens with `[` may
        // be a marker of the one before, still arriving.
        let mut complete = found.len().saturating_sub(1);
        if let Some(last) = found.last()
            && self.pending[last.start..].starts_with('[')
        {
            complete = complete.saturating_sub(1);
        }
        if complete == 0 {
            return String::new();
        }
        let upto = found[complete - 1].end;
        self.release(found.into_iter().take(complete).collect(), upto)
            .await
    }

    /// The end of the answer: checks and returns what is left.
    pub async fn finish(&mut self) -> String {
        let found = sentences_of(&self.pending);
        let upto = self.pending.len();
        self.release(found, upto).await
    }

    /// Whether every judged sentence was dropped and nothing was sent.
    pub fn dropped_all(&self) -> bool {
        !self.released_any && self.checks.iter().any(|c| c.dropped)
    }

    async fn release(&mut self, found: Vec<AnswerSentence>, upto: usize) -> String {
        let clock = Instant::now();
        let supports = self.supports(&found).await;
        let mut out = String::new();
        let mut from = 0;
        for (s, support) in found.iter().zip(&supports) {
            let dropped = support.as_ref().is_some_and(|x| !x.supported);
            let index = self.checks.len() as u32;
            self.checks
                .push(record(index, s, support.as_ref(), dropped));
            if !dropped {
                let piece = &self.pending[from..s.end];
                out.push_str(if self.released_any || !out.is_empty() {
                    piece
                } else {
                    piece.trim_start()
                });
            }
            from = s.end;
        }
        if !out.is_empty() {
            self.released_any = true;
        }
        self.pending.drain(..upto);
        self.ms += clock.elapsed().as_secs_f64() * 1000.0;
        out
    }

    async fn supports(&mut self, found: &[AnswerSentence]) -> Vec<Option<Support>> {
        if self.failed || found.is_empty() {
            return vec![None; found.len()];
        }
        if self.evidence.is_none() {
            match self.checker.prepare(&self.passages).await {
                Ok(e) => self.evidence = Some(e),
                Err(error) => return self.fail(&error, found.len()),
            }
        }
        let evidence = self.evidence.as_ref().expect("prepared above");
        match self.checker.check(evidence, &claims(found)).await {
            Ok(s) => s,
            Err(error) => self.fail(&error, found.len()),
        }
    }

    fn fail(&mut self, error: &docent_core::embed::EmbedError, n: usize) -> Vec<Option<Support>> {
        tracing::warn!(error = %crate::ErrorChain(error), "the grounding check could not run; sentences pass unchecked");
        self.failed = true;
        vec![None; n]
    }

    /// The check as it went; `None` when it could not run.
    pub fn into_checked(self) -> Option<Checked> {
        if self.failed {
            return None;
        }
        let threshold = self.checker.calibration().threshold;
        Some(summarize(
            self.checks,
            Vec::new(),
            UnsupportedSentences::Drop,
            threshold,
            self.ms,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_belong_to_the_sentence_they_follow() {
        let answer = "Refunds take 30 days. [1] [2] Shipping is free [3]. Thanks!";
        let s = sentences_of(answer);
        assert_eq!(s.len(), 3);
        assert_eq!(
            &answer[s[0].start..s[0].end],
            "Refunds take 30 days. [1] [2] "
        );
        assert_eq!(s[0].text, "Refunds take 30 days.");
        assert_eq!(s[0].cites, vec![1, 2]);
        assert_eq!(s[1].text, "Shipping is free.");
        assert_eq!(s[1].cites, vec![3]);
        assert_eq!(s[2].text, "Thanks!");
        assert!(s[2].cites.is_empty());
        assert_eq!(without_markers("See [note] here [1]."), "See [note] here.");
    }
}
