//! The live preview of a bot's widget on its settings page: a small page,
//! framed by the settings page, that loads the real `/widget.js` as a
//! customer's site would. Two attributes point the widget at the console
//! instead of the public routes, so the preview works for a bot that is not
//! public yet and shows the colour being picked before it is saved:
//! `data-config-url` (the bot's name, welcome message and theme, with the
//! colour of the `primary` query parameter) and `data-token-url` (an embed
//! token minted for the signed-in user, as `POST /embed/token` would).

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use docent_core::ids::BotId;
use docent_service::{EmbedTokenRequest, Principal, VisitorClaims, WidgetConfig};
use maud::{DOCTYPE, html};
use serde::Deserialize;

use super::session::Console;
use crate::app::AppState;
use crate::error::ApiError;

/// The theme being edited, not yet saved, under the theme's own keys:
/// colours (`#rrggbb`), the corner and the launcher's label.
#[derive(Deserialize)]
pub struct PreviewQuery {
    primary_color: Option<String>,
    text_color: Option<String>,
    background_color: Option<String>,
    position: Option<String>,
    launcher_label: Option<String>,
}

fn colour(c: &Option<String>) -> Option<String> {
    let c = c.as_deref()?;
    let hex = c.strip_prefix('#')?;
    (hex.len() == 6 && hex.chars().all(|ch| ch.is_ascii_hexdigit())).then(|| c.to_ascii_lowercase())
}

impl PreviewQuery {
    /// The theme keys to show instead of the saved ones; anything that is
    /// not a colour, a corner or a short label is left out, as the query is
    /// the user's and ends up in a URL and a style.
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut keys = Vec::new();
        for (key, value) in [
            ("primary_color", &self.primary_color),
            ("text_color", &self.text_color),
            ("background_color", &self.background_color),
        ] {
            if let Some(c) = colour(value) {
                keys.push((key, c));
            }
        }
        if let Some(p) = self
            .position
            .as_deref()
            .filter(|p| ["bottom-left", "bottom-right"].contains(p))
        {
            keys.push(("position", p.to_string()));
        }
        if let Some(l) = self
            .launcher_label
            .as_deref()
            .map(str::trim)
            .filter(|l| l.chars().count() <= 40)
        {
            keys.push(("launcher_label", l.to_string()));
        }
        keys
    }
}

fn bot_id(raw: &str) -> Result<BotId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// The page the settings page frames: a stand-in for the customer's site
/// with the widget on it.
pub async fn page(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let bot = match bot_id(&id) {
        Ok(id) => state
            .services
            .get_bot(&who.ctx, id)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let bot = match bot {
        Ok(bot) => bot,
        Err(e) => return super::page::failed(&who, e),
    };
    // The config route checks the theme again; the page only passes it on.
    let config = match query {
        Some(q) => format!("/app/bots/{}/preview/config?{q}", bot.id),
        None => format!("/app/bots/{}/preview/config", bot.id),
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Widget preview" }
                style { "body{margin:0;padding:1rem;font:15px/1.5 system-ui,sans-serif;color:#374151;background:#f9fafb;min-height:100vh;box-sizing:border-box}" }
            }
            body {
                p { "Your visitors see the chat button in the corner of your pages. Try it: it answers from this bot's knowledge, as on your site." }
                script src="/widget.js" data-bot-id=(bot.id) data-config-url=(config)
                    data-token-url={ "/app/bots/" (bot.id) "/preview/token" } async {}
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// What the widget would read from `GET /widget/{bot}/config`, for any bot
/// of the tenant, with the colour being picked.
pub async fn config(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Query(query): Query<PreviewQuery>,
) -> Result<Json<WidgetConfig>, ApiError> {
    let bot = state.services.get_bot(&who.ctx, bot_id(&id)?).await?;
    let mut theme = bot.theme.clone();
    if let Some(map) = theme.as_object_mut() {
        for (key, value) in query.overrides() {
            if value.is_empty() {
                map.remove(key);
            } else {
                map.insert(key.into(), value.into());
            }
        }
    }
    Ok(Json(WidgetConfig {
        bot_id: bot.id,
        name: bot.name.clone(),
        welcome_message: bot.welcome_message.clone(),
        theme,
    }))
}

/// An embed token for the signed-in user as the preview's visitor (editors
/// and up, as `POST /embed/token`). The request must be the widget's JSON
/// POST from this server's page: `Console` has checked its `Origin`, and a
/// cross-site form cannot send `application/json`.
pub async fn token(
    State(state): State<AppState>,
    who: Console,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the preview's token is asked for with a JSON body",
        )
        .into_response();
    }
    let bot_id = match bot_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let visitor = match who.ctx.actor.principal {
        Principal::User(user) => Some(format!("console:{user}")),
        _ => None,
    };
    let req = EmbedTokenRequest {
        bot_id,
        visitor: Some(VisitorClaims {
            id: visitor,
            email: None,
            name: Some("Console preview".into()),
        }),
        ttl_seconds: None,
    };
    match state.services.embed_token(&who.ctx, req).await {
        Ok(token) => (StatusCode::CREATED, Json(token)).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
