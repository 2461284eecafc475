//! Opaque bearer secrets (API keys, refresh tokens): 256 random bits, shown to
//! the client once, stored only as a SHA-256 digest. A fast digest is enough here
//! (unlike passwords) because the secret has full entropy: there is nothing to
//! guess, and an indexed digest lookup keeps authentication O(1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub const API_KEY_PREFIX: &str = "dct_";
pub const REFRESH_TOKEN_PREFIX: &str = "dcr_";

/// A new secret: `prefix` followed by 43 URL-safe characters.
pub fn generate(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Hex SHA-256 of a secret, the only form in which secrets are stored.
pub fn digest(secret: &str) -> String {
    let out = Sha256::digest(secret.as_bytes());
    out.iter().map(|b| format!("{b:02x}")).collect()
}

/// The visible start of an API key, stored in clear so people can recognise a
/// key in a list without it being usable.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_PREFIX.len() + 8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_unique_and_prefixed() {
        let a = generate(API_KEY_PREFIX);
        let b = generate(API_KEY_PREFIX);
        assert!(a.starts_with("dct_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn digest_is_stable_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(display_prefix("dct_abcdefghijk"), "dct_abcdefgh");
    }
}
