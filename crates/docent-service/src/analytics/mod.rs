//! What a bot's conversations say, for the people who run it: a report per
//! day (conversations, questions, declines, feedback, latency), the most
//! cited documents and the questions it could not answer, grouped; and the
//! conversations themselves, exported.

pub(crate) mod export;
pub mod range;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use docent_core::domain::{ChatMessage, MessageRole, Rating, Role};
use docent_core::ids::{BotId, DocumentId, SessionId};
use docent_core::store::TimeRange;
use docent_retrieval::lexical::Terms;
use serde::Serialize;
use utoipa::ToSchema;

pub use export::{ExportFormat, ExportStream};

use crate::{Ctx, ServiceResult, Services};

/// Messages a report reads at most; beyond, it says `truncated`.
const REPORT_MESSAGES: u32 = 50_000;
/// Documents and unanswered-question groups listed.
const TOP: usize = 10;
/// Questions that share at least this share of their content words
/// (Jaccard, stemmed, stop words left out) are one unanswered question.
const SAME_QUESTION: f32 = 0.6;
/// Example phrasings kept per unanswered question.
const EXAMPLES: usize = 3;

#[derive(Debug, Serialize, ToSchema)]
pub struct BotAnalytics {
    pub bot_id: BotId,
    /// The range reported, `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub totals: Totals,
    /// One entry per UTC day of the range, oldest first, days without
    /// messages included.
    pub days: Vec<DayFigures>,
    /// The documents answers cited most, most cited first.
    pub top_documents: Vec<CitedDocument>,
    /// The questions most often declined, grouped by their content words.
    pub unanswered: Vec<UnansweredQuestion>,
    /// More messages fell in the range than a report reads (50,000): the
    /// figures cover the first ones; narrow the range.
    pub truncated: bool,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Totals {
    /// Conversations with at least one message in the range.
    pub conversations: u64,
    pub messages: u64,
    pub questions: u64,
    pub answers: u64,
    /// Answers where the bot said it does not know.
    pub declined: u64,
    pub feedback_up: u64,
    pub feedback_down: u64,
    /// Up votes among all votes, 0–1; null without votes.
    pub feedback_ratio: Option<f64>,
    pub latency_ms: Latency,
}

/// Answer latency percentiles (question received to answer complete), ms;
/// null without answers.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Latency {
    pub p50: Option<u32>,
    pub p90: Option<u32>,
    pub p99: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayFigures {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    pub conversations: u64,
    pub messages: u64,
    pub questions: u64,
    pub declined: u64,
    pub feedback_up: u64,
    pub feedback_down: u64,
    pub latency_ms: Latency,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CitedDocument {
    pub document_id: DocumentId,
    pub title: String,
    /// Answers that cite it.
    pub citations: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnansweredQuestion {
    /// The group's most frequent phrasing.
    pub question: String,
    /// Times it was declined.
    pub count: u64,
    /// Other phrasings of it, at most three.
    pub examples: Vec<String>,
    pub last_asked: DateTime<Utc>,
}

/// One day's tallies while reading.
#[derive(Default)]
struct Day {
    sessions: HashSet<SessionId>,
    messages: u64,
    questions: u64,
    declined: u64,
    up: u64,
    down: u64,
    latencies: Vec<u32>,
}

impl Services {
    /// A bot's report over `[from, to)` (see [`range::parse`]). Editors and
    /// stronger: it shows every visitor's questions.
    pub async fn bot_analytics(
        &self,
        ctx: &Ctx,
        bot: BotId,
        from: Option<&str>,
        to: Option<&str>,
    ) -> ServiceResult<BotAnalytics> {
        ctx.actor.require(Role::Editor)?;
        let range = range::parse(from, to, Utc::now())?;
        let tenant = ctx.actor.tenant_id;
        self.store.get_bot(tenant, bot).await?;
        let messages = self
            .store
            .bot_messages_between(tenant, bot, range, REPORT_MESSAGES + 1)
            .await?;
        let truncated = messages.len() > REPORT_MESSAGES as usize;
        let messages = &messages[..messages.len().min(REPORT_MESSAGES as usize)];
        Ok(report(bot, range, messages, truncated))
    }
}

fn report(bot: BotId, range: TimeRange, messages: &[ChatMessage], truncated: bool) -> BotAnalytics {
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    let mut day = range.from.date_naive();
    while day <= (range.to - chrono::Duration::microseconds(1)).date_naive() {
        days.insert(day, Day::default());
        day = day.succ_opt().unwrap_or(day);
        if days.len() > range::MAX_DAYS as usize + 1 {
            break;
        }
    }
    let mut sessions = HashSet::new();
    let mut cited: HashMap<DocumentId, (String, u64)> = HashMap::new();
    let mut declined_questions: Vec<(&str, DateTime<Utc>)> = Vec::new();
    let mut totals = Totals::default();
    let mut all_latencies = Vec::new();
    // Messages come grouped by session, in order: a decline's question is
    // the message before it.
    let mut previous: Option<&ChatMessage> = None;
    for m in messages {
        let d = days.entry(m.created_at.date_naive()).or_default();
        d.sessions.insert(m.session_id);
        d.messages += 1;
        sessions.insert(m.session_id);
        totals.messages += 1;
        match m.role {
            MessageRole::User => {
                d.questions += 1;
                totals.questions += 1;
            }
            MessageRole::Assistant => {
                totals.answers += 1;
                if let Some(l) = m.latency_ms {
                    d.latencies.push(l);
                    all_latencies.push(l);
                }
                match m.feedback.as_ref().map(|f| f.rating) {
                    Some(Rating::Up) => {
                        d.up += 1;
                        totals.feedback_up += 1;
                    }
                    Some(Rating::Down) => {
                        d.down += 1;
                        totals.feedback_down += 1;
                    }
                    None => {}
                }
                if m.answered == Some(false) {
                    d.declined += 1;
                    totals.declined += 1;
                    if let Some(q) = previous
                        .filter(|q| q.session_id == m.session_id && q.role == MessageRole::User)
                    {
                        declined_questions.push((&q.content, q.created_at));
                    }
                }
                // Each document counts once per answer.
                let mut seen = HashSet::new();
                for c in &m.citations {
                    if seen.insert(c.document_id) {
                        let entry = cited.entry(c.document_id).or_insert((c.title.clone(), 0));
                        entry.1 += 1;
                    }
                }
            }
        }
        previous = Some(m);
    }
    totals.conversations = sessions.len() as u64;
    let votes = totals.feedback_up + totals.feedback_down;
    totals.feedback_ratio = (votes > 0).then(|| totals.feedback_up as f64 / votes as f64);
    totals.latency_ms = latency(&mut all_latencies);
    let days = days
        .into_iter()
        .filter(|(date, _)| *date >= range.from.date_naive())
        .map(|(date, mut d)| DayFigures {
            date,
            conversations: d.sessions.len() as u64,
            messages: d.messages,
            questions: d.questions,
            declined: d.declined,
            feedback_up: d.up,
            feedback_down: d.down,
            latency_ms: latency(&mut d.latencies),
        })
        .collect();
    let mut top_documents: Vec<CitedDocument> = cited
        .into_iter()
        .map(|(document_id, (title, citations))| CitedDocument {
            document_id,
            title,
            citations,
        })
        .collect();
    top_documents.sort_by(|a, b| {
        b.citations
            .cmp(&a.citations)
            .then_with(|| a.title.cmp(&b.title))
    });
    top_documents.truncate(TOP);
    BotAnalytics {
        bot_id: bot,
        from: range.from,
        to: range.to,
        totals,
        days,
        top_documents,
        unanswered: group_unanswered(&declined_questions),
        truncated,
    }
}

/// Nearest-rank percentiles.
fn latency(values: &mut [u32]) -> Latency {
    if values.is_empty() {
        return Latency::default();
    }
    values.sort_unstable();
    let at = |p: f64| {
        let rank = (p * values.len() as f64).ceil() as usize;
        values[rank.clamp(1, values.len()) - 1]
    };
    Latency {
        p50: Some(at(0.50)),
        p90: Some(at(0.90)),
        p99: Some(at(0.99)),
    }
}

/// Declined questions grouped greedily: each joins the first group whose
/// first question shares [`SAME_QUESTION`] of its content words, so "How do
/// I cancel my plan?" and "cancel plan" are one question. Lexical on
/// purpose: it costs no model call per report and is the same on every
/// embedder; paraphrases without shared words stay apart.
fn group_unanswered(questions: &[(&str, DateTime<Utc>)]) -> Vec<UnansweredQuestion> {
    struct Group<'a> {
        terms: HashSet<String>,
        phrasings: HashMap<String, (u64, &'a str)>,
        count: u64,
        last: DateTime<Utc>,
    }
    let terms = Terms::default();
    let mut groups: Vec<Group> = Vec::new();
    for &(q, at) in questions {
        let words = terms.of(q);
        let key = q.trim().to_lowercase();
        let found = groups.iter_mut().find(|g| {
            let shared = g.terms.intersection(&words).count() as f32;
            let union = g.terms.union(&words).count() as f32;
            (union == 0.0 && words.is_empty()) || (union > 0.0 && shared / union >= SAME_QUESTION)
        });
        let group = match found {
            Some(g) => g,
            None => {
                groups.push(Group {
                    terms: words,
                    phrasings: HashMap::new(),
                    count: 0,
                    last: at,
                });
                groups.last_mut().expect("just pushed")
            }
        };
        group.count += 1;
        group.last = group.last.max(at);
        group.phrasings.entry(key).or_insert((0, q.trim())).0 += 1;
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| b.last.cmp(&a.last)));
    groups
        .into_iter()
        .take(TOP)
        .map(|g| {
            let mut phrasings: Vec<(u64, &str)> = g.phrasings.into_values().collect();
            phrasings.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            let mut phrasings = phrasings.into_iter().map(|(_, q)| q.to_string());
            UnansweredQuestion {
                question: phrasings.next().unwrap_or_default(),
                count: g.count,
                examples: phrasings.take(EXAMPLES).collect(),
                last_asked: g.last,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn declined_questions_group_by_their_words() {
        let t = at("2026-12-01T10:00:00Z");
        let qs = [
            ("How do I cancel my subscription?", t),
            ("cancel subscription", t),
            ("Cancel my subscription, please", t),
            ("Who won the 1998 world cup?", t),
            ("How do I cancel my subscription?", t),
        ];
        let groups = group_unanswered(&qs);
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[0].count, 4);
        assert_eq!(groups[0].question, "How do I cancel my subscription?");
        assert_eq!(groups[0].examples.len(), 2);
        assert_eq!(groups[1].question, "Who won the 1998 world cup?");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u32> = (1..=100).rev().collect();
        let l = latency(&mut v);
        assert_eq!((l.p50, l.p90, l.p99), (Some(50), Some(90), Some(99)));
        assert_eq!(latency(&mut []).p50, None);
    }
}
