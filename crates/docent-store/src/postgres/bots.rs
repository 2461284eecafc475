//! Bots on PostgreSQL. Settings (origins, retrieval, theme) stay JSON text as
//! in SQLite, since no query looks inside them. Deleting a bot removes its
//! documents first, in the lock order ingestion uses (see `delete_bot`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::Bot;
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{BotStore, Page, PageRequest, StoreError, StoreResult};

use super::{PgStore, backend, map_err, page_of, parse_id};

#[derive(sqlx::FromRow)]
struct BotRow {
    id: String,
    tenant_id: String,
    name: String,
    description: Option<String>,
    system_prompt: Option<String>,
    welcome_message: Option<String>,
    model: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<i64>,
    public: bool,
    allowed_origins: String,
    retrieval: String,
    theme: String,
    visitor_messages_per_minute: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<BotRow> for Bot {
    type Error = StoreError;
    fn try_from(r: BotRow) -> StoreResult<Self> {
        Ok(Bot {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            name: r.name,
            description: r.description,
            system_prompt: r.system_prompt,
            welcome_message: r.welcome_message,
            model: r.model,
            temperature: r.temperature.map(|t| t as f32),
            max_tokens: r.max_tokens.map(|t| t as u32),
            public: r.public,
            allowed_origins: serde_json::from_str(&r.allowed_origins).map_err(backend)?,
            retrieval: serde_json::from_str(&r.retrieval).map_err(backend)?,
            theme: serde_json::from_str(&r.theme).map_err(backend)?,
            visitor_messages_per_minute: r.visitor_messages_per_minute as u32,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Column list, as a macro so queries stay `&'static str` (no dynamic SQL).
macro_rules! bot_columns {
    () => {
        "id, tenant_id, name, description, system_prompt, welcome_message, model, \
         temperature, max_tokens, public, allowed_origins, retrieval, theme, visitor_messages_per_minute, \
         created_at, updated_at"
    };
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("domain values serialise")
}

#[async_trait]
impl BotStore for PgStore {
    async fn create_bot(&self, bot: &Bot) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO bots (",
            bot_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(bot.id.to_string())
        .bind(bot.tenant_id.to_string())
        .bind(&bot.name)
        .bind(&bot.description)
        .bind(&bot.system_prompt)
        .bind(&bot.welcome_message)
        .bind(&bot.model)
        .bind(bot.temperature.map(f64::from))
        .bind(bot.max_tokens.map(i64::from))
        .bind(bot.public)
        .bind(json(&bot.allowed_origins))
        .bind(json(&bot.retrieval))
        .bind(json(&bot.theme))
        .bind(bot.visitor_messages_per_minute as i64)
        .bind(bot.created_at)
        .bind(bot.updated_at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_bot(&self, tenant: TenantId, bot: BotId) -> StoreResult<Bot> {
        sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(bot.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn get_bot_any_tenant(&self, bot: BotId) -> StoreResult<Bot> {
        sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE id = $1"
        ))
        .bind(bot.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?
        .try_into()
    }

    async fn list_bots(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Bot>> {
        let rows = sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots
             WHERE tenant_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ))
        .bind(tenant.to_string())
        .bind(&page.after)
        .bind(page.limit as i64 + 1)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        let bots = rows
            .into_iter()
            .map(Bot::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(bots, page, |b| b.id.to_string()))
    }

    async fn update_bot(&self, bot: &Bot) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE bots SET name = $1, description = $2, system_prompt = $3, welcome_message = $4,
                 model = $5, temperature = $6, public = $7, allowed_origins = $8, retrieval = $9,
                 theme = $10, visitor_messages_per_minute = $11, updated_at = $12, max_tokens = $13
             WHERE tenant_id = $14 AND id = $15",
        )
        .bind(&bot.name)
        .bind(&bot.description)
        .bind(&bot.system_prompt)
        .bind(&bot.welcome_message)
        .bind(&bot.model)
        .bind(bot.temperature.map(f64::from))
        .bind(bot.public)
        .bind(json(&bot.allowed_origins))
        .bind(json(&bot.retrieval))
        .bind(json(&bot.theme))
        .bind(bot.visitor_messages_per_minute as i64)
        .bind(bot.updated_at)
        .bind(bot.max_tokens.map(i64::from))
        .bind(bot.tenant_id.to_string())
        .bind(bot.id.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_bot(&self, tenant: TenantId, bot: BotId) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        // Documents go first (their chunks by cascade), then the bot; the rest
        // (files, sessions, leads) follow it by cascade. Ingestion locks a
        // document before bumping its bot's index version, so taking the
        // bot's row first could deadlock with a document being ingested.
        sqlx::query("DELETE FROM documents WHERE tenant_id = $1 AND bot_id = $2")
            .bind(tenant.to_string())
            .bind(bot.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let done = sqlx::query("DELETE FROM bots WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(bot.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err)
    }
}
