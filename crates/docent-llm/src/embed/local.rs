//! all-MiniLM-L6-v2 (or any BERT sentence encoder in the same layout) on the
//! CPU through candle: `config.json`, `tokenizer.json` and `model.safetensors`
//! from a local directory, mean pooling over the attention mask, L2
//! normalisation, as sentence-transformers does.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use docent_core::embed::{EmbedError, Embedder, TokenCounter};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::wordpiece::FastWordPiece;

/// sentence-transformers' `max_seq_length` for MiniLM: longer input is cut.
const MAX_TOKENS: usize = 256;

pub struct LocalEmbedder {
    inner: Arc<Model>,
    counter: Arc<WordPieces>,
    id: String,
    dims: usize,
}

struct Model {
    bert: BertModel,
    /// Truncates at [`MAX_TOKENS`]; micro-batches are padded by hand.
    tokenizer: Tokenizer,
    /// Single-thread pools that run micro-batches side by side; see [`lanes`].
    lanes: Vec<rayon::ThreadPool>,
}

/// The model's own tokenizer without padding or truncation, for chunk sizing;
/// with BERT's, token ranges come from [`FastWordPiece`].
struct WordPieces {
    tokenizer: Tokenizer,
    fast: Option<FastWordPiece>,
}

impl TokenCounter for WordPieces {
    fn count(&self, text: &str) -> usize {
        if let Some(spans) = self
            .fast
            .as_ref()
            .and_then(|f| f.spans(&self.tokenizer, text))
        {
            return spans.len();
        }
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.len())
            .unwrap_or_else(|_| text.split_whitespace().count())
    }

    fn spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        match &self.fast {
            Some(fast) => fast.spans(&self.tokenizer, text),
            None => {
                // `encode` (not `encode_fast`) keeps byte offsets into `text`.
                let encoding = self.tokenizer.encode(text, false).ok()?;
                Some(encoding.get_offsets().iter().map(|&(s, e)| s..e).collect())
            }
        }
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Failed(format!("{what}: {e}"))
}

impl LocalEmbedder {
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| failed(&format!("cannot read {}", dir.join(name).display()), e))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| failed("bad model config.json", e))?;
        let dims = config.hidden_size;
        let device = Device::Cpu;
        // Buffered, not memory-mapped: mapping needs `unsafe`, and 90 MB read
        // once at start costs about a tenth of a second.
        let weights = read("model.safetensors")?;
        let digest = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&weights));
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| failed("bad model.safetensors", e))?;
        let bert = BertModel::load(vb, &config).map_err(|e| failed("cannot load the model", e))?;

        let mut plain = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| failed("bad tokenizer.json", e))?;
        plain.with_padding(None);
        plain
            .with_truncation(None)
            .map_err(|e| failed("cannot configure the tokenizer", e))?;
        let mut tokenizer = plain.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| failed("cannot configure the tokenizer", e))?;

        let name = model_name(dir, &digest);
        Ok(Self {
            inner: Arc::new(Model {
                bert,
                tokenizer,
                lanes: lanes()?,
            }),
            counter: Arc::new(WordPieces {
                fast: FastWordPiece::new(&plain),
                tokenizer: plain,
            }),
            id: format!("local:{name}"),
            dims,
        })
    }
}

/// The model's name in the embedder id, from what its weights are rather than
/// where they lie: a known model by its own name, another by its directory's
/// name and the start of its weights' SHA-256. Moving or renaming the
/// directory then never re-embeds a knowledge base.
fn model_name(dir: &Path, weights_sha256: &str) -> String {
    let known = [&super::models::ALL_MINILM_L6_V2];
    if let Some(spec) = known.iter().find(|spec| {
        spec.files
            .iter()
            .any(|f| f.name == "model.safetensors" && f.sha256 == weights_sha256)
    }) {
        return spec.name.to_string();
    }
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    format!("{dir_name}@{}", &weights_sha256[..12])
}

/// Texts run through the model together: two, sorted by length so that
/// little is padding. Small batches keep attention's scores and the
/// feed-forward activations in cache (measured on the manual's chunks, one
/// core per micro-batch: 37 texts/s at 2, 32 at 8, 18 at 32).
const MICRO_BATCH: usize = 2;

/// Micro-batches run side by side, one per core, each on its own
/// single-thread rayon pool, so that what candle hands to rayon (softmax
/// rows) stays on that core. candle would instead split every matrix product
/// and element-wise op across all cores, which at MiniLM's sizes costs more
/// in hand-offs than it gives (measured on 2 cores: 22 texts/s that way, 30
/// side by side at the same batch size); `docent` starts with candle's own
/// pools at one thread (main.rs).
fn lanes() -> Result<Vec<rayon::ThreadPool>, EmbedError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (0..cores)
        .map(|i| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .thread_name(move |_| format!("embed-{i}"))
                .build()
                .map_err(|e| failed("cannot start the embedding threads", e))
        })
        .collect()
}

impl Model {
    /// Tokenizes every text once, sorts them by length (as
    /// sentence-transformers does), runs the micro-batches on the lanes, and
    /// returns the vectors in the original order.
    fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = texts
            .iter()
            .map(|t| self.tokenizer.encode_fast(t.as_str(), true))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed("tokenizer", e))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_unstable_by_key(|&i| std::cmp::Reverse(encodings[i].len()));
        let groups: Vec<&[usize]> = order.chunks(MICRO_BATCH).collect();
        // Each lane takes the next micro-batch until none is left.
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            while let Some(group) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
                let batch: Vec<&Encoding> = group.iter().map(|&i| &encodings[i]).collect();
                done.push((group, self.embed(&batch)));
            }
            done
        };
        let lanes = &self.lanes[..self.lanes.len().min(groups.len())];
        let results: Vec<_> = std::thread::scope(|scope| {
            let running: Vec<_> = lanes
                .iter()
                .map(|lane| scope.spawn(|| lane.install(work)))
                .collect();
            running
                .into_iter()
                .flat_map(|t| t.join().expect("an embedding lane panicked"))
                .collect()
        });
        let mut out = vec![Vec::new(); texts.len()];
        for (group, vectors) in results {
            for (vector, &i) in vectors?.into_iter().zip(group.iter()) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    /// One micro-batch, padded to its longest text.
    fn embed(&self, batch: &[&Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let len = batch.iter().map(|e| e.len()).max().unwrap_or(0);
        let padded = |f: &dyn Fn(&Encoding) -> &[u32]| -> Result<Tensor, EmbedError> {
            let mut rows = Vec::with_capacity(batch.len() * len);
            for e in batch {
                rows.extend_from_slice(f(e));
                rows.resize(rows.len() + len - e.len(), 0);
            }
            Tensor::from_vec(rows, (batch.len(), len), &self.bert.device)
                .map_err(|e| failed("tensor", e))
        };
        // Padding positions are masked out, so their ids do not matter.
        let ids = padded(&|e| e.get_ids())?;
        let type_ids = padded(&|e| e.get_type_ids())?;
        let mask = padded(&|e| e.get_attention_mask())?;
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let hidden = self.bert.forward(&ids, &type_ids, Some(&mask))?;
            // Mean over real tokens only: padding must not dilute short inputs.
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?;
            let mean = summed.broadcast_div(&counts)?;
            let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        };
        run().map_err(|e| failed("model inference", e))
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn batch_size(&self) -> usize {
        // Per call; the model runs micro-batches of similar length inside.
        64
    }

    fn max_tokens(&self) -> usize {
        MAX_TOKENS
    }

    fn tokens(&self) -> Arc<dyn TokenCounter> {
        self.counter.clone()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.inner.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || model.embed_all(&texts))
            .await
            .map_err(|e| EmbedError::Failed(format!("embedding task crashed: {e}")))?
    }
}
