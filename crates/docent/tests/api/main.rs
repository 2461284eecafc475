//! HTTP-boundary tests: each test starts the real server on a random port over
//! its own SQLite file (or, on the test command's second run, its own
//! PostgreSQL database with Redis and S3) and talks to it with a real HTTP
//! client.

mod helpers;

mod access;
mod api_keys;
mod audit;
mod auth;
mod bots;
mod chat;
mod console;
mod crawl;
mod email;
mod embedding;
mod errors;
mod formats;
mod grounding;
mod hardening;
mod insights;
mod isolation;
mod knowledge;
mod mcp;
mod mfa;
mod models;
mod openai;
mod ops;
mod platform;
mod ratelimit;
mod reembed;
mod rerank;
mod s3;
mod search;
mod snapshots;
mod trust;
mod usage;
mod users;
mod webhooks;
mod widget;
