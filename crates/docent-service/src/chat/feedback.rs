//! Thumbs up or down on an answer, from whoever may read its conversation:
//! the visitor who asked (through the widget's embed token) or a user or key
//! that sees the session.

use chrono::Utc;
use docent_core::domain::{
    ChatMessage, FEEDBACK_COMMENT_CHARS, Feedback, MessageRole, Rating, Role,
};
use docent_core::ids::MessageId;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{Ctx, ServiceError, ServiceResult, Services};

#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackRequest {
    pub rating: Rating,
    /// Why, in the visitor's words; at most 2,000 characters.
    pub comment: Option<String>,
}

impl Services {
    /// Records a verdict on an answer, replacing any earlier one; returns
    /// the answer with it.
    pub async fn message_feedback(
        &self,
        ctx: &Ctx,
        id: MessageId,
        req: FeedbackRequest,
    ) -> ServiceResult<ChatMessage> {
        if ctx.actor.visitor().is_none() {
            ctx.actor.require(Role::Viewer)?;
        }
        let comment = req
            .comment
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        if comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > FEEDBACK_COMMENT_CHARS)
        {
            return Err(ServiceError::Invalid(format!(
                "`comment` is longer than {FEEDBACK_COMMENT_CHARS} characters"
            )));
        }
        let tenant = ctx.actor.tenant_id;
        let mut message = self.store.get_message(tenant, id).await?;
        let session = self.store.get_session(tenant, message.session_id).await?;
        if !Self::owns_session(ctx, &session) {
            return Err(ServiceError::NotFound);
        }
        if message.role != MessageRole::Assistant {
            return Err(ServiceError::Invalid(
                "feedback is given on answers, not on questions".into(),
            ));
        }
        let feedback = Feedback {
            rating: req.rating,
            comment,
            created_at: Utc::now(),
        };
        self.store.set_feedback(tenant, id, Some(&feedback)).await?;
        let rating = match feedback.rating {
            Rating::Up => "up",
            Rating::Down => "down",
        };
        metrics::counter!("docent_chat_feedback_total", "rating" => rating).increment(1);
        let data = serde_json::json!({
            "message_id": id, "session_id": session.id, "bot_id": session.bot_id,
            "rating": rating, "comment": feedback.comment, "created_at": feedback.created_at,
        });
        self.emit(
            tenant,
            docent_core::domain::WebhookEvent::MessageFeedback,
            data,
        )
        .await;
        message.feedback = Some(feedback);
        Ok(message)
    }
}
