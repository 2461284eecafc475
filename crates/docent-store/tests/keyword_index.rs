//! The embedded backend's keyword index against its rows: what several
//! processes on one database see, and how the index recovers from a crash,
//! a lost change or damaged files. Each store handle below stands for one
//! process (its own pool and its own indexes).

mod fixtures;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use docent_core::config::DatabaseUrl;
use docent_core::domain::{Bot, Chunk, Document, Tenant};
use docent_core::ids::ChunkId;
use docent_core::store::Store;
use fixtures::*;
use sqlx::sqlite::SqlitePoolOptions;

async fn open(db: &Path) -> Arc<dyn Store> {
    docent_store::open(&DatabaseUrl::Sqlite(db.to_path_buf()))
        .await
        .unwrap()
}

/// SQL run on the database directly, as another program would.
async fn raw(db: &Path, sql: &str) {
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

struct Kb {
    _dir: tempfile::TempDir,
    db: PathBuf,
    tenant: Tenant,
    bot: Bot,
}

impl Kb {
    fn index_dir(&self) -> PathBuf {
        let mut name = self.db.file_name().unwrap().to_os_string();
        name.push(".keyword");
        self.db
            .with_file_name(name)
            .join(self.bot.id.0.simple().to_string())
    }

    /// Writes a document with these passages, as an ingestion job does.
    async fn write(
        &self,
        store: &dyn Store,
        title: &str,
        texts: &[&str],
    ) -> (Document, Vec<Chunk>) {
        let doc = document(self.tenant.id, self.bot.id, title);
        store
            .create_document(&doc, None, &ingest(&doc))
            .await
            .unwrap();
        let chunks = chunks_for(&doc, texts);
        store
            .replace_chunks(self.tenant.id, doc.id, &chunks, None)
            .await
            .unwrap();
        (doc, chunks)
    }

    async fn find(&self, store: &dyn Store, text: &str) -> Vec<ChunkId> {
        let hits = store
            .keyword_search(self.tenant.id, self.bot.id, text, 10)
            .await
            .unwrap();
        hits.into_iter().map(|(id, _)| id).collect()
    }
}

/// A fresh database file, its first process, and a tenant with one bot.
async fn kb() -> (Kb, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("docent.db");
    let store = open(&db).await;
    let (tenant, _) = two_tenants(&*store).await;
    let bot = bot(tenant.id, "kb");
    store.create_bot(&bot).await.unwrap();
    (
        Kb {
            _dir: dir,
            db,
            tenant,
            bot,
        },
        store,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_workers_write_is_found_by_the_next_search_and_deletes_never_are() {
    let (kb, server) = kb().await;
    let worker = open(&kb.db).await;
    let (_, first) = kb
        .write(
            &*worker,
            "refunds",
            &["refunds are paid within thirty days"],
        )
        .await;
    // Stemmed as passages are: "refunded" finds "refunds".
    assert_eq!(
        kb.find(&*server, "were they refunded?").await,
        vec![first[0].id]
    );

    // The index exists now; a later write is applied to it, not rebuilt.
    let (doc, second) = kb
        .write(&*worker, "shipping", &["parcels ship within two days"])
        .await;
    assert_eq!(kb.find(&*server, "ship parcels").await, vec![second[0].id]);
    let both = kb.find(&*server, "within").await;
    assert_eq!(both.len(), 2, "{both:?}");

    // A second searching process reads what the index's holder committed.
    assert_eq!(kb.find(&*worker, "ship parcels").await, vec![second[0].id]);

    worker.delete_document(kb.tenant.id, doc.id).await.unwrap();
    assert!(kb.find(&*server, "ship parcels").await.is_empty());
    assert_eq!(kb.find(&*server, "within").await, vec![first[0].id]);

    // Retrying an ingestion replaces its passages: the old ids are gone.
    let (doc, old) = kb
        .write(&*worker, "hours", &["support answers on weekdays"])
        .await;
    let new = chunks_for(&doc, &["support answers on weekdays"]);
    worker
        .replace_chunks(kb.tenant.id, doc.id, &new, None)
        .await
        .unwrap();
    assert_ne!(old[0].id, new[0].id);
    assert_eq!(kb.find(&*server, "weekdays").await, vec![new[0].id]);
}

/// A bot with two passages on plans, indexed by a first search of a
/// process that then stopped.
async fn two_plans_searched_once() -> (Kb, Vec<Chunk>) {
    let (kb, server) = kb().await;
    let texts = ["the pro plan costs nine euros", "the team plan costs more"];
    let (_, chunks) = kb.write(&*server, "plans", &texts).await;
    assert_eq!(kb.find(&*server, "plan").await.len(), 2);
    (kb, chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_applied_twice_after_a_crash_is_held_once() {
    let (kb, chunks) = two_plans_searched_once().await;
    // As if the process died after committing the index but before it
    // cleared the log: the same changes are pending again.
    let ids: Vec<String> = chunks
        .iter()
        .map(|c| format!("('{}', '{}')", kb.bot.id, c.id))
        .collect();
    raw(
        &kb.db,
        &format!(
            "INSERT INTO keyword_log (bot_id, chunk_id) VALUES {}",
            ids.join(", ")
        ),
    )
    .await;
    let server = open(&kb.db).await;
    let mut found = kb.find(&*server, "plan").await;
    found.sort();
    let mut want: Vec<ChunkId> = chunks.iter().map(|c| c.id).collect();
    want.sort();
    assert_eq!(found, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_that_disagrees_with_the_rows_is_rebuilt() {
    let (kb, chunks) = two_plans_searched_once().await;
    // A passage removed with its change lost: only the count tells.
    raw(
        &kb.db,
        &format!(
            "DELETE FROM chunks WHERE id = '{}';
             DELETE FROM keyword_log WHERE chunk_id = '{}';",
            chunks[1].id, chunks[1].id
        ),
    )
    .await;
    let server = open(&kb.db).await;
    assert_eq!(kb.find(&*server, "plan").await, vec![chunks[0].id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_missing_index_is_made_again_from_the_rows() {
    let (kb, server) = kb().await;
    let (_, chunks) = kb
        .write(&*server, "plans", &["the pro plan costs nine euros"])
        .await;
    assert_eq!(kb.find(&*server, "pro").await, vec![chunks[0].id]);
    drop(server);
    std::fs::write(kb.index_dir().join("meta.json"), b"{ not json").unwrap();
    let server = open(&kb.db).await;
    assert_eq!(kb.find(&*server, "pro").await, vec![chunks[0].id]);
    drop(server);
    std::fs::remove_dir_all(kb.index_dir()).unwrap();
    let server = open(&kb.db).await;
    assert_eq!(kb.find(&*server, "pro").await, vec![chunks[0].id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_bots_index_and_log_are_removed() {
    let (kb, server) = kb().await;
    kb.write(&*server, "plans", &["the pro plan costs nine euros"])
        .await;
    assert_eq!(kb.find(&*server, "pro").await.len(), 1);
    assert!(kb.index_dir().exists());
    server.delete_bot(kb.tenant.id, kb.bot.id).await.unwrap();
    assert!(kb.find(&*server, "pro").await.is_empty());
    drop(server);
    let server = open(&kb.db).await;
    assert!(!kb.index_dir().exists());
    drop(server);
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", kb.db.display()))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM keyword_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
