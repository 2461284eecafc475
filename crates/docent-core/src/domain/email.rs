//! The single-use tokens that email links carry: an address's
//! verification, a password reset, an invitation to a tenant.

use chrono::{DateTime, Utc};

use crate::domain::{Email, Role};
use crate::ids::{TenantId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailPurpose {
    Verify,
    Reset,
    Invite,
}

impl EmailPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::Invite => "invite",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verify" => Some(Self::Verify),
            "reset" => Some(Self::Reset),
            "invite" => Some(Self::Invite),
            _ => None,
        }
    }
}

/// A token as stored: the digest of the secret the link carries, never the
/// secret. `user_id` is the account for verification and reset; an
/// invitation names the address and the role its account will get.
#[derive(Clone, Debug)]
pub struct EmailToken {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    pub email: Email,
    pub role: Option<Role>,
    pub purpose: EmailPurpose,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
