//! One conformance suite for every object-store backend: local disk and an
//! S3-compatible server (at `DOCENT_TEST_S3_URL`, with credentials in
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; `scripts/test.sh` starts one
//! that checks signatures).

use std::time::Duration;

use bytes::Bytes;
use docent_core::blob::{BlobError, BlobStore};
use docent_store::blob::ObjectBlobStore;

async fn round_trips_sizes_and_deletes(store: &dyn BlobStore, ns: &str) {
    let key = |k: &str| format!("{ns}/{k}");
    store
        .put(&key("t/1/a"), Bytes::from_static(b"hello"))
        .await
        .unwrap();
    store
        .put(&key("t/1/b"), Bytes::from_static(b"world!"))
        .await
        .unwrap();
    store
        .put(&key("t/2/a"), Bytes::from_static(b"other"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("t/1/a")).await.unwrap(),
        Bytes::from_static(b"hello")
    );
    assert_eq!(store.size(&key("t/1/b")).await.unwrap(), Some(6));
    assert_eq!(store.size(&key("t/1/zzz")).await.unwrap(), None);
    assert!(matches!(
        store.get(&key("nope")).await,
        Err(BlobError::NotFound)
    ));
    // Overwrite replaces.
    store
        .put(&key("t/1/a"), Bytes::from_static(b"hi"))
        .await
        .unwrap();
    assert_eq!(store.size(&key("t/1/a")).await.unwrap(), Some(2));
    store.delete_prefix(&key("t/1")).await.unwrap();
    assert_eq!(store.size(&key("t/1/a")).await.unwrap(), None);
    assert_eq!(store.size(&key("t/1/b")).await.unwrap(), None);
    assert_eq!(store.size(&key("t/2/a")).await.unwrap(), Some(5));
    store.delete(&key("t/2/a")).await.unwrap();
    store.delete(&key("t/2/a")).await.unwrap();
    store.delete_prefix(&key("never")).await.unwrap();
    store.check().await.unwrap();
}

#[tokio::test]
async fn local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBlobStore::open(None, dir.path()).unwrap();
    round_trips_sizes_and_deletes(&store, "ns").await;
    // Local uploads go through the server itself.
    assert!(
        store
            .presign_put("x", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
}

fn s3() -> Option<ObjectBlobStore> {
    let url = docent_testkit::backends::backend_url("DOCENT_TEST_S3_URL")?;
    let dir = std::env::temp_dir();
    let url = docent_core::config::StorageUrl::parse(&url).unwrap();
    Some(ObjectBlobStore::open(Some(&url), &dir).unwrap())
}

#[tokio::test]
async fn s3_compatible_server() {
    let Some(store) = s3() else { return };
    assert!(store.describe().starts_with("s3://"));
    let ns = uuid::Uuid::new_v4().simple().to_string();
    round_trips_sizes_and_deletes(&store, &ns).await;
}

#[tokio::test]
async fn s3_presigned_puts_work_and_tampering_is_refused() {
    let Some(store) = s3() else { return };
    let key = format!("{}/upload", uuid::Uuid::new_v4().simple());
    let url = store
        .presign_put(&key, Duration::from_secs(300))
        .await
        .unwrap()
        .expect("S3 presigns");
    let http = reqwest::Client::new();
    let put = |url: String, body: &'static str| {
        let http = http.clone();
        async move { http.put(url).body(body).send().await.unwrap().status() }
    };
    // Another key under the same signature, or a changed signature: refused.
    let other_key = url.replacen("/upload", "/elsewhere", 1);
    assert!(put(other_key, "x").await.is_client_error());
    let sig_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut forged = url.clone();
    let flipped = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    forged.replace_range(sig_at..sig_at + 1, flipped);
    assert!(put(forged, "x").await.is_client_error());
    assert_eq!(store.size(&key).await.unwrap(), None, "nothing was stored");
    // The URL as given works.
    assert!(put(url, "direct upload").await.is_success());
    assert_eq!(
        store.get(&key).await.unwrap(),
        Bytes::from_static(b"direct upload")
    );
    store.delete(&key).await.unwrap();
}

#[test]
fn a_storage_url_opens_its_store() {
    use docent_core::config::StorageUrl;
    let dir = tempfile::tempdir().unwrap();
    let url = StorageUrl::parse("s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1");
    let s3 = ObjectBlobStore::open(Some(&url.unwrap()), dir.path());
    assert_eq!(s3.unwrap().describe(), "s3://bucket");
    let files = StorageUrl::Files(dir.path().join("elsewhere"));
    ObjectBlobStore::open(Some(&files), dir.path()).unwrap();
    assert!(dir.path().join("elsewhere").is_dir());
}
