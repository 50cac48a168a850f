//! The events as the page reads them: compact JSON built from the feed's events or from a result
//! file, so that the live page and `loadgen report --serve` draw the same data.
//!
//! A second of an operation is the result file's per-second shape ([`SecondMetric`], the JSON of
//! `series[].metrics`) without its histogram (kilobytes a second, which the page cannot read),
//! plus the latency's p95 and, live only, the service time's p50/p95/p99 (the file keeps no
//! per-second service time). Only operations are charted; the final summary lists every metric.

use crate::live::{End, Start, Tick};
use crate::metrics::entry::{Entry, MetricKind, Summary};
use crate::results::schema::{ResultFile, Second, SecondMetric};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One operation's second (or window of seconds) for the page.
fn second_view(m: &SecondMetric, p95: Option<f64>, service: Option<&Summary>) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.remove("hist");
        o.insert("p95".into(), json!(p95));
        o.insert(
            "service".into(),
            match service {
                Some(s) => json!({"p50": s.p50, "p95": s.p95, "p99": s.p99}),
                None => Value::Null,
            },
        );
    }
    v
}

/// A live second of one operation, from the store's entry (tags folded).
fn entry_view(e: &Entry) -> Value {
    let nonempty = |h: &Option<hdrhistogram::Histogram<u64>>| {
        h.as_ref().filter(|h| !h.is_empty()).map(Summary::of)
    };
    let latency = nonempty(&e.hist);
    let service = nonempty(&e.service);
    second_view(
        &SecondMetric::from_entry(e),
        latency.map(|s| s.p95),
        service.as_ref(),
    )
}

/// The plan, sent first.
pub fn start(s: &Start) -> Value {
    json!({
        "source": "live",
        "run_id": s.run_id,
        "script": s.script,
        "t0": s.t0_unix_ms.div_euclid(1000),
        "scheduled_s": s.scheduled_s,
        "scenarios": s.scenarios.iter().map(|c| json!({
            "name": c.name, "executor": c.executor, "start_s": c.start_s, "duration_s": c.duration_s,
        })).collect::<Vec<_>>(),
        "thresholds": s.thresholds,
        "tags": s.tags,
        "max_vus": s.max_vus,
    })
}

/// A tick: the second shown, the totals so far per operation (tags folded), thresholds, and the
/// generator's own figures. `cpu_pct` is the CPU time used since the previous tick as a share of
/// one core (None when no time passed between the two, as after a stall of the coordinator).
pub fn tick(t: &Tick, cpu_pct: Option<f64>) -> Value {
    let metrics: Map<String, Value> = t
        .second
        .iter()
        .filter(|(_, e)| e.kind == MetricKind::Operation)
        .map(|(n, e)| (n.clone(), entry_view(e)))
        .collect();
    let mut folded: BTreeMap<&str, Entry> = BTreeMap::new();
    for e in t.totals.iter().filter(|e| e.kind == MetricKind::Operation) {
        folded
            .entry(e.name.as_str())
            .or_insert_with(|| Entry::new(&e.name, BTreeMap::new(), e.kind))
            .merge(e);
    }
    let totals: Map<String, Value> = folded
        .iter()
        .map(|(n, e)| {
            let s = e.hist.as_ref().filter(|h| !h.is_empty()).map(Summary::of);
            let v = json!({
                "count": e.count,
                "errors": e.error_count(),
                "p50": s.map(|s| s.p50), "p95": s.map(|s| s.p95), "p99": s.map(|s| s.p99),
            });
            (n.to_string(), v)
        })
        .collect();
    json!({
        "t": t.t,
        "elapsed_s": t.elapsed_s,
        "busy_vus": t.busy_vus,
        "lateness_ms": t.lateness_max_ms,
        "cpu_pct": cpu_pct,
        "stopping": t.stopping,
        "metrics": metrics,
        "totals": totals,
        "thresholds": t.thresholds,
    })
}

/// The result's seconds for the charts, in at most `cap` points: seconds merged in windows of
/// `w` seconds (histograms merged exactly, so a window's percentiles and error counts are true
/// for it; the page divides counts by `w`). Only operations.
pub fn series(seconds: &[Second], cap: usize) -> Vec<Value> {
    let w = seconds.len().div_ceil(cap.max(1)).max(1);
    let mut out = Vec::new();
    for chunk in seconds.chunks(w) {
        let mut merged: BTreeMap<&str, Entry> = BTreeMap::new();
        for s in chunk {
            for (name, m) in &s.metrics {
                if m.kind != MetricKind::Operation {
                    continue;
                }
                // A second that cannot be decoded (a hand-edited file) is left out of its window.
                if let Ok(e) = m.to_entry(name) {
                    match merged.get_mut(name.as_str()) {
                        Some(acc) => acc.merge(&e),
                        None => {
                            merged.insert(name, e);
                        }
                    }
                }
            }
        }
        let metrics: Map<String, Value> = merged
            .iter()
            .map(|(n, e)| {
                let p95 = e
                    .hist
                    .as_ref()
                    .filter(|h| !h.is_empty())
                    .map(|h| Summary::of(h).p95);
                (
                    n.to_string(),
                    second_view(&SecondMetric::from_entry(e), p95, None),
                )
            })
            .collect();
        out.push(json!({"t": chunk[0].t, "w": chunk.len(), "metrics": metrics}));
    }
    out
}

/// The end: the result's exact figures (every metric, without histograms), the final series for
/// the charts, and where the file is.
pub fn end(e: &End, cap: usize) -> Value {
    result_end(
        &e.result,
        e.path.as_ref().map(|p| p.display().to_string()),
        cap,
    )
}

pub fn result_end(r: &ResultFile, path: Option<String>, cap: usize) -> Value {
    let metrics: Map<String, Value> = r
        .metrics
        .iter()
        .map(|(n, m)| {
            let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.remove("hist");
            }
            (n.clone(), v)
        })
        .collect();
    json!({
        "run_id": r.run_id,
        "status": r.status,
        "exit_code": r.exit_code,
        "failure": r.failure,
        "duration_s": r.duration_s,
        "path": path,
        "metrics": metrics,
        "thresholds": r.thresholds,
        "scenarios": r.scenarios,
        "generator": r.generator,
        "warnings": r.warnings,
        "series": series(&r.series, cap),
    })
}

/// A finished result file as the feed would have told it: its plan, one tick per second of its
/// series (without the generator's per-second figures, which the file does not keep), its end.
pub fn replay_file(r: &ResultFile, path: &str, cap: usize) -> (Value, Vec<Value>, Value) {
    let t0 = r.series.first().map(|s| s.t).unwrap_or(0);
    let start = json!({
        "source": "file",
        "run_id": r.run_id,
        "script": r.script.path,
        "t0": t0,
        "scheduled_s": r.duration_s,
        "scenarios": [],
        "thresholds": r.thresholds.iter().map(|o| (o.metric.clone(), o.threshold.clone())).collect::<Vec<_>>(),
        "tags": r.tags,
        "max_vus": Value::Null,
    });
    let ticks = series(&r.series, cap)
        .into_iter()
        .map(|mut s| {
            let t = s["t"].as_i64().unwrap_or(t0);
            let o = s.as_object_mut().expect("series() builds objects");
            o.insert("elapsed_s".into(), json!((t - t0) as f64 + 1.0));
            o.insert("totals".into(), json!({}));
            o.insert("thresholds".into(), json!([]));
            s
        })
        .collect();
    (start, ticks, result_end(r, Some(path.to_string()), cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_second(t: i64, count: u64, errors: u64, latency_us: u64) -> Second {
        let mut e = Entry::new("http.request", BTreeMap::new(), MetricKind::Operation);
        e.count = count;
        if errors > 0 {
            e.errors.insert("timeout".into(), errors);
        }
        for _ in 0..count {
            e.hist.as_mut().unwrap().record(latency_us).unwrap();
        }
        Second {
            t,
            metrics: [("http.request".to_string(), SecondMetric::from_entry(&e))]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn a_second_is_the_files_shape_without_its_histogram() {
        let s = op_second(100, 10, 2, 5_000);
        let v = &series(&[s], 10)[0];
        let m = &v["metrics"]["http.request"];
        assert_eq!(m["count"], 10);
        assert_eq!(m["errors"], 2);
        assert_eq!(m["error_kinds"]["timeout"], 2);
        assert!(m.get("hist").is_none(), "{m}");
        assert!((m["p95"].as_f64().unwrap() - 5.0).abs() < 0.01, "{m}");
        assert_eq!(v["w"], 1);
    }

    /// A long run's final series fits the cap: windows of seconds merged, counts and errors kept
    /// whole (a spike of errors in a dropped second would otherwise vanish from the chart).
    #[test]
    fn a_long_series_is_merged_into_windows_that_keep_every_count() {
        let seconds: Vec<Second> = (0..10)
            .map(|i| op_second(100 + i, 10, u64::from(i == 3), 1_000 * (i as u64 + 1)))
            .collect();
        let out = series(&seconds, 4);
        assert_eq!(out.len(), 4, "10 seconds in windows of 3");
        assert_eq!(out[1]["w"], 3);
        assert_eq!(out[1]["t"], 103);
        assert_eq!(out[1]["metrics"]["http.request"]["count"], 30);
        assert_eq!(out[1]["metrics"]["http.request"]["errors"], 1);
        let total: u64 = out
            .iter()
            .map(|v| v["metrics"]["http.request"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 100);
        // The last window's p99 is its slowest second's (10 ms), exact through the histograms.
        let p99 = out[3]["metrics"]["http.request"]["p99"].as_f64().unwrap();
        assert!((p99 - 10.0).abs() < 0.02, "{p99}");
    }
}
