//! The retriever: keyword, vector or hybrid search over one bot, scoped by
//! tenant, scored by calibrated relevance in [0, 1] ([`crate::relevance`])
//! and cut at the bot's floor (its `min_score`, or the embedder's default).
//! With a reranker configured and asked for, the best candidates are scored
//! again by it, and its relevance decides order and floor; when it fails the
//! fused order stands.
//!
//! Vectors are searched by the store when it has an index of its own
//! (PostgreSQL: pgvector HNSW), else by an exact scan of an in-memory copy of
//! the bot's vectors (SQLite).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use docent_core::domain::{
    CandidateTrace, RankedCandidate, RetrievalMode, RetrievalTrace, TRACE_CANDIDATES,
};
use docent_core::embed::{EmbedError, Embedder};
use docent_core::ids::{BotId, ChunkId, TenantId};
use docent_core::rerank::Reranker;
use docent_core::store::{ChunkHit, Store, StoreError};
use tokio::sync::Mutex;

use crate::lexical::Terms;
use crate::relevance::Calibration;
use crate::vector::{FlatIndex, dot};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

/// Candidates a reranker reads at least (more when `top_k` is larger).
const RERANK_CANDIDATES: usize = 20;

/// The floor for reranked passages when a bot sets none: the logistic
/// midpoint, where a cross-encoder says "more likely relevant than not".
/// Not yet measured against a real cross-encoder (none is obtainable here).
pub const DEFAULT_RERANK_FLOOR: f32 = 0.5;

/// How to search.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub mode: RetrievalMode,
    pub top_k: usize,
    /// The floor; `None`: the calibrated default.
    pub min_score: Option<f32>,
    /// Rerank the candidates when a reranker is configured.
    pub rerank: bool,
}

/// A passage found, best first, with its calibrated relevance in [0, 1].
#[derive(Clone, Debug)]
pub struct Hit {
    pub passage: ChunkHit,
    pub score: f32,
    /// What each stage said of it: the figures `score` was made from.
    pub signals: Signals,
}

// The evidence behind a hit's score: shown to people who ask why a passage
// ranked where it did (a search's `explain`), and the input fusion and
// floors are tuned on (`docent eval --signals`).
/// What each retrieval stage measured of a result; a field is null when
/// that stage did not see the passage (or did not run in this mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = SearchSignals)]
pub struct Signals {
    /// 1-based rank among the keyword candidates.
    pub keyword_rank: Option<u32>,
    /// BM25 score: its scale depends on the query and the backend.
    pub keyword_score: Option<f32>,
    /// Share of the question's content words the passage holds, 0–1.
    pub coverage: Option<f32>,
    /// 1-based rank among the nearest vectors.
    pub vector_rank: Option<u32>,
    /// Cosine similarity of the passage to the question, -1–1.
    pub cosine: Option<f32>,
    /// The reranker's relevance, 0–1, when the candidates were reranked.
    pub rerank: Option<f32>,
}

/// A search's results with its trace.
#[derive(Clone, Debug)]
pub struct Searched {
    pub hits: Vec<Hit>,
    pub trace: RetrievalTrace,
    pub timings: StageTimings,
}

/// Milliseconds per retrieval stage; `None` for a stage that did not run.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimings {
    pub embed: Option<f64>,
    pub keyword: Option<f64>,
    pub vector: Option<f64>,
    pub fusion: Option<f64>,
    pub rerank: Option<f64>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A retriever's list as a trace shows it: bounded, ranked from 1.
fn ranked(list: &[(ChunkId, f32)]) -> Vec<RankedCandidate> {
    list.iter()
        .take(TRACE_CANDIDATES)
        .enumerate()
        .map(|(i, (chunk_id, score))| RankedCandidate {
            chunk_id: *chunk_id,
            rank: i as u32 + 1,
            score: *score,
        })
        .collect()
}

fn candidate(h: &Hit, fused: f32, outcome: &str) -> CandidateTrace {
    let s = h.signals;
    CandidateTrace {
        chunk_id: h.passage.chunk_id,
        document_id: h.passage.document_id,
        title: h.passage.title.clone(),
        keyword_rank: s.keyword_rank,
        keyword_score: s.keyword_score,
        coverage: s.coverage,
        vector_rank: s.vector_rank,
        cosine: s.cosine,
        fused,
        rerank: s.rerank,
        score: h.score,
        outcome: outcome.into(),
    }
}

struct Cached {
    version: i64,
    index: Arc<FlatIndex>,
}

pub struct Retriever {
    store: Arc<dyn Store>,
    embedder: Arc<dyn Embedder>,
    reranker: Option<Arc<dyn Reranker>>,
    calibration: Calibration,
    terms: Terms,
    /// Per bot, the index as of a store `index_version`; reloaded when the
    /// version moved (another process, or this one, changed the bot's chunks).
    cache: Mutex<HashMap<(TenantId, BotId), Cached>>,
}

impl Retriever {
    pub fn new(store: Arc<dyn Store>, embedder: Arc<dyn Embedder>) -> Self {
        let calibration = Calibration::for_embedder(embedder.id());
        Self {
            store,
            embedder,
            reranker: None,
            calibration,
            terms: Terms::default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a reranking stage for searches that ask for it.
    pub fn with_reranker(mut self, reranker: Option<Arc<dyn Reranker>>) -> Self {
        self.reranker = reranker;
        self
    }

    pub fn has_reranker(&self) -> bool {
        self.reranker.is_some()
    }

    /// The best `top_k` passages scoring at least `min_score` (`None`: the
    /// embedder's calibrated default for the mode).
    pub async fn search(
        &self,
        tenant: TenantId,
        bot: BotId,
        query: &str,
        params: Params,
    ) -> Result<Vec<Hit>, SearchError> {
        Ok(self.search_traced(tenant, bot, query, params).await?.hits)
    }

    /// [`Retriever::search`], with what each stage found and how long it
    /// took: the retrieval part of an answer's trace.
    #[tracing::instrument(
        name = "retrieval.search",
        skip_all,
        fields(tenant_id = %tenant, bot_id = %bot, mode = ?params.mode, top_k = params.top_k)
    )]
    pub async fn search_traced(
        &self,
        tenant: TenantId,
        bot: BotId,
        query: &str,
        params: Params,
    ) -> Result<Searched, SearchError> {
        let Params {
            mode,
            top_k,
            min_score,
            rerank,
        } = params;
        let top_k = top_k.clamp(1, 100);
        let reranker = self.reranker.as_ref().filter(|_| rerank);
        let (floor, floor_source) = match (min_score, reranker) {
            (Some(floor), _) => (floor, "bot"),
            (None, Some(_)) => (DEFAULT_RERANK_FLOOR, "reranker"),
            (None, None) => (self.calibration.default_floor(mode), "calibrated"),
        };
        let mut timings = StageTimings::default();
        // Each side looks deeper than top_k: fusion needs candidates, and
        // keyword relevance re-orders BM25's list by coverage.
        let depth = (top_k * 4).max(20);
        let (keyword, vector, cosine) = match mode {
            RetrievalMode::Keyword => {
                let clock = Instant::now();
                let keyword = self
                    .store
                    .keyword_search(tenant, bot, query, depth as u32)
                    .await?;
                timings.keyword = Some(ms(clock));
                (keyword, Vec::new(), HashMap::new())
            }
            RetrievalMode::Vector => {
                let q = self.embed_query(query, &mut timings).await?;
                let clock = Instant::now();
                let (vector, _) = self.nearest(tenant, bot, &q, top_k).await?;
                timings.vector = Some(ms(clock));
                let cosine = vector.iter().copied().collect();
                (Vec::new(), vector, cosine)
            }
            RetrievalMode::Hybrid => {
                let q = self.embed_query(query, &mut timings).await?;
                let clock = Instant::now();
                let (vector, index) = self.nearest(tenant, bot, &q, depth).await?;
                timings.vector = Some(ms(clock));
                let clock = Instant::now();
                let keyword = self
                    .store
                    .keyword_search(tenant, bot, query, depth as u32)
                    .await?;
                timings.keyword = Some(ms(clock));
                let clock = Instant::now();
                let cosine = self
                    .cosine_of(tenant, index.as_deref(), &q, &keyword, &vector)
                    .await?;
                timings.fusion = Some(ms(clock));
                (keyword, vector, cosine)
            }
        };
        let clock = Instant::now();
        // Per keyword candidate: its rank and BM25 score; its ratio to the
        // query's best is the keyword side of relevance.
        let keyword_rank: HashMap<ChunkId, (u32, f32)> = keyword
            .iter()
            .enumerate()
            .map(|(i, (id, s))| (*id, (i as u32 + 1, *s)))
            .collect();
        let vector_rank: HashMap<ChunkId, u32> = vector
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i as u32 + 1))
            .collect();
        let best = keyword.first().map_or(0.0, |(_, s)| *s);
        let mut ids: Vec<ChunkId> = keyword.iter().map(|(id, _)| *id).collect();
        // Then the vector candidates keyword search did not find, in vector
        // order: ties are broken by this order, so it must not depend on a
        // hash map's.
        ids.extend(
            vector
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !keyword_rank.contains_key(id)),
        );
        let passages = self.store.get_chunk_hits(tenant, &ids).await?;
        let question = self.terms.of(query);
        let mut hits: Vec<Hit> = passages
            .into_iter()
            .map(|passage| {
                let id = passage.chunk_id;
                let coverage = (mode != RetrievalMode::Vector)
                    .then(|| self.terms.coverage(&question, &passage.text));
                let ratio = match keyword_rank.get(&id) {
                    Some((_, score)) if best > 0.0 => score / best,
                    _ => 0.0,
                };
                let keyword = Calibration::keyword(ratio, coverage.unwrap_or(0.0));
                let cos = cosine.get(&id).copied();
                let score = match mode {
                    RetrievalMode::Keyword => keyword,
                    RetrievalMode::Vector => self.calibration.cosine(cos.unwrap_or(-1.0)),
                    RetrievalMode::Hybrid => self.calibration.hybrid(keyword, cos.unwrap_or(-1.0)),
                };
                let signals = Signals {
                    keyword_rank: keyword_rank.get(&id).map(|(r, _)| *r),
                    keyword_score: keyword_rank.get(&id).map(|(_, s)| *s),
                    coverage,
                    vector_rank: vector_rank.get(&id).copied(),
                    cosine: cos,
                    rerank: None,
                };
                Hit {
                    passage,
                    score,
                    signals,
                }
            })
            .collect();
        // Best first; ties in the order the store ranked them.
        let rank: HashMap<ChunkId, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| rank[&a.passage.chunk_id].cmp(&rank[&b.passage.chunk_id]))
        });
        let fused: HashMap<ChunkId, f32> =
            hits.iter().map(|h| (h.passage.chunk_id, h.score)).collect();
        *timings.fusion.get_or_insert(0.0) += ms(clock);
        let mut unranked = Vec::new();
        let mut rerank_error = None;
        if let Some(reranker) = reranker {
            let clock = Instant::now();
            unranked = hits.split_off(hits.len().min((top_k * 2).max(RERANK_CANDIDATES)));
            let texts: Vec<String> = hits.iter().map(|h| h.passage.text.clone()).collect();
            match reranker.rerank(query, &texts).await {
                Ok(scores) if scores.len() == hits.len() => {
                    for (hit, score) in hits.iter_mut().zip(scores) {
                        hit.score = score.clamp(0.0, 1.0);
                        hit.signals.rerank = Some(hit.score);
                    }
                    // Stable: equal scores keep the fused order.
                    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
                }
                Ok(_) => {
                    tracing::warn!(
                        "the reranker scored another number of passages; keeping the fused order"
                    );
                    rerank_error = Some("the reranker scored another number of passages".into());
                }
                Err(error) => {
                    tracing::warn!(%error, "reranking failed; keeping the fused order");
                    rerank_error = Some(error.to_string());
                }
            }
            timings.rerank = Some(ms(clock));
        }
        let reranked = reranker.is_some() && rerank_error.is_none();
        // The trace's view of every candidate, before the cut.
        let mut candidates: Vec<CandidateTrace> = hits
            .iter()
            .chain(&unranked)
            .enumerate()
            .map(|(i, h)| {
                let outcome = if i >= hits.len() || h.score >= floor {
                    "beyond_top_k"
                } else {
                    "below_floor"
                };
                candidate(h, fused[&h.passage.chunk_id], outcome)
            })
            .collect();
        hits.retain(|h| h.score >= floor);
        hits.truncate(top_k);
        for c in candidates.iter_mut() {
            if hits.iter().any(|h| h.passage.chunk_id == c.chunk_id) {
                c.outcome = "kept".into();
            }
        }
        let total = keyword.len() + vector.len() + candidates.len();
        // Every kept passage stays, however large `top_k`.
        candidates.truncate(TRACE_CANDIDATES.max(hits.len()));
        let keyword = ranked(&keyword);
        let vector = ranked(&vector);
        let omitted = total - keyword.len() - vector.len() - candidates.len();
        Ok(Searched {
            hits,
            trace: RetrievalTrace {
                mode,
                top_k: top_k as u32,
                floor,
                floor_source: floor_source.into(),
                reranked,
                rerank_error,
                keyword,
                vector,
                candidates,
                omitted: omitted as u32,
            },
            timings,
        })
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

    /// Cosine similarity of the question to every candidate: known from the
    /// vector ranking, computed for keyword-only candidates from the
    /// in-memory index or by the store.
    async fn cosine_of(
        &self,
        tenant: TenantId,
        index: Option<&FlatIndex>,
        q: &[f32],
        keyword: &[(ChunkId, f32)],
        vector: &[(ChunkId, f32)],
    ) -> Result<HashMap<ChunkId, f32>, SearchError> {
        let mut known: HashMap<ChunkId, f32> = vector.iter().copied().collect();
        let missing: Vec<ChunkId> = keyword
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !known.contains_key(id))
            .collect();
        match index {
            Some(index) => known.extend(cosine_in(index, q, &missing)),
            None => {
                if let Some(found) = self
                    .store
                    .vector_similarity(tenant, self.embedder.id(), q, &missing)
                    .await?
                {
                    known.extend(found);
                }
            }
        }
        Ok(known)
    }

    async fn embed_query(
        &self,
        query: &str,
        timings: &mut StageTimings,
    ) -> Result<Vec<f32>, SearchError> {
        let clock = Instant::now();
        let mut v = self.embedder.embed(&[query.to_string()]).await?;
        timings.embed = Some(ms(clock));
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

/// Cosine similarity of `q` to each listed passage, from the in-memory index.
fn cosine_in(index: &FlatIndex, q: &[f32], wanted: &[ChunkId]) -> HashMap<ChunkId, f32> {
    let mut out = HashMap::new();
    if wanted.is_empty() || index.dims == 0 {
        return out;
    }
    // One pass over the bot's ids, each looked up in a set (not scanned).
    let wanted: std::collections::HashSet<&ChunkId> = wanted.iter().collect();
    for (i, id) in index.ids.iter().enumerate() {
        if wanted.contains(id) {
            let row = &index.vectors[i * index.dims..(i + 1) * index.dims];
            out.insert(*id, dot(row, q));
        }
    }
    out
}
