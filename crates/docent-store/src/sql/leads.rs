//! Leads. The free-form metadata is JSON text, as no query looks inside it.

use async_trait::async_trait;
use docent_core::domain::Lead;
use docent_core::ids::{BotId, TenantId};
use docent_core::store::{LeadStore, Page, PageRequest, StoreResult};

use super::{Dialect, Row, SqlStore, limit_plus_one, page_of, query};

fn read_lead<D: Dialect>(r: Row<'_, D>) -> StoreResult<Lead> {
    Ok(Lead {
        id: r.id("id")?,
        tenant_id: r.id("tenant_id")?,
        bot_id: r.id("bot_id")?,
        session_id: r.opt_id("session_id")?,
        email: r.text("email")?,
        name: r.opt_text("name")?,
        phone: r.opt_text("phone")?,
        metadata: r.json("metadata")?,
        visitor: r.opt_text("visitor")?,
        created_at: r.time("created_at")?,
    })
}

#[async_trait]
impl<D: Dialect> LeadStore for SqlStore<D> {
    async fn create_lead(&self, lead: &Lead) -> StoreResult<()> {
        let sql =
            "INSERT INTO leads (id, tenant_id, bot_id, session_id, email, name, phone, metadata,
                                visitor, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        query::<D>("create_lead", sql)
            .bind((lead.id, lead.tenant_id, lead.bot_id, lead.session_id))
            .bind((&lead.email, &lead.name, &lead.phone, &lead.metadata))
            .bind((&lead.visitor, lead.created_at))
            .run(self.pool())
            .await
    }

    async fn list_leads(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Lead>> {
        let sql = "SELECT id, tenant_id, bot_id, session_id, email, name, phone, metadata, visitor,
                          created_at
                   FROM leads
                   WHERE tenant_id = $1 AND ($2 IS NULL OR bot_id = $2)
                     AND ($3 IS NULL OR id < $3)
                   ORDER BY id DESC LIMIT $4";
        let leads = query::<D>("list_leads", sql)
            .bind((tenant, bot, &page.after, limit_plus_one(page)))
            .fetch_all(self.pool(), read_lead)
            .await?;
        Ok(page_of(leads, page, |l| l.id.to_string()))
    }
}
