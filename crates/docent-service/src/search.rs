//! Searching a bot's knowledge base: the retriever's passages (keyword, vector
//! or hybrid, with calibrated relevance and the bot's floor).

use docent_core::domain::{RetrievalMode, Role};
use docent_core::embed::EmbedError;
use docent_core::ids::{BotId, ChunkId, DocumentId};
use docent_retrieval::Signals;
use docent_retrieval::retriever::SearchError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctx, ServiceError, ServiceResult, Services};

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 2000;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchRequest {
    pub query: String,
    /// Results wanted (1–50); default 5.
    pub top_k: Option<u32>,
    /// `keyword`, `vector` or `hybrid`; default: the bot's mode.
    pub mode: Option<RetrievalMode>,
    /// Relevance floor for this search, 0–1; default: the bot's (its
    /// `min_score`, or the calibrated default). 0 ranks without a floor.
    pub min_score: Option<f32>,
    /// Rerank the candidates with the server's reranker; default: the bot's
    /// setting (which defaults to reranking whenever one is configured).
    /// `true` on a server without a reranker is refused.
    pub rerank: Option<bool>,
    /// Add to each result the figures its score was made from (`signals`);
    /// default false.
    pub explain: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    pub chunk_id: ChunkId,
    pub document_id: DocumentId,
    pub title: String,
    pub source_url: Option<String>,
    pub text: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// The uploaded file's name, for documents that came from a file (whose
    /// title is the page's own when it has one).
    pub filename: Option<String>,
    /// Calibrated relevance in [0, 1], the same scale in every mode: what
    /// the bot's floor (`min_score`) is compared with.
    pub score: f32,
    /// Why it ranked here, when the search asked to `explain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub mode: RetrievalMode,
    pub results: Vec<SearchResult>,
}

impl From<SearchError> for ServiceError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Store(e) => e.into(),
            SearchError::Embed(EmbedError::Unavailable(m)) => ServiceError::Unavailable(m),
            SearchError::Embed(e @ EmbedError::Failed(_)) => ServiceError::internal(e),
        }
    }
}

impl Services {
    pub async fn search(
        &self,
        ctx: &Ctx,
        bot_id: BotId,
        req: SearchRequest,
    ) -> ServiceResult<SearchResults> {
        ctx.actor.require(Role::Viewer)?;
        let tenant = ctx.actor.tenant_id;
        let bot = self.store.get_bot(tenant, bot_id).await?;
        let query = req.query.trim();
        if query.is_empty() {
            return Err(ServiceError::Invalid("`query` is empty".into()));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ServiceError::Invalid(format!(
                "`query` is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let top_k = req.top_k.unwrap_or(5);
        if !(1..=50).contains(&top_k) {
            return Err(ServiceError::Invalid(
                "`top_k` must be between 1 and 50".into(),
            ));
        }
        if let Some(floor) = req.min_score
            && !(0.0..=1.0).contains(&floor)
        {
            return Err(ServiceError::Invalid(
                "`min_score` must be between 0 and 1".into(),
            ));
        }
        let rerank = req.rerank.or(bot.retrieval.rerank);
        if req.rerank == Some(true) && !self.retriever.has_reranker() {
            return Err(ServiceError::Invalid(
                "`rerank`: no reranker is configured on this server (DOCENT_RERANK_BASE_URL)"
                    .into(),
            ));
        }
        let mode = req.mode.unwrap_or(bot.retrieval.mode);
        let params = docent_retrieval::Params {
            mode,
            top_k: top_k as usize,
            min_score: req.min_score.or(bot.retrieval.min_score),
            rerank: rerank.unwrap_or(true),
        };
        let explain = req.explain.unwrap_or(false);
        let hits = self.retriever.search(tenant, bot_id, query, params).await?;
        let results = hits
            .into_iter()
            .map(|hit| {
                let p = hit.passage;
                SearchResult {
                    chunk_id: p.chunk_id,
                    document_id: p.document_id,
                    title: p.title,
                    source_url: p.source_url,
                    text: p.text,
                    page: p.page,
                    heading: p.heading,
                    filename: p.filename,
                    score: hit.score,
                    signals: explain.then_some(hit.signals),
                }
            })
            .collect();
        Ok(SearchResults { mode, results })
    }
}
