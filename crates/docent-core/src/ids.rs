//! Typed identifiers: a `BotId` cannot be passed where a `TenantId` is expected.
//! All are UUIDv7 (time-ordered, so they double as stable cursors for paging).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

    };
}

id_type!(
    /// A customer organisation; every row in the system belongs to exactly one.
    TenantId
);
id_type!(UserId);
id_type!(ApiKeyId);
id_type!(BotId);
id_type!(AuditId);
id_type!(
    /// Groups the refresh tokens descended from one login, so reuse of a revoked
    /// token can revoke every token of that login at once.
    TokenFamilyId
);
id_type!(DocumentId);
id_type!(FileId);
id_type!(ChunkId);
id_type!(JobId);
id_type!(
    /// A conversation between a visitor (or user) and one bot.
    SessionId
);
id_type!(MessageId);
id_type!(
    /// Contact details a visitor left with a bot.
    LeadId
);
id_type!(
    /// A tenant's endpoint that receives signed event notifications.
    WebhookId
);
id_type!(
    /// One event's delivery to one webhook endpoint, with its attempts.
    DeliveryId
);
