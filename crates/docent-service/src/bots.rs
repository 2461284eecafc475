//! Bots: editors and stronger change them, every role reads them.

use chrono::Utc;

use super::{Ctx, ServiceError, ServiceResult, Services};
use docent_core::domain::{
    Bot, BotPatch, DEFAULT_VISITOR_MESSAGES_PER_MINUTE, DocumentCounts, Job, NewBot, Role, changes,
};
use docent_core::ids::BotId;
use docent_core::store::{Page, PageRequest};

impl Services {
    pub async fn create_bot(&self, ctx: &Ctx, req: NewBot) -> ServiceResult<Bot> {
        ctx.actor.require(Role::Editor)?;
        let now = Utc::now();
        let bot = Bot {
            id: BotId::new(),
            tenant_id: ctx.actor.tenant_id,
            name: req.name.trim().to_string(),
            description: req.description,
            system_prompt: req.system_prompt,
            welcome_message: req.welcome_message,
            model: req.model,
            temperature: req.temperature,
            max_tokens: req.max_tokens,
            public: req.public,
            allowed_origins: req.allowed_origins,
            retrieval: req.retrieval,
            theme: req.theme.unwrap_or_else(|| serde_json::json!({})),
            visitor_messages_per_minute: req
                .visitor_messages_per_minute
                .unwrap_or(DEFAULT_VISITOR_MESSAGES_PER_MINUTE),
            unsupported_sentences: req.unsupported_sentences,
            created_at: now,
            updated_at: now,
        };
        bot.validate()?;
        self.check_model(bot.model.as_deref())?;
        self.store().create_bot(&bot).await?;
        let created = changes(None, Some(&bot));
        self.audit_change(ctx, "bot.create", "bot", Some(bot.id.to_string()), created)
            .await;
        Ok(bot)
    }

    /// A bot may name only a model the operator allows
    /// (`DOCENT_LLM_ALLOWED_MODELS`, default: the configured model), since it
    /// is paid for with the operator's key. Without a model endpoint the
    /// field is unused and anything is kept.
    fn check_model(&self, model: Option<&str>) -> ServiceResult<()> {
        let (Some(model), Some(allowed)) = (model, &self.settings.llm_allowed_models) else {
            return Ok(());
        };
        if allowed.iter().any(|m| m == model) {
            Ok(())
        } else {
            Err(ServiceError::Invalid(format!(
                "`model` must be one this server allows: {}",
                allowed.join(", ")
            )))
        }
    }

    pub async fn get_bot(&self, ctx: &Ctx, id: BotId) -> ServiceResult<Bot> {
        ctx.actor.require(Role::Viewer)?;
        Ok(self.store().get_bot(ctx.actor.tenant_id, id).await?)
    }

    /// What the bot's knowledge is doing: its documents by status and its
    /// jobs still queued or running.
    pub async fn bot_status(
        &self,
        ctx: &Ctx,
        id: BotId,
    ) -> ServiceResult<(DocumentCounts, Vec<Job>)> {
        ctx.actor.require(Role::Viewer)?;
        let tenant = ctx.actor.tenant_id;
        self.store().get_bot(tenant, id).await?;
        let (documents, jobs) = tokio::try_join!(
            self.store().document_counts(tenant, id),
            self.store().active_jobs(tenant, id)
        )?;
        Ok((documents, jobs))
    }

    pub async fn list_bots(&self, ctx: &Ctx, page: &PageRequest) -> ServiceResult<Page<Bot>> {
        ctx.actor.require(Role::Viewer)?;
        Ok(self.store().list_bots(ctx.actor.tenant_id, page).await?)
    }

    pub async fn update_bot(&self, ctx: &Ctx, id: BotId, patch: BotPatch) -> ServiceResult<Bot> {
        ctx.actor.require(Role::Editor)?;
        let mut bot = self.store().get_bot(ctx.actor.tenant_id, id).await?;
        let before = bot.clone();
        if let Some(name) = &patch.name {
            bot.name = name.trim().to_string();
        }
        if let Some(model) = &patch.model {
            self.check_model(model.as_deref())?;
        }
        bot.apply(BotPatch {
            name: None,
            ..patch
        });
        bot.updated_at = Utc::now();
        bot.validate()?;
        self.store().update_bot(&bot).await?;
        let changed = changes(Some(&before), Some(&bot));
        self.audit_change(ctx, "bot.update", "bot", Some(id.to_string()), changed)
            .await;
        Ok(bot)
    }

    pub async fn delete_bot(&self, ctx: &Ctx, id: BotId) -> ServiceResult<()> {
        ctx.actor.require(Role::Editor)?;
        let bot = self.store().get_bot(ctx.actor.tenant_id, id).await?;
        self.store().delete_bot(ctx.actor.tenant_id, id).await?;
        // The rows are gone; the stored files follow. A failure leaves orphaned
        // bytes (logged), never a bot that is half there.
        let prefix = super::knowledge::bot_prefix(ctx.actor.tenant_id, id);
        if let Err(error) = self.blob.delete_prefix(&prefix).await {
            tracing::warn!(error = %crate::ErrorChain(&error), "could not delete the files of a deleted bot");
        }
        let removed = changes(Some(&bot), None);
        self.audit_change(ctx, "bot.delete", "bot", Some(id.to_string()), removed)
            .await;
        Ok(())
    }
}
