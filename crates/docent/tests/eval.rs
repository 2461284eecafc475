//! `docent eval` as a user runs it, on a small support knowledge base shipped
//! with the tests (tests/eval/): its figures are asserted as quality (never
//! time), and its gates exit non-zero when quality is below them.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/eval")
        .join(name)
}

fn eval(golden: &std::path::Path, extra: &[&str]) -> (bool, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docent"));
    for (key, _) in std::env::vars() {
        if key.starts_with("DOCENT_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .args(["eval", "--corpus"])
        .arg(fixture("support-corpus"))
        .arg("--golden")
        .arg(golden)
        .args(extra)
        .output()
        .unwrap();
    report_of(out, "eval")
}

/// Whether `docent eval` succeeded, its JSON report of `scenario`, and its
/// standard error.
fn report_of(out: std::process::Output, scenario: &str) -> (bool, Value, String) {
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = stdout
        .lines()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v["scenario"] == scenario)
        })
        .unwrap_or(Value::Null);
    (
        out.status.success(),
        report,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn keyword_search_finds_every_answer_first_on_the_support_set() {
    let (ok, report, stderr) = eval(&fixture("support.jsonl"), &["--min-recall", "0.75"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["in_scope"], 4);
    assert_eq!(report["out_of_scope"], 1);
    let keyword = &report["modes"]["keyword"];
    assert_eq!(keyword["recall@1"], 1.0, "{report}");
    assert_eq!(keyword["mrr"], 1.0);
    for mode in ["keyword", "vector", "hybrid"] {
        let m = &report["modes"][mode];
        for k in ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"] {
            let v = m[k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{mode} {k} {v}");
        }
        assert!(m["recall@1"].as_f64() <= m["recall@5"].as_f64());
        assert!(m["recall@5"].as_f64() <= m["recall@10"].as_f64());
    }
    assert!(
        report["chat"]["answered_right"].as_f64().unwrap() >= 0.75,
        "{report}"
    );
}

#[test]
fn gates_fail_below_their_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("missing.jsonl");
    std::fs::write(
        &golden,
        concat!(
            r#"{"question": "How many days do I have to get a refund?", "documents": ["refunds.md"]}"#,
            "\n",
            r#"{"question": "What does the premium plan cost?", "documents": ["pricing.md"]}"#,
            "\n"
        ),
    )
    .unwrap();
    let (ok, report, _) = eval(&golden, &["--min-recall", "0.5", "--modes", "keyword"]);
    assert!(ok);
    assert_eq!(
        report["modes"]["keyword"]["recall@5"], 0.5,
        "one of two answers exists"
    );
    let (ok, _, stderr) = eval(&golden, &["--min-recall", "0.9", "--modes", "keyword"]);
    assert!(!ok, "the gate must fail");
    assert!(stderr.contains("quality gate failed"), "{stderr}");
    // A bad golden line is refused with its line number.
    std::fs::write(&golden, "{\"question\": \"no documents\"}\n").unwrap();
    let (ok, _, stderr) = eval(&golden, &[]);
    assert!(!ok);
    assert!(stderr.contains("missing.jsonl:1"), "{stderr}");
}

/// `docent eval --grounding` on the labelled sentences of the manual
/// (eval/grounding.jsonl) with the hashing embedder: the check catches most
/// unsupported sentences and keeps most supported ones, and its gates fail
/// above what it reaches.
#[test]
fn the_grounding_check_is_measured_on_labelled_sentences() {
    let set = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../eval/grounding.jsonl");
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_docent"))
            .env_remove("DOCENT_EMBED_MODEL_DIR")
            .args(["eval", "--embedder", "hash", "--grounding"])
            .arg(&set)
            .args(extra)
            .output()
            .unwrap();
        report_of(out, "eval_grounding")
    };
    let (ok, report, stderr) = run(&["--min-grounding-precision", "0.7"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["sentences"], 120);
    assert_eq!(report["supported"], 60);
    let f = &report["figures"];
    assert!(f["precision"].as_f64().unwrap() >= 0.7, "{report}");
    assert!(f["recall"].as_f64().unwrap() >= 0.7, "{report}");
    assert!(f["supported_kept"].as_f64().unwrap() >= 0.7, "{report}");
    // Every unrelated sentence is caught, every verbatim one kept.
    assert_eq!(
        report["kinds"]["unrelated"]["right"],
        report["kinds"]["unrelated"]["of"]
    );
    assert_eq!(
        report["kinds"]["verbatim"]["right"],
        report["kinds"]["verbatim"]["of"]
    );
    let (ok, _, stderr) = run(&["--min-grounding-recall", "0.99"]);
    assert!(!ok, "the gate must fail");
    assert!(stderr.contains("quality gate failed"), "{stderr}");
}
