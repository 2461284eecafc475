//! A bot's conversations, exported by the range they started in: JSON lines
//! (one conversation per line, with its messages) or CSV (one message per
//! row). Streamed a page of conversations at a time, so an export of any
//! size holds one page in memory.

use chrono::Utc;
use docent_core::domain::{ChatMessage, ChatSession, Role};
use docent_core::ids::{BotId, SessionId, TenantId};
use docent_core::store::{Store, TimeRange};
use futures::stream::BoxStream;
use serde::Serialize;
use std::sync::Arc;

use super::range;
use crate::{Ctx, ServiceError, ServiceResult, Services};

/// Conversations read per step of the stream.
const PAGE: u32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

impl ExportFormat {
    /// `jsonl` (the default) or `csv`.
    pub fn parse(s: Option<&str>) -> ServiceResult<Self> {
        match s.unwrap_or("jsonl") {
            "jsonl" | "" => Ok(Self::Jsonl),
            "csv" => Ok(Self::Csv),
            other => Err(ServiceError::Invalid(format!(
                "`format` is `jsonl` or `csv`, not `{other}`"
            ))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jsonl => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }
}

/// The export's bytes, a page at a time; a failure midway ends the stream
/// with an error (the client sees a cut body, never a wrong one).
pub type ExportStream = BoxStream<'static, Result<Vec<u8>, ServiceError>>;

const CSV_HEADER: [&str; 12] = [
    "session_id",
    "visitor",
    "session_started_at",
    "message_id",
    "role",
    "created_at",
    "content",
    "answered",
    "cited_documents",
    "feedback",
    "feedback_comment",
    "latency_ms",
];

#[derive(Serialize)]
struct Line<'a> {
    session: &'a ChatSession,
    messages: &'a [ChatMessage],
}

struct Cursor {
    store: Arc<dyn Store>,
    tenant: TenantId,
    bot: BotId,
    range: TimeRange,
    format: ExportFormat,
    after: Option<SessionId>,
    header: bool,
    done: bool,
}

impl Services {
    /// Owners and admins: an export holds every visitor's words.
    pub async fn export_conversations(
        &self,
        ctx: &Ctx,
        bot: BotId,
        from: Option<&str>,
        to: Option<&str>,
        format: ExportFormat,
    ) -> ServiceResult<ExportStream> {
        ctx.actor.require(Role::Admin)?;
        let range = range::parse(from, to, Utc::now())?;
        let tenant = ctx.actor.tenant_id;
        self.store.get_bot(tenant, bot).await?;
        self.audit(
            ctx,
            "bot.export_conversations",
            "bot",
            Some(bot.to_string()),
        )
        .await;
        let cursor = Cursor {
            store: self.store.clone(),
            tenant,
            bot,
            range,
            format,
            after: None,
            header: format == ExportFormat::Csv,
            done: false,
        };
        Ok(Box::pin(futures::stream::try_unfold(cursor, step)))
    }
}

/// The next page of the export, or `None` at its end.
async fn step(mut c: Cursor) -> ServiceResult<Option<(Vec<u8>, Cursor)>> {
    if c.done {
        return Ok(None);
    }
    let sessions = c
        .store
        .sessions_between(c.tenant, c.bot, c.range, c.after, PAGE)
        .await?;
    c.done = sessions.len() < PAGE as usize;
    c.after = sessions.last().map(|s| s.id);
    let mut out = Vec::new();
    let mut csv = csv::Writer::from_writer(&mut out);
    if std::mem::take(&mut c.header) {
        csv.write_record(CSV_HEADER)
            .map_err(ServiceError::internal)?;
    }
    let mut lines = Vec::new();
    for session in &sessions {
        let messages = c.store.list_messages(c.tenant, session.id, None).await?;
        match c.format {
            ExportFormat::Jsonl => {
                serde_json::to_writer(
                    &mut lines,
                    &Line {
                        session,
                        messages: &messages,
                    },
                )
                .map_err(ServiceError::internal)?;
                lines.push(b'\n');
            }
            ExportFormat::Csv => {
                for m in &messages {
                    csv.write_record(row(session, m))
                        .map_err(ServiceError::internal)?;
                }
            }
        }
    }
    csv.flush().map_err(ServiceError::internal)?;
    drop(csv);
    out.extend(lines);
    if out.is_empty() && c.done {
        return Ok(None);
    }
    Ok(Some((out, c)))
}

fn row(s: &ChatSession, m: &ChatMessage) -> [String; 12] {
    let mut titles: Vec<&str> = Vec::new();
    for c in &m.citations {
        if !titles.contains(&c.title.as_str()) {
            titles.push(&c.title);
        }
    }
    let feedback = m.feedback.as_ref();
    [
        s.id.to_string(),
        cell(s.visitor.as_deref().unwrap_or_default()),
        s.created_at.to_rfc3339(),
        m.id.to_string(),
        m.role.as_str().to_string(),
        m.created_at.to_rfc3339(),
        cell(&m.content),
        m.answered.map(|a| a.to_string()).unwrap_or_default(),
        cell(&titles.join("; ")),
        feedback
            .map(|f| f.rating.as_str().to_string())
            .unwrap_or_default(),
        cell(
            feedback
                .and_then(|f| f.comment.as_deref())
                .unwrap_or_default(),
        ),
        m.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
    ]
}

/// A cell of visitor-written text, defused for spreadsheets: one starting
/// with `=`, `+`, `-`, `@`, tab or carriage return would run as a formula
/// when the file is opened, so it gets a leading apostrophe (OWASP's advice
/// on CSV injection).
pub(crate) fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("how do I -"), "how do I -");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn formats_parse() {
        assert_eq!(ExportFormat::parse(None).unwrap(), ExportFormat::Jsonl);
        assert_eq!(ExportFormat::parse(Some("csv")).unwrap(), ExportFormat::Csv);
        assert!(ExportFormat::parse(Some("xlsx")).is_err());
    }
}
