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

/// One sweep step made by the real engine without a store: queries that take `sleep_ms`, at `rate` a
/// second for 1 s with at most `vus` in flight, recorded as sweep.lua records them.
fn sweep_step(dir: &Path, store: &str, rate: u32, sleep_ms: u32, vus: u32) -> std::path::PathBuf {
    let script = dir.join("step.lua");
    std::fs::write(
        &script,
        format!(
            r#"
local lg = require("loadgen")
local lat = lg.trend("sweep_latency_ms")
options = {{ scenarios = {{ step = {{ executor = "constant-arrival-rate", rate = {rate}, duration = "1s",
  pre_allocated_vus = {vus}, max_vus = {vus}, graceful_stop = "30s" }} }} }}
function default()
  local t0 = lg.now_us()
  lg.sleep("{sleep_ms}ms")
  lat:add((lg.now_us() - t0) / 1000 + lg.lateness_ms())
end
"#
        ),
    )
    .unwrap();
    let out = dir.join(format!("sweep-{store}-trace_lookup-{rate}.json"));
    let o = Command::new(bin())
        .arg("run")
        .arg(&script)
        .args(["--quiet", "--out"])
        .arg(&out)
        .args(["--tag", "suite=evaluation", "--tag", "phase=sweep", "--tag"])
        .arg(format!("store={store}"))
        .args(["--tag", "query=trace_lookup", "--tag", "bound_p99_ms=100"])
        .args(["--tag", "store_order=elasticsearch hive", "--tag"])
        .arg(format!("rate={rate}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// The evaluation page draws one latency-throughput chart per query class with every store on it,
/// and calls a rate sustainable only when p99 held the bound and the store kept up: a fast store
/// (5 ms, 4 in flight) holds 20/s; a slow one (150 ms, one in flight, so at most ~6.7/s) holds
/// neither 10/s nor 20/s.
#[test]
fn the_evaluation_page_draws_the_sweep_and_judges_sustainable_rates() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for rate in [10, 20] {
        files.push(sweep_step(dir.path(), "elasticsearch", rate, 5, 4));
        files.push(sweep_step(dir.path(), "hive", rate, 150, 1));
    }
    let page = dir.path().join("report.html");
    let o = Command::new(bin())
        .args(["report", "--evaluation", "--out"])
        .arg(&page)
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    let row = html
        .lines()
        .find(|l| l.starts_with("<tr><td>trace_lookup</td>"))
        .expect("a sustainable-throughput row for trace_lookup");
    assert!(
        row.starts_with("<tr><td>trace_lookup</td><td>20</td>"),
        "{row}"
    );
    assert!(row.contains("<td>&lt; 10</td>"), "{row}");
    let chart = html
        .split("<svg")
        .find(|s| s.contains(">trace_lookup</text>"))
        .expect("a chart for trace_lookup");
    assert!(chart.contains("stroke=\"#1f77b4\""), "elasticsearch's line");
    assert!(chart.contains("stroke=\"#e6720f\""), "hive's line");

    // Result files without the suite's tags are refused, with the reason.
    let untagged = dir.path().join("untagged.json");
    let o = Command::new(bin())
        .arg("run")
        .arg(dir.path().join("step.lua"))
        .args(["--quiet", "--out"])
        .arg(&untagged)
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = Command::new(bin())
        .args(["report", "--evaluation"])
        .arg(&untagged)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("suite=evaluation"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
