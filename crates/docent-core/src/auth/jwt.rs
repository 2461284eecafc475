//! Signed, short-lived access tokens (HS256). Each kind of token carries a `typ`
//! claim that is checked on decode, so a token minted for one purpose (say, a
//! widget visitor) is never accepted as another (a tenant user).

use std::io::Write;
use std::path::Path;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::config::Secret;
use crate::domain::Role;
use crate::ids::{BotId, TenantId, UserId};

/// Claims of a tenant user's access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: UserId,
    pub tid: TenantId,
    pub role: Role,
    pub typ: String,
    pub iat: i64,
    pub exp: i64,
}

pub const ACCESS_TYP: &str = "access";

/// Claims of an embed token: a widget visitor (or a customer's signed-in
/// user, vouched for by the customer's server) who may chat with one bot,
/// read their own conversations and leave a lead, and nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbedClaims {
    pub tid: TenantId,
    pub bot: BotId,
    /// The visitor's identity: `anon:<hex>` for anonymous widget visitors,
    /// otherwise the id (or email) the customer's server vouched for.
    pub vis: String,
    /// The page origin the token was issued to; `None` for server-issued
    /// tokens, which then hold on any of the bot's allowed origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub typ: String,
    pub iat: i64,
    pub exp: i64,
}

pub const EMBED_TYP: &str = "embed";

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    pub fn issue_access(
        &self,
        user: UserId,
        tenant: TenantId,
        role: Role,
        ttl_secs: u64,
    ) -> String {
        let now = Utc::now().timestamp();
        self.sign(&AccessClaims {
            sub: user,
            tid: tenant,
            role,
            typ: ACCESS_TYP.into(),
            iat: now,
            exp: now + ttl_secs as i64,
        })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of serialisable claims cannot fail")
    }

    /// Decodes and checks signature, expiry and `typ`; `None` for any failure,
    /// since callers answer every failure the same way (401).
    pub fn verify<T: DeserializeOwned>(&self, token: &str, typ: &str) -> Option<T> {
        #[derive(Deserialize)]
        struct Typ {
            typ: String,
        }
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &self.decoding, &self.validation)
                .ok()?;
        let kind: Typ = serde_json::from_value(data.claims.clone()).ok()?;
        if kind.typ != typ {
            return None;
        }
        serde_json::from_value(data.claims).ok()
    }

    pub fn verify_access(&self, token: &str) -> Option<AccessClaims> {
        self.verify(token, ACCESS_TYP)
    }

    pub fn verify_embed(&self, token: &str) -> Option<EmbedClaims> {
        self.verify(token, EMBED_TYP)
    }

    /// An embed token's claims, signature checked but expiry not: only for
    /// deciding which page may read a response (CORS), so that a widget
    /// whose token just expired can read the 401 and fetch a new one.
    pub fn embed_claims_even_expired(&self, token: &str) -> Option<EmbedClaims> {
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<EmbedClaims>(token, &self.decoding, &validation).ok()?;
        (data.claims.typ == EMBED_TYP).then_some(data.claims)
    }
}

/// Reads the signing secret kept in the data dir, creating it (random, mode 0600)
/// on first start. Returns the secret and whether it was just created.
pub fn load_or_create_secret(data_dir: &Path) -> std::io::Result<(Secret, bool)> {
    let path = data_dir.join("jwt_secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok((Secret::new(s.trim()), false)),
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} holds fewer than 32 characters; delete it to generate a new one",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = crate::auth::secret::generate("");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path)?.write_all(secret.as_bytes())?;
    Ok((Secret::new(secret), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Secret::new("0123456789abcdef0123456789abcdef"))
    }

    #[test]
    fn access_token_round_trips() {
        let (user, tenant) = (UserId::new(), TenantId::new());
        let token = keys().issue_access(user, tenant, Role::Editor, 60);
        let claims = keys().verify_access(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.tid, claims.role),
            (user, tenant, Role::Editor)
        );
    }

    #[test]
    fn wrong_key_expired_or_wrong_typ_is_refused() {
        let token = keys().issue_access(UserId::new(), TenantId::new(), Role::Owner, 60);
        let other = JwtKeys::new(&Secret::new("another-secret-another-secret-xx"));
        assert!(other.verify_access(&token).is_none());
        assert!(keys().verify::<AccessClaims>(&token, "embed").is_none());

        let now = Utc::now().timestamp();
        let expired = keys().sign(&AccessClaims {
            sub: UserId::new(),
            tid: TenantId::new(),
            role: Role::Owner,
            typ: ACCESS_TYP.into(),
            iat: now - 7200,
            exp: now - 3600,
        });
        assert!(keys().verify_access(&expired).is_none());
    }

    #[test]
    fn embed_token_is_not_an_access_token() {
        let now = Utc::now().timestamp();
        let claims = EmbedClaims {
            tid: TenantId::new(),
            bot: BotId::new(),
            vis: "anon:00".into(),
            origin: Some("https://a.com".into()),
            email: None,
            name: None,
            typ: EMBED_TYP.into(),
            iat: now,
            exp: now + 60,
        };
        let token = keys().sign(&claims);
        assert_eq!(keys().verify_embed(&token), Some(claims));
        assert!(keys().verify_access(&token).is_none());
        let access = keys().issue_access(UserId::new(), TenantId::new(), Role::Owner, 60);
        assert!(keys().verify_embed(&access).is_none());
    }

    #[test]
    fn secret_is_created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = load_or_create_secret(dir.path()).unwrap();
        assert!(created);
        let (b, created) = load_or_create_secret(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(a, b);
    }
}
