//! Leads in SQLite.

use async_trait::async_trait;
use docent_core::domain::Lead;
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{LeadStore, Page, PageRequest, StoreResult};

use super::{SqliteStore, backend, map_err, page_of, parse_id, parse_ts, ts};

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
    created_at: String,
}

impl TryFrom<LeadRow> for Lead {
    type Error = docent_core::store::StoreError;
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
            created_at: parse_ts(&r.created_at)?,
        })
    }
}

#[async_trait]
impl LeadStore for SqliteStore {
    async fn create_lead(&self, lead: &Lead) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO leads (id, tenant_id, bot_id, session_id, email, name, phone, metadata,
                                visitor, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .bind(ts(lead.created_at))
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
        let bot = bot.map(|b| b.to_string());
        let rows: Vec<LeadRow> = sqlx::query_as(
            "SELECT id, tenant_id, bot_id, session_id, email, name, phone, metadata, visitor, created_at
             FROM leads
             WHERE tenant_id = ? AND (? IS NULL OR bot_id = ?) AND (? IS NULL OR id < ?)
             ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant.to_string())
        .bind(&bot)
        .bind(&bot)
        .bind(&page.after)
        .bind(&page.after)
        .bind(page.limit as i64 + 1)
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        let leads = rows
            .into_iter()
            .map(Lead::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(leads, page, |l| l.id.to_string()))
    }
}
