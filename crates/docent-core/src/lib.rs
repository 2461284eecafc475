//! Docent's domain: the types every layer shares, configuration, auth primitives,
//! and the seams (`store`, `blob`, `embed`, `llm`, `rerank`) that backends implement.
//!
//! Nothing here knows about HTTP or SQL: the API crate calls the services, and the
//! storage crate implements the `store` traits.

pub mod auth;
pub mod blob;
pub mod clock;
pub mod config;
pub mod domain;
pub mod embed;
pub mod ids;
pub mod llm;
pub mod mail;
pub mod ratelimit;
pub mod rerank;
pub mod store;
