//! Bots: the list, a new bot, every setting, the embed snippet, deletion
//! with confirmation. Forms carry what `PATCH /bots/{id}` takes; the
//! services check roles and values as they do for the API.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use docent_core::domain::{
    Bot, BotPatch, NewBot, RetrievalMode, RetrievalSettings, UnsupportedSentences,
};
use docent_core::ids::BotId;
use docent_core::store::PageRequest;
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{csrf_field, explain, failed, notice, page, problem};
use super::session::{Console, csrf_ok};
use crate::app::AppState;
use crate::error::ApiError;

fn bot_id(raw: &str) -> Result<BotId, StatusCode> {
    raw.parse().map_err(|_| StatusCode::NOT_FOUND)
}

#[derive(Deserialize)]
pub struct NewBotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub async fn list(State(state): State<AppState>, who: Console) -> Response {
    let page_req = PageRequest {
        limit: 200,
        after: None,
    };
    match state.services.list_bots(&who.ctx, &page_req).await {
        Ok(bots) => page("Bots", Some(&who), list_body(&who, &bots.items, None)).into_response(),
        Err(e) => failed(&who, e.into()),
    }
}

fn list_body(who: &Console, bots: &[Bot], error: Option<&str>) -> Markup {
    html! {
        h1 { "Bots" }
        (notice(error, None))
        @if bots.is_empty() {
            p class="empty" { "No bot yet. " @if who.can_edit() { "Create one below: give it a name, then feed it documents." } }
        } @else {
            table class="list" {
                caption class="hidden" { "Your bots" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Public" } th scope="col" { "Retrieval" } th scope="col" { "Created" } } }
                tbody {
                    @for b in bots {
                        tr {
                            td { a href={ "/app/bots/" (b.id) } { (b.name) } }
                            td { @if b.public { "yes" } @else { "no" } }
                            td { (mode_name(b.retrieval.mode)) ", top " (b.retrieval.top_k) }
                            td { (b.created_at.format("%Y-%m-%d")) }
                        }
                    }
                }
            }
        }
        @if who.can_edit() {
            h2 { "New bot" }
            form method="post" action="/app/bots" class="inline" {
                (csrf_field(&who.csrf))
                label for="new-name" { "Name" }
                input id="new-name" name="name" required maxlength="200";
                button type="submit" { "Create bot" }
            }
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    who: Console,
    Form(form): Form<NewBotForm>,
) -> Response {
    if !csrf_ok(&who.csrf, &form.csrf) {
        return super::page::forbidden("The form expired; reload the page.");
    }
    let req = NewBot {
        name: form.name,
        description: None,
        system_prompt: None,
        welcome_message: None,
        model: None,
        temperature: None,
        max_tokens: None,
        public: false,
        allowed_origins: Vec::new(),
        retrieval: RetrievalSettings::default(),
        theme: None,
        visitor_messages_per_minute: None,
        unsupported_sentences: UnsupportedSentences::default(),
    };
    match state.services.create_bot(&who.ctx, req).await {
        Ok(bot) => Redirect::to(&format!("/app/bots/{}", bot.id)).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let bots = state
                .services
                .list_bots(
                    &who.ctx,
                    &PageRequest {
                        limit: 200,
                        after: None,
                    },
                )
                .await
                .map(|p| p.items)
                .unwrap_or_default();
            let body = list_body(&who, &bots, Some(&explain(&e)));
            (e.status, page("Bots", Some(&who), body)).into_response()
        }
    }
}

/// A bot's tabs, `current` marked.
pub fn tabs(bot: &Bot, current: &str) -> Markup {
    let tab = |name: &str, path: &str, label: &str| {
        html! {
            a href={ "/app/bots/" (bot.id) (path) } aria-current=[(name == current).then_some("page")] { (label) }
        }
    };
    html! {
        nav class="tabs" aria-label="Bot" {
            (tab("settings", "", "Settings"))
            (tab("knowledge", "/knowledge", "Knowledge"))
            (tab("playground", "/playground", "Playground"))
            (tab("conversations", "/conversations", "Conversations"))
        }
    }
}

/// The bot a form acts on: its token checked, the bot read in the caller's
/// tenant (another tenant's is not there).
async fn form_bot(state: &AppState, who: &Console, id: &str, csrf: &str) -> Result<Bot, Response> {
    if !csrf_ok(&who.csrf, csrf) {
        return Err(super::page::forbidden("The form expired; reload the page."));
    }
    read_bot(state, who, id).await
}

/// The bot a page shows, read in the caller's tenant; else the page that
/// says it is not there.
pub async fn read_bot(state: &AppState, who: &Console, id: &str) -> Result<Bot, Response> {
    let Ok(id) = bot_id(id) else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            Some(who),
            "There is no such bot.",
        ));
    };
    state
        .services
        .get_bot(&who.ctx, id)
        .await
        .map_err(|e| failed(who, e.into()))
}

fn mode_name(mode: RetrievalMode) -> &'static str {
    match mode {
        RetrievalMode::Hybrid => "hybrid",
        RetrievalMode::Vector => "vector",
        RetrievalMode::Keyword => "keyword",
    }
}

/// Where visitors' pages load the widget from.
fn embed_base(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    if let Some(base) = &state.public_base {
        return base.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost:8080");
    format!("http://{host}")
}

pub async fn show(
    State(state): State<AppState>,
    who: Console,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = bot_id(&id) else {
        return problem(StatusCode::NOT_FOUND, Some(&who), "There is no such bot.");
    };
    match state.services.get_bot(&who.ctx, id).await {
        Ok(bot) => {
            let base = embed_base(&state, &headers);
            let body = settings_body(&who, &bot, &base, None, None);
            page(&bot.name, Some(&who), body).into_response()
        }
        Err(e) => failed(&who, e.into()),
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn settings_body(
    who: &Console,
    bot: &Bot,
    base: &str,
    error: Option<&str>,
    done: Option<&str>,
) -> Markup {
    let r = &bot.retrieval;
    let ro = !who.can_edit();
    // The widget's own defaults, so the pickers show what visitors see.
    let theme = |key: &str, default: &'static str| {
        bot.theme
            .get(key)
            .and_then(|v| v.as_str())
            .map_or(default.to_string(), str::to_string)
    };
    let primary = theme("primary_color", "#2563eb");
    let text_color = theme("text_color", "#111827");
    let background = theme("background_color", "#ffffff");
    let launcher = theme("launcher_label", "");
    let left = theme("position", "bottom-right") == "bottom-left";
    let snippet = format!(
        "<script src=\"{base}/widget.js\" data-bot-id=\"{}\" async></script>",
        bot.id
    );
    html! {
        p class="crumbs" { a href="/app/bots" { "Bots" } " / " (bot.name) }
        h1 { (bot.name) }
        (tabs(bot, "settings"))
        (notice(error, done))
        @if ro { p class="notice" { "You can read these settings; an editor can change them." } }
        form method="post" action={ "/app/bots/" (bot.id) } class="settings" {
            (csrf_field(&who.csrf))
            fieldset disabled[ro] {
                legend { "Answers" }
                label for="name" { "Name" }
                input id="name" name="name" required maxlength="200" value=(bot.name);
                label for="description" { "Description" }
                input id="description" name="description" value=(opt(&bot.description));
                label for="system_prompt" { "Instructions (system prompt)" }
                textarea id="system_prompt" name="system_prompt" rows="4" { (opt(&bot.system_prompt)) }
                label for="welcome_message" { "Welcome message" }
                input id="welcome_message" name="welcome_message" value=(opt(&bot.welcome_message));
                label for="model" { "Model (empty: the server's default)" }
                input id="model" name="model" value=(opt(&bot.model));
                label for="temperature" { "Temperature (0–2, empty: the model's default)" }
                input id="temperature" name="temperature" inputmode="decimal" value=(bot.temperature.map(|t| t.to_string()).unwrap_or_default());
                label for="max_tokens" { "Longest answer, in tokens (empty: the server's default)" }
                input id="max_tokens" name="max_tokens" inputmode="numeric" value=(bot.max_tokens.map(|t| t.to_string()).unwrap_or_default());
                label for="unsupported_sentences" { "Sentences the sources do not support" }
                select id="unsupported_sentences" name="unsupported_sentences" {
                    option value="flag" selected[bot.unsupported_sentences == UnsupportedSentences::Flag] { "Mark them" }
                    option value="drop" selected[bot.unsupported_sentences == UnsupportedSentences::Drop] { "Leave them out" }
                }
            }
            fieldset disabled[ro] {
                legend { "Retrieval" }
                label for="mode" { "Search" }
                select id="mode" name="mode" {
                    @for m in [RetrievalMode::Hybrid, RetrievalMode::Vector, RetrievalMode::Keyword] {
                        option value=(mode_name(m)) selected[r.mode == m] { (mode_name(m)) }
                    }
                }
                label for="top_k" { "Passages per answer (1–50)" }
                input id="top_k" name="top_k" inputmode="numeric" required value=(r.top_k);
                label for="min_score" { "Relevance floor, 0–1 (empty: calibrated)" }
                input id="min_score" name="min_score" inputmode="decimal" value=(r.min_score.map(|s| s.to_string()).unwrap_or_default());
                label class="check" {
                    input type="checkbox" name="rerank" value="on" checked[r.rerank != Some(false)];
                    " Rerank passages when the server has a reranker"
                }
            }
            fieldset disabled[ro] {
                legend { "Widget" }
                label class="check" {
                    input type="checkbox" name="public" value="on" checked[bot.public];
                    " Public: the widget may be embedded on the sites below"
                }
                label for="allowed_origins" { "Allowed sites, one origin per line (https://shop.example.com)" }
                textarea id="allowed_origins" name="allowed_origins" rows="3" { (bot.allowed_origins.join("\n")) }
                label for="primary_color" { "Main colour" }
                input id="primary_color" name="primary_color" type="color" value=(primary) data-theme;
                label for="text_color" { "Text colour" }
                input id="text_color" name="text_color" type="color" value=(text_color) data-theme;
                label for="background_color" { "Background colour" }
                input id="background_color" name="background_color" type="color" value=(background) data-theme;
                label for="position" { "Corner" }
                select id="position" name="position" data-theme {
                    option value="bottom-right" selected[!left] { "Bottom right" }
                    option value="bottom-left" selected[left] { "Bottom left" }
                }
                label for="launcher_label" { "Button label (empty: “Chat”)" }
                input id="launcher_label" name="launcher_label" maxlength="40" value=(launcher) data-theme;
                label for="visitor_messages_per_minute" { "Messages a visitor may send per minute (1–1000)" }
                input id="visitor_messages_per_minute" name="visitor_messages_per_minute" inputmode="numeric" value=(bot.visitor_messages_per_minute);
            }
            @if !ro { button type="submit" { "Save settings" } }
        }
        h2 { "Preview" }
        p { "The widget as your visitors see it, with the colours and label above (saved or not). It answers from this bot's knowledge; its conversations are listed with the others." }
        iframe class="preview" title="Widget preview" data-preview
            src={ "/app/bots/" (bot.id) "/preview" } {}
        h2 { "Put it on your site" }
        p { "Paste this before " code { "</body>" } " on every page of an allowed site:" }
        pre class="snippet" { code id="snippet" { (snippet) } }
        button type="button" class="secondary" data-copy="snippet" { "Copy snippet" }
        @if who.can_edit() {
            h2 { "Delete" }
            p { a class="danger" href={ "/app/bots/" (bot.id) "/delete" } { "Delete this bot…" } }
        }
    }
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    welcome_message: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    temperature: String,
    #[serde(default)]
    max_tokens: String,
    #[serde(default)]
    unsupported_sentences: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    top_k: String,
    #[serde(default)]
    min_score: String,
    rerank: Option<String>,
    public: Option<String>,
    #[serde(default)]
    allowed_origins: String,
    #[serde(default)]
    primary_color: String,
    #[serde(default)]
    text_color: String,
    #[serde(default)]
    background_color: String,
    #[serde(default)]
    launcher_label: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    visitor_messages_per_minute: String,
}

fn text(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

fn number<T: std::str::FromStr>(field: &str, v: &str) -> Result<Option<T>, String> {
    match v.trim() {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| format!("`{field}` must be a number")),
    }
}

impl SettingsForm {
    fn patch(&self, bot: &Bot) -> Result<BotPatch, String> {
        let mode = match self.mode.as_str() {
            "vector" => RetrievalMode::Vector,
            "keyword" => RetrievalMode::Keyword,
            _ => RetrievalMode::Hybrid,
        };
        let top_k = number::<u32>("top_k", &self.top_k)?.ok_or("`top_k` is needed")?;
        let mut theme = bot.theme.clone();
        if let Some(obj) = theme.as_object_mut() {
            for (key, value) in [
                ("primary_color", &self.primary_color),
                ("text_color", &self.text_color),
                ("background_color", &self.background_color),
                ("launcher_label", &self.launcher_label),
                ("position", &self.position),
            ] {
                match text(value) {
                    Some(v) => obj.insert(key.into(), serde_json::Value::String(v)),
                    None => obj.remove(key),
                };
            }
        }
        Ok(BotPatch {
            name: Some(self.name.trim().to_string()),
            description: Some(text(&self.description)),
            system_prompt: Some(text(&self.system_prompt)),
            welcome_message: Some(text(&self.welcome_message)),
            model: Some(text(&self.model)),
            temperature: Some(number("temperature", &self.temperature)?),
            max_tokens: Some(number("max_tokens", &self.max_tokens)?),
            public: Some(self.public.is_some()),
            allowed_origins: Some(self.allowed_origins.lines().filter_map(text).collect()),
            retrieval: Some(RetrievalSettings {
                mode,
                top_k,
                min_score: number("min_score", &self.min_score)?,
                rerank: if self.rerank.is_some() {
                    None
                } else {
                    Some(false)
                },
            }),
            theme: Some(theme),
            visitor_messages_per_minute: number(
                "visitor_messages_per_minute",
                &self.visitor_messages_per_minute,
            )?,
            unsupported_sentences: UnsupportedSentences::parse(&self.unsupported_sentences),
        })
    }
}

pub async fn update(
    State(state): State<AppState>,
    who: Console,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Response {
    let bot = match form_bot(&state, &who, &id, &form.csrf).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = bot.id;
    let base = embed_base(&state, &headers);
    let outcome = match form.patch(&bot) {
        Err(message) => Err((StatusCode::UNPROCESSABLE_ENTITY, message)),
        Ok(patch) => state
            .services
            .update_bot(&who.ctx, id, patch)
            .await
            .map_err(|e| {
                let e = ApiError::from(e);
                (e.status, explain(&e))
            }),
    };
    match outcome {
        Ok(saved) => {
            let body = settings_body(&who, &saved, &base, None, Some("Settings saved."));
            page(&saved.name, Some(&who), body).into_response()
        }
        Err((status, message)) => {
            let body = settings_body(&who, &bot, &base, Some(&message), None);
            (status, page(&bot.name, Some(&who), body)).into_response()
        }
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = bot_id(&id) else {
        return problem(StatusCode::NOT_FOUND, Some(&who), "There is no such bot.");
    };
    match state.services.get_bot(&who.ctx, id).await {
        Ok(bot) => {
            let body = html! {
                p class="crumbs" { a href="/app/bots" { "Bots" } " / " a href={ "/app/bots/" (bot.id) } { (bot.name) } }
                h1 { "Delete " (bot.name) "?" }
                p { "Its documents, conversations and leads are deleted with it. This cannot be undone." }
                form method="post" action={ "/app/bots/" (bot.id) "/delete" } class="stack" {
                    (csrf_field(&who.csrf))
                    label for="confirm" { "Type the bot's name to confirm" }
                    input id="confirm" name="confirm" required autocomplete="off";
                    button type="submit" class="danger" { "Delete for good" }
                }
                p { a href={ "/app/bots/" (bot.id) } { "Keep it" } }
            };
            page("Delete bot", Some(&who), body).into_response()
        }
        Err(e) => failed(&who, e.into()),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

pub async fn delete(
    State(state): State<AppState>,
    who: Console,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let bot = match form_bot(&state, &who, &id, &form.csrf).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = bot.id;
    if form.confirm.trim() != bot.name {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&who),
            "The name typed is not the bot's; nothing was deleted.",
        );
    }
    match state.services.delete_bot(&who.ctx, id).await {
        Ok(()) => Redirect::to("/app/bots").into_response(),
        Err(e) => failed(&who, e.into()),
    }
}
