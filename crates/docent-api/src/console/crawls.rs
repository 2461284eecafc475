//! Crawls: start one (URL, page and depth limits, include and exclude
//! patterns) and watch it live: pages fetched against the limit as a
//! progress bar, and the bot's documents queued, processing, ready and
//! failed. The watch page polls its JSON once a second with scripts, and
//! refreshes itself every few seconds without them.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Redirect, Response};
use docent_core::domain::{Bot, DocumentCounts, Job, JobStatus};
use docent_core::ids::JobId;
use docent_service::CrawlRequest;
use maud::{Markup, html};
use serde::Deserialize;

use super::bots::read_bot;
use super::page::{explain, failed, page, problem};
use super::session::{Console, csrf_ok};
use crate::app::AppState;
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct CrawlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    max_pages: String,
    #[serde(default)]
    max_depth: String,
    #[serde(default)]
    include: String,
    #[serde(default)]
    exclude: String,
}

fn lines(v: &str) -> Vec<String> {
    v.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn number(field: &str, v: &str) -> Result<Option<u32>, ApiError> {
    match v.trim() {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(format!("`{field}` must be a whole number"))),
    }
}

pub async fn start(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<CrawlForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    let bot = match read_bot(&state, &who, &id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let started = async {
        let req = CrawlRequest {
            url: form.url.trim().to_string(),
            max_pages: number("max_pages", &form.max_pages)?,
            max_depth: number("max_depth", &form.max_depth)?,
            include: lines(&form.include),
            exclude: lines(&form.exclude),
        };
        Ok::<_, ApiError>(state.services.start_crawl(&who.ctx, bot.id, req).await?)
    };
    match started.await {
        Ok(accepted) => {
            state.wake_workers();
            Redirect::to(&format!("/app/bots/{}/crawls/{}", bot.id, accepted.job_id))
                .into_response()
        }
        Err(e) => {
            let message: String =
                url::form_urlencoded::byte_serialize(explain(&e).as_bytes()).collect();
            Redirect::to(&format!("/app/bots/{}/knowledge?error={message}", bot.id)).into_response()
        }
    }
}

/// The form on the knowledge page.
pub fn form(bot: &Bot, csrf: &str) -> Markup {
    html! {
        h2 { "Crawl a website" }
        form method="post" action={ "/app/bots/" (bot.id) "/crawl" } class="stack" {
            (super::page::csrf_field(csrf))
            label for="crawl-url" { "Start page" }
            input id="crawl-url" name="url" type="url" required placeholder="https://docs.example.com/";
            label for="crawl-pages" { "Pages at most (1–10000, default 50)" }
            input id="crawl-pages" name="max_pages" inputmode="numeric";
            label for="crawl-depth" { "Links deep at most (0–20, default 2)" }
            input id="crawl-depth" name="max_depth" inputmode="numeric";
            label for="crawl-include" { "Only paths matching, one glob per line (/docs/**)" }
            textarea id="crawl-include" name="include" rows="2" {}
            label for="crawl-exclude" { "Never paths matching, one glob per line" }
            textarea id="crawl-exclude" name="exclude" rows="2" {}
            button type="submit" { "Start crawl" }
        }
    }
}

async fn read(
    state: &AppState,
    who: &Console,
    bot: &str,
    job: &str,
) -> Result<(Bot, Job, DocumentCounts), Response> {
    let bot = read_bot(state, who, bot).await?;
    let Ok(job_id) = job.parse::<JobId>() else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            Some(who),
            "There is no such crawl.",
        ));
    };
    let job = state
        .services
        .get_job(&who.ctx, job_id)
        .await
        .map_err(|e| failed(who, e.into()))?;
    let (counts, _) = state
        .services
        .bot_status(&who.ctx, bot.id)
        .await
        .map_err(|e| failed(who, e.into()))?;
    Ok((bot, job, counts))
}

fn finished(job: &Job, counts: &DocumentCounts) -> bool {
    matches!(job.status, JobStatus::Succeeded | JobStatus::Failed)
        && counts.queued == 0
        && counts.processing == 0
}

pub async fn watch(
    State(state): State<AppState>,
    who: Console,
    Path((bot, job)): Path<(String, String)>,
) -> Response {
    let (bot, job, counts) = match read(&state, &who, &bot, &job).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let done = finished(&job, &counts);
    let body = html! {
        p class="crumbs" { a href="/app/bots" { "Bots" } " / " a href={ "/app/bots/" (bot.id) "/knowledge" } { (bot.name) } " / crawl" }
        h1 { "Crawl" }
        @if !done { noscript { meta http-equiv="refresh" content="3"; } }
        section class="crawl" data-crawl={ "/app/bots/" (bot.id) "/crawls/" (job.id) "/status" } aria-live="polite" {
            p { "Status: " strong data-field="status" { (job.status.as_str()) } }
            label for="pages" { "Pages fetched" }
            progress id="pages" max=(job.progress.total.max(1)) value=(job.progress.done) {}
            p { span data-field="done" { (job.progress.done) } " of at most " span data-field="total" { (job.progress.total) } " pages" }
            dl class="counts" {
                dt { "Queued" } dd data-field="queued" { (counts.queued) }
                dt { "Processing" } dd data-field="processing" { (counts.processing) }
                dt { "Ready" } dd data-field="ready" { (counts.ready) }
                dt { "Failed" } dd data-field="failed" { (counts.failed) }
            }
            p class="error-text" data-field="error" { (job.error.as_deref().unwrap_or("")) }
            p data-field="finished" hidden[!done] { "Finished. " a href={ "/app/bots/" (bot.id) "/knowledge" } { "See the documents" } }
        }
    };
    page("Crawl", Some(&who), body).into_response()
}

pub async fn status(
    State(state): State<AppState>,
    who: Console,
    Path((bot, job)): Path<(String, String)>,
) -> Response {
    match read(&state, &who, &bot, &job).await {
        Ok((_, job, counts)) => Json(serde_json::json!({
            "status": job.status.as_str(),
            "done": job.progress.done,
            "total": job.progress.total,
            "error": job.error,
            "queued": counts.queued,
            "processing": counts.processing,
            "ready": counts.ready,
            "failed": counts.failed,
            "finished": finished(&job, &counts),
        }))
        .into_response(),
        Err(r) => r,
    }
}
