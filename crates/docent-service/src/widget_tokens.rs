//! Embedding a bot on a customer's site: the widget's public configuration,
//! embed tokens for anonymous widget visitors (issued to an allowed page
//! origin) and for visitors the customer's server vouches for, and the
//! checks every use of an embed token goes through.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use docent_core::auth::jwt::{EMBED_TYP, EmbedClaims};
use docent_core::domain::{Bot, Role};
use docent_core::ids::BotId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Actor, Ctx, Principal, ServiceError, ServiceResult, Services, Visitor, limit_len};

/// Lifetime of a token issued to the widget; the widget asks again when it
/// expires.
pub const WIDGET_TOKEN_TTL_SECS: u64 = 900;
/// Longest lifetime a server may ask for.
pub const MAX_EMBED_TOKEN_TTL_SECS: u64 = 3600;
const ANON_PREFIX: &str = "anon:";

/// What the widget shows before the first question.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetConfig {
    pub bot_id: BotId,
    pub name: String,
    pub welcome_message: Option<String>,
    #[schema(value_type = Object)]
    pub theme: serde_json::Value,
}

/// Body of `POST /widget/{bot_id}/token` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetTokenRequest {
    /// The `visitor_id` an earlier token response gave this browser, to keep
    /// the visitor's conversations across page loads.
    pub visitor_id: Option<String>,
}

/// Who the customer's server says the visitor is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorClaims {
    pub id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Body of `POST /embed/token`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedTokenRequest {
    pub bot_id: BotId,
    /// 1 to 3600; default 900.
    pub ttl_seconds: Option<u64>,
    pub visitor: Option<VisitorClaims>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// The identity chats and leads are recorded under.
    pub visitor_id: String,
}

/// A fresh anonymous identity: 128 random bits, so knowing one is as good as
/// being that visitor (the widget keeps it like a session cookie).
fn new_anonymous_visitor() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{ANON_PREFIX}{hex}")
}

fn is_anonymous_visitor(id: &str) -> bool {
    id.strip_prefix(ANON_PREFIX)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Services {
    /// A public bot's widget settings. Private and unknown bots are both 404.
    pub async fn widget_config(&self, bot: BotId) -> ServiceResult<WidgetConfig> {
        let bot = self.store.get_bot_any_tenant(bot).await?;
        if !bot.public {
            return Err(ServiceError::NotFound);
        }
        Ok(WidgetConfig {
            bot_id: bot.id,
            name: bot.name,
            welcome_message: bot.welcome_message,
            theme: bot.theme,
        })
    }

    /// Whether a page of `origin` may use this bot's widget; for CORS.
    pub async fn widget_origin_allowed(&self, bot: BotId, origin: &str) -> bool {
        match self.store.get_bot_any_tenant(bot).await {
            Ok(bot) => bot.public && bot.allows_origin(origin),
            Err(_) => false,
        }
    }

    /// Whether a page of `origin` may read responses to requests carrying
    /// this embed token (even an expired one); for CORS.
    pub async fn embed_origin_allowed(&self, token: &str, origin: &str) -> Option<Arc<Bot>> {
        let claims = self.jwt().embed_claims_even_expired(token)?;
        if claims
            .origin
            .as_deref()
            .is_some_and(|bound| bound != origin)
        {
            return None;
        }
        let bot = self.store.get_bot(claims.tid, claims.bot).await.ok()?;
        bot.allows_origin(origin).then(|| Arc::new(bot))
    }

    /// A token for an anonymous widget visitor, bound to the page origin. Only
    /// for public bots and origins on the bot's allow-list.
    pub async fn widget_token(
        &self,
        bot: BotId,
        origin: Option<&str>,
        req: WidgetTokenRequest,
    ) -> ServiceResult<EmbedToken> {
        let bot = self.store.get_bot_any_tenant(bot).await?;
        if !bot.public {
            return Err(ServiceError::Forbidden("this bot is not public".into()));
        }
        let origin = origin.ok_or_else(|| {
            ServiceError::Forbidden("widget tokens are issued to web pages: no `Origin`".into())
        })?;
        if !bot.allows_origin(origin) {
            return Err(ServiceError::Forbidden(format!(
                "the origin {origin} is not in this bot's allowed_origins"
            )));
        }
        let visitor = match req.visitor_id {
            Some(id) if is_anonymous_visitor(&id) => id,
            Some(_) => {
                return Err(ServiceError::Invalid(
                    "`visitor_id` is not one this server issued".into(),
                ));
            }
            None => new_anonymous_visitor(),
        };
        Ok(self.sign_embed(
            &bot,
            visitor,
            Some(origin.to_string()),
            None,
            WIDGET_TOKEN_TTL_SECS,
        ))
    }

    /// A token minted by the customer's server (API key, or an editor) for a
    /// visitor whose identity it vouches for; works on any allowed origin.
    pub async fn embed_token(
        &self,
        ctx: &Ctx,
        req: EmbedTokenRequest,
    ) -> ServiceResult<EmbedToken> {
        let is_key = matches!(ctx.actor.principal, Principal::ApiKey(_));
        ctx.actor
            .require(if is_key { Role::Viewer } else { Role::Editor })?;
        let ttl = req.ttl_seconds.unwrap_or(WIDGET_TOKEN_TTL_SECS);
        if !(1..=MAX_EMBED_TOKEN_TTL_SECS).contains(&ttl) {
            return Err(ServiceError::Invalid(format!(
                "`ttl_seconds` must be between 1 and {MAX_EMBED_TOKEN_TTL_SECS}"
            )));
        }
        let bot = self.store.get_bot(ctx.actor.tenant_id, req.bot_id).await?;
        let claims = req.visitor.unwrap_or_default();
        for (field, value) in [
            ("visitor.id", &claims.id),
            ("visitor.email", &claims.email),
            ("visitor.name", &claims.name),
        ] {
            if let Some(v) = value {
                limit_len(field, v, 1, 320)?;
            }
        }
        if let Some(email) = &claims.email {
            super::auth::parse_email(email)?;
        }
        let visitor = match claims.id.clone().or_else(|| claims.email.clone()) {
            // Checked as stored (trimmed) and case-folded, so " anon:…" or
            // "ANON:…" cannot pose as a widget visitor.
            Some(id) if id.trim().to_ascii_lowercase().starts_with(ANON_PREFIX) => {
                return Err(ServiceError::Invalid(format!(
                    "`visitor.id` may not start with `{ANON_PREFIX}`"
                )));
            }
            Some(id) if id.trim().is_empty() => {
                return Err(ServiceError::Invalid(
                    "`visitor.id` may not be blank".into(),
                ));
            }
            Some(id) => id.trim().to_string(),
            None => new_anonymous_visitor(),
        };
        let token = self.sign_embed(&bot, visitor, None, Some(claims), ttl);
        self.audit(ctx, "embed_token.create", "bot", Some(bot.id.to_string()))
            .await;
        Ok(token)
    }

    fn sign_embed(
        &self,
        bot: &docent_core::domain::Bot,
        visitor: String,
        origin: Option<String>,
        claims: Option<VisitorClaims>,
        ttl: u64,
    ) -> EmbedToken {
        let now = Utc::now().timestamp();
        let exp = now + ttl as i64;
        let claims = claims.unwrap_or_default();
        let token = self.jwt().sign(&EmbedClaims {
            tid: bot.tenant_id,
            bot: bot.id,
            vis: visitor.clone(),
            origin,
            email: claims.email,
            name: claims.name,
            typ: EMBED_TYP.into(),
            iat: now,
            exp,
        });
        EmbedToken {
            token,
            expires_at: Utc.timestamp_opt(exp, 0).single().unwrap_or_else(Utc::now),
            visitor_id: visitor,
        }
    }

    /// The visitor behind an embed token, if it verifies. `origin` is the
    /// request's `Origin` header: a browser must present the token from the
    /// page it was issued to (or, for server-issued tokens, from one of the
    /// bot's allowed origins). Requests without `Origin` come from servers.
    pub async fn actor_from_embed_token(
        &self,
        token: &str,
        origin: Option<&str>,
        read: Option<Arc<Bot>>,
    ) -> ServiceResult<Option<Actor>> {
        let Some(claims) = self.jwt().verify_embed(token) else {
            return Ok(None);
        };
        // `read`: the bot this request already read (the widget's CORS check).
        let bot = match read.filter(|b| b.id == claims.bot && b.tenant_id == claims.tid) {
            Some(bot) => bot,
            None => match self.store.get_bot(claims.tid, claims.bot).await {
                Ok(bot) => Arc::new(bot),
                // The bot was deleted: the token names nothing any more.
                Err(docent_core::store::StoreError::NotFound) => {
                    return Err(ServiceError::Unauthorized);
                }
                Err(e) => return Err(e.into()),
            },
        };
        if claims.origin.is_some() && !bot.public {
            return Err(ServiceError::Forbidden("this bot is not public".into()));
        }
        if let Some(origin) = origin {
            let allowed = match &claims.origin {
                Some(bound) => bound == origin && bot.allows_origin(origin),
                None => bot.allows_origin(origin),
            };
            if !allowed {
                return Err(ServiceError::Forbidden(format!(
                    "this embed token is not valid on {origin}"
                )));
            }
        }
        Ok(Some(Actor {
            tenant_id: claims.tid,
            principal: Principal::Visitor(Visitor {
                bot_id: claims.bot,
                id: claims.vis,
            }),
            role: Role::Viewer,
            bot: Some(bot),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_visitor_ids_are_recognised() {
        let id = new_anonymous_visitor();
        assert!(is_anonymous_visitor(&id));
        assert_ne!(id, new_anonymous_visitor());
        for bad in ["anon:", "anon:xyz", "user:1", &format!("{id}0")] {
            assert!(!is_anonymous_visitor(bad), "{bad}");
        }
    }
}
