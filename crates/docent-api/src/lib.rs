//! Docent's HTTP layer: routes, extractors, the error mapping, OpenAPI, metrics.
//! Handlers validate input, authenticate, and call `docent_core` services;
//! they hold no business rules and no SQL.

pub mod app;
pub mod cors;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod routes;

pub use app::{App, AppState, model_source};
