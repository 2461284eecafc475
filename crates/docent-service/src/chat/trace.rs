//! The retrieval trace of an answer: built from what the answer's
//! preparation and writing recorded, stored with the answer, and read back
//! by the people who run the bot (never by its visitors).

use std::collections::HashSet;

use docent_core::domain::{
    ChatMessage, ContextPassage, Decision, GenerationTrace, MessageTrace, Role, TRACE_TEXT_CHARS,
    clip,
};
use docent_core::ids::{MessageId, TenantId};

use super::grounding::Checked;
use super::{Prepared, Written};
use crate::{Ctx, ServiceError, ServiceResult, Services};

/// The trace of `answer`, written as `written` says from what `p` found.
pub(super) fn build(
    p: &Prepared,
    written: &Written,
    answer: &ChatMessage,
    checked: Option<Checked>,
) -> MessageTrace {
    let cited: HashSet<u32> = answer.citations.iter().map(|c| c.n).collect();
    // A decline sent nothing to a model; quotes and answers drew on every
    // retrieved passage.
    let context = if written.reason == "no_passage_above_floor" {
        Vec::new()
    } else {
        p.passages
            .iter()
            .zip(&p.tokens)
            .map(|(c, &tokens)| ContextPassage {
                n: c.n,
                chunk_id: c.chunk_id,
                tokens,
                cited: cited.contains(&c.n),
            })
            .collect()
    };
    let mode = match (&written.model, written.answered) {
        (Some(_), _) => "generative",
        (None, true) => "extractive",
        (None, false) if written.reason == "no_sentence_answers" => "extractive",
        (None, false) => "declined",
    };
    let mut timings = p.timings;
    timings.generate = written.generate_ms;
    timings.grounding = checked.as_ref().map(|c| c.ms);
    timings.total = p.started.elapsed().as_secs_f64() * 1000.0;
    MessageTrace {
        message_id: answer.id,
        question: clip(&p.question, TRACE_TEXT_CHARS),
        search_query: clip(&p.search_query, TRACE_TEXT_CHARS),
        retrieval: p.retrieval.clone(),
        decision: Decision {
            answered: written.answered,
            reason: if written.partial {
                "partial".into()
            } else {
                written.reason.into()
            },
        },
        context,
        generation: GenerationTrace {
            mode: mode.into(),
            model: written.model.clone(),
            prompt_tokens: written.usage.prompt_tokens,
            completion_tokens: written.usage.completion_tokens,
            finish_reason: written.finish_reason.clone(),
            partial: written.partial,
        },
        grounding: checked.map(|c| c.trace),
        timings_ms: timings,
    }
}

impl Services {
    /// Stores an answer's trace. The answer is already stored and shown: a
    /// trace that cannot be written is logged and counted, not an error.
    pub(super) async fn save_trace(&self, tenant: TenantId, trace: &MessageTrace) {
        let clock = std::time::Instant::now();
        let json = match serde_json::to_string(trace) {
            Ok(json) => json,
            Err(error) => {
                tracing::error!(%error, "an answer's trace could not be encoded");
                return;
            }
        };
        metrics::histogram!("docent_chat_trace_bytes").record(json.len() as f64);
        if let Err(error) = self
            .store
            .save_trace(tenant, trace.message_id, &json, chrono::Utc::now())
            .await
        {
            metrics::counter!("docent_chat_trace_failures_total").increment(1);
            tracing::warn!(error = %crate::ErrorChain(&error), message_id = %trace.message_id, "an answer's trace was not stored");
            return;
        }
        // What a trace costs an answer: encoding and the write.
        metrics::histogram!("docent_chat_trace_write_seconds")
            .record(clock.elapsed().as_secs_f64());
    }

    /// An answer's trace, for the users and keys that may read its
    /// conversation. Embed tokens never read traces: they hold the bot's
    /// retrieval internals (other passages, scores, the floor).
    pub async fn message_trace(&self, ctx: &Ctx, id: MessageId) -> ServiceResult<MessageTrace> {
        if ctx.actor.visitor().is_some() {
            return Err(ServiceError::Forbidden(
                "an embed token cannot read retrieval traces".into(),
            ));
        }
        ctx.actor.require(Role::Viewer)?;
        let tenant = ctx.actor.tenant_id;
        let message = self.store.get_message(tenant, id).await?;
        let session = self.store.get_session(tenant, message.session_id).await?;
        if !Self::owns_session(ctx, &session) {
            return Err(ServiceError::NotFound);
        }
        let json = self.store.get_trace(tenant, id).await?;
        serde_json::from_str(&json).map_err(ServiceError::internal)
    }
}
