use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{AuditId, TenantId};

/// One mutating action, recorded for the tenant's audit trail.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: AuditId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// `user`, `api_key`, `embed` or `operator`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    /// Dotted verb such as `bot.create` or `api_key.revoke`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    pub actor_type: &'static str,
    pub actor_id: Option<String>,
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Filters for reading the trail; entries come newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this id (the cursor of the previous page).
    pub before: Option<AuditId>,
    pub limit: u32,
}
