//! The embedded keyword index: one tantivy index per bot, BM25 with
//! block-max WAND, so a top-k query skips the posting blocks that cannot
//! reach the k-th score (FTS5, which this replaces, computed `bm25()` for
//! every passage holding any query word). Per bot rather than one index with
//! the bot as a filter: a bot's statistics are its own (another tenant's
//! passages never move its scores) and a pure disjunction keeps WAND.
//!
//! The chunk rows are the truth; the index is derived from them:
//! - whatever writes chunks (the server, any number of `docent worker`
//!   processes) appends their ids to `keyword_log`, by trigger, in the same
//!   transaction as the rows;
//! - the process that searches applies the bot's log before searching, so a
//!   committed write is visible to the next search, commits the index with
//!   the log position reached as its payload, then drops the applied log
//!   rows. A crash in between applies the log again: deleting a passage's id
//!   and adding its current row (if it still has one) is idempotent;
//! - an index that is missing, unreadable, of another schema, ahead of the
//!   log, far behind it, or whose passage count disagrees with the rows when
//!   first opened is rebuilt from the rows.
//!
//! One process holds an index's writer (tantivy's lock file); another
//! process that searches the same bot reads what the holder last committed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use docent_core::ids::{BotId, ChunkId, TenantId};
use docent_core::store::{StoreError, StoreResult};
use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, Pool, Row, Sqlite, SqliteConnection};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::LockError;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};
use uuid::Uuid;

use crate::sql::placeholders;

/// Open bot indexes kept at most (each holds a reader and, once it was
/// written, a writer with its threads and arena).
const OPEN_BOTS: usize = 16;
/// The indexing arena of one bot's writer (tantivy's minimum is 15 MB).
const WRITER_ARENA: usize = 32 << 20;
/// A log backlog longer than this is rebuilt from the rows instead.
const REBUILD_BACKLOG: i64 = 50_000;
/// Query words used at most (the rest of a very long question adds little).
const MAX_TERMS: usize = 64;
/// Heading words count this many times in a passage, as the FTS5 ranking
/// weighed them (`bm25(…, 2.0, 1.0)`): one field, so one BM25 saturation
/// over the weighted counts, as FTS5's.
const HEADING_WEIGHT: usize = 2;
/// Rows per batch while rebuilding and ids per lookup while applying.
const BATCH: usize = 500;

/// Every bot's keyword index of one database.
pub struct KeywordIndexes {
    /// Where the indexes live (`{database}.keyword/{bot}`); `None` for a
    /// database in memory, whose indexes are in memory too.
    root: Option<PathBuf>,
    open: std::sync::Mutex<Lru>,
}

/// The open indexes, least recently used evicted first. Hand-written: a map
/// and a counter do for sixteen entries.
#[derive(Default)]
struct Lru {
    bots: HashMap<BotId, (Arc<BotIndex>, u64)>,
    tick: u64,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    hi: Field,
    lo: Field,
    text: Field,
}

struct BotIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
    /// The log position the committed index reflects; -1: rebuild first.
    applied: AtomicI64,
    /// Whether the index was checked against the rows since it was opened.
    verified: AtomicBool,
    /// Serialises catching up, and holds the writer between catch-ups.
    writer: tokio::sync::Mutex<Option<IndexWriter>>,
}

/// A passage as the index holds it.
struct Passage {
    id: ChunkId,
    heading: Option<String>,
    text: String,
}

/// What catching up does in the blocking pool.
enum Change {
    /// These passages changed: drop them, add the current rows.
    Apply {
        ids: Vec<ChunkId>,
        rows: Vec<Passage>,
    },
    /// Everything again, the rows arriving in batches; `None` ends them (a
    /// channel closed without it means the reading failed).
    Rebuild(tokio::sync::mpsc::Receiver<Option<Vec<Passage>>>),
}

fn failed(op: &'static str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::backend(op, e)
}

impl KeywordIndexes {
    /// The indexes of the database at `database` (`None`: in memory).
    pub fn new(database: Option<&Path>) -> Self {
        let root = super::derived::root(database, ".keyword");
        Self {
            root,
            open: std::sync::Mutex::new(Lru::default()),
        }
    }

    /// Removes the indexes and log rows of bots that no longer exist.
    pub async fn sweep(&self, pool: &Pool<Sqlite>) -> StoreResult<()> {
        super::derived::sweep(self.root.as_deref(), pool, "keyword").await?;
        sqlx::query("DELETE FROM keyword_log WHERE bot_id NOT IN (SELECT id FROM bots)")
            .execute(pool)
            .await
            .map_err(|e| failed("keyword_sweep", e))?;
        Ok(())
    }

    /// The bot's passages best first for `text`, with their BM25 scores.
    /// Nothing when the bot is not the tenant's.
    pub async fn search(
        &self,
        pool: &Pool<Sqlite>,
        tenant: TenantId,
        bot: BotId,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>> {
        // One primary-key read: the bot is the tenant's, and whether its log
        // moved past what this process's index holds (-1 when it is not
        // open, so a pending log shows as behind).
        let cached = self.cached(bot);
        let applied = cached
            .as_ref()
            .map_or(-1, |index| index.applied.load(Ordering::Acquire));
        let behind: Option<bool> = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM keyword_log WHERE bot_id = $2 AND seq > $3)
             FROM bots WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(bot.to_string())
        .bind(applied)
        .fetch_optional(pool)
        .await
        .map_err(|e| failed("keyword_search", e))?;
        let Some(behind) = behind else {
            return Ok(Vec::new());
        };
        let index = match cached {
            Some(index) => index,
            None => self.bot(bot).await?,
        };
        if behind
            || index.applied.load(Ordering::Acquire) < 0
            || !index.verified.load(Ordering::Acquire)
        {
            index.catch_up(pool, tenant, bot).await?;
        }
        search_off_runtime(index, text, limit).await
    }

    /// The bot's index as it stands (see `SqliteStore::keyword_index_only`).
    pub async fn search_index_only(
        &self,
        bot: BotId,
        text: &str,
        limit: u32,
    ) -> StoreResult<Vec<(ChunkId, f32)>> {
        search_off_runtime(self.bot(bot).await?, text, limit).await
    }

    /// The bot's index when this process has it open, marked as used.
    fn cached(&self, bot: BotId) -> Option<Arc<BotIndex>> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.tick += 1;
        let tick = open.tick;
        open.bots.get_mut(&bot).map(|(index, used)| {
            *used = tick;
            index.clone()
        })
    }

    /// The bot's index, opened (and another evicted) when it is not open.
    async fn bot(&self, bot: BotId) -> StoreResult<Arc<BotIndex>> {
        if let Some(index) = self.cached(bot) {
            return Ok(index);
        }
        let dir = self
            .root
            .as_ref()
            .map(|r| r.join(bot.0.simple().to_string()));
        let index = tokio::task::spawn_blocking(move || BotIndex::open(dir.as_deref()))
            .await
            .map_err(|e| failed("keyword_open", e))??;
        let index = Arc::new(index);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.tick += 1;
        let tick = open.tick;
        // Another search may have opened it meanwhile: keep that one.
        let kept = open
            .bots
            .entry(bot)
            .or_insert_with(|| (index, tick))
            .0
            .clone();
        let evicted = if open.bots.len() > OPEN_BOTS {
            let oldest = open
                .bots
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(b, _)| *b);
            oldest.and_then(|b| open.bots.remove(&b))
        } else {
            None
        };
        drop(open);
        // Dropping a writer joins its threads: not on the async runtime.
        if let Some(evicted) = evicted {
            tokio::task::spawn_blocking(move || drop(evicted));
        }
        Ok(kept)
    }
}

/// Runs the query on a blocking thread: at a million passages one can take
/// milliseconds of CPU, which must not stall the async runtime's workers.
async fn search_off_runtime(
    index: Arc<BotIndex>,
    text: &str,
    limit: u32,
) -> StoreResult<Vec<(ChunkId, f32)>> {
    let text = text.to_string();
    tokio::task::spawn_blocking(move || index.search(&text, limit as usize))
        .await
        .map_err(|e| failed("keyword_search", e))?
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("docent")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        hi: b.add_u64_field("hi", FAST),
        lo: b.add_u64_field("lo", FAST),
        text: b.add_text_field("text", words),
    };
    (b.build(), fields)
}

/// Words as both passages and questions are cut: split at anything not a
/// letter or digit, lower-cased, accents folded, English Snowball stems (as
/// FTS5's `porter unicode61 remove_diacritics` did).
fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

impl BotIndex {
    /// Opens the index in `dir` (`None`: in memory), making it anew when it
    /// is missing, unreadable or of another schema.
    fn open(dir: Option<&Path>) -> StoreResult<Self> {
        let (schema, fields) = schema();
        let index = match dir {
            None => Index::create_in_ram(schema),
            Some(dir) => open_dir(dir, schema).map_err(|e| failed("keyword_open", e))?,
        };
        index.tokenizers().register("docent", analyzer());
        let applied = index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(-1);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| failed("keyword_open", e))?;
        Ok(Self {
            index,
            reader,
            fields,
            analyzer: analyzer(),
            applied: AtomicI64::new(applied),
            verified: AtomicBool::new(false),
            writer: tokio::sync::Mutex::new(None),
        })
    }

    fn search(&self, text: &str, limit: usize) -> StoreResult<Vec<(ChunkId, f32)>> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut seen = HashSet::new();
        let mut terms = Vec::new();
        while stream.advance() && seen.len() < MAX_TERMS {
            let word = stream.token().text.clone();
            if !seen.insert(word.clone()) {
                continue;
            }
            terms.push(Term::from_field_text(self.fields.text, &word));
        }
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let clauses = fts5_weighted(&searcher, terms)?;
        let top = searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(limit).order_by_score(),
            )
            .map_err(|e| failed("keyword_search", e))?;
        let mut columns = HashMap::new();
        let mut out = Vec::with_capacity(top.len());
        for (score, at) in top {
            let (hi, lo) = match columns.entry(at.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let fast = searcher.segment_reader(at.segment_ord).fast_fields();
                    let hi = fast.u64("hi").map_err(|e| failed("keyword_search", e))?;
                    let lo = fast.u64("lo").map_err(|e| failed("keyword_search", e))?;
                    e.insert((hi, lo))
                }
            };
            if let (Some(hi), Some(lo)) = (hi.first(at.doc_id), lo.first(at.doc_id)) {
                let id = (u128::from(hi) << 64) | u128::from(lo);
                out.push((ChunkId(Uuid::from_u128(id)), score));
            }
        }
        Ok(out)
    }

    /// Applies the bot's log (or rebuilds from its rows) and commits.
    async fn catch_up(&self, pool: &Pool<Sqlite>, tenant: TenantId, bot: BotId) -> StoreResult<()> {
        let mut slot = self.writer.lock().await;
        if slot.is_none() {
            match self.index.writer_with_num_threads(1, WRITER_ARENA) {
                Ok(writer) => *slot = Some(writer),
                Err(TantivyError::LockFailure(LockError::LockBusy, _)) => {
                    // Another process holds this index: read its commits.
                    self.verified.store(true, Ordering::Release);
                    return self
                        .reader
                        .reload()
                        .map_err(|e| failed("keyword_search", e));
                }
                Err(e) => return Err(failed("keyword_catch_up", e)),
            }
        }
        let mut rebuild = self.applied.load(Ordering::Acquire) < 0;
        loop {
            let count = self.run(&mut slot, pool, tenant, bot, rebuild).await?;
            let held = self.reader.searcher().num_docs() as i64;
            if count.is_none_or(|rows| rows == held) || rebuild {
                self.verified.store(true, Ordering::Release);
                return Ok(());
            }
            tracing::warn!(%bot, rows = count, indexed = held, "the keyword index disagrees with the passages; rebuilding it");
            rebuild = true;
        }
    }

    /// One catch-up in one read snapshot: the log head, the changes (or all
    /// rows), and, the first time, the bot's passage count, which it returns.
    async fn run(
        &self,
        slot: &mut Option<IndexWriter>,
        pool: &Pool<Sqlite>,
        tenant: TenantId,
        bot: BotId,
        mut rebuild: bool,
    ) -> StoreResult<Option<i64>> {
        let op = "keyword_catch_up";
        let fail = |e: sqlx::Error| failed(op, e);
        let (tenant_s, bot_s) = (tenant.to_string(), bot.to_string());
        // A deferred transaction: its reads share one snapshot, and it
        // takes no lock that writers wait for.
        let mut tx = pool.begin().await.map_err(fail)?;
        // AUTOINCREMENT's high-water mark, which the log's clean-up
        // leaves in place (max(seq) of an emptied log would go back to 0).
        let sql =
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'keyword_log'), 0)";
        let head: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?;
        let applied = self.applied.load(Ordering::Acquire);
        if applied > head {
            // The database is older than the index (restored from a backup).
            rebuild = true;
        }
        let count = if self.verified.load(Ordering::Acquire) && !rebuild {
            None
        } else {
            let sql = "SELECT count(*) FROM chunks WHERE tenant_id = $1 AND bot_id = $2";
            Some(
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(&tenant_s)
                    .bind(&bot_s)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fail)?,
            )
        };
        if !rebuild {
            let sql =
                "SELECT count(*) FROM keyword_log WHERE bot_id = $1 AND seq > $2 AND seq <= $3";
            let backlog: i64 = sqlx::query_scalar(sql)
                .bind(&bot_s)
                .bind(applied)
                .bind(head)
                .fetch_one(&mut *tx)
                .await
                .map_err(fail)?;
            rebuild = backlog > REBUILD_BACKLOG;
        }
        let mut writer = slot.take().ok_or_else(|| failed(op, "no writer"))?;
        let fields = self.fields;
        let done = if rebuild {
            let (send, receive) = tokio::sync::mpsc::channel(4);
            let task = tokio::task::spawn_blocking(move || {
                let result = commit(&mut writer, fields, Change::Rebuild(receive), head);
                (writer, result)
            });
            let streamed = stream_rows(&mut tx, &tenant_s, &bot_s, send).await;
            let (writer, result) = task.await.map_err(|e| failed(op, e))?;
            *slot = Some(writer);
            streamed?;
            result
        } else {
            let sql = "SELECT DISTINCT chunk_id FROM keyword_log WHERE bot_id = $1 AND seq > $2 AND seq <= $3";
            let ids: Vec<ChunkId> = sqlx::query_scalar::<_, String>(sql)
                .bind(&bot_s)
                .bind(applied)
                .bind(head)
                .fetch_all(&mut *tx)
                .await
                .map_err(fail)?
                .iter()
                .filter_map(|id| id.parse().ok())
                .collect();
            let rows = rows_of(&mut tx, &bot_s, &ids).await?;
            let task = tokio::task::spawn_blocking(move || {
                let result = commit(&mut writer, fields, Change::Apply { ids, rows }, head);
                (writer, result)
            });
            let (writer, result) = task.await.map_err(|e| failed(op, e))?;
            *slot = Some(writer);
            result
        };
        tx.rollback().await.map_err(fail)?;
        done.map_err(|e| failed(op, e))?;
        self.reader.reload().map_err(|e| failed(op, e))?;
        self.applied.store(head, Ordering::Release);
        // The log up to here is in the index's payload now.
        sqlx::query("DELETE FROM keyword_log WHERE bot_id = $1 AND seq <= $2")
            .bind(&bot_s)
            .bind(head)
            .execute(pool)
            .await
            .map_err(fail)?;
        Ok(count)
    }
}

/// The question's words as BM25 term queries ranked as FTS5 ranked them:
/// each word's weight is FTS5's inverse document frequency,
/// `ln((N - n + 0.5) / (n + 0.5))` clamped near zero, in place of tantivy's
/// `ln(1 + (N - n + 0.5) / (n + 0.5))`, which gives words found in most
/// passages more weight against rare ones (`docent eval` on the manual,
/// hashing embedder, keyword recall@10: 0.66 with tantivy's weights, 0.705
/// with these, as with FTS5; heading words in a field of their own, with a
/// saturation of their own, made it 0.61). A boost keeps
/// each clause a term scorer, so block-max WAND still applies. A word in at
/// least half of the passages weighs nothing in FTS5; it is left out while a
/// rarer word that occurs remains, which skips its long posting list.
fn fts5_weighted(
    searcher: &tantivy::Searcher,
    terms: Vec<Term>,
) -> StoreResult<Vec<(Occur, Box<dyn Query>)>> {
    let alive = searcher.num_docs() as f32;
    let held: u64 = searcher
        .segment_readers()
        .iter()
        .map(|s| u64::from(s.max_doc()))
        .sum();
    // (term, FTS5's idf before its clamp, the boost that turns tantivy's
    // idf into FTS5's)
    let mut weighted = Vec::with_capacity(terms.len());
    for term in terms {
        let n = searcher
            .doc_freq(&term)
            .map_err(|e| failed("keyword_search", e))?;
        let fts5 = ((alive - n as f32 + 0.5) / (n as f32 + 0.5)).ln();
        let tantivy = (1.0 + (held.saturating_sub(n) as f32 + 0.5) / (n as f32 + 0.5)).ln();
        weighted.push((term, n, fts5, fts5.max(1e-6) / tantivy));
    }
    let rare = |&(_, n, fts5, _): &(Term, u64, f32, f32)| n > 0 && fts5 > 0.0;
    if weighted.iter().any(rare) {
        weighted.retain(rare);
    }
    Ok(weighted
        .into_iter()
        .map(|(term, _, _, boost)| {
            let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
            let q: Box<dyn Query> = Box::new(BoostQuery::new(Box::new(q), boost));
            (Occur::Should, q)
        })
        .collect())
}

fn open_dir(dir: &Path, schema: Schema) -> tantivy::Result<Index> {
    std::fs::create_dir_all(dir)?;
    let opened = MmapDirectory::open(dir)
        .map_err(TantivyError::from)
        .and_then(|d| Index::open_or_create(d, schema.clone()));
    match opened {
        Ok(index) => Ok(index),
        Err(error) => {
            // Derived data: made again from the rows.
            tracing::warn!(%error, index = %dir.display(), "the keyword index cannot be opened; rebuilding it");
            std::fs::remove_dir_all(dir)?;
            std::fs::create_dir_all(dir)?;
            Index::create_in_dir(dir, schema)
        }
    }
}

/// Sends every passage of the bot, in batches, to the rebuild.
async fn stream_rows(
    tx: &mut SqliteConnection,
    tenant: &str,
    bot: &str,
    send: tokio::sync::mpsc::Sender<Option<Vec<Passage>>>,
) -> StoreResult<()> {
    let sql = "SELECT id, heading, text FROM chunks WHERE tenant_id = $1 AND bot_id = $2";
    let mut rows = sqlx::query(sql).bind(tenant).bind(bot).fetch(&mut *tx);
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| failed("keyword_rebuild", e))?
    {
        batch.push(passage(&row)?);
        if batch.len() == BATCH && send.send(Some(std::mem::take(&mut batch))).await.is_err() {
            // The rebuild stopped; its error is reported.
            return Ok(());
        }
    }
    for last in [Some(batch), None] {
        if send.send(last).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The current rows of the listed passages (those deleted have none).
async fn rows_of(
    tx: &mut SqliteConnection,
    bot: &str,
    ids: &[ChunkId],
) -> StoreResult<Vec<Passage>> {
    let mut out = Vec::with_capacity(ids.len());
    for batch in ids.chunks(BATCH) {
        let sql = format!(
            "SELECT id, heading, text FROM chunks WHERE bot_id = $1 AND id IN ({})",
            placeholders(2, batch.len())
        );
        let q = batch
            .iter()
            .fold(sqlx::query(AssertSqlSafe(sql)).bind(bot), |q, id| {
                q.bind(id.to_string())
            });
        for row in q
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| failed("keyword_catch_up", e))?
        {
            out.push(passage(&row)?);
        }
    }
    Ok(out)
}

fn passage(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Passage> {
    let op = "keyword_rows";
    let id: String = row.try_get("id").map_err(|e| failed(op, e))?;
    Ok(Passage {
        id: id.parse().map_err(|e| failed(op, e))?,
        heading: row.try_get("heading").map_err(|e| failed(op, e))?,
        text: row.try_get("text").map_err(|e| failed(op, e))?,
    })
}

/// Applies a change and commits it with the log position as payload; on
/// failure nothing of it stays.
fn commit(writer: &mut IndexWriter, f: Fields, change: Change, head: i64) -> tantivy::Result<()> {
    let done = change_and_commit(writer, f, change, head);
    if done.is_err() {
        writer.rollback()?;
    }
    done
}

fn change_and_commit(
    writer: &mut IndexWriter,
    f: Fields,
    change: Change,
    head: i64,
) -> tantivy::Result<()> {
    let add = |writer: &IndexWriter, p: Passage| {
        let id = p.id.0.as_u128();
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, p.id.to_string());
        doc.add_u64(f.hi, (id >> 64) as u64);
        doc.add_u64(f.lo, id as u64);
        if let Some(heading) = &p.heading {
            for _ in 0..HEADING_WEIGHT {
                doc.add_text(f.text, heading);
            }
        }
        doc.add_text(f.text, &p.text);
        writer.add_document(doc).map(drop)
    };
    match change {
        Change::Apply { ids, rows } => {
            for id in ids {
                writer.delete_term(Term::from_field_text(f.id, &id.to_string()));
            }
            for p in rows {
                add(writer, p)?;
            }
        }
        Change::Rebuild(mut batches) => {
            writer.delete_all_documents()?;
            loop {
                match batches.blocking_recv() {
                    Some(Some(batch)) => {
                        for p in batch {
                            add(writer, p)?;
                        }
                    }
                    Some(None) => break,
                    None => {
                        return Err(TantivyError::InternalError(
                            "reading the passages stopped".into(),
                        ));
                    }
                }
            }
        }
    }
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&head.to_string());
    prepared.commit()?;
    Ok(())
}
