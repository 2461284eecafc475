//! The retriever: keyword, vector or hybrid search over one bot, scoped by
//! tenant, with the bot's relevance floor applied.
//!
//! Vectors are searched by the store when it has an index of its own
//! (PostgreSQL: pgvector HNSW), else by an exact scan of an in-memory copy of
//! the bot's vectors (SQLite).
//!
//! Scores, by mode (comparable within a mode, not across):
//! - `keyword`: BM25 on SQLite (FTS5), `ts_rank` on PostgreSQL (higher is
//!   better);
//! - `vector`: cosine similarity of question and passage, in [-1, 1];
//! - `hybrid`: reciprocal-rank-fusion sum, at most 2/61 ≈ 0.033.
//!
//! The floor `min_score` is in the units of `keyword` and `vector` mode; in
//! `hybrid` it is compared with the passage's cosine similarity, because RRF
//! sums say nothing about absolute relevance.

use std::collections::HashMap;
use std::sync::Arc;

use docent_core::domain::RetrievalMode;
use docent_core::embed::{EmbedError, Embedder};
use docent_core::ids::{BotId, ChunkId, TenantId};
use docent_core::store::{Store, StoreError};
use tokio::sync::Mutex;

use crate::fusion::reciprocal_rank_fusion;
use crate::vector::{FlatIndex, dot};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub chunk_id: ChunkId,
    /// In the mode's units (see the module docs).
    pub score: f32,
}

struct Cached {
    version: i64,
    index: Arc<FlatIndex>,
}

pub struct Retriever {
    store: Arc<dyn Store>,
    embedder: Arc<dyn Embedder>,
    /// Per bot, the index as of a store `index_version`; reloaded when the
    /// version moved (another process, or this one, changed the bot's chunks).
    cache: Mutex<HashMap<(TenantId, BotId), Cached>>,
}

impl Retriever {
    pub fn new(store: Arc<dyn Store>, embedder: Arc<dyn Embedder>) -> Self {
        Self {
            store,
            embedder,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn search(
        &self,
        tenant: TenantId,
        bot: BotId,
        query: &str,
        mode: RetrievalMode,
        top_k: usize,
        min_score: f32,
    ) -> Result<Vec<Hit>, SearchError> {
        let top_k = top_k.clamp(1, 100);
        let hits = match mode {
            RetrievalMode::Keyword => self
                .store
                .keyword_search(tenant, bot, query, top_k as u32)
                .await?
                .into_iter()
                .filter(|(_, s)| *s >= min_score)
                .map(|(chunk_id, score)| Hit { chunk_id, score })
                .collect(),
            RetrievalMode::Vector => {
                let q = self.embed_query(query).await?;
                self.nearest(tenant, bot, &q, top_k)
                    .await?
                    .0
                    .into_iter()
                    .filter(|(_, s)| *s >= min_score)
                    .map(|(chunk_id, score)| Hit { chunk_id, score })
                    .collect()
            }
            RetrievalMode::Hybrid => {
                // Each side looks deeper than top_k so fusion has candidates.
                let depth = (top_k * 4).max(20);
                let q = self.embed_query(query).await?;
                let (vector, index) = self.nearest(tenant, bot, &q, depth).await?;
                let keyword = self
                    .store
                    .keyword_search(tenant, bot, query, depth as u32)
                    .await?;
                let cosine = match index {
                    Some(index) => cosine_of(&index, &q, &keyword, &vector),
                    None => {
                        let mut known: HashMap<ChunkId, f32> = vector.iter().copied().collect();
                        let missing: Vec<ChunkId> = keyword
                            .iter()
                            .map(|(id, _)| *id)
                            .filter(|id| !known.contains_key(id))
                            .collect();
                        if let Some(found) = self
                            .store
                            .vector_similarity(tenant, self.embedder.id(), &q, &missing)
                            .await?
                        {
                            known.extend(found);
                        }
                        known
                    }
                };
                reciprocal_rank_fusion(&[&keyword, &vector], depth)
                    .into_iter()
                    .filter(|(id, _)| cosine.get(id).is_some_and(|c| *c >= min_score))
                    .take(top_k)
                    .map(|(chunk_id, score)| Hit { chunk_id, score })
                    .collect()
            }
        };
        Ok(hits)
    }

    /// The `k` passages nearest to `q`: searched by the store when it has a
    /// vector index of its own (then no in-memory index is returned), else
    /// scanned in this process's in-memory index of the bot.
    async fn nearest(
        &self,
        tenant: TenantId,
        bot: BotId,
        q: &[f32],
        k: usize,
    ) -> Result<(Vec<(ChunkId, f32)>, Option<Arc<FlatIndex>>), SearchError> {
        if let Some(hits) = self
            .store
            .vector_search(tenant, bot, self.embedder.id(), q, k as u32)
            .await?
        {
            return Ok((hits, None));
        }
        let index = self.index(tenant, bot).await?;
        Ok((index.search(q, k), Some(index)))
    }

    async fn embed_query(&self, query: &str) -> Result<Vec<f32>, SearchError> {
        let mut v = self.embedder.embed(&[query.to_string()]).await?;
        v.pop()
            .ok_or_else(|| SearchError::Embed(EmbedError::Failed("no vector for the query".into())))
    }

    /// The bot's vector index, reloaded from the store only when its version
    /// changed. One version check (a primary-key read) per query.
    async fn index(&self, tenant: TenantId, bot: BotId) -> Result<Arc<FlatIndex>, SearchError> {
        let version = self.store.bot_index_version(tenant, bot).await?;
        if let Some(c) = self.cache.lock().await.get(&(tenant, bot))
            && c.version == version
        {
            return Ok(c.index.clone());
        }
        let loaded = self
            .store
            .bot_vectors(tenant, bot, self.embedder.id())
            .await?;
        let index = Arc::new(FlatIndex {
            ids: loaded.ids,
            vectors: loaded.vectors,
            dims: loaded.dims,
        });
        tracing::debug!(%bot, vectors = index.len(), version = loaded.version, "vector index loaded");
        self.cache.lock().await.insert(
            (tenant, bot),
            Cached {
                version: loaded.version,
                index: index.clone(),
            },
        );
        Ok(index)
    }
}

/// Cosine similarity of the question to every candidate: known from the vector
/// ranking, computed from the index for keyword-only candidates.
fn cosine_of(
    index: &FlatIndex,
    q: &[f32],
    keyword: &[(ChunkId, f32)],
    vector: &[(ChunkId, f32)],
) -> HashMap<ChunkId, f32> {
    let mut out: HashMap<ChunkId, f32> = vector.iter().copied().collect();
    let missing: Vec<ChunkId> = keyword
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !out.contains_key(id))
        .collect();
    if missing.is_empty() || index.dims == 0 {
        return out;
    }
    for (i, id) in index.ids.iter().enumerate() {
        if missing.contains(id) {
            let row = &index.vectors[i * index.dims..(i + 1) * index.dims];
            out.insert(*id, dot(row, q));
        }
    }
    out
}
