//! Leads: a visitor leaves contact details (through the widget's embed
//! token, tied to their own conversation); editors read them per bot.

use chrono::Utc;
use docent_core::domain::{Lead, Role, UsageKind};
use docent_core::ids::{BotId, LeadId, SessionId};
use docent_core::store::{Page, PageRequest};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Ctx, ServiceError, ServiceResult, Services, limit_len};

/// Largest `metadata` accepted, serialised.
const MAX_METADATA_BYTES: usize = 4 * 1024;

/// Body of `POST /leads`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLeadRequest {
    /// The bot the lead is for. Embed tokens imply it; otherwise it comes from
    /// here or from `session_id`.
    pub bot_id: Option<BotId>,
    pub session_id: Option<SessionId>,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Extra fields (an object of at most 4 KB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

fn check_phone(phone: &str) -> ServiceResult<()> {
    let ok = phone.chars().count() <= 40
        && phone.chars().filter(char::is_ascii_digit).count() >= 3
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(
            "`phone` must be a phone number (digits, spaces and + - ( ) .)".into(),
        ))
    }
}

impl Services {
    pub async fn create_lead(&self, ctx: &Ctx, req: NewLeadRequest) -> ServiceResult<Lead> {
        let tenant = ctx.actor.tenant_id;
        let visitor = ctx.actor.visitor();
        if visitor.is_none() {
            ctx.actor.require(Role::Editor)?;
        }
        let email = super::auth::parse_email(&req.email)?;
        if let Some(name) = &req.name {
            limit_len("name", name, 1, 200)?;
        }
        if let Some(phone) = &req.phone {
            check_phone(phone.trim())?;
        }
        let metadata = req.metadata.unwrap_or_else(|| serde_json::json!({}));
        if !metadata.is_object() || metadata.to_string().len() > MAX_METADATA_BYTES {
            return Err(ServiceError::Invalid(format!(
                "`metadata` must be an object of at most {MAX_METADATA_BYTES} bytes"
            )));
        }
        let session = match req.session_id {
            Some(id) => Some(self.store.get_session(tenant, id).await?),
            None => None,
        };
        if let (Some(v), Some(s)) = (visitor, &session)
            && s.visitor.as_deref() != Some(v.id.as_str())
        {
            return Err(ServiceError::NotFound);
        }
        let bot_id = match (visitor, req.bot_id, &session) {
            (Some(v), Some(asked), _) if asked != v.bot_id => {
                return Err(ServiceError::Forbidden(
                    "an embed token may only leave leads for its own bot".into(),
                ));
            }
            (Some(v), _, _) => v.bot_id,
            (None, Some(bot), _) => bot,
            (None, None, Some(s)) => s.bot_id,
            (None, None, None) => {
                return Err(ServiceError::Invalid(
                    "`bot_id` or `session_id` is required".into(),
                ));
            }
        };
        if session.as_ref().is_some_and(|s| s.bot_id != bot_id) {
            return Err(ServiceError::Invalid(
                "`session_id` is a conversation with another bot".into(),
            ));
        }
        self.store.get_bot(tenant, bot_id).await?;
        let lead = Lead {
            id: LeadId::new(),
            tenant_id: tenant,
            bot_id,
            session_id: session.map(|s| s.id),
            email: email.as_str().to_string(),
            name: req.name.map(|n| n.trim().to_string()),
            phone: req.phone.map(|p| p.trim().to_string()),
            metadata,
            visitor: visitor.map(|v| v.id.clone()),
            created_at: Utc::now(),
        };
        // Counted against the plan's monthly leads: all or nothing.
        let reservation = self
            .meter
            .reserve_guarded(tenant, &[(UsageKind::Leads, 1)])
            .await?;
        // A failure drops the guard, which releases the reservation.
        self.store.create_lead(&lead).await?;
        reservation.commit();
        self.meter
            .record(tenant, Some(bot_id), &[(UsageKind::Leads, 1)])
            .await;
        self.audit(ctx, "lead.create", "lead", Some(lead.id.to_string()))
            .await;
        let data = serde_json::json!({
            "lead_id": lead.id, "bot_id": lead.bot_id, "session_id": lead.session_id,
            "email": lead.email, "name": lead.name, "phone": lead.phone,
            "visitor": lead.visitor, "created_at": lead.created_at,
        });
        self.emit(tenant, docent_core::domain::WebhookEvent::LeadCreated, data)
            .await;
        Ok(lead)
    }

    pub async fn list_leads(
        &self,
        ctx: &Ctx,
        bot: Option<BotId>,
        page: &PageRequest,
    ) -> ServiceResult<Page<Lead>> {
        ctx.actor.require(Role::Editor)?;
        if let Some(bot) = bot {
            self.store.get_bot(ctx.actor.tenant_id, bot).await?;
        }
        Ok(self
            .store
            .list_leads(ctx.actor.tenant_id, bot, page)
            .await?)
    }
}

/// Leads one CSV export holds at most (newest first).
pub const MAX_EXPORTED_LEADS: usize = 100_000;

impl Services {
    /// The tenant's leads (of one bot, or all) as CSV, newest first, at
    /// most [`MAX_EXPORTED_LEADS`]. Visitor-written cells are defused for
    /// spreadsheets as conversation exports are.
    pub async fn leads_csv(&self, ctx: &Ctx, bot: Option<BotId>) -> ServiceResult<String> {
        ctx.actor.require(Role::Editor)?;
        let mut leads = Vec::new();
        let mut page = PageRequest {
            limit: 200,
            after: None,
        };
        loop {
            let got = self.list_leads(ctx, bot, &page).await?;
            leads.extend(got.items);
            match got.next_cursor {
                Some(next) if leads.len() < MAX_EXPORTED_LEADS => page.after = Some(next),
                _ => break,
            }
        }
        leads.truncate(MAX_EXPORTED_LEADS);
        let cell = crate::analytics::export::cell;
        let mut out = Vec::new();
        {
            let mut csv = csv::Writer::from_writer(&mut out);
            let header = [
                "created_at",
                "email",
                "name",
                "phone",
                "bot_id",
                "session_id",
                "visitor",
            ];
            let failed = |e: csv::Error| ServiceError::internal(e.to_string());
            csv.write_record(header).map_err(failed)?;
            for l in &leads {
                csv.write_record([
                    l.created_at.to_rfc3339(),
                    cell(&l.email),
                    cell(l.name.as_deref().unwrap_or_default()),
                    cell(l.phone.as_deref().unwrap_or_default()),
                    l.bot_id.to_string(),
                    l.session_id.map(|s| s.to_string()).unwrap_or_default(),
                    cell(l.visitor.as_deref().unwrap_or_default()),
                ])
                .map_err(failed)?;
            }
            csv.flush()
                .map_err(|e| ServiceError::internal(e.to_string()))?;
        }
        String::from_utf8(out).map_err(|e| ServiceError::internal(e.to_string()))
    }
}
