//! Signed upload URLs for the local storage mode. The URL carries tenant, file,
//! size limit and expiry in the clear plus an HMAC-SHA256 over all four, so the
//! server can accept the bytes without a session and refuse any URL that was
//! altered or has expired.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::ids::{FileId, TenantId};

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct UploadSigner {
    key: [u8; 32],
}

/// The signed facts of one upload URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadGrant {
    pub tenant: TenantId,
    pub file: FileId,
    pub max_bytes: u64,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadUrlError {
    #[error("the upload URL's signature does not match")]
    BadSignature,
    #[error("the upload URL has expired")]
    Expired,
}

impl UploadSigner {
    /// Derives its own key from the server secret, so the HMAC key is never
    /// the JWT key itself.
    pub fn new(secret: &Secret) -> Self {
        let mut h = Sha256::new();
        h.update(b"docent upload url v1\0");
        h.update(secret.expose().as_bytes());
        Self {
            key: h.finalize().into(),
        }
    }

    fn mac(&self, g: &UploadGrant) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{}|{}|{}|{}", g.tenant, g.file, g.max_bytes, g.expires).as_bytes());
        mac
    }

    /// Hex signature of a grant.
    pub fn sign(&self, grant: &UploadGrant) -> String {
        self.mac(grant)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Checks signature (in constant time) and expiry.
    pub fn verify(
        &self,
        grant: &UploadGrant,
        signature_hex: &str,
        now_unix: i64,
    ) -> Result<(), UploadUrlError> {
        let sig = decode_hex(signature_hex).ok_or(UploadUrlError::BadSignature)?;
        self.mac(grant)
            .verify_slice(&sig)
            .map_err(|_| UploadUrlError::BadSignature)?;
        if now_unix > grant.expires {
            return Err(UploadUrlError::Expired);
        }
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> UploadGrant {
        UploadGrant {
            tenant: TenantId::new(),
            file: FileId::new(),
            max_bytes: 1000,
            expires: 2_000,
        }
    }

    #[test]
    fn a_signed_grant_verifies_until_it_expires() {
        let signer = UploadSigner::new(&Secret::new("s".repeat(32)));
        let g = grant();
        let sig = signer.sign(&g);
        assert_eq!(signer.verify(&g, &sig, 1_999), Ok(()));
        assert_eq!(signer.verify(&g, &sig, 2_001), Err(UploadUrlError::Expired));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let signer = UploadSigner::new(&Secret::new("s".repeat(32)));
        let g = grant();
        let sig = signer.sign(&g);
        for tampered in [
            UploadGrant {
                max_bytes: 10_000,
                ..g.clone()
            },
            UploadGrant {
                expires: 9_999,
                ..g.clone()
            },
            UploadGrant {
                file: FileId::new(),
                ..g.clone()
            },
            UploadGrant {
                tenant: TenantId::new(),
                ..g.clone()
            },
        ] {
            assert_eq!(
                signer.verify(&tampered, &sig, 0),
                Err(UploadUrlError::BadSignature)
            );
        }
        assert_eq!(
            signer.verify(&g, "zz", 0),
            Err(UploadUrlError::BadSignature)
        );
        let other = UploadSigner::new(&Secret::new("t".repeat(32)));
        assert_eq!(other.verify(&g, &sig, 0), Err(UploadUrlError::BadSignature));
    }
}
