//! One module per resource of the contract; each handler is a few lines that
//! extract, call a service, and shape the response.

pub mod admin;
pub mod analytics;
pub mod api_keys;
pub mod auth;
pub mod bots;
pub mod chat;
pub mod email_flows;
pub mod home;
pub mod knowledge;
pub mod leads;
pub mod openai;
pub mod ops;
pub mod platform;
pub mod search;
pub mod users;
pub mod webhooks;
pub mod widget;

use axum::Json;
use axum::http::StatusCode;

use crate::error::ApiError;

pub type ApiResult<T> = Result<T, ApiError>;
pub type Created<T> = (StatusCode, Json<T>);

pub fn created<T>(body: T) -> Created<T> {
    (StatusCode::CREATED, Json(body))
}
