//! The audit log (owners and admins): who did what to which resource, from
//! where, and what changed, newest first, filtered by action and days,
//! 50 a page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use docent_core::domain::{AuditEntry, AuditQuery};
use docent_core::ids::AuditId;
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{failed, notice, page};
use super::session::Console;
use crate::app::AppState;

const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    action: String,
    /// First day, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    since: String,
    /// Last day, included.
    #[serde(default)]
    until: String,
    #[serde(default)]
    cursor: String,
}

fn day(field: &str, v: &str) -> Result<Option<NaiveDate>, String> {
    match v.trim() {
        "" => Ok(None),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("`{field}` must be a day, YYYY-MM-DD")),
    }
}

pub async fn show(
    State(state): State<AppState>,
    who: Console,
    Query(f): Query<AuditFilter>,
) -> Response {
    let parsed = (|| {
        let since = day("since", &f.since)?;
        let until = day("until", &f.until)?;
        let before = match f.cursor.trim() {
            "" => None,
            c => Some(
                c.parse::<AuditId>()
                    .map_err(|_| "the page link is not valid".to_string())?,
            ),
        };
        Ok::<_, String>(AuditQuery {
            action: Some(f.action.trim().to_string()).filter(|a| !a.is_empty()),
            since: since.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()),
            until: until.map(|d| {
                (d + chrono::Days::new(1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc()
            }),
            before,
            limit: PAGE + 1,
        })
    })();
    let query = match parsed {
        Ok(q) => q,
        Err(message) => {
            let body = body(&f, &[], None, Some(&message));
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                page("Audit log", Some(&who), body),
            )
                .into_response();
        }
    };
    let mut entries = match state.services.audit_logs(&who.ctx, &query).await {
        Ok(e) => e,
        Err(e) => return failed(&who, e.into()),
    };
    let next = (entries.len() > PAGE as usize).then(|| {
        entries.truncate(PAGE as usize);
        entries.last().map(|e| e.id.to_string())
    });
    page(
        "Audit log",
        Some(&who),
        body(&f, &entries, next.flatten(), None),
    )
    .into_response()
}

/// The next page's address: the same filters, older entries.
fn older(f: &AuditFilter, cursor: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("action", &f.action)
        .append_pair("since", &f.since)
        .append_pair("until", &f.until)
        .append_pair("cursor", cursor)
        .finish();
    format!("/app/audit?{query}")
}

fn body(
    f: &AuditFilter,
    entries: &[AuditEntry],
    next: Option<String>,
    error: Option<&str>,
) -> Markup {
    let today = Utc::now().format("%Y-%m-%d").to_string();
    html! {
        h1 { "Audit log" }
        (notice(error, None))
        form method="get" action="/app/audit" class="inline filters" {
            label for="action" { "Action" }
            input id="action" name="action" value=(f.action) placeholder="bot.update";
            label for="since" { "From" }
            input id="since" name="since" type="date" max=(today) value=(f.since);
            label for="until" { "To" }
            input id="until" name="until" type="date" max=(today) value=(f.until);
            button type="submit" class="secondary" { "Filter" }
        }
        @if entries.is_empty() {
            p class="empty" { "No entry matches." }
        } @else {
            div class="scroll" {
                table class="list" data-audit {
                    thead { tr {
                        th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "Action" }
                        th scope="col" { "Resource" } th scope="col" { "From" } th scope="col" { "Changes" }
                    } }
                    tbody {
                        @for e in entries {
                            tr {
                                td { (e.created_at.format("%Y-%m-%d %H:%M:%S")) }
                                td { (e.actor_type) @if let Some(id) = &e.actor_id { " " code { (id) } } }
                                td { code { (e.action) } }
                                td { (e.resource_type) @if let Some(id) = &e.resource_id { " " code { (id) } } }
                                td { (e.ip.as_deref().unwrap_or("")) }
                                td {
                                    @if let Some(c) = &e.changes {
                                        details { summary { "what changed" } pre class="snippet" { (serde_json::to_string_pretty(c).unwrap_or_default()) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a href=(older(f, &next)) { "Older entries" } }
            }
        }
    }
}
