//! Outbound webhooks: a tenant's endpoints, the events they subscribe to,
//! and each event's delivery to each endpoint with its attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{DeliveryId, TenantId, WebhookId};

/// What an endpoint can be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum WebhookEvent {
    /// A document was ingested and is searchable.
    #[serde(rename = "document.ready")]
    DocumentReady,
    /// A document could not be ingested; `error` says why.
    #[serde(rename = "document.failed")]
    DocumentFailed,
    /// A source's run finished (sent once sources exist).
    #[serde(rename = "source.synced")]
    SourceSynced,
    /// A visitor left their contact details.
    #[serde(rename = "lead.created")]
    LeadCreated,
    /// A visitor or user started a conversation.
    #[serde(rename = "conversation.started")]
    ConversationStarted,
    /// An answer was rated.
    #[serde(rename = "message.feedback")]
    MessageFeedback,
    /// A request was refused by a plan limit.
    #[serde(rename = "usage.limit_reached")]
    UsageLimitReached,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 7] = [
        Self::DocumentReady,
        Self::DocumentFailed,
        Self::SourceSynced,
        Self::LeadCreated,
        Self::ConversationStarted,
        Self::MessageFeedback,
        Self::UsageLimitReached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DocumentReady => "document.ready",
            Self::DocumentFailed => "document.failed",
            Self::SourceSynced => "source.synced",
            Self::LeadCreated => "lead.created",
            Self::ConversationStarted => "conversation.started",
            Self::MessageFeedback => "message.feedback",
            Self::UsageLimitReached => "usage.limit_reached",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// A tenant's endpoint. Its signing secret is stored beside it and shown
/// once, when the endpoint is created.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// An `https://` (or `http://`) URL on a public address.
    pub url: String,
    pub description: Option<String>,
    /// The events delivered to it.
    pub events: Vec<WebhookEvent>,
    /// False once disabled (by its owner, or after repeated failure).
    pub enabled: bool,
    /// Why it was disabled, when it was by failures.
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row; a success resets it.
    pub consecutive_failures: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.enabled && self.events.contains(&event)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet: queued, or waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt failed, or the endpoint was disabled or deleted.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event for one endpoint. `message_id` is the `webhook-id` header,
/// the same on every attempt and redelivery, so a receiver can drop
/// duplicates.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: DeliveryId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookId,
    pub event: WebhookEvent,
    pub message_id: String,
    /// The body sent: `{type, timestamp, data}`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The endpoint's HTTP status on the last attempt, if it answered.
    pub response_status: Option<u16>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How one attempt went, as the store records it.
#[derive(Clone, Debug)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    pub response_status: Option<u16>,
    /// `None` when the endpoint answered 2xx.
    pub error: Option<String>,
    /// No attempt follows this one (the last allowed, or one that cannot
    /// succeed): a failure makes the delivery `failed`.
    pub last: bool,
}
