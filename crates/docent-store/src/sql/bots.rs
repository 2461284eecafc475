//! Bots. Settings (origins, retrieval, theme) are JSON text, since no query
//! looks inside them.

use async_trait::async_trait;
use docent_core::domain::{Bot, UnsupportedSentences};
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{BotStore, Page, PageRequest, StoreResult};

use super::{Dialect, Q, Row, SqlStore, commit, json, limit_plus_one, page_of, query};

fn bot<D: Dialect>(r: Row<'_, D>) -> StoreResult<Bot> {
    Ok(Bot {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        name: r.text("name")?,
        description: r.opt_text("description")?,
        system_prompt: r.opt_text("system_prompt")?,
        welcome_message: r.opt_text("welcome_message")?,
        model: r.opt_text("model")?,
        temperature: r.opt_float("temperature")?.map(|t| t as f32),
        max_tokens: r.opt_int("max_tokens")?.map(|t| t as u32),
        public: r.flag("public")?,
        allowed_origins: r.json("allowed_origins")?,
        retrieval: r.json("retrieval")?,
        theme: r.json("theme")?,
        visitor_messages_per_minute: r.count("visitor_messages_per_minute")?,
        unsupported_sentences: r.name("unsupported_sentences", UnsupportedSentences::parse)?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The settings a bot is created and updated with, in the order
/// [`with_settings`] binds them.
macro_rules! bot_settings {
    () => {
        "name, description, system_prompt, welcome_message, model, temperature, max_tokens, \
         public, allowed_origins, retrieval, theme, visitor_messages_per_minute, \
         unsupported_sentences"
    };
}

/// Binds a bot's settings ($1 to $13), its update time, tenant and id.
fn with_settings<D: Dialect>(q: Q<D>, b: &Bot) -> Q<D> {
    q.bind(&b.name)
        .bind((&b.description, &b.system_prompt, &b.welcome_message))
        .bind((&b.model, b.temperature.map(f64::from)))
        .bind((b.max_tokens.map(i64::from), b.public))
        .bind((json(&b.allowed_origins), json(&b.retrieval)))
        .bind((json(&b.theme), i64::from(b.visitor_messages_per_minute)))
        .bind(b.unsupported_sentences.as_str())
        .bind((b.updated_at, b.tenant_id, b.id))
}

#[async_trait]
impl<D: Dialect> BotStore for SqlStore<D> {
    async fn create_bot(&self, b: &Bot) -> StoreResult<()> {
        let insert = concat!(
            "INSERT INTO bots (",
            bot_settings!(),
            ", updated_at, tenant_id, id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        );
        with_settings(query::<D>("create_bot", insert), b)
            .bind(b.created_at)
            .run(self.pool())
            .await
    }

    async fn get_bot(&self, tenant: TenantId, id: BotId) -> StoreResult<Bot> {
        let sql = select!(bots: "WHERE tenant_id = $1 AND id = $2");
        query::<D>("get_bot", sql)
            .bind((tenant, id))
            .fetch_one(self.pool(), bot)
            .await
    }

    async fn get_bot_any_tenant(&self, id: BotId) -> StoreResult<Bot> {
        let sql = select!(bots: "WHERE id = $1");
        query::<D>("get_bot_any_tenant", sql)
            .bind(id)
            .fetch_one(self.pool(), bot)
            .await
    }

    async fn list_bots(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Bot>> {
        let sql =
            select!(bots: "WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3");
        let bots = query::<D>("list_bots", sql)
            .bind((tenant, &page.after, limit_plus_one(page)))
            .fetch_all(self.pool(), bot)
            .await?;
        Ok(page_of(bots, page, |b| b.id.to_string()))
    }

    async fn update_bot(&self, b: &Bot) -> StoreResult<()> {
        // The settings in the order `with_settings` binds them, $1 to $14.
        let update = "UPDATE bots SET (name, description, system_prompt, welcome_message, model,
                 temperature, max_tokens, public, allowed_origins, retrieval, theme,
                 visitor_messages_per_minute, unsupported_sentences, updated_at)
               = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             WHERE tenant_id = $15 AND id = $16";
        with_settings(query::<D>("update_bot", update), b)
            .execute_found(self.pool())
            .await
    }

    async fn delete_bot(&self, tenant: TenantId, id: BotId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        query::<D>("delete_bot", D::DELETE_BOT_CONTENTS)
            .bind((tenant, id))
            .execute(&mut tx)
            .await?;
        // Files, sessions and leads follow the bot by cascade.
        let sql = "DELETE FROM bots WHERE tenant_id = $1 AND id = $2";
        query::<D>("delete_bot", sql)
            .bind((tenant, id))
            .execute_found(&mut tx)
            .await?;
        commit(tx, "delete_bot").await
    }
}
