//! The store evaluation's answer check (scripts/suite/validate.lua and events.lua), run by the real
//! binary on answer files made here: equal answers pass, a differing count or a percentile of the wrong
//! rank fails the run with exit 99 and names the query. (The evaluation itself runs against the real
//! stores in `scripts/test`: a small `scripts/suite/evaluate.sh`.)

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const BASE: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

/// 100 events of service "a" in the last hour, latencies 1.0 ..= 100.0, plus one elsewhere.
fn write_data(dir: &Path) -> usize {
    let mut lines = vec![format!(
        "{BASE}\thost-001\tb\tINFO\t200\t5.0\t300\t00000000-0000-4000-8000-000000000000\talpha beta"
    )];
    for i in 1..=100 {
        lines.push(format!(
            "{}\thost-001\ta\tINFO\t200\t{i}.0\t300\t00000000-0000-4000-8000-{i:012}\talpha beta",
            BASE + 23 * HOUR + i * 1000
        ));
    }
    std::fs::write(dir.join("data.tsv"), lines.join("\n") + "\n").unwrap();
    lines.len()
}

fn answers(rows: usize, p95: f64) -> Value {
    let one = |v: Value| json!({ "params": {}, "answer": v });
    json!({
        "store": "x",
        "rows": rows,
        "queries": {
            "count_by_status": one(json!({ "200": [101] })),
            "errors_per_service": one(json!({ "a": [0] })),
            "latency_by_service": {
                "params": { "from": BASE + 23 * HOUR, "to": BASE + 24 * HOUR },
                "answer": { "a": [100, 50.5, 50.5, p95, 99.01] }
            },
            "top_slowest": one(json!({ "01": [100.0], "02": [99.0] })),
            "trace_lookup": one(json!({ "1": [1, "host-001", "a", "INFO", 200, 1.0, 300, "alpha beta"] })),
            "range_scan": one(json!({ "all": [0, 0, 0] })),
            "fulltext": one(json!({ "all": [101] })),
            "histogram": one(json!({ "1767308400000": [100] })),
        }
    })
}

fn validate(dir: &Path, a: &Value, b: &Value) -> (Output, Value) {
    std::fs::write(dir.join("answers-one.json"), a.to_string()).unwrap();
    std::fs::write(dir.join("answers-two.json"), b.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/suite/validate.lua");
    let out = dir.join("validate.json");
    let o = Command::new(bin())
        .arg("run")
        .arg(&script)
        .args(["--quiet", "--out"])
        .arg(&out)
        .arg("-e")
        .arg(format!("ANSWERS={}", dir.display()))
        .arg("-e")
        .arg(format!("DATA={}", dir.join("data.tsv").display()))
        .args(["-e", "STORES=one two"])
        .output()
        .unwrap();
    let r = serde_json::from_str(&std::fs::read_to_string(&out).expect("a result file")).unwrap();
    (o, r)
}

#[test]
fn equal_answers_pass_and_each_comparison_is_a_check() {
    let dir = tempfile::tempdir().unwrap();
    let rows = write_data(dir.path());
    let (o, r) = validate(dir.path(), &answers(rows, 95.0), &answers(rows, 95.0));
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(r["metrics"]["checks"]["count"].as_u64(), Some(8));
    assert_eq!(r["metrics"]["checks"]["rate"].as_f64(), Some(1.0));
    assert!(stdout(&o).contains("validation: 8 passed, 0 failed"));
}

#[test]
fn a_differing_count_fails_the_run_and_names_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let rows = write_data(dir.path());
    let mut b = answers(rows, 95.0);
    b["queries"]["count_by_status"]["answer"]["200"] = json!([100]);
    let (o, r) = validate(dir.path(), &answers(rows, 95.0), &b);
    assert_eq!(code(&o), 99, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("MISMATCH count_by_status"),
        "{}",
        stdout(&o)
    );
    assert_eq!(r["metrics"]["checks"]["rate"].as_f64(), Some(7.0 / 8.0));
}

#[test]
fn a_missing_answer_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let rows = write_data(dir.path());
    let mut b = answers(rows, 95.0);
    b["queries"].as_object_mut().unwrap().remove("fulltext");
    let (o, _) = validate(dir.path(), &answers(rows, 95.0), &b);
    assert_eq!(code(&o), 99);
    assert!(stdout(&o).contains("MISMATCH fulltext"), "{}", stdout(&o));
}

#[test]
fn percentiles_are_checked_by_rank_against_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let rows = write_data(dir.path());
    // 96.5 sits between the 96th and 97th of 100 values: within 0.01 + 2/100 of 0.95.
    let (o, _) = validate(dir.path(), &answers(rows, 95.0), &answers(rows, 96.5));
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // 80 is the 80th value: rank 0.79-0.80, far from 0.95, whichever store says it.
    let (o, _) = validate(dir.path(), &answers(rows, 95.0), &answers(rows, 80.0));
    assert_eq!(code(&o), 99);
    assert!(
        stdout(&o).contains("MISMATCH latency_by_service") && stdout(&o).contains("p95 = 80"),
        "{}",
        stdout(&o)
    );
}
