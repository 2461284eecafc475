//! Leads. The free-form metadata is JSON text, as no query looks inside it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use docent_core::domain::Lead;
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{LeadStore, Page, PageRequest, StoreError, StoreResult};

use sqlx::{ColumnIndex, Encode, Executor, Type};

use super::{
    Column, Dialect, SqlStore, Ts, Vector, backend, convert, limit_plus_one, map_err, page_of,
    parse_id,
};

#[derive(sqlx::FromRow)]
struct LeadRow {
    id: String,
    tenant_id: String,
    bot_id: String,
    session_id: Option<String>,
    email: String,
    name: Option<String>,
    phone: Option<String>,
    metadata: String,
    visitor: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<LeadRow> for Lead {
    type Error = StoreError;
    fn try_from(r: LeadRow) -> StoreResult<Self> {
        Ok(Lead {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            bot_id: parse_id(&r.bot_id)?,
            session_id: r.session_id.as_deref().map(parse_id).transpose()?,
            email: r.email,
            name: r.name,
            phone: r.phone,
            metadata: serde_json::from_str(&r.metadata).map_err(backend)?,
            visitor: r.visitor,
            created_at: r.created_at,
        })
    }
}

#[async_trait]
impl<D> LeadStore for SqlStore<D>
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
    async fn create_lead(&self, lead: &Lead) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO leads (id, tenant_id, bot_id, session_id, email, name, phone, metadata,
                                visitor, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(lead.id.to_string())
        .bind(lead.tenant_id.to_string())
        .bind(lead.bot_id.to_string())
        .bind(lead.session_id.map(|s| s.to_string()))
        .bind(&lead.email)
        .bind(&lead.name)
        .bind(&lead.phone)
        .bind(lead.metadata.to_string())
        .bind(&lead.visitor)
        .bind(Ts(lead.created_at))
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_leads(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Lead>> {
        let rows: Vec<LeadRow> = sqlx::query_as(
            "SELECT id, tenant_id, bot_id, session_id, email, name, phone, metadata, visitor,
                    created_at
             FROM leads
             WHERE tenant_id = $1 AND ($2 IS NULL OR bot_id = $2)
               AND ($3 IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(tenant.to_string())
        .bind(bot.map(|b| b.to_string()))
        .bind(&page.after)
        .bind(limit_plus_one(page))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        Ok(page_of(convert(rows)?, page, |l: &Lead| l.id.to_string()))
    }
}
