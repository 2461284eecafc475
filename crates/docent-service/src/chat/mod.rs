//! Chat: a question to a bot becomes a grounded, cited answer. Retrieval with
//! the bot's settings, then either the language model (prompted with fenced,
//! numbered passages and the recent conversation) or, with none configured,
//! an extractive answer. Both turns are stored in the session.

mod extractive;
mod feedback;
pub use feedback::FeedbackRequest;
mod grounding;
mod prompt;
mod sentences;
mod trace;

use std::time::Instant;

use chrono::Utc;
use docent_core::domain::{
    Bot, ChatMessage, ChatSession, Citation, Grounding, MessageRole, Role, UnsupportedSentences,
    UsageKind,
};
use docent_core::ids::{BotId, MessageId, SessionId};
use docent_core::llm::{ChatEvent, ChatRequest, LlmError};
use docent_core::ratelimit::Limit;
use docent_core::store::{Page, PageRequest, SessionOwner};
use docent_retrieval::lexical::Terms;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctx, ServiceError, ServiceResult, Services};

/// Longest question accepted, in characters.
const MAX_MESSAGE_CHARS: usize = 4000;
/// Earlier messages read for the prompt and the follow-up rule.
const HISTORY_MESSAGES: u32 = 12;
/// Characters of a passage shown as a citation's snippet.
const SNIPPET_CHARS: usize = 300;

pub const DONT_KNOW: &str = "I don't know: the knowledge base has nothing on that question.";

#[derive(Debug, Deserialize, ToSchema)]
pub struct AskRequest {
    pub bot_id: BotId,
    pub message: String,
    /// Continue this conversation; omitted: a new one.
    pub session_id: Option<SessionId>,
    /// `true`: answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Earlier turns supplied by the caller instead of a stored session (the
    /// OpenAI-compatible endpoint, whose clients resend the conversation).
    #[serde(skip)]
    #[schema(ignore)]
    pub history: Vec<(MessageRole, String)>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, ToSchema)]
pub struct UsageView {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAnswer {
    pub session_id: SessionId,
    pub message_id: MessageId,
    pub answer: String,
    /// The passages the answer cites, each with a `[n]` marker in `answer`.
    pub citations: Vec<Citation>,
    /// Every passage retrieved above the floor and given to the model (or
    /// quoted from): what the answer could draw on.
    pub sources: Vec<Citation>,
    /// `false` when the bot said it does not know (then `citations` is
    /// empty and no model was called).
    pub answered: bool,
    /// `generative` (a language model wrote it) or `extractive` (quoted).
    pub mode: String,
    /// Why the model stopped: `stop`, or `length` when the answer was cut at
    /// the bot's `max_tokens`; `null` when no model wrote it.
    pub finish_reason: Option<String>,
    /// Generated answers: each sentence checked against the passages it
    /// cites; `null` for quotes and declines.
    pub grounding: Option<Grounding>,
    pub usage: UsageView,
}

fn error_event(e: ServiceError) -> AnswerEvent {
    let (code, message) = match e {
        ServiceError::Unavailable(m) => ("unavailable", m),
        other => {
            tracing::error!(error = %crate::ErrorChain(&other), "chat answer failed");
            ("internal", "the answer could not be completed".to_string())
        }
    };
    AnswerEvent::Error {
        error: ErrorView { code, message },
    }
}

/// What a client sees when the model fails, whatever the failure: its
/// details (upstream URLs, bodies) go to the log, never to a visitor.
pub const ASSISTANT_UNAVAILABLE: &str = "the assistant is unavailable, try again";

impl From<LlmError> for ServiceError {
    fn from(e: LlmError) -> Self {
        tracing::warn!(error = %e, "the language model failed");
        ServiceError::Unavailable(ASSISTANT_UNAVAILABLE.into())
    }
}

/// What a question needs before the answer is written: its bot, session,
/// history and retrieved passages (numbered from 1).
struct Prepared {
    bot: docent_core::domain::Bot,
    session: ChatSession,
    is_new: bool,
    history: Vec<ChatMessage>,
    user_message: ChatMessage,
    question: String,
    passages: Vec<Citation>,
    texts: Vec<String>,
    /// Token counts of `texts`, as chunked.
    tokens: Vec<u32>,
    /// What was searched, and what retrieval did: for the trace.
    search_query: String,
    retrieval: docent_core::domain::RetrievalTrace,
    timings: docent_core::domain::Timings,
    started: Instant,
    /// The message reserved against the plan: kept when the answer is
    /// stored, given back when it fails.
    reservation: crate::usage::Reservation,
}

/// One event of a streamed answer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AnswerEvent {
    /// First: the session and every retrieved passage the answer may cite
    /// (`citations` and `sources` alike; the final citations come with
    /// `Done`).
    Meta {
        session_id: SessionId,
        citations: Vec<Citation>,
        sources: Vec<Citation>,
    },
    Delta {
        text: String,
    },
    /// Last, on success: the stored answer, the passages it cites, and
    /// what it cost.
    Done {
        message_id: MessageId,
        usage: UsageView,
        mode: String,
        citations: Vec<Citation>,
        sources: Vec<Citation>,
        answered: bool,
        finish_reason: Option<String>,
        grounding: Option<Grounding>,
    },
    /// Last, on failure.
    Error {
        error: ErrorView,
    },
}

#[derive(Debug, Serialize)]
pub struct ErrorView {
    pub code: &'static str,
    pub message: String,
}

impl AnswerEvent {
    /// The SSE event name (and WebSocket `type`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Meta { .. } => "meta",
            Self::Delta { .. } => "delta",
            Self::Done { .. } => "done",
            Self::Error { .. } => "error",
        }
    }
}

/// How the writing of an answer ended.
struct Written {
    text: String,
    usage: UsageView,
    partial: bool,
    /// `false`: the bot's "I don't know".
    answered: bool,
    /// Why it answered or declined, as the trace names it.
    reason: &'static str,
    finish_reason: Option<String>,
    /// The model that wrote it, when one did.
    model: Option<String>,
    /// How long writing took.
    generate_ms: Option<f64>,
    /// The grounding check a `drop` gate made while streaming.
    checked: Option<grounding::Checked>,
}

impl Written {
    fn fixed(text: String, answered: bool, reason: &'static str) -> Self {
        Self {
            text,
            usage: UsageView::default(),
            partial: false,
            answered,
            reason,
            finish_reason: None,
            model: None,
            generate_ms: None,
            checked: None,
        }
    }
}

impl Written {
    /// Records how the model ended its answer.
    fn finish(&mut self, usage: Option<docent_core::llm::Usage>, finish_reason: Option<String>) {
        if let Some(u) = usage {
            self.usage = UsageView {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            };
        }
        self.finish_reason = finish_reason.or_else(|| Some("stop".to_string()));
    }
}

/// What was saved of an answer, as the caller reports it.
struct Saved {
    id: MessageId,
    text: String,
    citations: Vec<Citation>,
    /// The passages given to the model or quoted from; none when declined.
    sources: Vec<Citation>,
    answered: bool,
    finish_reason: Option<String>,
    grounding: Option<Grounding>,
    usage: UsageView,
}

impl Services {
    /// Chatting is open to viewers and stronger, and to visitors with their
    /// own bot.
    fn require_chat(ctx: &Ctx, bot: BotId) -> ServiceResult<()> {
        match ctx.actor.visitor() {
            Some(v) if v.bot_id == bot => Ok(()),
            Some(_) => Err(ServiceError::Forbidden(
                "an embed token may only chat with its own bot".into(),
            )),
            None => ctx.actor.require(Role::Viewer),
        }
    }

    /// Whether the caller may see this conversation: visitors only their own.
    /// Visitors, and viewers (users or keys), reach only the conversations
    /// they started; editors and stronger reach every one of the tenant.
    fn owns_session(ctx: &Ctx, session: &ChatSession) -> bool {
        if let Some(v) = ctx.actor.visitor() {
            return v.bot_id == session.bot_id && session.visitor.as_ref() == Some(&v.id);
        }
        ctx.actor.role > Role::Viewer || session.started_by == ctx.actor.starter()
    }

    /// Counts one message of a widget visitor: against the bot's per-visitor
    /// limit, then against the per-address limit for visitors (so fresh
    /// anonymous identities from one address do not escape it). Users and
    /// API keys are limited per credential at the HTTP boundary alone.
    async fn count_visitor_message(&self, ctx: &Ctx, bot: &Bot) -> ServiceResult<()> {
        let (Some(visitor), Some(limiter)) = (ctx.actor.visitor(), &self.limiter) else {
            return Ok(());
        };
        let ip = ctx.client.ip.as_deref().unwrap_or_default();
        let per_ip = self.settings.visitor_ip_per_minute;
        let checks = [
            (
                "visitor",
                format!("{}:{}", bot.id, visitor.id),
                bot.visitor_messages_per_minute,
            ),
            ("visitor_ip", ip.to_string(), per_ip),
        ];
        for (class, key, per_minute) in checks {
            let decision = limiter.check(class, &key, Limit { per_minute }).await;
            if !decision.allowed {
                return Err(ServiceError::RateLimited {
                    class,
                    retry_after: decision.retry_after,
                });
            }
        }
        Ok(())
    }

    #[tracing::instrument(
        name = "chat.prepare",
        skip_all,
        fields(tenant_id = %ctx.actor.tenant_id, bot_id = %req.bot_id)
    )]
    async fn prepare(&self, ctx: &Ctx, req: AskRequest) -> ServiceResult<Prepared> {
        Self::require_chat(ctx, req.bot_id)?;
        let started = Instant::now();
        let tenant = ctx.actor.tenant_id;
        // A visitor's bot was read when the token was checked.
        let bot = match ctx.actor.bot.as_deref().filter(|b| b.id == req.bot_id) {
            Some(bot) => bot.clone(),
            None => self.store.get_bot(tenant, req.bot_id).await?,
        };
        self.count_visitor_message(ctx, &bot).await?;
        let question = req.message.trim().to_string();
        if question.is_empty() {
            return Err(ServiceError::Invalid("`message` is empty".into()));
        }
        if question.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ServiceError::Invalid(format!(
                "`message` is longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        let (session, is_new) = match req.session_id {
            Some(id) => {
                let session = self.store.get_session(tenant, id).await?;
                if session.bot_id != bot.id || !Self::owns_session(ctx, &session) {
                    return Err(ServiceError::NotFound);
                }
                (session, false)
            }
            None => {
                let now = Utc::now();
                let session = ChatSession {
                    id: SessionId::new(),
                    tenant_id: tenant,
                    bot_id: bot.id,
                    visitor: ctx.actor.visitor().map(|v| v.id.clone()),
                    started_by: ctx.actor.starter(),
                    message_count: 0,
                    created_at: now,
                    last_message_at: now,
                };
                (session, true)
            }
        };
        let supplied: Vec<ChatMessage> = req
            .history
            .iter()
            .map(|(role, content)| ChatMessage::new(tenant, session.id, *role, content.clone()))
            .collect();
        let history = if is_new {
            supplied
        } else {
            self.store
                .list_messages(tenant, session.id, Some(HISTORY_MESSAGES))
                .await?
        };
        let user_message =
            ChatMessage::new(tenant, session.id, MessageRole::User, question.clone());

        // Reserved before any embedding or model call: a tenant over its
        // limit costs nothing more. Dropped with the request, it is released.
        let reservation = self
            .meter
            .reserve_guarded(tenant, &[(UsageKind::Messages, 1)])
            .await?;
        let clock = Instant::now();
        let query = self.search_query(&question, &history).await;
        let rewrite_ms = (!history.is_empty()).then(|| clock.elapsed().as_secs_f64() * 1000.0);
        let r = &bot.retrieval;
        let params = docent_retrieval::Params {
            mode: r.mode,
            top_k: r.top_k as usize,
            min_score: r.min_score,
            rerank: r.rerank.unwrap_or(true),
        };
        let searched = self
            .retriever
            .search_traced(tenant, bot.id, &query, params)
            .await?;
        let mut passages = Vec::new();
        let mut texts = Vec::new();
        let mut tokens = Vec::new();
        let t = searched.timings;
        let timings = docent_core::domain::Timings {
            rewrite: rewrite_ms,
            embed: t.embed,
            keyword: t.keyword,
            vector: t.vector,
            fusion: t.fusion,
            rerank: t.rerank,
            generate: None,
            grounding: None,
            total: 0.0,
        };
        for hit in searched.hits {
            let p = hit.passage;
            passages.push(Citation {
                n: passages.len() as u32 + 1,
                document_id: p.document_id,
                chunk_id: p.chunk_id,
                title: p.title,
                source_url: p.source_url,
                page: p.page,
                heading: p.heading,
                filename: p.filename,
                snippet: p.text.chars().take(SNIPPET_CHARS).collect(),
                score: hit.score,
            });
            texts.push(p.text);
            tokens.push(p.token_count);
        }
        Ok(Prepared {
            bot,
            session,
            is_new,
            history,
            user_message,
            question,
            passages,
            texts,
            tokens,
            search_query: query,
            retrieval: searched.trace,
            timings,
            started,
            reservation,
        })
    }

    /// The question as a standalone search query. A follow-up ("and in
    /// Germany?") needs the conversation: the model rewrites it when there is
    /// one (falling back to the rule if it fails), else a cheap rule joins it
    /// to the previous question.
    async fn search_query(&self, question: &str, history: &[ChatMessage]) -> String {
        let rule = prompt::standalone_query(question, history);
        let Some(llm) = self.llm.as_ref().filter(|_| !history.is_empty()) else {
            return rule;
        };
        let request = ChatRequest {
            messages: prompt::condense(history, question),
            model: None,
            temperature: Some(0.0),
            max_tokens: Some(64),
        };
        let mut text = String::new();
        match llm.stream(request).await {
            Ok(mut stream) => {
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(ChatEvent::Delta(d)) => text.push_str(&d),
                        Ok(ChatEvent::Done { .. }) => break,
                        Err(error) => {
                            tracing::warn!(error = %crate::ErrorChain(&error), "query rewrite failed; using the rule");
                            return rule;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(error = %crate::ErrorChain(&error), "query rewrite failed; using the rule");
                return rule;
            }
        }
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
            rule
        } else {
            text.to_string()
        }
    }

    fn mode(&self) -> &'static str {
        if self.llm.is_some() {
            "generative"
        } else {
            "extractive"
        }
    }

    /// The answer when no model is asked: "don't know" (no passage above the
    /// floor, or, extractive, no sentence of them that answers), or quotes.
    /// The answer that needs no model (a decline, or quotes when no model
    /// is configured), or else the model that writes it.
    fn writer(&self, p: &Prepared) -> Result<Written, &dyn docent_core::llm::ChatModel> {
        if p.passages.is_empty() {
            return Ok(Written::fixed(
                DONT_KNOW.to_string(),
                false,
                "no_passage_above_floor",
            ));
        }
        if let Some(llm) = &self.llm {
            return Err(llm.as_ref());
        }
        let clock = Instant::now();
        let mut written = match extractive::answer(&p.question, &p.passages, &p.texts) {
            Some(quotes) => Written::fixed(quotes, true, "passages_found"),
            None => Written::fixed(DONT_KNOW.to_string(), false, "no_sentence_answers"),
        };
        written.generate_ms = Some(clock.elapsed().as_secs_f64() * 1000.0);
        Ok(written)
    }

    fn model_request(&self, p: &Prepared) -> ChatRequest {
        // A bot stored before the allowed list changed falls back to the
        // configured model rather than reaching a model the operator stopped.
        let allowed = self
            .settings
            .llm_allowed_models
            .as_deref()
            .unwrap_or_default();
        let model = p.bot.model.clone().filter(|m| allowed.contains(m));
        ChatRequest {
            messages: prompt::build(
                p.bot.system_prompt.as_deref(),
                &p.passages,
                &p.texts,
                &p.history,
                &p.question,
            ),
            model,
            temperature: p.bot.temperature,
            max_tokens: p.bot.max_tokens.or(self.settings.llm_max_tokens),
        }
    }

    /// Stores both turns; returns the answer as stored and its citations.
    /// An answer from passages whose writer put no `[n]` marker (small models
    /// often don't) gets markers after the sentences a passage supports.
    async fn save(&self, p: Prepared, mut written: Written) -> ServiceResult<Saved> {
        let (mut text, mut used) = prompt::cited(&written.text, p.passages.len());
        if used.is_empty() && written.answered {
            (text, used) = sentences::attribute(&Terms::default(), &text, &p.texts);
        }
        // A `drop` gate checked the answer as it streamed; a finished
        // generated answer is checked now.
        let checked = match written.checked.take() {
            Some(c) => Some(c),
            None if written.model.is_some() && written.answered && !written.partial => {
                grounding::check_answer(&self.grounding, &text, &p.texts).await
            }
            None => None,
        };
        let citations: Vec<Citation> = used
            .iter()
            .map(|&n| p.passages[n as usize - 1].clone())
            .collect();
        let mode = self.mode();
        let answer = ChatMessage {
            citations: citations.clone(),
            mode: Some(mode.to_string()),
            prompt_tokens: written.usage.prompt_tokens,
            completion_tokens: written.usage.completion_tokens,
            latency_ms: Some(p.started.elapsed().as_millis() as u32),
            partial: written.partial,
            answered: Some(written.answered),
            finish_reason: written.finish_reason.clone(),
            grounding: checked.as_ref().map(|c| c.grounding.clone()),
            ..ChatMessage::new(
                p.session.tenant_id,
                p.session.id,
                MessageRole::Assistant,
                text.clone(),
            )
        };
        let id = answer.id;
        let answer_grounding = answer.grounding.clone();
        let trace = trace::build(&p, &written, &answer, checked);
        let turn = [p.user_message, answer];
        if p.is_new {
            // A new conversation is stored with its first turn, or not at all.
            self.store.create_session(&p.session, &turn).await?;
            let s = &p.session;
            let data = serde_json::json!({
                "session_id": s.id, "bot_id": s.bot_id, "visitor": s.visitor,
                "started_by": s.started_by, "created_at": s.created_at,
            });
            self.emit(
                s.tenant_id,
                docent_core::domain::WebhookEvent::ConversationStarted,
                data,
            )
            .await;
        } else {
            self.store
                .append_messages(p.session.tenant_id, p.session.id, &turn)
                .await?;
        }
        p.reservation.commit();
        self.save_trace(p.session.tenant_id, &trace).await;
        self.meter
            .record(
                p.session.tenant_id,
                Some(p.bot.id),
                &[
                    (UsageKind::Messages, 1),
                    (UsageKind::PromptTokens, written.usage.prompt_tokens.into()),
                    (
                        UsageKind::CompletionTokens,
                        written.usage.completion_tokens.into(),
                    ),
                ],
            )
            .await;
        metrics::counter!("docent_chat_answers_total", "mode" => mode, "answered" => if written.answered { "true" } else { "false" }).increment(1);
        Ok(Saved {
            id,
            text,
            citations,
            sources: if written.answered {
                p.passages
            } else {
                Vec::new()
            },
            answered: written.answered,
            finish_reason: written.finish_reason,
            grounding: answer_grounding,
            usage: written.usage,
        })
    }

    pub async fn ask(&self, ctx: &Ctx, req: AskRequest) -> ServiceResult<ChatAnswer> {
        // On failure (or cancellation) the reservation inside is dropped and
        // released; `save` commits it.
        let p = self.prepare(ctx, req).await?;
        // The model's own timeouts bound the wait for each token; this
        // bounds the whole answer, for a model that drips.
        let deadline = self.settings.llm_answer_timeout;
        let write = self.write(&p, |_| async { true }, std::future::pending());
        let (written, failure) = tokio::time::timeout(deadline, write).await.map_err(|_| {
            LlmError::Timeout(format!(
                "no complete answer within {} s",
                deadline.as_secs()
            ))
        })?;
        // Without a stream nothing was shown: a failure keeps nothing.
        if let Some(e) = failure {
            return Err(e);
        }
        let session_id = p.session.id;
        let saved = self.save(p, written).await?;
        Ok(ChatAnswer {
            session_id,
            message_id: saved.id,
            answer: saved.text,
            citations: saved.citations,
            sources: saved.sources,
            answered: saved.answered,
            mode: self.mode().to_string(),
            finish_reason: saved.finish_reason,
            grounding: saved.grounding,
            usage: saved.usage,
        })
    }

    /// The one answer loop: the fixed answer, or the model's, whose deltas
    /// go to `emit` as they arrive (`false`: the receiver left). Stops early,
    /// keeping what arrived as a partial answer, when the receiver leaves or
    /// `closed` completes. An empty answer is a failure.
    async fn write<F: Future<Output = bool>>(
        &self,
        p: &Prepared,
        mut emit: impl FnMut(String) -> F,
        closed: impl Future<Output = ()>,
    ) -> (Written, Option<ServiceError>) {
        let llm = match self.writer(p) {
            Ok(fixed) => {
                emit(fixed.text.clone()).await;
                return (fixed, None);
            }
            Err(llm) => llm,
        };
        let clock = Instant::now();
        let request = self.model_request(p);
        let mut written = Written::fixed(String::new(), true, "passages_found");
        written.model = Some(
            request
                .model
                .clone()
                .unwrap_or_else(|| llm.model().to_string()),
        );
        let mut failure: Option<ServiceError> = None;
        // `drop`: sentences pass only once checked, so what is written (and
        // stored) is what the gate released.
        let mut gate = (p.bot.unsupported_sentences == UnsupportedSentences::Drop)
            .then(|| grounding::Gate::new(self.grounding.clone(), p.texts.clone()));
        match llm.stream(request).await {
            Err(e) => failure = Some(e.into()),
            Ok(mut stream) => {
                tokio::pin!(closed);
                loop {
                    tokio::select! {
                        () = &mut closed => {
                            written.partial = true;
                            break;
                        }
                        event = stream.next() => match event {
                            Some(Ok(ChatEvent::Delta(d))) => {
                                let d = match gate.as_mut() {
                                    Some(g) => g.push(&d).await,
                                    None => d,
                                };
                                if d.is_empty() {
                                    continue;
                                }
                                written.text.push_str(&d);
                                if !emit(d).await {
                                    written.partial = true;
                                    break;
                                }
                            }
                            Some(Ok(ChatEvent::Done { usage, finish_reason })) => {
                                written.finish(usage, finish_reason);
                                if let Some(g) = gate.as_mut() {
                                    let mut rest = g.finish().await;
                                    // Every claim dropped: the bot does not know.
                                    if g.dropped_all() {
                                        rest = DONT_KNOW.to_string();
                                        written.answered = false;
                                        written.reason = "no_sentence_supported";
                                    }
                                    if !rest.is_empty() {
                                        written.text.push_str(&rest);
                                        emit(rest).await;
                                    }
                                }
                                break;
                            }
                            Some(Err(e)) => {
                                written.partial = true;
                                failure = Some(e.into());
                                break;
                            }
                            None => break,
                        }
                    }
                }
            }
        }
        // An empty completion (or one the client could not parse) is a
        // failure: nothing stored, nothing billed.
        if failure.is_none() && !written.partial && written.text.trim().is_empty() {
            failure = Some(LlmError::Failed("the model returned an empty answer".into()).into());
        }
        written.generate_ms = Some(clock.elapsed().as_secs_f64() * 1000.0);
        written.checked = gate.and_then(grounding::Gate::into_checked);
        (written, failure)
    }

    /// Like [`Services::ask`], as a stream of events. Bad requests fail before
    /// the stream starts; failures while writing end it with an `Error` event.
    /// When the receiver goes away mid-answer, the model request is cancelled
    /// and what arrived is stored as a partial answer.
    pub async fn ask_stream(
        &self,
        ctx: &Ctx,
        req: AskRequest,
    ) -> ServiceResult<tokio::sync::mpsc::Receiver<AnswerEvent>> {
        let p = self.prepare(ctx, req).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(32);
        let this = self.clone();
        tokio::spawn(async move {
            let meta = AnswerEvent::Meta {
                session_id: p.session.id,
                citations: p.passages.clone(),
                sources: p.passages.clone(),
            };
            let _ = tx.send(meta).await;
            let emit = |text| {
                let tx = tx.clone();
                async move { tx.send(AnswerEvent::Delta { text }).await.is_ok() }
            };
            let (written, mut failure) = this.write(&p, emit, tx.closed()).await;
            // Nothing written and a failure: nothing to keep, as without streaming.
            if let Some(e) = failure.take_if(|_| written.text.trim().is_empty()) {
                p.reservation.release().await;
                let _ = tx.send(error_event(e)).await;
                return;
            }
            match this.save(p, written).await {
                Ok(saved) => {
                    let last = match failure {
                        Some(e) => error_event(e),
                        None => AnswerEvent::Done {
                            message_id: saved.id,
                            usage: saved.usage,
                            mode: this.mode().to_string(),
                            citations: saved.citations,
                            sources: saved.sources,
                            answered: saved.answered,
                            finish_reason: saved.finish_reason,
                            grounding: saved.grounding,
                        },
                    };
                    let _ = tx.send(last).await;
                }
                // `save` dropped the reservation, which released it.
                Err(e) => {
                    let _ = tx.send(error_event(e)).await;
                }
            }
        });
        Ok(rx)
    }

    pub async fn list_sessions(
        &self,
        ctx: &Ctx,
        bot: Option<BotId>,
        page: &PageRequest,
    ) -> ServiceResult<Page<ChatSession>> {
        let starter = ctx.actor.starter();
        let (bot, owner) = match ctx.actor.visitor() {
            Some(v) => {
                Self::require_chat(ctx, bot.unwrap_or(v.bot_id))?;
                (Some(v.bot_id), SessionOwner::Visitor(v.id.as_str()))
            }
            None => {
                ctx.actor.require(Role::Viewer)?;
                match starter.as_deref() {
                    Some(me) if ctx.actor.role == Role::Viewer => {
                        (bot, SessionOwner::StartedBy(me))
                    }
                    _ => (bot, SessionOwner::Anyone),
                }
            }
        };
        if let Some(bot) = bot {
            self.store.get_bot(ctx.actor.tenant_id, bot).await?;
        }
        Ok(self
            .store
            .list_sessions(ctx.actor.tenant_id, bot, owner, page)
            .await?)
    }

    pub async fn session_messages(
        &self,
        ctx: &Ctx,
        session: SessionId,
    ) -> ServiceResult<Vec<ChatMessage>> {
        if ctx.actor.visitor().is_none() {
            ctx.actor.require(Role::Viewer)?;
        }
        let found = self.store.get_session(ctx.actor.tenant_id, session).await?;
        if !Self::owns_session(ctx, &found) {
            return Err(ServiceError::NotFound);
        }
        Ok(self
            .store
            .list_messages(ctx.actor.tenant_id, session, None)
            .await?)
    }
}
