use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Role;
use crate::ids::{ApiKeyId, TenantId, UserId};

/// An API key as listed: the secret itself is never stored, only its hash.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub name: String,
    pub role: Role,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub created_by: Option<UserId>,
}

pub struct NewApiKey {
    pub key: ApiKey,
    pub key_hash: String,
}
