//! The embedded backend's approximate vector index of large bots against
//! its rows: found as an exact scan would find, every write visible to the
//! next search, saved and loaded across restarts, rebuilt when damaged, and
//! left to the exact scan for small bots and for a second process. Each
//! store handle stands for one process.

mod fixtures;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use docent_core::config::{DatabaseUrl, VectorQuantization};
use docent_core::domain::{Bot, Chunk, Document, Tenant};
use docent_core::ids::{ChunkId, TenantId};
use docent_core::store::Store;
use fixtures::*;

const DIMS: usize = 16;
/// Above the size from which a bot is searched through its graph.
const LARGE: usize = 10_500;
const EMBEDDER: &str = "test-16";

async fn open(db: &Path) -> Arc<dyn Store> {
    open_quantized(db, VectorQuantization::default()).await
}

async fn open_quantized(db: &Path, vector_quantization: VectorQuantization) -> Arc<dyn Store> {
    let options = docent_store::StoreOptions {
        vector_quantization,
    };
    docent_store::open_with(&DatabaseUrl::Sqlite(db.to_path_buf()), options)
        .await
        .unwrap()
}

/// A deterministic unit vector.
fn unit(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f32> = (0..DIMS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= norm);
    v
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
        name.push(".vector");
        self.db
            .with_file_name(name)
            .join(self.bot.id.0.simple().to_string())
    }

    /// Writes a document whose passages have the vectors of these seeds.
    async fn write(
        &self,
        store: &dyn Store,
        seeds: std::ops::Range<u64>,
    ) -> (Document, Vec<Chunk>) {
        let doc = document(self.tenant.id, self.bot.id, &format!("doc {}", seeds.start));
        store
            .create_document(&doc, None, &ingest(&doc))
            .await
            .unwrap();
        let texts: Vec<String> = seeds.clone().map(|s| format!("passage {s}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut chunks = chunks_for(&doc, &refs);
        for (chunk, seed) in chunks.iter_mut().zip(seeds) {
            chunk.embedder_id = EMBEDDER.into();
            chunk.embedding = unit(seed);
        }
        store
            .replace_chunks(self.tenant.id, doc.id, &chunks, None)
            .await
            .unwrap();
        (doc, chunks)
    }

    async fn nearest(&self, store: &dyn Store, q: &[f32]) -> Option<Vec<(ChunkId, f32)>> {
        store
            .vector_search(self.tenant.id, self.bot.id, EMBEDDER, q, 10)
            .await
            .unwrap()
    }

    /// The exact top 10, scanned over every vector of the bot.
    async fn exact(&self, store: &dyn Store, q: &[f32]) -> Vec<ChunkId> {
        let all = store
            .bot_vectors(self.tenant.id, self.bot.id, EMBEDDER)
            .await
            .unwrap();
        let mut scored: Vec<(f32, ChunkId)> = all
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let row = &all.vectors[i * DIMS..(i + 1) * DIMS];
                (row.iter().zip(q).map(|(a, b)| a * b).sum(), *id)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(10).map(|(_, id)| id).collect()
    }
}

async fn kb(passages: usize) -> (Kb, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("docent.db");
    let store = open(&db).await;
    let (tenant, _) = two_tenants(&*store).await;
    let bot = bot(tenant.id, "kb");
    store.create_bot(&bot).await.unwrap();
    let kb = Kb {
        _dir: dir,
        db,
        tenant,
        bot,
    };
    kb.write(&*store, 0..passages as u64).await;
    (kb, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_bot_is_searched_through_its_graph_as_an_exact_scan_would() {
    let (kb, server) = kb(LARGE).await;
    let mut found = 0;
    for seed in 0..20u64 {
        let q = unit(1_000_000 + seed);
        let hits = kb
            .nearest(&*server, &q)
            .await
            .expect("a large bot has a graph");
        let exact = kb.exact(&*server, &q).await;
        found += hits.iter().filter(|(id, _)| exact.contains(id)).count();
        // Scores are the exact cosines, best first.
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
    }
    assert!(found >= 190, "recall@10 {}", found as f32 / 200.0);
    // A stored vector finds itself, at cosine 1.
    let hits = kb.nearest(&*server, &unit(77)).await.unwrap();
    assert!((hits[0].1 - 1.0).abs() < 1e-4);
    // Built once and saved beside the database.
    assert!(kb.index_dir().join("meta.json").exists());

    // Another tenant's search of this bot finds nothing.
    let hits = server
        .vector_search(TenantId::new(), kb.bot.id, EMBEDDER, &unit(77), 10)
        .await
        .unwrap();
    assert_eq!(hits, Some(Vec::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_quantization_rebuilds_the_graph_and_finds_the_same() {
    let (kb, server) = kb(LARGE).await;
    kb.nearest(&*server, &unit(1)).await.unwrap();
    let graph = kb.index_dir().join("graph.usearch");
    let int8 = std::fs::metadata(&graph).unwrap().len();
    drop(server);
    let meta = |kb: &Kb| std::fs::read_to_string(kb.index_dir().join("meta.json")).unwrap();
    assert!(
        meta(&kb).contains(r#""quantization":"i8""#),
        "{}",
        meta(&kb)
    );

    let server = open_quantized(&kb.db, VectorQuantization::F32).await;
    let mut found = 0;
    for seed in 0..20u64 {
        let q = unit(2_000_000 + seed);
        let hits = kb.nearest(&*server, &q).await.unwrap();
        let exact = kb.exact(&*server, &q).await;
        found += hits.iter().filter(|(id, _)| exact.contains(id)).count();
    }
    assert!(found >= 190, "recall@10 {}", found as f32 / 200.0);
    assert!(
        meta(&kb).contains(r#""quantization":"f32""#),
        "{}",
        meta(&kb)
    );
    // Four bytes a dimension where int8 kept one.
    let full = std::fs::metadata(&graph).unwrap().len();
    assert!(full > int8 + (LARGE * DIMS * 2) as u64, "{int8} → {full}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_workers_write_is_found_by_the_next_search_and_deletes_never_are() {
    let (kb, server) = kb(LARGE).await;
    kb.nearest(&*server, &unit(1)).await.unwrap();
    let worker = open(&kb.db).await;
    let (doc, added) = kb.write(&*worker, 5_000_000..5_000_003).await;
    let hits = kb.nearest(&*server, &unit(5_000_001)).await.unwrap();
    assert_eq!(hits[0].0, added[1].id);
    worker.delete_document(kb.tenant.id, doc.id).await.unwrap();
    let hits = kb.nearest(&*server, &unit(5_000_001)).await.unwrap();
    assert!(
        hits.iter()
            .all(|(id, _)| !added.iter().any(|c| c.id == *id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_the_saved_graph_and_applies_what_was_written_after_it() {
    let (kb, server) = kb(LARGE).await;
    kb.nearest(&*server, &unit(1)).await.unwrap();
    drop(server);
    // Written while no process searched: only the log knows.
    let worker = open(&kb.db).await;
    let (_, added) = kb.write(&*worker, 6_000_000..6_000_002).await;
    let server = open(&kb.db).await;
    let hits = kb.nearest(&*server, &unit(6_000_000)).await.unwrap();
    assert_eq!(hits[0].0, added[0].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_graph_is_made_again_from_the_rows() {
    let (kb, server) = kb(LARGE).await;
    kb.nearest(&*server, &unit(1)).await.unwrap();
    drop(server);
    std::fs::write(kb.index_dir().join("graph.usearch"), b"not a graph").unwrap();
    let server = open(&kb.db).await;
    let hits = kb.nearest(&*server, &unit(42)).await.unwrap();
    assert!((hits[0].1 - 1.0).abs() < 1e-4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_bots_and_a_second_process_are_left_to_the_exact_scan() {
    let (small, store) = kb(200).await;
    assert!(small.nearest(&*store, &unit(3)).await.is_none());

    let (kb, server) = kb(LARGE).await;
    assert!(kb.nearest(&*server, &unit(3)).await.is_some());
    // The first process holds the graph; another one scans.
    let second = open(&kb.db).await;
    assert!(kb.nearest(&*second, &unit(3)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_searches_at_once_all_find_their_passages() {
    // More searches in flight than the machine has cores, on a built graph
    // and on one loaded from disk: each is answered, none refused.
    let (kb, server) = kb(LARGE).await;
    kb.nearest(&*server, &unit(1)).await.unwrap();
    crowd(&kb, &server).await;
    drop(server);
    let restarted = open(&kb.db).await;
    crowd(&kb, &restarted).await;
}

async fn crowd(kb: &Kb, store: &Arc<dyn Store>) {
    let searches = (0..64u64).map(|seed| async move {
        let hits = store
            .vector_search(kb.tenant.id, kb.bot.id, EMBEDDER, &unit(seed), 10)
            .await
            .expect("a search in a crowd")
            .expect("a large bot has a graph");
        assert!((hits[0].1 - 1.0).abs() < 1e-4, "seed {seed} finds itself");
    });
    futures::future::join_all(searches).await;
}
