//! Embedders against real counterparts: the OpenAI wire format over HTTP (a
//! fake server speaking it), and the genuine all-MiniLM-L6-v2 weights.

use std::path::PathBuf;

use docent_core::embed::{EmbedError, Embedder};
use docent_llm::embed::{EmbedderKind, EmbedderSettings, LocalEmbedder, OpenAiEmbedder, build};
use docent_testkit::{FakeOpenAi, Script, fake_embedding};

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn openai_embedder_speaks_the_wire_format() {
    let fake = FakeOpenAi::start().await;
    let e = OpenAiEmbedder::new(
        &fake.base_url(),
        Some("sk-test".into()),
        "m".into(),
        Some(384),
    )
    .unwrap();
    let texts = vec!["first text".to_string(), "second text".to_string()];
    let got = e.embed(&texts).await.unwrap();
    assert_eq!(got.len(), 2);
    for (v, t) in got.iter().zip(&texts) {
        let want = fake_embedding(t);
        assert!((cos(v, &want) - 1.0).abs() < 1e-5);
    }
    assert_eq!(e.dims(), 384);
    assert_eq!(e.id(), "openai:m:384");
}

#[tokio::test]
async fn openai_errors_are_classified_for_retry() {
    // Two 503s are retried inside one call, with backoff.
    let fake = FakeOpenAi::start_with(Script {
        fail_first: 2,
        fail_status: 503,
        ..Script::default()
    })
    .await;
    let e = OpenAiEmbedder::new(&fake.base_url(), None, "m".into(), Some(384)).unwrap();
    let texts = vec!["x".to_string()];
    assert!(e.embed(&texts).await.is_ok());
    assert_eq!(fake.requests(), 3);
    // Persistent 429s give up after three tries, as retryable for the job queue.
    fake.set_script(Script {
        fail_first: 6,
        fail_status: 429,
        ..Script::default()
    })
    .await;
    assert!(matches!(
        e.embed(&texts).await,
        Err(EmbedError::Unavailable(_))
    ));
    assert_eq!(fake.requests(), 6);

    fake.set_script(Script {
        fail_first: 100,
        fail_status: 400,
        ..Script::default()
    })
    .await;
    assert!(matches!(e.embed(&texts).await, Err(EmbedError::Failed(_))));
    assert_eq!(fake.requests(), 7, "a 400 is not retried");

    let wrong_dims = OpenAiEmbedder::new(
        &FakeOpenAi::start().await.base_url(),
        None,
        "m".into(),
        Some(768),
    )
    .unwrap();
    let err = wrong_dims.embed(&texts).await.unwrap_err();
    assert!(err.to_string().contains("DOCENT_EMBED_DIMS"), "{err}");

    let down = OpenAiEmbedder::new("http://127.0.0.1:9/v1", None, "m".into(), Some(384)).unwrap();
    assert!(matches!(
        down.embed(&texts).await,
        Err(EmbedError::Unavailable(_))
    ));
}

#[test]
fn build_picks_and_validates() {
    let hash = build(&EmbedderSettings::default()).unwrap();
    assert_eq!(hash.id(), "hash-384");
    let missing = build(&EmbedderSettings {
        kind: Some(EmbedderKind::Local),
        ..EmbedderSettings::default()
    });
    assert!(missing.is_err());
    // Asked for explicitly, a missing model is an error naming the path; by
    // default an absent model falls back to hashing.
    let no_dir = build(&EmbedderSettings {
        kind: Some(EmbedderKind::Local),
        model_dir: Some("/nonexistent/model".into()),
        ..EmbedderSettings::default()
    });
    assert!(
        no_dir
            .err()
            .unwrap()
            .to_string()
            .contains("/nonexistent/model")
    );
    let fallback = build(&EmbedderSettings {
        model_dir: Some("/nonexistent/model".into()),
        ..EmbedderSettings::default()
    });
    assert_eq!(fallback.unwrap().id(), "hash-384");
    let local = build(&EmbedderSettings {
        model_dir: Some(model_dir()),
        ..EmbedderSettings::default()
    });
    assert_eq!(local.unwrap().id(), "local:all-MiniLM-L6-v2");
    assert!("nope".parse::<EmbedderKind>().is_err());
}

/// The weights `scripts/fetch-model.sh` installs (the test script runs it).
fn model_dir() -> PathBuf {
    let dir = std::env::var_os("DOCENT_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/models/all-MiniLM-L6-v2")
        });
    assert!(
        dir.join("model.safetensors").exists(),
        "no model in {}: run scripts/fetch-model.sh",
        dir.display()
    );
    dir
}

#[tokio::test]
async fn local_minilm_matches_sentence_transformers() {
    let e = LocalEmbedder::load(&model_dir()).unwrap();
    assert_eq!(e.dims(), 384);
    let texts: Vec<String> = [
        "This is an example sentence",
        "How do I reset my password?",
        "Steps to recover access to your account when you forgot the login secret",
        "The weather in Lisbon is sunny today",
    ]
    .map(String::from)
    .to_vec();
    let v = e.embed(&texts).await.unwrap();
    // Reference values from sentence-transformers for the first sentence.
    for (got, want) in v[0].iter().zip([0.0677f32, 0.0634, 0.0488]) {
        assert!((got - want).abs() < 2e-3, "{:?}", &v[0][..3]);
    }
    assert!(
        cos(&v[1], &v[2]) > cos(&v[1], &v[3]) + 0.2,
        "meaning, not words, should match"
    );
    // Batching and padding do not change a text's vector.
    let alone = e.embed(&texts[3..]).await.unwrap();
    assert!((cos(&alone[0], &v[3]) - 1.0).abs() < 1e-4);
    // The tokenizer counts word pieces without special tokens.
    assert_eq!(e.tokens().count("This is an example sentence"), 5);
}

/// Whole vectors against sentence-transformers' own (tests/minilm_reference.json,
/// written by sentence-transformers on PyTorch CPU from the same model files):
/// short texts, a 200-token chunk of the PostgreSQL manual, and a 682-token
/// text that both must cut at 256 tokens. Embedded together, so micro-batches
/// of different lengths and their padding are exercised.
#[tokio::test]
async fn local_minilm_vectors_equal_sentence_transformers() {
    #[derive(serde::Deserialize)]
    struct Reference {
        texts: Vec<String>,
        vectors: Vec<Vec<f32>>,
    }
    let reference: Reference = serde_json::from_str(include_str!("minilm_reference.json")).unwrap();
    let e = LocalEmbedder::load(&model_dir()).unwrap();
    let got = e.embed(&reference.texts).await.unwrap();
    for ((text, got), want) in reference.texts.iter().zip(&got).zip(&reference.vectors) {
        let similarity = cos(got, want);
        assert!(
            similarity > 0.99999,
            "cosine {similarity} to sentence-transformers for {:?}",
            text.chars().take(40).collect::<String>()
        );
    }
}

/// The model's tokenizer as `tokenizers` runs it, without padding or
/// truncation: the reference for token counts and ranges.
fn reference_tokenizer() -> tokenizers::Tokenizer {
    let mut t = tokenizers::Tokenizer::from_file(model_dir().join("tokenizer.json")).unwrap();
    t.with_padding(None);
    t.with_truncation(None).unwrap();
    t
}

fn reference_spans(t: &tokenizers::Tokenizer, text: &str) -> Vec<std::ops::Range<usize>> {
    let encoding = t.encode(text, false).unwrap();
    encoding.get_offsets().iter().map(|&(s, e)| s..e).collect()
}

/// Chunking sizes slices of a section from its tokens' byte ranges; that is
/// exact when a slice starts and ends between words, which is where chunks
/// are cut. Checked on every space-to-space slice of a mixed text.
#[test]
fn word_piece_spans_count_slices_as_the_tokenizer_does() {
    let e = LocalEmbedder::load(&model_dir()).unwrap();
    let tokens = e.tokens();
    let reference = reference_tokenizer();
    let text = "PostgreSQL's VACUUM reclaims storage occupied by dead tuples; in normal \
                operation, tuples deleted or obsoleted by an UPDATE are not removed. \
                Ünïcödé wörds, e-mail (user@example.com), 3.14159 and 東京 too.";
    let spans = tokens.spans(text).expect("the tokenizer gives offsets");
    assert_eq!(spans, reference_spans(&reference, text));
    let cuts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices(' ').map(|(i, _)| i + 1))
        .chain(std::iter::once(text.len()))
        .collect();
    for (i, &start) in cuts.iter().enumerate() {
        for &end in &cuts[i + 1..] {
            let from_spans = spans
                .iter()
                .filter(|t| t.end > start && t.start < end)
                .count();
            let slice = &text[start..end];
            let want = reference.encode_fast(slice, false).unwrap().len();
            assert_eq!(from_spans, want, "{slice:?}");
            assert_eq!(tokens.count(slice), want, "{slice:?}");
        }
    }
}

/// Fragments that exercise every branch of the token ranges: ASCII words,
/// punctuation, digits, long words (more than 100 characters are one unknown
/// token), words with no vocabulary cut, added tokens, accents, CJK, emoji,
/// control characters and Unicode spaces.
const FRAGMENTS: &[&str] = &[
    "PostgreSQL",
    "pg_stat_activity",
    "VACUUM",
    "tuples",
    "don't",
    "e.g.",
    "1,234.5",
    "x86_64",
    "<a href=\"/docs\">",
    "SELECT * FROM t WHERE a >= 1;",
    "qzxjvwk",
    "Zzyzx",
    "[CLS]",
    "[MASK]",
    "[pad]",
    "naïve",
    "Ünïcödé",
    "東京",
    "中文字",
    "😀",
    "e\u{301}",
    "İstanbul",
    "ß",
    "ΣΑΣ",
    "ﬁle",
    " ",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    "\u{b}",
    "\u{c}",
    "\u{7f}",
    "\u{0}",
    "\u{fffd}",
    "\u{a0}",
    "\u{2003}",
    "\u{200b}",
    "\u{feff}",
    "–",
    "“quoted”",
    "...",
    "##",
    "a",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Token ranges and counts equal the tokenizer's own on any mix of the
    /// fragments, including words longer than the 100-character limit.
    #[test]
    fn word_piece_spans_equal_the_tokenizers_offsets(
        parts in proptest::collection::vec((0..FRAGMENTS.len() + 1, 1usize..4), 0..40)
    ) {
        let text: String = parts
            .iter()
            .map(|&(i, n)| match FRAGMENTS.get(i) {
                Some(f) => f.repeat(n),
                None => "abc".repeat(30 + n * 5),
            })
            .collect();
        let e = local();
        let reference = reference_tokenizer();
        let want = reference_spans(&reference, &text);
        proptest::prop_assert_eq!(e.tokens().spans(&text), Some(want.clone()), "{:?}", text);
        proptest::prop_assert_eq!(e.tokens().count(&text), want.len());
    }
}

/// One loaded model for the property test's cases.
fn local() -> &'static LocalEmbedder {
    static MODEL: std::sync::OnceLock<LocalEmbedder> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| LocalEmbedder::load(&model_dir()).unwrap())
}
