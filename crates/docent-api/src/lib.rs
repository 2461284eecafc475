//! Docent's HTTP layer: routes, extractors, the error mapping, OpenAPI, metrics.
//! Handlers validate input, authenticate, and call `docent_core` services;
//! they hold no business rules and no SQL.

pub mod app;
mod console;
mod cors;
mod error;
mod extractors;
mod mcp;
mod metrics;
mod openapi;
mod ratelimit;
mod routes;

pub use app::{AppState, router};
pub use metrics::handle as metrics_handle;
