//! all-MiniLM-L6-v2 (or any BERT sentence encoder in the same layout) on the
//! CPU through candle: `config.json`, `tokenizer.json` and `model.safetensors`
//! from a local directory, mean pooling over the attention mask, L2
//! normalisation, as sentence-transformers does.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use docent_core::embed::{EmbedError, Embedder, TokenCounter};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

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
    /// Pads to the longest input of a batch and truncates at [`MAX_TOKENS`].
    tokenizer: Tokenizer,
}

/// The model's own tokenizer without padding or truncation, for chunk sizing.
struct WordPieces(Tokenizer);

impl TokenCounter for WordPieces {
    fn count(&self, text: &str) -> usize {
        self.0
            .encode_fast(text, false)
            .map(|e| e.len())
            .unwrap_or_else(|_| text.split_whitespace().count())
    }

    fn spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        // `encode` (not `encode_fast`) keeps byte offsets into `text`.
        let encoding = self.0.encode(text, false).ok()?;
        Some(encoding.get_offsets().iter().map(|&(s, e)| s..e).collect())
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
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)
                .map_err(|e| failed("bad model.safetensors", e))?;
        let bert = BertModel::load(vb, &config).map_err(|e| failed("cannot load the model", e))?;

        let mut plain = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| failed("bad tokenizer.json", e))?;
        plain.with_padding(None);
        plain
            .with_truncation(None)
            .map_err(|e| failed("cannot configure the tokenizer", e))?;
        let mut tokenizer = plain.clone();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| failed("cannot configure the tokenizer", e))?;

        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok(Self {
            inner: Arc::new(Model { bert, tokenizer }),
            counter: Arc::new(WordPieces(plain)),
            id: format!("local:{name}"),
            dims,
        })
    }
}

/// Texts run through the model together. Small batches of similar length:
/// padding is wasted work, and large batches make attention tensors that
/// spill out of cache (measured: batch 4–8 beats 32 on this CPU).
const MICRO_BATCH: usize = 8;

impl Model {
    /// Sorts the texts by token length (as sentence-transformers does), runs
    /// them in micro-batches, and returns the vectors in the original order.
    fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<(usize, usize)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    self.tokenizer
                        .encode_fast(t.as_str(), true)
                        .map(|e| e.len())
                        .unwrap_or(0),
                    i,
                )
            })
            .collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = vec![Vec::new(); texts.len()];
        for group in order.chunks(MICRO_BATCH) {
            let batch: Vec<String> = group.iter().map(|&(_, i)| texts[i].clone()).collect();
            for (vector, &(_, i)) in self.embed(&batch)?.into_iter().zip(group) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| failed("tokenizer", e))?;
        let device = &self.bert.device;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, EmbedError> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(f(e), device))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| failed("tensor", e))?;
            Tensor::stack(&rows, 0).map_err(|e| failed("tensor", e))
        };
        let ids = rows(&|e| e.get_ids())?;
        let type_ids = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
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
