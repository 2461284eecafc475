//! Leads: contact details a visitor leaves with a bot, for the tenant's sales
//! or support team.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{BotId, LeadId, SessionId, TenantId};

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Lead {
    pub id: LeadId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub bot_id: BotId,
    /// The conversation the lead came from, when given.
    pub session_id: Option<SessionId>,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Free-form extra fields (an object).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// The visitor who left it, when it came through an embed token.
    pub visitor: Option<String>,
    pub created_at: DateTime<Utc>,
}
