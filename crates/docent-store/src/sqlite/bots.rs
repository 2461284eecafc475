use async_trait::async_trait;
use docent_core::domain::Bot;
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{BotStore, Page, PageRequest, StoreError, StoreResult};

use super::{SqliteStore, backend, map_err, page_of, parse_id, parse_ts, ts};

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
    created_at: String,
    updated_at: String,
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
            created_at: parse_ts(&r.created_at)?,
            updated_at: parse_ts(&r.updated_at)?,
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
impl BotStore for SqliteStore {
    async fn create_bot(&self, bot: &Bot) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO bots (",
            bot_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .bind(ts(bot.created_at))
        .bind(ts(bot.updated_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_bot(&self, tenant: TenantId, bot: BotId) -> StoreResult<Bot> {
        sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE tenant_id = ? AND id = ?"
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
            " FROM bots WHERE id = ?"
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
             WHERE tenant_id = ? AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?"
        ))
        .bind(tenant.to_string())
        .bind(&page.after)
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
            "UPDATE bots SET name = ?, description = ?, system_prompt = ?, welcome_message = ?,
                 model = ?, temperature = ?, public = ?, allowed_origins = ?, retrieval = ?,
                 theme = ?, visitor_messages_per_minute = ?, updated_at = ?, max_tokens = ?
             WHERE tenant_id = ? AND id = ?",
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
        .bind(ts(bot.updated_at))
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
        let mut tx = self.write_tx().await?;
        // Chunks go first, explicitly, so the keyword-index triggers run;
        // documents, files and the rest follow by cascade.
        sqlx::query("DELETE FROM chunks WHERE tenant_id = ? AND bot_id = ?")
            .bind(tenant.to_string())
            .bind(bot.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let done = sqlx::query("DELETE FROM bots WHERE tenant_id = ? AND id = ?")
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
