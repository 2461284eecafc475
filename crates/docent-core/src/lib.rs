//! Docent's domain: the types every layer shares, configuration, auth primitives,
//! the storage seam (`store`) and the services that enforce the rules of the product.
//!
//! Nothing here knows about HTTP or SQL: the API crate calls the services, and the
//! storage crate implements the `store` traits.

pub mod auth;
pub mod config;
pub mod domain;
pub mod embed;
pub mod ids;
pub mod service;
pub mod store;

pub use service::{Actor, Principal, ServiceError};
