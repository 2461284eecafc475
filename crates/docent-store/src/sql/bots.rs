//! Bots. Settings (origins, retrieval, theme) are JSON text, since no query
//! looks inside them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::Bot;
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{BotStore, Page, PageRequest, StoreError, StoreResult};
use sqlx::{ColumnIndex, Encode, Executor, Type};

use super::{
    Column, Dialect, SqlStore, Ts, Vector, convert, from_json, json, limit_plus_one, map_err,
    page_of, parse_id,
};

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
            allowed_origins: from_json(&r.allowed_origins)?,
            retrieval: from_json(&r.retrieval)?,
            theme: from_json(&r.theme)?,
            visitor_messages_per_minute: r.visitor_messages_per_minute as u32,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Column list, as a macro so queries stay `&'static str` (no dynamic SQL).
macro_rules! bot_columns {
    () => {
        "id, tenant_id, name, description, system_prompt, welcome_message, model, temperature, \
         max_tokens, public, allowed_origins, retrieval, theme, visitor_messages_per_minute, \
         created_at, updated_at"
    };
}

#[async_trait]
impl<D> BotStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'r> &'r str: ColumnIndex<D::Row> + Encode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    String: Column<D>,
    Option<String>: Column<D>,
    i64: Column<D>,
    Option<i64>: Column<D>,
    Option<f64>: Column<D>,
    bool: Column<D>,
    Option<bool>: Column<D>,
    Ts: Column<D>,
    Option<Ts>: Column<D>,
    DateTime<Utc>: Column<D>,
    Option<DateTime<Utc>>: Column<D>,
    Vector: Column<D>,
{
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
        .bind(i64::from(bot.visitor_messages_per_minute))
        .bind(Ts(bot.created_at))
        .bind(Ts(bot.updated_at))
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
            " FROM bots WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ))
        .bind(tenant.to_string())
        .bind(&page.after)
        .bind(limit_plus_one(page))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        Ok(page_of(convert(rows)?, page, |b: &Bot| b.id.to_string()))
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
        .bind(i64::from(bot.visitor_messages_per_minute))
        .bind(Ts(bot.updated_at))
        .bind(bot.max_tokens.map(i64::from))
        .bind(bot.tenant_id.to_string())
        .bind(bot.id.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_bot(&self, tenant: TenantId, bot: BotId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(D::DELETE_BOT_CONTENTS)
            .bind(tenant.to_string())
            .bind(bot.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // Files, sessions and leads follow the bot by cascade.
        let done = sqlx::query("DELETE FROM bots WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(bot.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if D::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err)
    }
}
