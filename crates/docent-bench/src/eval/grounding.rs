//! `docent eval --grounding FILE`: the grounding check's precision and
//! recall on labelled sentences, each with the passage it cites:
//!
//! ```json
//! {"source": "sql-vacuum.html", "passage": "VACUUM reclaims storage…", "sentence": "VACUUM FULL never locks the table.", "supported": false, "kind": "negation"}
//! ```
//!
//! The checker is the product's ([`docent_retrieval::grounding::Checker`])
//! with the chosen embedder. The check's job is to catch unsupported
//! sentences, so they are the positive class: precision is the share of
//! flagged sentences that are truly unsupported, recall the share of
//! unsupported sentences flagged. A sweep over thresholds shows the trade.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use docent_core::embed::Embedder;
use docent_retrieval::grounding::{Checker, Claim, GroundingCalibration, Support};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labelled {
    #[serde(default)]
    pub source: Option<String>,
    pub passage: String,
    pub sentence: String,
    pub supported: bool,
    #[serde(default)]
    pub kind: Option<String>,
}

pub fn load(path: &Path) -> anyhow::Result<Vec<Labelled>> {
    super::golden::json_lines(path, "labelled sentence", |_: &Labelled| Ok(()))
}

/// The embedder to check with: `hash`, or `local` from `model_dir`.
pub fn embedder(kind: &str, model_dir: Option<&PathBuf>) -> anyhow::Result<Arc<dyn Embedder>> {
    let mut settings = docent_core::config::EmbedderSettings {
        kind: Some(kind.parse()?),
        ..Default::default()
    };
    if kind == "local" {
        settings.model_dir = Some(
            model_dir
                .context("--embedder local needs --model-dir (or DOCENT_EMBED_MODEL_DIR)")?
                .clone(),
        );
    }
    Ok(docent_llm::embed::build(&settings)?)
}

#[derive(Default)]
struct Counts {
    /// Unsupported and flagged.
    caught: u32,
    /// Supported but flagged.
    false_alarms: u32,
    /// Unsupported but passed.
    missed: u32,
    passed: u32,
}

impl Counts {
    fn add(&mut self, truly_supported: bool, judged_supported: bool) {
        match (truly_supported, judged_supported) {
            (false, false) => self.caught += 1,
            (true, false) => self.false_alarms += 1,
            (false, true) => self.missed += 1,
            (true, true) => self.passed += 1,
        }
    }

    fn precision(&self) -> f64 {
        ratio(self.caught, self.caught + self.false_alarms)
    }

    fn recall(&self) -> f64 {
        ratio(self.caught, self.caught + self.missed)
    }

    fn figures(&self) -> Value {
        let total = self.caught + self.false_alarms + self.missed + self.passed;
        let (p, r) = (self.precision(), self.recall());
        json!({
            "precision": round(p),
            "recall": round(r),
            "f1": round(if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }),
            "accuracy": round(ratio(self.caught + self.passed, total)),
            "supported_kept": round(ratio(self.passed, self.passed + self.false_alarms)),
        })
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs the check over the set; prints a table and returns the report.
pub async fn run(
    path: &Path,
    embedder_kind: &str,
    embedder: Arc<dyn Embedder>,
    signals: Option<&Path>,
) -> anyhow::Result<Value> {
    let set = load(path)?;
    let checker = Checker::new(embedder.clone());
    let calibration = checker.calibration();
    let started = Instant::now();
    let mut supports: Vec<Option<Support>> = Vec::with_capacity(set.len());
    let mut latencies = Vec::with_capacity(set.len());
    for item in &set {
        let clock = Instant::now();
        let evidence = checker.prepare(std::slice::from_ref(&item.passage)).await?;
        let claim = Claim {
            text: item.sentence.clone(),
            cites: vec![0],
        };
        let mut s = checker.check(&evidence, &[claim]).await?;
        latencies.push(clock.elapsed().as_secs_f64() * 1000.0);
        supports.push(s.pop().flatten());
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(out) = signals {
        write_signals(out, &set, &supports)?;
        println!("signals of every sentence written to {}", out.display());
    }
    // A sentence that makes no claim is passed, as in the product.
    let judged =
        |s: &Option<Support>, threshold: f32| s.as_ref().is_none_or(|x| x.score >= threshold);
    let mut overall = Counts::default();
    let mut kinds: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for (item, s) in set.iter().zip(&supports) {
        let ok = judged(s, calibration.threshold);
        overall.add(item.supported, ok);
        let kind = item.kind.clone().unwrap_or_else(|| "-".into());
        let e = kinds.entry(kind).or_default();
        e.1 += 1;
        if ok == item.supported {
            e.0 += 1;
        }
    }
    let sweep: Vec<Value> = [0.4f32, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8]
        .iter()
        .map(|&t| {
            let mut c = Counts::default();
            for (item, s) in set.iter().zip(&supports) {
                c.add(item.supported, judged(s, t));
            }
            let mut f = c.figures();
            f["threshold"] = json!(round(f64::from(t)));
            f
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let supported = set.iter().filter(|i| i.supported).count();
    let sources: std::collections::HashSet<&str> =
        set.iter().filter_map(|i| i.source.as_deref()).collect();
    println!(
        "grounding set {}: {} sentences from {} pages ({} supported, {} unsupported), embedder {} ({}), threshold {}",
        path.display(),
        set.len(),
        sources.len(),
        supported,
        set.len() - supported,
        embedder_kind,
        embedder.id(),
        calibration.threshold
    );
    let f = overall.figures();
    println!(
        "unsupported caught: precision {:.3}, recall {:.3}, f1 {:.3}; accuracy {:.3}; supported kept {:.3}",
        f["precision"].as_f64().unwrap_or_default(),
        f["recall"].as_f64().unwrap_or_default(),
        f["f1"].as_f64().unwrap_or_default(),
        f["accuracy"].as_f64().unwrap_or_default(),
        f["supported_kept"].as_f64().unwrap_or_default(),
    );
    println!("{:<12} {:>8} {:>8}", "kind", "right", "of");
    for (kind, (right, of)) in &kinds {
        println!("{kind:<12} {right:>8} {of:>8}");
    }
    println!(
        "{:>9} {:>9} {:>9} {:>9}",
        "threshold", "precision", "recall", "kept"
    );
    for s in &sweep {
        println!(
            "{:>9} {:>9.3} {:>9.3} {:>9.3}",
            s["threshold"],
            s["precision"].as_f64().unwrap_or_default(),
            s["recall"].as_f64().unwrap_or_default(),
            s["supported_kept"].as_f64().unwrap_or_default()
        );
    }
    let by_kind: BTreeMap<&String, Value> = kinds
        .iter()
        .map(|(k, (right, of))| (k, json!({"right": right, "of": of})))
        .collect();
    Ok(json!({
        "scenario": "eval_grounding",
        "eval": path.file_name().map(|n| n.to_string_lossy().to_string()),
        "embedder": embedder_kind,
        "embedder_id": embedder.id(),
        "sentences": set.len(),
        "sources": sources.len(),
        "supported": supported,
        "unsupported": set.len() - supported,
        "threshold": round(f64::from(calibration.threshold)),
        "calibration": calibration_json(&calibration),
        "figures": f,
        "kinds": by_kind,
        "sweep": sweep,
        "check_p50_ms": round(pct(0.5)),
        "check_p95_ms": round(pct(0.95)),
        "elapsed_s": round(elapsed),
    }))
}

/// Each sentence's label and signals (JSON lines): what the calibration is
/// tuned on.
fn write_signals(
    path: &Path,
    set: &[Labelled],
    supports: &[Option<Support>],
) -> anyhow::Result<()> {
    let mut out = String::new();
    for (item, s) in set.iter().zip(supports) {
        let line = json!({
            "supported": item.supported,
            "kind": item.kind,
            "lexical": s.as_ref().map(|x| x.lexical),
            "window_lexical": s.as_ref().map(|x| x.window_lexical),
            "cosine": s.as_ref().map(|x| x.cosine),
            "semantic": s.as_ref().map(|x| x.semantic),
            "missing": s.as_ref().map(|x| x.missing.clone()),
            "negation_mismatch": s.as_ref().map(|x| x.negation_mismatch),
            "score": s.as_ref().map(|x| x.score),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

fn calibration_json(c: &GroundingCalibration) -> Value {
    json!({
        "lexical_weight": c.lexical_weight,
        "cosine_unrelated": c.cosine_unrelated,
        "cosine_same": c.cosine_same,
        "missing_penalty": c.missing_penalty,
        "negation_penalty": c.negation_penalty,
    })
}
