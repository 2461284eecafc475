//! Object storage through the `object_store` crate: a directory on local disk
//! by default, any S3-compatible service for `s3://bucket?endpoint=…&region=…`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use docent_core::blob::{BlobError, BlobStore};
use docent_core::config::StorageUrl;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub struct ObjectBlobStore {
    inner: Arc<dyn ObjectStore>,
    signer: Option<Arc<AmazonS3>>,
    description: String,
}

impl ObjectBlobStore {
    /// Opens the store named by `url`, or the `files/` directory of the data
    /// dir when `url` is `None`. S3 credentials come from the usual `AWS_*`
    /// environment variables.
    pub fn open(url: Option<&StorageUrl>, data_dir: &Path) -> Result<Self, BlobError> {
        match url {
            None => Self::local(&data_dir.join("files")),
            Some(StorageUrl::Files(dir)) => Self::local(dir),
            Some(StorageUrl::S3 {
                bucket,
                endpoint,
                region,
            }) => Self::s3(bucket, endpoint.as_deref(), region.as_deref()),
        }
    }

    /// Copies every object into `dst`, under the same keys; returns how many
    /// (moving an instance from local disk to S3).
    pub async fn copy_all_to(&self, dst: &ObjectBlobStore) -> Result<u64, BlobError> {
        let mut listing = self.inner.list(None);
        let mut copied = 0;
        while let Some(meta) = listing.try_next().await.map_err(map)? {
            let bytes = self
                .inner
                .get(&meta.location)
                .await
                .map_err(map)?
                .bytes()
                .await
                .map_err(map)?;
            dst.inner
                .put(&meta.location, bytes.into())
                .await
                .map_err(map)?;
            copied += 1;
        }
        Ok(copied)
    }

    fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BlobError::Backend(format!("{}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(backend)?;
        Ok(Self {
            inner: Arc::new(fs),
            signer: None,
            description: format!("local:{}", dir.display()),
        })
    }

    fn s3(bucket: &str, endpoint: Option<&str>, region: Option<&str>) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = region {
            builder = builder.with_region(region);
        }
        let s3 = Arc::new(builder.build().map_err(backend)?);
        Ok(Self {
            inner: s3.clone(),
            signer: Some(s3),
            description: format!("s3://{bucket}"),
        })
    }
}

fn backend(e: impl std::fmt::Display) -> BlobError {
    BlobError::Backend(e.to_string())
}

fn map(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => backend(other),
    }
}

fn path(key: &str) -> Result<ObjectPath, BlobError> {
    ObjectPath::parse(key).map_err(backend)
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.inner
            .put(&path(key)?, PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(map)
    }

    async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        self.inner
            .get(&path(key)?)
            .await
            .map_err(map)?
            .bytes()
            .await
            .map_err(map)
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.inner.head(&path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(map(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.inner.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(map(e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let prefix = path(prefix)?;
        let locations = self
            .inner
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .boxed();
        self.inner
            .delete_stream(locations)
            .try_for_each(|_| async { Ok(()) })
            .await
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(()),
                e => Err(map(e)),
            })
    }

    async fn presign_put(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<Option<String>, BlobError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer
            .signed_url(http::Method::PUT, &path(key)?, expires_in)
            .await
            .map_err(map)?;
        Ok(Some(url.to_string()))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn check(&self) -> Result<(), BlobError> {
        // Listing one level of a prefix that need not exist: cheap everywhere.
        self.inner
            .list_with_delimiter(Some(&ObjectPath::from("_ready")))
            .await
            .map(|_| ())
            .map_err(map)
    }
}
