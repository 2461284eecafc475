//! The object-storage seam: where uploaded files and document sources live.
//! Local disk by default, S3-compatible storage when configured.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object not found")]
    NotFound,
    #[error("object storage: {0}")]
    Backend(String),
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<Bytes, BlobError>;
    /// Size of the object, `None` if it does not exist.
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError>;
    /// Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Deletes every object under `prefix/`.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError>;
    /// A presigned PUT URL for direct uploads, when the backend has them (S3);
    /// `None` means clients upload through this server instead.
    async fn presign_put(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<Option<String>, BlobError>;
    /// `local:DIR` or `s3://BUCKET`, for logs and readiness.
    fn describe(&self) -> String;
    /// A cheap round trip, for readiness checks.
    async fn check(&self) -> Result<(), BlobError>;
}
