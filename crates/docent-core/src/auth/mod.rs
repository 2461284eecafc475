//! Auth primitives: password hashing, opaque secrets (API keys, refresh tokens)
//! and signed access tokens. Policy (who may do what) lives in `service`.

pub mod jwt;
pub mod password;
pub mod secret;
pub mod upload;
